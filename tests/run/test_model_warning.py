"""A champion no better than chance is said loudly: metrics, report, email (a shuffled label)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from churnlab.delivery import DeliverySettings, build_message
from churnlab.report import Headline
from churnlab.run.steps import StageContext, explanations, model, report
from tests.helpers import copy_run


def test_a_shuffled_label_gets_the_below_chance_warning_everywhere(
    pipeline_run, pipeline_cfg, tmp_path
):
    run = copy_run(pipeline_run, tmp_path / "reports")
    observations = pd.read_parquet(run.observations)
    shuffled = np.random.default_rng(0).permutation(observations["label"].to_numpy())
    observations.assign(label=pd.array(shuffled, dtype="Int64")).to_parquet(
        run.observations, index=False
    )
    ctx = StageContext(params=pipeline_cfg, folder=run, as_of=pipeline_run.name[:10])
    for step in (model, explanations, report):
        step.run(ctx)

    metrics = json.loads(run.model_metrics.read_text())
    best = next(r for r in metrics["comparison"] if r["model"] == metrics["champion"])
    assert best["roc_auc"] < pipeline_cfg.model.min_useful_auc  # a label of noise ranks nothing
    assert "do not act on them" in metrics["warning"]
    assert metrics["warning"] in run.report.read_text()
    assert Headline.read(run.headline).warning == metrics["warning"]
    settings = DeliverySettings.from_params(recipients=["vp@example.com"])
    email = build_message(run.path, settings)
    html = email.get_body(preferencelist=("html",)).get_content()
    plain = email.get_body(preferencelist=("plain",)).get_content()
    assert metrics["warning"] in html and f"WARNING: {metrics['warning']}" in plain


def test_the_real_sample_earns_no_warning(pipeline_run):
    metrics = json.loads(pipeline_run.model_metrics.read_text())
    assert metrics["warning"] is None and metrics["status"] == "trained"
    assert Headline.read(pipeline_run.headline).warning is None
