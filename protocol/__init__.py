"""The study protocol as data, and the pure logic that reads it.

    from protocol import load_protocol, plan_timepoints, timepoint_state
    study = load_protocol()                      # $SCALEBOOK_PROTOCOL or protocol/studies/default.json
    planned = plan_timepoints(study, enrolled_at, [{"number": 1, "started_at": start}])

Timepoints and windows, the infusion plan, eligibility screening, dose arithmetic, vitals
thresholds, and response/remission rules. No Streamlit and no database here (a ruff rule
enforces it): pages and storage call these functions, so every path gets the same schedule.
"""

from protocol.dosing import check_duration, planned_end, total_dose_mg
from protocol.eligibility import EligibilityDecision, ScreeningQuestion, decide, screening_questions
from protocol.errors import (
    DoseError,
    EligibilityError,
    ProtocolError,
    ProtocolInputError,
    ScheduleError,
    VitalsError,
)
from protocol.loader import compile_protocol, default_protocol_path, load_file, load_protocol, validate_files
from protocol.model import (
    BaselineRule,
    Dosing,
    Eligibility,
    EligibilityCriterion,
    InfusionPlan,
    OutcomeRule,
    PrimaryEndpoint,
    Protocol,
    SeverityCriterion,
    SupportiveText,
    Timepoint,
    VitalsPolicy,
    VitalsThresholds,
)
from protocol.outcomes import baseline_index, outcome_flags, percent_reduction, select_baseline
from protocol.schedule import (
    STATES,
    Infusion,
    PlannedInfusion,
    PlannedTimepoint,
    WindowCheck,
    WorklistRow,
    completed_index,
    participant_schedule,
    plan_timepoints,
    planned_infusions,
    schedule_states,
    timepoint_state,
    window_check,
    worklist,
)
from protocol.timing import Duration
from protocol.vitals import VitalsDue, VitalsReminder, VitalWarning, check_vitals, next_vitals_due, vitals_schedule

__all__ = [
    "STATES",
    "BaselineRule",
    "DoseError",
    "Dosing",
    "Duration",
    "Eligibility",
    "EligibilityCriterion",
    "EligibilityDecision",
    "EligibilityError",
    "Infusion",
    "InfusionPlan",
    "OutcomeRule",
    "PlannedInfusion",
    "PlannedTimepoint",
    "PrimaryEndpoint",
    "Protocol",
    "ProtocolError",
    "ProtocolInputError",
    "ScheduleError",
    "ScreeningQuestion",
    "SeverityCriterion",
    "SupportiveText",
    "Timepoint",
    "VitalWarning",
    "VitalsDue",
    "VitalsError",
    "VitalsPolicy",
    "VitalsReminder",
    "VitalsThresholds",
    "WindowCheck",
    "WorklistRow",
    "baseline_index",
    "check_duration",
    "check_vitals",
    "compile_protocol",
    "completed_index",
    "decide",
    "default_protocol_path",
    "load_file",
    "load_protocol",
    "next_vitals_due",
    "outcome_flags",
    "participant_schedule",
    "percent_reduction",
    "plan_timepoints",
    "planned_end",
    "planned_infusions",
    "schedule_states",
    "screening_questions",
    "select_baseline",
    "timepoint_state",
    "total_dose_mg",
    "validate_files",
    "vitals_schedule",
    "window_check",
    "worklist",
]
