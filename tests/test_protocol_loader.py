"""The protocol loader: both shipped studies validate and say what the issue asks of them, and
every malformed protocol fails with a message naming the file, the JSON path and the rule."""

import copy
import json
from decimal import Decimal

import pytest

from protocol import ProtocolError, ProtocolInputError, load_file, load_protocol
from protocol.loader import DEFAULT_PROTOCOL, SCHEMA_PATH, STUDIES_DIR, compile_protocol

REPEATED = STUDIES_DIR / "repeated_infusion.json"


@pytest.fixture()
def default_raw():
    return json.loads(DEFAULT_PROTOCOL.read_text(encoding="utf-8"))


def load_broken(tmp_path, raw, name="broken.json"):
    path = tmp_path / name
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ProtocolError) as caught:
        load_file(path)
    error = caught.value
    assert str(error).startswith(f"{path}: at {error.path}: ")
    assert str(error).endswith(f"[rule: {error.rule}]")
    return error


# --- shipped protocols --------------------------------------------------------------------


def test_both_shipped_protocols_validate():
    ids = {load_file(path).id for path in sorted(STUDIES_DIR.glob("*.json"))}
    assert ids == {"ketamine_single_infusion", "ketamine_repeated_infusion"}


def test_load_protocol_defaults_to_the_shipped_default(monkeypatch):
    monkeypatch.delenv("SCALEBOOK_PROTOCOL", raising=False)
    assert load_protocol().id == "ketamine_single_infusion"


def test_load_protocol_follows_the_environment_variable(monkeypatch):
    monkeypatch.setenv("SCALEBOOK_PROTOCOL", str(REPEATED))
    assert load_protocol().id == "ketamine_repeated_infusion"
    assert load_protocol(DEFAULT_PROTOCOL).id == "ketamine_single_infusion"  # an explicit path wins


def test_load_protocol_reloads_a_changed_file(tmp_path, default_raw):
    path = tmp_path / "study.json"
    path.write_text(json.dumps(default_raw), encoding="utf-8")
    assert load_protocol(path).title == default_raw["title"]
    default_raw["title"] = "Amended title, longer than before"
    path.write_text(json.dumps(default_raw), encoding="utf-8")
    assert load_protocol(path).title == "Amended title, longer than before"


def test_default_protocol_design():
    study = load_protocol(DEFAULT_PROTOCOL)
    assert study.blinded is True
    assert study.arm_ids == ("ketamine", "midazolam")
    assert study.timezone.key == "Europe/London"
    assert study.infusion_plan.kind == "single" and study.infusion_plan.total_infusions == 1
    assert [t.id for t in study.timepoints] == [
        "baseline",
        "min_40",
        "min_80",
        "min_120",
        "min_230",
        "day_1",
        "day_2",
        "day_3",
        "day_7",
        "day_14",
    ]
    assert all("madrs" in t.scales for t in study.timepoints)
    assert [t.id for t in study.timepoints if "cadss" in t.scales] == ["baseline", "min_40", "min_120"]
    assert [t.id for t in study.timepoints if "bprs" in t.scales] == ["baseline", "min_40", "min_120"]
    assert [t.id for t in study.timepoints if "qids_sr16" in t.scales] == ["baseline", "day_1", "day_7"]
    assert [(t.offset.value, t.offset.unit) for t in study.timepoints[1:5]] == [
        (40, "minutes"),
        (80, "minutes"),
        (120, "minutes"),
        (230, "minutes"),
    ]
    assert [(t.offset.value, t.offset.unit) for t in study.timepoints[5:]] == [
        (1, "days"),
        (2, "days"),
        (3, "days"),
        (7, "days"),
        (14, "days"),
    ]
    assert study.primary_endpoint.timepoint == "day_1" and study.primary_endpoint.scale == "madrs"
    assert study.timepoint("day_1").primary_endpoint is True
    assert study.scales_due("baseline") == ("madrs", "qids_sr16", "cadss", "bprs")
    assert study.baseline_rule.rule == "last_complete_before_first_infusion"


def test_default_protocol_dosing_vitals_and_eligibility():
    study = load_protocol(DEFAULT_PROTOCOL)
    assert study.dosing.mg_per_kg.default == Decimal("0.5")
    assert (study.dosing.mg_per_kg.min, study.dosing.mg_per_kg.max) == (Decimal("0.2"), Decimal("1.0"))
    assert study.dosing.duration_minutes.default == 40
    t = study.vitals.thresholds
    assert (t.systolic.above, t.systolic.below, t.diastolic.above) == (180, 90, 110)
    assert (t.heart_rate.above, t.heart_rate.below, t.spo2.below, t.spo2.above) == (130, 45, 92, None)
    assert (study.vitals.interval_minutes, study.vitals.after_infusion_minutes) == (15, 120)
    severity = study.eligibility.severity
    assert (severity.scale, severity.min_total) == ("madrs", 20)
    kinds = {c.id: c.kind for c in study.eligibility.criteria}
    assert list(kinds.values()).count("inclusion") == 3 and list(kinds.values()).count("exclusion") == 5


def test_default_protocol_outcome_rules():
    study = load_protocol(DEFAULT_PROTOCOL)
    assert [r.id for r in study.outcome_rules_for("madrs")] == [
        "madrs_response",
        "madrs_remission",
        "madrs_response_and_remission",
        "madrs_relapse",
    ]
    combined = study.outcome_rule("madrs_response_and_remission")
    assert combined.kind == "combined" and combined.requires == ("madrs_response", "madrs_remission")
    assert study.outcome_rule("madrs_remission").when.op == "total_at_most"
    assert study.outcome_rule("madrs_remission").when.value == 10
    assert study.outcome_rule("hamd17_remission").when.value == 7
    assert study.outcome_rule("qids_sr16_remission").when.value == 5
    phq9 = study.outcome_rule("phq9_remission").when
    assert (phq9.op, phq9.value) == ("total_below", 5)
    relapse = study.outcome_rule("madrs_relapse")
    assert relapse.after == "madrs_response" and relapse.consecutive == 2
    assert set(study.outcome_scales) == {"madrs", "hamd17", "qids_sr16", "phq9"}


def test_repeated_infusion_protocol_design():
    study = load_protocol(REPEATED)
    plan = study.infusion_plan
    assert plan.kind == "repeated" and plan.induction.count == 6 and plan.induction.per_week == 3
    assert plan.induction.weekdays == ("mon", "wed", "fri")
    assert plan.maintenance.count == 4 and plan.maintenance.interval_days == 7
    assert plan.total_infusions == 10
    per_infusion = [t.id for t in study.timepoints if t.anchor == "each_infusion"]
    assert per_infusion == ["pre_infusion", "min_40", "min_230", "day_1"]
    assert [t.id for t in study.timepoints if "cadss" in t.scales] == ["pre_infusion", "min_40"]
    assert [t.id for t in study.timepoints if "bprs" in t.scales] == ["pre_infusion", "min_40"]
    assert [t.id for t in study.timepoints if t.id.startswith("week_")] == [f"week_{w}" for w in range(1, 7)]


def test_supportive_text_needs_the_site_phone():
    text = load_protocol(DEFAULT_PROTOCOL).supportive_text
    assert [name for name, _ in text.placeholders] == ["site_phone", "site_phone_hours"]
    rendered = text.render({"site_phone": "020 7946 0000", "site_phone_hours": "any time, day or night"})
    assert "call the study team on 020 7946 0000 (any time, day or night)" in rendered
    assert "{" not in rendered
    with pytest.raises(ProtocolInputError, match=r"fill in: site_phone_hours"):
        text.render({"site_phone": "020 7946 0000", "site_phone_hours": "  "})


def test_unknown_timepoint_names_the_known_ones():
    with pytest.raises(ProtocolInputError, match=r"unknown timepoint 'day_5'; known: baseline, min_40"):
        load_protocol(DEFAULT_PROTOCOL).timepoint("day_5")


def test_schema_documents_every_field():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    undocumented = []

    def walk(node, path):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if isinstance(sub, dict) and "description" not in sub and name != "$schema":
                    undocumented.append(f"{path}.{name}")
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")

    walk(schema, "$")
    assert undocumented == []


# --- invalid files ------------------------------------------------------------------------


def test_bad_json_names_line_and_column(tmp_path):
    path = tmp_path / "study.json"
    path.write_text('{\n  "id": "x",\n  "title": \n}', encoding="utf-8")
    with pytest.raises(ProtocolError) as caught:
        load_file(path)
    assert caught.value.rule == "json-syntax"
    assert "not valid JSON: Expecting value at line 4, column 1" in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(ProtocolError, match=r"cannot read the file") as caught:
        load_protocol(tmp_path / "nope.json")
    assert caught.value.rule == "readable"


def test_unknown_scale(tmp_path, default_raw):
    default_raw["timepoints"][1]["scales"][0] = "madrs_x"
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.timepoints[1].scales[0]", "scale-exists")
    assert "scale 'madrs_x' is not a known scale; known scales: bprs, cadss, hamd17, madrs" in str(error)


def test_duplicate_timepoint_id(tmp_path, default_raw):
    default_raw["timepoints"][2]["id"] = "min_40"
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.timepoints[2].id", "ids-unique")
    assert "timepoint id 'min_40' is used twice" in str(error)


def test_bad_time_zone(tmp_path, default_raw):
    default_raw["timezone"] = "Europe/Londn"
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.timezone", "timezone-valid")
    assert "'Europe/Londn' is not an IANA time zone" in str(error)


def test_default_dose_outside_range(tmp_path, default_raw):
    default_raw["dosing"]["mg_per_kg"]["default"] = 1.5
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.dosing.mg_per_kg.default", "default-in-range")
    assert "dose in mg/kg: default 1.5 is outside the allowed range 0.2–1.0" in str(error)


def test_dose_range_upside_down(tmp_path, default_raw):
    default_raw["dosing"]["mg_per_kg"].update(min=1.0, max=0.2)
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.dosing.mg_per_kg", "range-ordered")


def test_two_primary_endpoints(tmp_path, default_raw):
    default_raw["timepoints"][8]["primary_endpoint"] = True
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.timepoints[8].primary_endpoint", "one-primary-endpoint")
    assert "2 timepoints ('day_1', 'day_7') are marked as the primary endpoint" in str(error)


def test_no_primary_endpoint(tmp_path, default_raw):
    del default_raw["timepoints"][5]["primary_endpoint"]
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.timepoints", "primary-endpoint-exists")


def test_primary_scale_must_be_due_at_the_primary_endpoint(tmp_path, default_raw):
    default_raw["primary_outcome"]["scale"] = "cadss"
    error = load_broken(tmp_path, default_raw)
    assert error.rule == "primary-scale-due"
    assert "reads scale 'cadss', which is not due at timepoint 'day_1' (due there: madrs, qids_sr16)" in str(error)


def test_unknown_anchor(tmp_path, default_raw):
    default_raw["timepoints"][0]["anchor"] = "second_infusion"
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.timepoints[0].anchor", "schema:enum")
    assert "'second_infusion' is not one of ['enrolment', 'first_infusion', 'each_infusion']" in str(error)


def test_negative_window(tmp_path, default_raw):
    default_raw["timepoints"][1]["window"]["before"]["value"] = -5
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.timepoints[1].window.before.value", "schema:minimum")
    assert "-5 is less than the minimum of 0" in str(error)


def test_unknown_unit(tmp_path, default_raw):
    default_raw["timepoints"][1]["offset"]["unit"] = "weeks"
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.timepoints[1].offset.unit", "schema:enum")


def test_misspelt_field_is_rejected(tmp_path, default_raw):
    default_raw["timepoints"][0]["scale"] = default_raw["timepoints"][0].pop("scales")
    error = load_broken(tmp_path, default_raw)
    assert error.path == "$.timepoints[0]"
    assert "'scales' is a required property" in str(error) or "'scale' was unexpected" in str(error)


def test_duplicate_arm(tmp_path, default_raw):
    default_raw["arms"][1]["id"] = "ketamine"
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.arms[1].id", "ids-unique")
    assert "arm id 'ketamine' is used twice" in str(error)


def test_outcome_rule_for_unknown_scale(tmp_path, default_raw):
    default_raw["outcomes"][4]["scale"] = "hamd21"
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.outcomes[4].scale", "scale-exists")


def test_combined_rule_must_refer_to_existing_rules(tmp_path, default_raw):
    default_raw["outcomes"][2]["requires"] = ["madrs_response", "madrs_remision"]
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.outcomes[2].requires[1]", "rule-exists")
    assert "rule 'madrs_response_and_remission' refers to unknown rule 'madrs_remision'" in str(error)


def test_combined_rule_cannot_mix_scales(tmp_path, default_raw):
    default_raw["outcomes"][2]["requires"] = ["madrs_response", "hamd17_remission"]
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.outcomes[2].requires[1]", "rule-reference-same-scale")


def test_relapse_must_follow_a_response_or_remission_rule(tmp_path, default_raw):
    default_raw["outcomes"][3]["after"] = "madrs_relapse"
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.outcomes[3].after", "rule-reference-kind")


def test_response_rule_needs_a_condition(tmp_path, default_raw):
    del default_raw["outcomes"][0]["when"]
    error = load_broken(tmp_path, default_raw)
    assert error.path == "$.outcomes[0]" and "'when' is a required property" in str(error)


def test_severity_scale_must_be_rated_at_baseline(tmp_path, default_raw):
    default_raw["eligibility"]["severity"]["scale"] = "hamd17"
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.eligibility.severity.scale", "severity-scale-due")


def test_severity_threshold_must_be_reachable(tmp_path, default_raw):
    default_raw["eligibility"]["severity"]["min_total"] = 61
    error = load_broken(tmp_path, default_raw)
    assert error.rule == "threshold-reachable"
    assert "above the highest possible madrs total (60)" in str(error)


def test_exclusion_must_be_yes_no(tmp_path, default_raw):
    default_raw["eligibility"]["criteria"][3]["answer"] = {"type": "integer", "min": 1, "unit": "episodes"}
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.eligibility.criteria[3].answer", "exclusion-yes-no")


def test_criterion_id_clashing_with_severity(tmp_path, default_raw):
    default_raw["eligibility"]["criteria"][0]["id"] = "baseline_severity"
    error = load_broken(tmp_path, default_raw)
    assert error.rule == "ids-unique"


def test_vitals_thresholds_must_not_cross(tmp_path, default_raw):
    default_raw["vitals"]["thresholds"]["heart_rate"] = {"above": 50, "below": 60}
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.vitals.thresholds.heart_rate", "threshold-ordered")


def test_supportive_text_placeholders_must_be_declared(tmp_path, default_raw):
    default_raw["supportive_text"]["text"] += " Or email {site_email}."
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.supportive_text.text", "placeholders-declared")
    assert "{site_email}" in str(error)


def test_supportive_text_placeholders_must_be_used(tmp_path, default_raw):
    default_raw["supportive_text"]["placeholders"]["site_email"] = "the study team's email"
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.supportive_text.placeholders", "placeholders-used")


def test_single_infusion_study_cannot_anchor_to_each_infusion(tmp_path, default_raw):
    default_raw["timepoints"][1]["anchor"] = "each_infusion"
    error = load_broken(tmp_path, default_raw)
    assert (error.path, error.rule) == ("$.infusion_plan.kind", "anchor-fits-plan")


def test_induction_needs_two_or_three_weekdays(tmp_path):
    raw = json.loads(REPEATED.read_text(encoding="utf-8"))
    raw["infusion_plan"]["induction"]["weekdays"] = ["mon", "tue", "wed", "thu"]
    error = load_broken(tmp_path, raw)
    assert error.path == "$.infusion_plan.induction.weekdays" and "is too long" in str(error)


def test_compile_does_not_modify_its_input(default_raw):
    before = copy.deepcopy(default_raw)
    study = compile_protocol(default_raw, "inline")
    assert default_raw == before
    assert study.hash.startswith("sha256:") and study.source_file == "inline"
