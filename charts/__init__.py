"""Chart builders (Vega-Lite specifications, see charts.vegalite) for the trajectory and cohort
views, and PNG/SVG export.

    from charts import trajectory_chart, dissociation_chart, cohort_chart, to_png, to_svg

Pure functions of analytics results and scale definitions: no Streamlit, no database. Palette
and time-axis decisions are documented in charts.palette and charts.timeaxis.
"""

from charts.cohort import cohort_chart
from charts.dissociation import dissociation_chart
from charts.export import PNG_SIGNATURE, spec, stack, to_png, to_svg
from charts.participant import trajectory_chart
from charts.timeaxis import VIEW_LABELS, VIEWS, TimeAxis, offset_text, time_axis

__all__ = [
    "PNG_SIGNATURE",
    "VIEWS",
    "VIEW_LABELS",
    "TimeAxis",
    "cohort_chart",
    "dissociation_chart",
    "offset_text",
    "spec",
    "stack",
    "time_axis",
    "to_png",
    "to_svg",
    "trajectory_chart",
]
