"""params.yaml loading: defaults, overlays, overrides and the error messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from churnlab.config import Params, last_month_end, load_params, parse_override
from churnlab.errors import ParamsError

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"


def test_defaults_load_frozen_and_typed():
    cfg = load_params(PARAMS)
    assert isinstance(cfg, Params)
    assert cfg.data.as_of == dt.date(2026, 10, 31)
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
    assert cfg.model.lightgbm.learning_rate == 0.05
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
