"""The loader: every shipped definition validates, a new file is picked up without code
changes, and every malformed definition fails with a message naming file, JSON path and rule."""

import copy
import json

import pytest

from scales import DefinitionError, UnknownScaleError
from scales.loader import DEFINITIONS_DIR, definition_files, get_scale, load_directory, load_file, registry


@pytest.fixture(scope="module")
def phq9_raw():
    return json.loads((DEFINITIONS_DIR / "phq9.json").read_text(encoding="utf-8"))


def write(tmp_path, raw, name=None):
    path = tmp_path / f"{name or raw['id']}.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def load_broken(tmp_path, raw, name=None):
    with pytest.raises(DefinitionError) as caught:
        load_file(write(tmp_path, raw, name))
    return caught.value


def test_every_shipped_definition_validates():
    # Every definition file loads under the id its name gives (no list of scales here: a new file
    # dropped into scales/definitions/ is checked without editing this test).
    loaded = load_directory(DEFINITIONS_DIR)
    files = definition_files(DEFINITIONS_DIR)
    assert files and sorted(loaded) == sorted(p.stem for p in files)
    assert {"madrs", "cadss"} <= set(loaded)  # the study's primary outcome and dissociation scales ship


def test_cases_files_are_not_read_as_definitions(tmp_path):
    (tmp_path / "madrs.json").write_bytes((DEFINITIONS_DIR / "madrs.json").read_bytes())
    (tmp_path / "madrs.cases.json").write_text('{"cases": []}', encoding="utf-8")
    assert [p.name for p in definition_files(tmp_path)] == ["madrs.json"]
    assert list(load_directory(tmp_path)) == ["madrs"]


def test_every_scored_rule_cites_a_source():
    for definition in registry().values():
        scoring = definition.raw["scoring"]
        assert scoring["total"]["source"].strip()
        assert scoring["missing"]["source"].strip()
        for band_set in scoring.get("bands", {}).get("sets", []):
            assert band_set["source"].strip()
        for rule in definition.raw.get("safety_triggers", []) + definition.raw.get("consistency_checks", []):
            assert rule["source"].strip()


def test_item_ids_follow_the_convention():
    for definition in registry().values():
        for item in definition.items:
            assert item.id == f"{definition.id}_{item.number.lower()}"


def test_new_file_is_picked_up_without_code_changes(tmp_path, phq9_raw):
    clone = copy.deepcopy(phq9_raw)
    clone["id"] = "phq9_copy"
    for item in clone["items"]:
        item["id"] = item["id"].replace("phq9_", "phq9_copy_")
    clone["safety_triggers"][0]["when"]["item"] = "phq9_copy_9"
    clone["items"][9]["visible_if"] = {"any": [{"item": f"phq9_copy_{n}", "op": ">", "value": 0} for n in range(1, 10)]}
    write(tmp_path, phq9_raw)
    assert set(registry(tmp_path)) == {"phq9"}
    write(tmp_path, clone)
    assert set(registry(tmp_path)) == {"phq9", "phq9_copy"}
    assert get_scale("phq9_copy", tmp_path).total_max == 27


def test_unknown_scale_names_the_known_ones():
    with pytest.raises(UnknownScaleError, match="unknown scale 'nope'; known scales: .*madrs"):
        get_scale("nope")


def test_content_hash_ignores_whitespace_but_not_content(tmp_path, phq9_raw):
    a = load_file(write(tmp_path, phq9_raw))
    (tmp_path / "phq9.json").write_text(json.dumps(phq9_raw, indent=7), encoding="utf-8")
    assert load_file(tmp_path / "phq9.json").hash == a.hash
    changed = copy.deepcopy(phq9_raw)
    changed["items"][0]["prompt"] += " (changed)"
    assert load_file(write(tmp_path, changed)).hash != a.hash


def test_json_syntax_error_names_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"id": "broken",\n  "version": }', encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"broken\.json: at \$: not valid JSON: .* line 2"):
        load_file(path)


def test_missing_required_field(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    del raw["licence"]
    error = load_broken(tmp_path, raw)
    assert "phq9.json" in str(error)
    assert error.path == "$"
    assert error.rule == "schema:required"
    assert "'licence' is a required property" in str(error)


def test_wrong_type_deep_inside(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["items"][9]["options"][2]["value"] = "two"
    error = load_broken(tmp_path, raw)
    assert error.path == "$.items[9].options[2].value"
    assert error.rule == "schema:type"


def test_unknown_field_is_refused(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["items"][0]["promt"] = "typo"
    error = load_broken(tmp_path, raw)
    assert error.path == "$.items[0]"
    assert "promt" in str(error)


def test_duplicate_item_id(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["items"][1]["id"] = "phq9_1"
    error = load_broken(tmp_path, raw)
    assert (error.path, error.rule) == ("$.items[1].id", "item-ids-unique")
    assert "'phq9_1' is used twice" in str(error)


def test_item_id_must_carry_the_scale_prefix(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["items"][0]["id"] = "madrs_1"
    assert load_broken(tmp_path, raw).rule == "item-id-prefix"


def test_option_value_outside_item_range(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["items"][9]["options"][3]["value"] = 7
    error = load_broken(tmp_path, raw)
    assert (error.path, error.rule) == ("$.items[9].options[3].value", "option-in-range")
    assert "value 7 is outside the item range 0-3" in str(error)


def test_options_must_cover_the_range(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["items"][9]["options"] = raw["items"][9]["options"][:3]
    error = load_broken(tmp_path, raw)
    assert error.rule == "options-cover-range"
    assert "[3]" in str(error)


def test_not_assessed_code_inside_scored_values(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["items"][0]["not_assessed"] = [{"value": 2, "label": "Not assessed"}]
    error = load_broken(tmp_path, raw)
    assert (error.path, error.rule) == ("$.items[0].not_assessed[0].value", "not-assessed-outside-scored")


def test_unknown_option_set(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["items"][4]["options"] = "frequncy"
    error = load_broken(tmp_path, raw)
    assert (error.path, error.rule) == ("$.items[4].options", "option-set-exists")


def test_band_gap(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["scoring"]["bands"]["sets"][0]["bands"][2]["min"] = 11
    error = load_broken(tmp_path, raw)
    assert (error.path, error.rule) == ("$.scoring.bands.sets[0].bands[2].min", "bands-tile-total-range")
    assert "gap before 10" in str(error)


def test_band_overlap(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["scoring"]["bands"]["sets"][0]["bands"][1]["min"] = 4
    error = load_broken(tmp_path, raw)
    assert "overlap at 5" in str(error)


def test_bands_must_reach_the_maximum(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["scoring"]["bands"]["sets"][0]["bands"][-1]["max"] = 26
    error = load_broken(tmp_path, raw)
    assert error.rule == "bands-tile-total-range"
    assert "ends at 26 but the total range ends at 27" in str(error)


def test_declared_total_range_must_match_items(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["scoring"]["total"]["max"] = 30
    error = load_broken(tmp_path, raw)
    assert (error.path, error.rule) == ("$.scoring.total", "total-range-matches-items")


def test_trigger_on_unknown_item(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["safety_triggers"][0]["when"]["item"] = "phq9_99"
    error = load_broken(tmp_path, raw)
    assert (error.path, error.rule) == ("$.safety_triggers[0].when", "reference-exists")
    assert "unknown item 'phq9_99'" in str(error)


def test_subscale_on_unknown_item(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["scoring"]["subscales"] = [
        {"id": "phq2", "label": "PHQ-2", "method": "sum", "items": ["phq9_1", "phq9_x"], "source": "x"}
    ]
    error = load_broken(tmp_path, raw)
    assert (error.path, error.rule) == ("$.scoring.subscales[0].items[1]", "reference-exists")


def test_visibility_rule_on_unknown_item(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["items"][9]["visible_if"] = {"item": "phq9_0", "op": ">", "value": 0}
    assert load_broken(tmp_path, raw).rule == "reference-exists"


def test_file_name_must_match_id(tmp_path, phq9_raw):
    error = load_broken(tmp_path, phq9_raw, name="other")
    assert error.rule == "file-name-matches-id"


def test_default_band_set_must_exist(tmp_path, phq9_raw):
    raw = copy.deepcopy(phq9_raw)
    raw["scoring"]["bands"]["default"] = "nope"
    assert load_broken(tmp_path, raw).rule == "default-band-set-exists"


def test_a_broken_file_fails_the_whole_directory(tmp_path, phq9_raw):
    write(tmp_path, phq9_raw)
    (tmp_path / "zzz.json").write_text("[]", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"zzz\.json: at \$: .*schema:type"):
        load_directory(tmp_path)


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (
            lambda raw: raw["scoring"]["bands"]["sets"].append(dict(raw["scoring"]["bands"]["sets"][0])),
            "$.scoring.bands.sets[1].id",
        ),
        (lambda raw: raw["recall"]["options"].append({"id": "2w", "label": "again"}), "$.recall.options[1].id"),
        (
            lambda raw: raw["safety_triggers"].append(dict(raw["safety_triggers"][0])),
            "$.safety_triggers+consistency_checks[1].id",
        ),
    ],
)
def test_repeated_ids_are_refused(tmp_path, phq9_raw, mutate, path):
    """A repeated band-set id would silently replace the first set and mislabel scores."""
    raw = copy.deepcopy(phq9_raw)
    mutate(raw)
    error = load_broken(tmp_path, raw)
    assert (error.path, error.rule) == (path, "ids-unique")
