"""The docs stay true: what they list exists, what they show runs, what they link is here."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import yaml

from churnlab.config import load_params
from churnlab.observations import build_observation_table
from churnlab.report import Headline, KpiTile, Renewal
from churnlab.run import RunFolder
from churnlab.run.stages import STAGES
from tests.helpers import ROOT
from tests.observations.reference import EVENT_TYPES, small_case

DOCS = ROOT / "docs"


def test_architecture_lists_every_run_file_stage_and_headline_field():
    text = (DOCS / "architecture.md").read_text()
    missing = [f.name for f in RunFolder.files().values() if f"`{f.name}" not in text]
    missing += [s.name for s in STAGES if f"`{s.name}`" not in text]
    for kind in (Headline, KpiTile, Renewal):
        missing += [f.name for f in dataclasses.fields(kind) if f"`{f.name}`" not in text]
    assert missing == []


def _yaml_blocks(path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)


def test_the_ratio_of_the_feature_walkthrough_runs(tmp_path):
    """docs/adding-a-feature.md, part 1: the overlay loads and the engine builds the ratio."""
    (block,) = _yaml_blocks(DOCS / "adding-a-feature.md")
    overlay = tmp_path / "my-features.yaml"
    overlay.write_text(block)
    cfg = load_params(ROOT / "params.yaml", [overlay])
    ratios = {k: tuple(v) for k, v in cfg.features.ratios.items()}
    assert ratios["tickets_per_seat_90d"] == ("tickets_opened_90d", "seats")
    inputs, spine, _ = small_case()
    table = build_observation_table(*inputs, spine, event_types=EVENT_TYPES, ratios=ratios)
    seats = table["seats"].where(table["seats"] > 0)
    np.testing.assert_allclose(table["tickets_per_seat_90d"], table["tickets_opened_90d"] / seats)


def test_readme_yaml_examples_are_valid_overlays(tmp_path):
    for i, block in enumerate(_yaml_blocks(ROOT / "README.md")):
        assert isinstance(yaml.safe_load(block), dict)
        overlay = tmp_path / f"overlay{i}.yaml"
        overlay.write_text(block)
        load_params(ROOT / "params.yaml", [overlay])  # raises ParamsError when invalid


def test_links_point_inside_the_repository():
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path = (page.parent / target).resolve()
            assert path.is_relative_to(ROOT), (page.name, target)
            assert path.exists(), (page.name, target)
