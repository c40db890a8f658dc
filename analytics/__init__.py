"""Outcomes and summaries for the trajectory and cohort views, computed from STORED scores.

    from analytics import scale_outcome, infusion_courses, build_cohort, mean_ci

Pure Python (no Streamlit, no database; a ruff rule enforces it). The rules themselves (baseline,
response, remission, combined, relapse) live in the study protocol and are applied by
`protocol.outcomes`; this package feeds them the stored scores and summarises the answers.

    records        Assessment / InfusionEvent records built from db.analytics rows
    outcomes       baseline, change, response/remission/combined/relapse flags, time to first
                   response, rater changes, threshold lines for charts
    dissociation   CADSS total and BPRS+ around each infusion: pre value, course, peak and its time
    stats          Student t quantile (no scipy) and mean with a t-based confidence interval
    cohort         trajectories, mean/CI and response/remission rates per planned timepoint,
                   participant table, completeness matrix
    report         the self-contained HTML certified copy of one participant's record
"""

from analytics.cohort import (
    Cohort,
    Completeness,
    Participant,
    build_cohort,
    cohort_outcomes,
    completeness,
    format_rate,
    participant_table,
    response_rates,
    timepoint_order,
    timepoint_summary,
    to_csv,
    trajectory_frame,
)
from analytics.dissociation import InfusionCourse, assign_infusion, infusion_courses, peak_of
from analytics.outcomes import (
    OutcomePoint,
    RaterChange,
    ScaleOutcome,
    Threshold,
    participant_outcomes,
    percent_change,
    scale_outcome,
    threshold_lines,
)
from analytics.records import Assessment, InfusionEvent, assessment_from_row, infusion_from_row, parse_time
from analytics.report import build_report, verify_report
from analytics.stats import MeanCI, mean_ci, t_cdf, t_quantile

__all__ = [
    "Assessment",
    "Cohort",
    "Completeness",
    "InfusionCourse",
    "InfusionEvent",
    "MeanCI",
    "OutcomePoint",
    "Participant",
    "RaterChange",
    "ScaleOutcome",
    "Threshold",
    "assessment_from_row",
    "assign_infusion",
    "build_cohort",
    "build_report",
    "cohort_outcomes",
    "completeness",
    "format_rate",
    "infusion_courses",
    "infusion_from_row",
    "mean_ci",
    "parse_time",
    "participant_outcomes",
    "participant_table",
    "peak_of",
    "percent_change",
    "response_rates",
    "scale_outcome",
    "t_cdf",
    "t_quantile",
    "threshold_lines",
    "timepoint_order",
    "timepoint_summary",
    "to_csv",
    "trajectory_frame",
    "verify_report",
]
