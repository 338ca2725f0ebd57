"""params.yaml loading: defaults, overlays, overrides, the error messages, and the model,
params.yaml and params.schema.json kept in step."""

from __future__ import annotations

import datetime as dt
import json
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from churnlab.config import (
    SCHEMA_FILE,
    DataParams,
    Params,
    deep_merge,
    last_month_end,
    load_params,
    params_schema,
    parse_override,
)
from churnlab.errors import ParamsError
from tests.helpers import ROOT, EditorLoader, read_as_editor, schema_errors

PARAMS = ROOT / "params.yaml"
TELCO = ROOT / "params" / "telco.yaml"
SCHEMA_PATH = ROOT / SCHEMA_FILE


def model_fields(
    model: type[BaseModel] = Params, prefix: str = ""
) -> Iterator[tuple[str, FieldInfo, type[BaseModel] | None]]:
    """``(dotted path, field, section model or None)`` of every params field, depth first."""
    for name, field in model.model_fields.items():
        if model is Params and name == "root":
            continue
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            yield prefix + name, field, section
            yield from model_fields(section, f"{prefix}{name}.")
        else:
            yield prefix + name, field, None


def test_defaults_load_frozen_and_typed():
    cfg = load_params(PARAMS)
    assert isinstance(cfg, Params)
    assert cfg.data.as_of == "auto"  # read from the files by churnlab run and validate
    assert cfg.with_data_end(dt.date(2026, 10, 31)).scoring_as_of() == dt.date(2026, 10, 31)
    with pytest.raises(ParamsError, match="data.as_of is auto"):
        cfg.scoring_as_of()
    assert cfg.observation.grace_days == 30
    assert cfg.tiers.thresholds == (12000.0, 60000.0)
    assert cfg.features.ratios["logins_per_seat_28d"] == ("logins_28d", "seats")
    with pytest.raises(Exception, match="frozen"):
        cfg.model.seed = 1  # type: ignore[misc]


def test_cli_style_override_and_overlay(tmp_path):
    overlay = tmp_path / "mine.yaml"
    overlay.write_text(yaml.safe_dump({"model": {"seed": 11, "lightgbm": {"num_leaves": 7}}}))
    cfg = load_params(PARAMS, [overlay], ["model.seed=7", "cohorts.alpha=0.01"])
    assert cfg.model.seed == 7  # override beats overlay
    assert cfg.model.lightgbm.num_leaves == 7  # overlay merged, siblings kept
    assert cfg.model.lightgbm.learning_rate == 0.1
    assert cfg.cohorts.alpha == 0.01


def test_unknown_key_names_closest_valid_key():
    with pytest.raises(ParamsError) as err:
        load_params(PARAMS, overrides=["model.sed=7"])
    assert "model.sed: unknown key; did you mean 'model.seed'?" in str(err.value)


def test_unknown_section_suggested():
    with pytest.raises(ParamsError, match="did you mean 'cohorts'"):
        load_params(PARAMS, overrides=["cohort.alpha=0.1"])


def test_wrong_type_gives_path_value_and_expectation():
    with pytest.raises(ParamsError) as err:
        load_params(PARAMS, overrides=["model.seed=abc"])
    msg = str(err.value)
    assert "model.seed = 'abc'" in msg and "valid integer" in msg


def test_out_of_range_value():
    with pytest.raises(ParamsError) as err:
        load_params(PARAMS, overrides=["cohorts.alpha=2"])
    assert "cohorts.alpha = 2" in str(err.value) and "less than 1" in str(err.value)


def test_cross_field_rule():
    with pytest.raises(ParamsError, match="green_from .* must be above health.red_below"):
        load_params(PARAMS, overrides=["health.red_below=80"])


def test_secrets_are_refused():
    with pytest.raises(ParamsError, match="environment variable"):
        load_params(PARAMS, overrides=["delivery.smtp.password=hunter2"])


def test_bad_override_syntax_and_missing_file(tmp_path):
    with pytest.raises(ParamsError, match="section.key=value"):
        parse_override("model.seed")
    with pytest.raises(ParamsError, match="does not exist"):
        load_params(tmp_path / "nope.yaml")


def test_snapshot_shape_needs_a_path():
    with pytest.raises(ParamsError, match="data.snapshot.path"):
        load_params(PARAMS, overrides=["data.shape=snapshot"])


def test_snapshot_shape_needs_its_date():
    # event logs read data.as_of from the files; a snapshot has no dates to read it from
    with pytest.raises(ParamsError, match="data.as_of is auto: set the snapshot's date"):
        load_params(PARAMS, overrides=["data.shape=snapshot", "data.snapshot.path=x.csv"])


def test_telco_overlay_loads():
    cfg = load_params(PARAMS, [ROOT / "params" / "telco.yaml"])
    assert cfg.data.shape == "snapshot"
    assert cfg.data.snapshot.label_column == "Churn"
    assert cfg.path(cfg.data.snapshot.path).exists()


@pytest.mark.parametrize(
    ("day", "expected"),
    [("2026-10-31", "2026-10-31"), ("2026-11-23", "2026-10-31"), ("2024-03-01", "2024-02-29")],
)
def test_last_month_end(day, expected):
    assert last_month_end(dt.date.fromisoformat(day)) == dt.date.fromisoformat(expected)


def test_effective_params_round_trip_as_yaml(tmp_path):
    cfg = load_params(PARAMS, overrides=["model.seed=5"])
    dumped = tmp_path / "effective.yaml"
    dumped.write_text(cfg.to_yaml())
    again = load_params(dumped)
    assert again.to_dict() == cfg.to_dict()


# --------------------------------------------------------------------------- self-description


def test_every_field_and_section_has_a_description():
    missing = [path for path, field, _ in model_fields() if not (field.description or "").strip()]
    assert not missing, f"fields without Field(description=...): {missing}"
    sections = {section for _, _, section in model_fields() if section} | {Params}
    undocumented = [s.__name__ for s in sections if not (s.__doc__ or "").strip()]
    assert not undocumented, f"section classes without a docstring: {undocumented}"
    assert Params.model_fields["root"].description


def test_params_yaml_lists_every_field():
    raw = yaml.safe_load(PARAMS.read_text(encoding="utf-8"))
    absent = []
    for path, _, _ in model_fields():
        node = raw
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                absent.append(path)
                break
            node = node[part]
    assert not absent, f"params.yaml is the complete list of defaults; it lacks {absent}"


def test_params_yaml_values_are_the_model_defaults_except_the_data_location():
    required = [path for path, field, _ in model_fields() if field.is_required()]
    assert required == ["data"]
    paths = ("accounts", "subscriptions", "events")
    assert all(DataParams.model_fields[k].default is None for k in paths)
    cfg = load_params(PARAMS)
    # Only what the model cannot know is given: where the sample is, and the demo's example
    # cost of its CS team (a company's own figure; without it no retention cost is shown).
    assert Params.model_fields["report"].default_factory().cs_cost is None
    defaults = Params(data=DataParams(**{k: getattr(cfg.data, k) for k in paths}))
    expected = defaults.to_dict()
    expected["report"]["cs_cost"] = cfg.report.cs_cost
    assert cfg.report.cs_cost is not None
    assert expected == cfg.to_dict()


def test_nullable_fields_default_to_null():
    # So that removing a key (null in an overlay) and setting it to null mean the same.
    nullable = {
        path: field.default
        for path, field, section in model_fields()
        if section is None and type(None) in typing.get_args(field.annotation)
    }
    assert {"data.format", "data.snapshot.path", "features.event_types"} <= set(nullable)
    assert [path for path, default in nullable.items() if default is not None] == []


def test_shipped_schema_is_up_to_date():
    generated = json.dumps(params_schema(), indent=2) + "\n"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == generated, (
        f"{SCHEMA_FILE} is out of date with the model in churnlab/config/; regenerate it "
        f"with: churnlab params --schema > {SCHEMA_FILE}"
    )


def test_schema_is_draft_2020_12_without_required_keys_or_root():
    schema = params_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] and schema["description"]
    assert "root" not in schema["properties"]
    assert '"required":' not in json.dumps(schema)  # an overlay may set any subset
    assert '"required":' in json.dumps(Params.model_json_schema())  # what was removed
    horizon = schema["$defs"]["ObservationParams"]["properties"]["horizon_days"]
    assert horizon["description"].startswith("Days the label window lasts")
    assert schema["$defs"]["FeatureParams"]["properties"]["windows"]["default"] == [7, 28, 90]


@pytest.mark.parametrize("path", [PARAMS, TELCO], ids=["params.yaml", "telco.yaml"])
def test_params_files_validate_against_the_schema(path):
    assert schema_errors(read_as_editor(path)) == []


def test_first_line_points_editors_at_the_schema():
    assert PARAMS.read_text().splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_FILE}"
    assert TELCO.read_text().splitlines()[0] == f"# yaml-language-server: $schema=../{SCHEMA_FILE}"


@pytest.mark.parametrize(
    "document",
    [
        {"modle": {"seed": 7}},
        {"model": {"seeed": 7}},
        {"model": {"lightgbm": {"num_leafs": 7}}},
        {"data": {"snapshot": {"id_colum": "customerID"}}},
        {"features": {"ratios": {"per_seat": ["logins_28d"]}}},
        {"observation": {"horizon_days": 0}},
        {"model": {"champion_metric": "auc"}},
        {"data": {"as_of": "2026-31-10"}},
        {"features": {"windows": []}},
    ],
    ids=lambda d: json.dumps(d),
)
def test_schema_rejects_typos_and_bad_values(document):
    assert schema_errors(document)


def test_schema_accepts_partial_overlays_and_nulls():
    assert schema_errors({}) == []
    assert schema_errors({"model": {"seed": 7}}) == []
    overlay = {
        "data": {"format": None, "snapshot": {"mrr_column": None}},
        "features": {"ratios": {"logins_per_seat_28d": None}, "event_types": None},
        "model": {"seed": None},
        "delivery": None,
    }
    assert schema_errors(overlay) == []


def test_unquoted_dates_stay_text_for_the_schema():
    text = "data:\n  as_of: 2026-10-31\nsample:\n  end_date: 2026-10-31\n"
    assert yaml.safe_load(text)["data"]["as_of"] == dt.date(2026, 10, 31)  # why the loader
    read = yaml.load(text, Loader=EditorLoader)  # noqa: S506
    assert read["data"]["as_of"] == "2026-10-31"
    assert schema_errors(read) == []


# --------------------------------------------------------------------------- overlay merging


def _overlay(tmp_path: Path, values: dict[str, Any], name: str = "overlay.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(values))
    return path


def test_null_in_overlay_removes_a_mapping_entry(tmp_path):
    overlay = _overlay(tmp_path, {"features": {"ratios": {"logins_per_seat_28d": None}}})
    assert "logins_per_seat_28d" in load_params(PARAMS).features.ratios
    assert load_params(PARAMS, [overlay]).features.ratios == {}


def test_null_in_overlay_sets_a_nullable_field_to_null(tmp_path):
    overlay = _overlay(tmp_path, {"data": {"snapshot": {"mrr_column": None}}})
    assert load_params(PARAMS, [TELCO]).data.snapshot.mrr_column == "MonthlyCharges"
    cfg = load_params(PARAMS, [TELCO, overlay], ["data.snapshot.tenure_column="])
    assert cfg.data.snapshot.mrr_column is None
    assert cfg.data.snapshot.tenure_column is None
    assert cfg.data.snapshot.id_column == "customerID"  # siblings kept


def test_null_for_a_field_with_a_value_restores_its_default(tmp_path):
    overlay = _overlay(tmp_path, {"model": {"seed": 11}, "data": {"format": "csv"}})
    cfg = load_params(PARAMS, [overlay], ["model.seed=", "data.format="])
    assert cfg.model.seed == 42
    assert cfg.data.format is None


def test_list_in_overlay_replaces_the_list(tmp_path):
    # the example of params.yaml's header
    overlay = _overlay(
        tmp_path,
        {
            "features": {
                "windows": [7, 30],
                "ratios": {
                    "logins_per_seat_28d": None,
                    "logins_per_seat_30d": ["logins_30d", "seats"],
                },
            }
        },
    )
    features = load_params(PARAMS, [overlay]).features
    assert features.windows == [7, 30]
    assert features.ratios == {"logins_per_seat_30d": ("logins_30d", "seats")}


def test_deep_merge_drops_nulls_and_never_changes_its_inputs():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 2}
    top = {"a": {"x": None, "y": [3], "new": {"z": None, "w": 4}}, "b": None, "c": None}
    merged = deep_merge(base, top)
    assert merged == {"a": {"y": [3], "new": {"w": 4}}}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 2}
    assert top["a"]["x"] is None and top["c"] is None


def test_an_impossible_date_is_a_params_error_not_a_traceback(tmp_path):
    with pytest.raises(ParamsError, match="'2026-13-01' is not a valid date"):
        load_params(PARAMS, overrides=["data.as_of=2026-13-01"])
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("data:\n  as_of: 2026-02-30\n")
    with pytest.raises(ParamsError, match="a date that does not exist"):
        load_params(PARAMS, [overlay])


def _numeric(annotation: object) -> bool:
    args = typing.get_args(annotation) or (annotation,)
    return any(a in (int, float) for a in args) and bool not in args


def test_a_boolean_is_not_a_number():
    # #22 item 9: `horizon_days: true` was read as 1
    numeric = [path for path, field, _ in model_fields() if _numeric(field.annotation)]
    assert "observation.horizon_days" in numeric and len(numeric) > 20
    for path in numeric:
        with pytest.raises(ParamsError, match=path.rsplit(".", 1)[-1]) as err:
            load_params(PARAMS, overrides=[f"{path}=true"])
        assert "true/false" in str(err.value), path
    assert load_params(PARAMS, overrides=["kpis.gross_margin=1"]).kpis.gross_margin == 1.0
