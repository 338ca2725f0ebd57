"""Render ``report.html`` (self-contained, no JavaScript) and ``headline.json`` for one run."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab import csvsafe
from churnlab.atomic import write_text
from churnlab.config import Params
from churnlab.errors import RunError
from churnlab.messages import in_language, message, render_message, rows_in_language
from churnlab.report.accounts import accounts_context
from churnlab.report.executive import executive_view
from churnlab.report.headline import Headline, build_headline
from churnlab.report.templating import environment
from churnlab.report.trust import survival_backtest_sentences, trust_context
from churnlab.run.folder import CHARTS, RunFolder
from churnlab.vocabulary import TIERS, Vocabulary, vocabulary

__all__ = ["health_by_tier", "render_report", "sparkline_charts"]


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame()
    return csvsafe.read_csv(path, dtype={"account_id": str, "name": str})


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _records(frame: pd.DataFrame, limit: int | None = None) -> list[dict[str, Any]]:
    frame = frame if limit is None else frame.head(limit)
    return [
        {k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")
    ]


def sparkline_charts(folder: RunFolder, headline: Headline) -> Headline:
    """Draw a small trend chart per KPI tile with a history; the headline with their paths."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from churnlab.plots.kpis import plot_kpi_sparkline

    tiles = []
    for tile in headline.kpis:
        series = [v for v in tile.series if v is not None]
        if len(series) < 2:
            tiles.append(tile)
            continue
        fig = plot_kpi_sparkline(
            pd.Series(series),
            title=None,
            percent=tile.kind == "rate",
            good_up=tile.key != "logo_churn_rate",
        )
        for text in list(fig.axes[0].texts):  # the tile shows the value; keep the line clean
            text.remove()
        fig.set_size_inches(1.4, 0.45)  # drawn at the size it is shown (140 x 45 px)
        path = folder.sparkline(tile.key)
        fig.savefig(path, dpi=100, transparent=False, facecolor="white")
        plt.close(fig)
        tiles.append(_with_sparkline(tile, folder.relative(path)))
    return headline.replace(kpis=tiles)


def _with_sparkline(tile: Any, relative: str) -> Any:
    import dataclasses

    return dataclasses.replace(tile, sparkline=relative)


def health_by_tier(scores: pd.DataFrame) -> list[dict[str, Any]]:
    """Accounts and ARR per touch tier and health band, tiers in their order."""
    if scores.empty:
        return []
    table = (
        scores.groupby(["touch_tier", "health_band"], observed=True)
        .agg(accounts=("account_id", "size"), arr=("arr", "sum"))
        .reset_index()
    )
    rows = []
    for tier, part in table.groupby("touch_tier", sort=True):
        row: dict[str, Any] = {
            "tier": tier,
            "accounts": int(part["accounts"].sum()),
            "arr": float(part["arr"].sum()),
        }
        for band in ("red", "yellow", "green"):
            hit = part[part["health_band"] == band]
            row[band] = int(hit["accounts"].sum())
        row["arr_red"] = float(part.loc[part["health_band"] == "red", "arr"].sum())
        rows.append(row)
    order = {tier: i for i, tier in enumerate(TIERS)}
    return sorted(rows, key=lambda r: order.get(str(r["tier"]), len(order)))


def track_record_rows(table: pd.DataFrame, limit: int = 6) -> list[dict[str, Any]]:
    """One row per measured earlier run (newest first): overall churn and the top decile."""
    if table.empty:
        return []
    rows = []
    for run_id, part in table.groupby("run_id", sort=False):
        overall = part[part["section"] == "all"].iloc[0]
        group = pd.to_numeric(part["group"], errors="coerce")
        top = part[(part["section"] == "decile") & (group == 1)]
        rows.append(
            {
                "run_id": run_id,
                "as_of": str(overall["as_of"])[:10],
                "n_labelled": int(overall["n_labelled"]),
                "churn_rate": overall["churn_rate"],
                "top_rate": top["churn_rate"].iloc[0] if len(top) else None,
                "top_lift": float(top["lift"].iloc[0]) if len(top) else float("nan"),
                "arr_lost": overall["arr_lost"],
                "arr_predicted": overall["arr_predicted"],
            }
        )
    return sorted(rows, key=lambda r: r["as_of"], reverse=True)[:limit]


def fitted_to_data(
    health: dict[str, Any],
    metrics: dict[str, Any],
    manifest: dict[str, Any],
    words: Vocabulary | None = None,
) -> list[str]:
    """What churnlab adapted to this data, in words: the report's "fitted to this data" list.

    The data-health notes (loading, the history), the model notes (features left out,
    folds skipped, the plain reference) and the stages that had nothing to do. The notes
    are said in the language of ``words`` (default English) when ``health`` and
    ``metrics`` carry them as messages (``churnlab.messages.in_language``).
    """
    words = words or vocabulary()
    health, metrics = in_language(health, words), in_language(metrics, words)
    notes = [*health.get("notes", []), *metrics.get("notes", [])]
    lineage = in_language(manifest, words).get("lineage_note")
    if lineage:
        notes.append(lineage[0].upper() + lineage[1:])
    if metrics.get("status") != "skipped":  # else the model's note says why 02 and 03 skipped
        for stage in manifest.get("stages") or []:
            if stage.get("status") == "skipped" and stage.get("reason"):
                reason = stage.get("reason_message") or stage["reason"]
                skipped = message(
                    "messages.fitted.stage_skipped", stage=stage["name"], reason=reason
                )
                notes.append(render_message(skipped, words))
    return list(dict.fromkeys(notes))


def render_report(
    folder: RunFolder,
    cfg: Params,
    previous: RunFolder | None = None,
    words: Vocabulary | None = None,
    earlier_runs: Sequence[RunFolder] = (),
) -> Path:
    """Write ``headline.json`` and ``report.html`` into the run folder; return the report.

    Parameters
    ----------
    folder : RunFolder
        A run folder whose stages have written their files.
    cfg : Params
        Effective parameters.
    previous : RunFolder, optional
        The previous successful run (for the change since then).
    words : Vocabulary, optional
        Labels and formats; default: ``report.language`` and ``report.currency`` of ``cfg``.
    earlier_runs : sequence of RunFolder
        The earlier successful runs of the data set, oldest first (the executive view's
        trends over runs).

    Returns
    -------
    Path
        The written ``report.html``.
    """
    words = words or vocabulary(cfg.report.language, cfg.report.currency)
    manifest = _read_json(folder.manifest)
    # stage 02 and stage 03 (``survival``) metrics, sentences in `words`
    metrics = in_language(folder.read_model_metrics(), words)
    if isinstance(metrics.get("survival"), dict):
        metrics["survival"] = in_language(metrics["survival"], words)
    health = in_language(_read_json(folder.data_health), words)
    for rows in ("rejected_rows", "flagged_rows"):  # "<table>: <reason>" in `words`
        health[rows] = rows_in_language(health.get(rows) or {}, words)
    earlier = None
    if previous is not None:
        try:
            earlier = Headline.read(previous.headline)
        except RunError as exc:  # a damaged earlier run: no change shown, never a failure
            warnings.warn(f"the previous run is skipped: {exc}", stacklevel=2)
    headline = build_headline(
        csvsafe.read_csv(folder.kpis),
        _read_csv(folder.renewal_map),
        cfg,
        as_of=str(manifest.get("as_of") or cfg.scoring_as_of()),
        run_id=folder.name,
        previous=earlier,
        words=words,
        horizon_days=metrics.get("horizon_days"),
        warning=metrics.get("warning"),
        scored=folder.scores.exists(),
        scores=_read_csv(folder.scores) if folder.scores.exists() else None,
        monthly=_read_csv(folder.monthly_at_risk),
    )
    headline = sparkline_charts(folder, headline)
    charts = {name: folder.relative(folder.chart(name)) for name in CHARTS}
    charts = {name: rel for name, rel in charts.items() if (folder.path / rel).exists()}
    sparklines = {f"spark_{t.key}": t.sparkline for t in headline.kpis if t.sparkline}
    headline = headline.replace(charts={**sparklines, **charts})
    executive = executive_view(folder, cfg, words, earlier_runs)
    headline = headline.replace(what_changed=executive["what_changed"])
    headline.write(folder.headline)

    scores = _read_csv(folder.scores)
    comparison = _read_csv(folder.cohort_comparison)
    findings = comparison
    if not comparison.empty and "significant" in comparison:
        keep = comparison["significant"].astype(bool)
        if "small_group" in comparison:
            keep &= ~comparison["small_group"].astype(bool)
        findings = comparison[keep]
    early_warning = _read_csv(folder.early_warning)
    context = {
        "h": headline,
        "executive": executive,
        "cfg": cfg,
        "words": words,
        "health_by_tier": health_by_tier(scores),
        "has_revenue": bool(len(scores)) and bool(scores["arr"].notna().any()),
        "findings": in_language(_records(findings, 6), words),
        "early_warning": _records(early_warning, 10),
        "early_warning_total": len(early_warning),
        "drivers": _records(_read_csv(folder.drivers), 8),
        "metrics": metrics,
        **trust_context(metrics, words, findings.head(6)),
        "survival_sentences": survival_backtest_sentences(metrics.get("survival") or {}, words),
        "health": health,
        "notes": fitted_to_data(health, metrics, manifest, words),
        "manifest": manifest,
        "charts": {name: folder.path / rel for name, rel in headline.charts.items()},
        "chart_titles": {name: words.chart_title(name) for name in CHARTS},
        "scored_accounts": len(scores),
        "monitoring": in_language(_read_json(folder.monitoring), words),
        "track_record": track_record_rows(_read_csv(folder.track_record)),
        **accounts_context(scores, cfg, words, levers=_read_csv(folder.levers)),
    }
    html = (
        environment(words.language, words.currency).get_template("report.html.j2").render(**context)
    )
    return write_text(folder.report, html)
