"""Scale definitions and the one scoring engine.

    from scales import get_scale, score
    result = score(get_scale("madrs"), {"madrs_1": 3, ...})

No Streamlit and no database here (a ruff rule enforces it): pages, storage, exports and the
CLI all call this package, so every path gets the same numbers.
"""

from scales.definition import ScaleDefinition
from scales.engine import ENGINE_VERSION, ScoreResult, check_responses, form_progress, score, visible_items
from scales.errors import DefinitionError, ResponseError, ScaleError, UnknownScaleError
from scales.loader import clinician_scale_ids, get_scale, load_file, registry, self_report_scale_ids

__all__ = [
    "ENGINE_VERSION",
    "DefinitionError",
    "ResponseError",
    "ScaleDefinition",
    "ScaleError",
    "ScoreResult",
    "UnknownScaleError",
    "check_responses",
    "clinician_scale_ids",
    "form_progress",
    "get_scale",
    "load_file",
    "registry",
    "score",
    "self_report_scale_ids",
    "visible_items",
]
