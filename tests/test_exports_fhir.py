"""FHIR R4 out (exports/fhir.py): the Questionnaire of every shipped scale and the Bundle of
QuestionnaireResponses, validated with fhir.resources' R4B models; bad input is one line on
stderr, exit 1, nothing written."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from db import clock
from db.assessments import complete_assessment, save_assessment, save_draft_response, start_assessment
from db.clinical import record_infusion
from db.connection import database_path, unit_of_work
from exports import fhir
from exports.cli import main
from scales import get_scale, score
from scales.loader import registry
from tests.conftest_db import full_responses, mark_eligible

SCALES = sorted(registry())


def seed_ratings(study) -> dict:
    """Ratings of every kind: clinician and self-report scales, a HAM-D with 16B rated and item 3
    not assessed (with a reason), a CADSS against infusion 1, PHQ-9 with item 10 shown, a
    second site's MADRS, and a draft (never exported). Returns the assessments by key."""
    rater, coordinator, pi = study.users["rater"], study.users["coordinator"], study.users["pi"]
    p1, p2 = study.p1["id"], study.p2["id"]
    out = {}
    with unit_of_work() as db:
        mark_eligible(db, coordinator, rater, p1)  # MADRS baseline, every item 3
        infusion = record_infusion(db, coordinator, p1, 1, clock.utc_now(), 70, 0.5)
        out["cadss"] = save_assessment(
            db, rater, p1, "inf1_40min", "cadss", "clinician", full_responses("cadss", 1), infusion_id=infusion["id"]
        )
        phq = {f"phq9_{n}": 2 for n in range(1, 10)} | {"phq9_10": 1}
        out["phq9"] = save_assessment(db, rater, p1, "baseline", "phq9", "kiosk", phq)
        qids = {f"qids_sr16_{n}": n % 4 for n in range(1, 17)}
        out["qids"] = save_assessment(db, rater, p1, "day1", "qids_sr16", "kiosk", qids)
        draft = start_assessment(db, rater, p1, "baseline", "hamd17", "clinician")
        answers = {i.id: 1 for i in get_scale("hamd17").items if i.id not in ("hamd17_16a", "hamd17_3")}
        for item_id, value in answers.items():
            draft = save_draft_response(db, rater, draft["id"], item_id, value)
        draft = save_draft_response(
            db, rater, draft["id"], "hamd17_3", 9, not_assessed_reason="=participant declined the question"
        )
        out["hamd17"] = complete_assessment(db, rater, draft["id"], draft["version"])
        out["madrs_p2"] = save_assessment(db, pi, p2, "baseline", "madrs", "clinician", full_responses("madrs", 4))
        out["draft"] = start_assessment(db, pi, p2, "day1", "phq9", "kiosk")
    return out


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([*argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def weights(item: dict) -> dict[str, Decimal]:
    """code -> ordinalValue of a Questionnaire item's answer options (weighted ones only)."""
    out = {}
    for option in item["answerOption"]:
        for extension in option.get("extension", []):
            if extension["url"] == fhir.ORDINAL_VALUE:
                out[option["valueCoding"]["code"]] = Decimal(str(extension["valueDecimal"]))
    return out


# ---------------------------------------------------------------------------------------------
# Questionnaire
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale_id", SCALES)
def test_questionnaire_of_every_scale_validates_and_carries_the_definition(scale_id):
    definition = get_scale(scale_id)
    resource = fhir.questionnaire(definition)
    model = Questionnaire.model_validate(resource)  # R4B structure and datatypes
    assert model.url == f"{fhir.DEFAULT_BASE_URL}/Questionnaire/{scale_id}"
    assert model.version == definition.version and model.status == "active"
    by_link = {i["linkId"]: i for i in resource["item"]}
    assert [i["linkId"] for i in resource["item"]][: len(definition.items)] == [i.id for i in definition.items]
    for item in definition.items:
        entry = by_link[item.id]
        assert entry["type"] == "choice" and entry["prefix"] == item.number
        # every scored option carries its value as ordinalValue; not-assessed codes carry none
        assert sorted(weights(entry).values()) == sorted(Decimal(v) for v in item.scored_values)
        unweighted = [o for o in entry["answerOption"] if "extension" not in o]
        assert sorted(int(o["valueCoding"]["code"]) for o in unweighted) == sorted(item.not_assessed_values)
    total = by_link["total"]
    assert total["readOnly"] is True and total["type"] == "integer"
    expression = total["extension"][0]
    assert expression["url"] == fhir.CALCULATED_EXPRESSION
    assert expression["valueExpression"]["language"] == "text/fhirpath"
    assert expression["valueExpression"]["expression"].endswith(".answer.weight().sum()") or scale_id == "qids_sr16"
    for sub in definition.subscales:
        assert f"sub_{sub.id}" in by_link


def test_phq9_questionnaire_has_loinc_codes_item10_logic_and_a_total_without_item10():
    resource = fhir.questionnaire(get_scale("phq9"))
    assert resource["code"] == [{"system": fhir.LOINC, "code": "44249-1", "display": get_scale("phq9").title}]
    by_link = {i["linkId"]: i for i in resource["item"]}
    assert by_link["phq9_1"]["code"][0]["code"] == "44250-9"
    # the shared frequency answers carry LOINC answer codes; item 10's own list does not borrow them
    assert by_link["phq9_1"]["answerOption"][0]["valueCoding"] == {
        "system": fhir.LOINC,
        "code": "LA6568-5",
        "display": "Not at all",
    }
    assert by_link["phq9_10"]["answerOption"][0]["valueCoding"] == {"code": "0", "display": "Not difficult at all"}
    # item 10 is shown when any of items 1-9 is above 0: '=' on each allowed coding, any of them
    item10 = by_link["phq9_10"]
    assert item10["enableBehavior"] == "any"
    assert {(c["question"], c["answerCoding"]["code"]) for c in item10["enableWhen"]} == {
        (f"phq9_{n}", code) for n in range(1, 10) for code in ("LA6569-3", "LA6570-1", "LA6571-9")
    }
    total = by_link["total"]
    assert total["code"][0]["code"] == "44261-6"
    assert total["extension"][0]["valueExpression"]["expression"] == (
        "%resource.item.where(linkId != 'phq9_10' and linkId != 'total').answer.weight().sum()"
    )


def test_hamd17_choice_group_is_mutual_exists_false():
    by_link = {i["linkId"]: i for i in fhir.questionnaire(get_scale("hamd17"))["item"]}
    assert by_link["hamd17_16a"]["enableWhen"] == [
        {"question": "hamd17_16b", "operator": "exists", "answerBoolean": False}
    ]
    assert by_link["hamd17_16b"]["enableWhen"] == [
        {"question": "hamd17_16a", "operator": "exists", "answerBoolean": False}
    ]
    assert by_link["hamd17_16a"]["required"] is False and by_link["hamd17_1"]["required"] is True


def test_qids_total_sums_domain_maxima():
    by_link = {i["linkId"]: i for i in fhir.questionnaire(get_scale("qids_sr16"))["item"]}
    expression = by_link["total"]["extension"][0]["valueExpression"]["expression"]
    clauses = expression.split(" + ")
    assert [c.rsplit(".", 1)[1] for c in clauses] == ["max()", "sum()", "max()", "sum()", "max()"]
    assert clauses[0] == (
        "%resource.item.where(linkId = 'qids_sr16_1' or linkId = 'qids_sr16_2' or "
        "linkId = 'qids_sr16_3' or linkId = 'qids_sr16_4').answer.weight().max()"
    )
    assert by_link["sub_sleep"]["extension"][0]["valueExpression"]["expression"] == clauses[0]


def test_rules_enableWhen_cannot_say_become_an_enableWhenExpression():
    definition = get_scale("madrs")
    raw = json.loads(json.dumps(definition.raw))
    raw["items"][1]["visible_if"] = {
        "all": [{"item": "madrs_1", "op": ">", "value": 2}, {"item": "madrs_3", "op": "<", "value": 2}]
    }
    from scales.loader import compile_definition

    resource = fhir.questionnaire(compile_definition(raw, "madrs.json"))
    Questionnaire.model_validate(resource)
    item = resource["item"][1]
    assert "enableWhen" not in item
    assert item["extension"][0]["url"] == fhir.ENABLE_WHEN_EXPRESSION
    assert item["extension"][0]["valueExpression"]["expression"] == (
        "(%resource.repeat(item).where(linkId = 'madrs_1').answer.weight() > 2 and "
        "%resource.repeat(item).where(linkId = 'madrs_3').answer.weight() < 2)"
    )


def test_questionnaire_command_prints_json_and_takes_a_base_url(capsys):
    code, out, err = run(capsys, "fhir-questionnaire", "madrs", "--base-url", "https://trial.example.org/fhir/")
    assert code == 0 and err == ""
    resource = json.loads(out)
    assert resource["url"] == "https://trial.example.org/fhir/Questionnaire/madrs"
    Questionnaire.model_validate(resource)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["fhir-questionnaire", "nosuch"], "SCALE_ID: unknown scale 'nosuch'; known scales: bprs, cadss"),
        (["fhir-questionnaire", "madrs", "--base-url", "not a url"], "--base-url: 'not a url' is not an absolute"),
    ],
)
def test_questionnaire_command_bad_input_is_one_line(capsys, argv, expected):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and expected in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# QuestionnaireResponses
# ---------------------------------------------------------------------------------------------


def test_responses_bundle_validates_and_holds_every_submitted_assessment(app_world, tmp_path, capsys):
    seeded = seed_ratings(app_world)
    out = tmp_path / "responses.json"
    code, stdout, err = run(capsys, "fhir-responses", "--out", str(out))
    assert (code, stdout, err) == (0, "", "")
    bundle = json.loads(out.read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    resources = [e["resource"] for e in bundle["entry"]]
    for resource in resources:
        QuestionnaireResponse.model_validate(resource)
    by_id = {int(r["identifier"]["value"]): r for r in resources}
    submitted = {a["id"] for k, a in seeded.items() if k != "draft"} | {
        a["id"] for a in _all_assessments() if a["status"] != "draft"
    }
    assert set(by_id) == submitted and seeded["draft"]["id"] not in by_id  # drafts are not data
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"{fhir.DEFAULT_BASE_URL}/QuestionnaireResponse/{entry['resource']['id']}"

    hamd = by_id[seeded["hamd17"]["id"]]
    assert hamd["questionnaire"] == f"{fhir.DEFAULT_BASE_URL}/Questionnaire/hamd17|1.0.0"
    assert hamd["status"] == "completed"
    assert hamd["subject"]["identifier"] == {"system": f"{fhir.DEFAULT_BASE_URL}/participant", "value": "KET-001"}
    assert hamd["author"]["identifier"]["value"] == "rater" and "source" not in hamd
    assert hamd["authored"].endswith(("+00:00", "+01:00"))  # Europe/London, with its offset
    items = {i["linkId"]: i for i in hamd["item"]}
    assert "hamd17_16a" not in items and items["hamd17_16b"]["answer"][0]["valueCoding"]["code"] == "1"
    assert items["hamd17_3"]["answer"][0]["valueCoding"] == {"code": "9", "display": "Not assessed"}
    assert items["hamd17_3"]["extension"][0]["valueString"] == "=participant declined the question"
    assert "total" not in items  # no total with an item not assessed

    phq = by_id[seeded["phq9"]["id"]]
    assert phq["source"] == phq["subject"]  # self-report: the participant answered
    items = {i["linkId"]: i for i in phq["item"]}
    assert items["total"]["answer"] == [{"valueInteger": 18}]
    assert items["phq9_1"]["answer"][0]["valueCoding"]["code"] == "LA6570-1"

    qids = by_id[seeded["qids"]["id"]]
    items = {i["linkId"]: i for i in qids["item"]}
    assert items["sub_sleep"]["answer"] == [{"valueInteger": 3}]
    assert items["total"]["answer"] == [{"valueInteger": seeded["qids"]["score"]["total"]}]

    cadss = by_id[seeded["cadss"]["id"]]
    extensions = {e["url"].rsplit("/", 1)[1]: e for e in cadss["extension"]}
    assert extensions["timepoint"]["valueString"] == "inf1_40min"
    assert extensions["infusion-number"]["valueInteger"] == 1


def _all_assessments() -> list[dict]:
    from db.assessments import list_assessments

    with unit_of_work(write=False) as db:
        return list_assessments(db)


@pytest.mark.parametrize("scale_id", SCALES)
def test_weights_of_the_answers_reproduce_the_stored_total(app_world, tmp_path, capsys, scale_id):
    """What a FHIR renderer computes from the Questionnaire (the calculatedExpression over the
    ordinalValue weights) equals Scalebook's stored total on complete responses."""
    from exports.instruments_in import SourceItem, parse_fhir_calculation

    definition = get_scale(scale_id)
    rater = app_world.users["rater"]
    responses = full_responses(scale_id, 2)
    with unit_of_work() as db:
        saved = save_assessment(db, rater, app_world.p1["id"], "baseline", scale_id, "clinician", responses)
    out = tmp_path / "bundle.json"
    assert run(capsys, "fhir-responses", "--out", str(out), "--scale", scale_id)[0] == 0
    resource = json.loads(out.read_text())["entry"][0]["resource"]
    questionnaire = fhir.questionnaire(definition)
    weight_of = {i["linkId"]: weights(i) for i in questionnaire["item"] if "answerOption" in i}
    answered = {
        i["linkId"]: weight_of[i["linkId"]][i["answer"][0]["valueCoding"]["code"]]
        for i in resource["item"]
        if i["linkId"] in weight_of
    }
    expression = questionnaire["item"][-1]["extension"][0]["valueExpression"]["expression"]
    weighted = [SourceItem(i.id, i.prompt, []) for i in definition.items]
    computed = Decimal(0)
    for kind, members in parse_fhir_calculation(expression, weighted, {}):
        values = [answered[m] for m in members if m in answered]
        computed += max(values) if kind == "max" else sum(values)
    assert computed == saved["score"]["total"] == score(definition, responses).total


def test_site_filter_and_a_site_bound_account(app_world, tmp_path, capsys):
    seed_ratings(app_world)
    out = tmp_path / "oxf.json"
    assert run(capsys, "fhir-responses", "--out", str(out), "--site", "OXF")[0] == 0
    codes = {e["resource"]["subject"]["identifier"]["value"] for e in json.loads(out.read_text())["entry"]}
    assert codes == {"KET-002"}
    # a monitor without a site may export; a rater may not export at all
    assert run(capsys, "fhir-responses", "--out", str(out), "--as", "monitor")[0] == 0
    code, _, err = run(capsys, "fhir-responses", "--out", str(tmp_path / "r.json"), "--as", "rater")
    assert code == 1 and "--as rater:" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.json").exists()


def test_every_export_is_an_audit_event(app_world, tmp_path, capsys):
    seed_ratings(app_world)
    out = tmp_path / "b.json"
    assert run(capsys, "fhir-responses", "--out", str(out), "--as", "pi", "--site", "LON")[0] == 0
    with unit_of_work(write=False) as db:
        events = db.execute(
            "SELECT username, new_value FROM audit_events WHERE action = 'export.create' ORDER BY id"
        ).fetchall()
    assert events, "no audit event for the export"
    username, new_value = events[-1]
    detail = json.loads(new_value)
    assert username == "pi" and detail["kind"] == "fhir-responses" and detail["site"] == "LON"
    assert detail["records"] == {"QuestionnaireResponse": len(json.loads(out.read_text())["entry"])}


def test_empty_study_gives_a_valid_bundle_without_entries(app_world, tmp_path, capsys):
    out = tmp_path / "empty.json"
    assert run(capsys, "fhir-responses", "--out", str(out)) == (0, "", "")
    bundle = json.loads(out.read_text())
    Bundle.model_validate(bundle)
    assert "entry" not in bundle and bundle["type"] == "collection"


def test_bundle_streams_the_same_as_in_memory(app_world):
    seed_ratings(app_world)
    import io

    from db import exports as db_exports

    with unit_of_work(write=False) as db:
        memory = fhir.response_bundle(
            db_exports.assessment_rows(db), db_exports.response_rows(db), timestamp="2026-01-01T00:00:00Z"
        )
        handle = io.StringIO()
        count = fhir.write_bundle(
            handle, db_exports.assessment_rows(db), db_exports.response_rows(db), timestamp="2026-01-01T00:00:00Z"
        )
    assert json.loads(handle.getvalue()) == memory and count == len(memory["entry"])


@pytest.mark.parametrize(
    "make_argv, expected",
    [
        (
            lambda tmp: ["--db", str(tmp / "missing.db"), "fhir-responses", "--out", str(tmp / "o.json")],
            "missing.db: no such file",
        ),
        (lambda tmp: ["fhir-responses", "--out", str(tmp / "no" / "dir" / "o.json")], "does not exist"),
        (lambda tmp: ["fhir-responses", "--out", str(tmp / "o.json"), "--site", "XYZ"], "--site: no site 'XYZ'"),
        (
            lambda tmp: ["fhir-responses", "--out", str(tmp / "o.json"), "--scale", "nosuch"],
            "--scale: unknown scale 'nosuch'",
        ),
        (
            lambda tmp: ["fhir-responses", "--out", str(tmp / "o.json"), "--as", "nobody"],
            "--as nobody: no account 'nobody'",
        ),
    ],
)
def test_responses_bad_input_is_one_line_and_writes_nothing(app_world, tmp_path, capsys, make_argv, expected):
    code, out, err = run(capsys, *make_argv(tmp_path))
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and expected in err and "Traceback" not in err
    assert not (tmp_path / "o.json").exists() and not list(tmp_path.glob(".o.json*"))
    assert database_path().exists()
