"""Hypothesis strategies that build response sets from any scale definition."""

from hypothesis import strategies as st

from scales import ScaleDefinition


def complete_responses(definition: ScaleDefinition):
    """A fully rated form: every item a scored value, one member of each choice group."""

    @st.composite
    def build(draw):
        responses = {item.id: draw(st.sampled_from(sorted(item.scored_values))) for item in definition.items}
        for group in definition.choice_groups:
            keep = draw(st.sampled_from(group))
            for member in group:
                if member != keep:
                    del responses[member]
        return responses

    return build()
