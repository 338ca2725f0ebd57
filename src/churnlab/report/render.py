"""Render ``report.html`` (self-contained, no JavaScript) and ``headline.json`` for one run."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from churnlab.config import Params
from churnlab.report.headline import build_headline, fmt_money, fmt_rate

#: Charts the notebooks may leave in ``charts/``, with the section that shows them.
SECTION_CHARTS = {
    "retention_trend": "Gross and net revenue retention by month",
    "health_by_tier": "Health bands by touch tier",
    "cohort_effects": "What differs between churned and retained accounts",
    "drivers": "What drives churn risk overall (mean |SHAP|)",
    "calibration": "Calibration: predicted vs observed churn on the held-out period",
}


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("churnlab", "report/templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = fmt_money
    env.filters["rate"] = fmt_rate
    env.filters["datauri"] = _data_uri
    return env


def _data_uri(path: str | Path) -> str:
    payload = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:image/png;base64,{payload}"


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _records(frame: pd.DataFrame, limit: int | None = None) -> list[dict[str, Any]]:
    frame = frame if limit is None else frame.head(limit)
    return [
        {k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")
    ]


def sparkline_charts(run_dir: Path, headline: dict[str, Any]) -> dict[str, str]:
    """Small trend charts for the KPI tiles, saved as PNG under ``charts/``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from churnlab.plots.kpis import plot_kpi_sparkline

    charts: dict[str, str] = {}
    (run_dir / "charts").mkdir(exist_ok=True)
    for tile in headline["kpis"]:
        series = [v for v in tile.get("series", []) if v is not None]
        if len(series) < 2:
            continue
        rising_is_good = tile["key"] != "logo_churn_rate"
        fig = plot_kpi_sparkline(
            pd.Series(series), title=None, percent=tile["kind"] == "rate", good_up=rising_is_good
        )
        for text in list(fig.axes[0].texts):  # the tile shows the value; keep the line clean
            text.remove()
        fig.set_size_inches(1.4, 0.45)  # drawn at the size it is shown (140 x 45 px)
        rel = f"charts/spark_{tile['key']}.png"
        fig.savefig(run_dir / rel, dpi=100, transparent=False, facecolor="white")
        matplotlib.pyplot.close(fig)
        tile["sparkline"] = rel
        charts[f"spark_{tile['key']}"] = rel
    return charts


def health_by_tier(scores: pd.DataFrame) -> list[dict[str, Any]]:
    """Accounts and ARR per touch tier and health band."""
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
    order = {"high_touch": 0, "low_touch": 1, "tech_touch": 2}
    return sorted(rows, key=lambda r: order.get(str(r["tier"]), 9))


def render_report(run_dir: Path, cfg: Params, previous_run_dir: Path | None = None) -> Path:
    """Write ``headline.json`` and ``report.html`` into ``run_dir`` and return the report path.

    Parameters
    ----------
    run_dir : Path
        A run directory whose notebooks have written their files.
    cfg : Params
        Effective parameters.
    previous_run_dir : Path, optional
        The previous successful run (for the change since then).

    Returns
    -------
    Path
        The written ``report.html``.
    """
    run_dir = Path(run_dir)
    headline = build_headline(run_dir, cfg, previous_run_dir)
    headline["charts"] = sparkline_charts(run_dir, headline)
    for name in SECTION_CHARTS:
        if (run_dir / "charts" / f"{name}.png").exists():
            headline["charts"][name] = f"charts/{name}.png"
    _write_text(run_dir / "headline.json", json.dumps(headline, indent=2, default=str))

    scores = _read_csv(run_dir / "scores.csv")
    comparison = _read_csv(run_dir / "cohort_comparison.csv")
    findings = comparison
    if not comparison.empty and "significant" in comparison:
        keep = comparison["significant"].astype(bool)
        if "small_group" in comparison:
            keep &= ~comparison["small_group"].astype(bool)
        findings = comparison[keep]
    metrics = _read_json(run_dir / "model_metrics.json")
    context = {
        "h": headline,
        "cfg": cfg,
        "health_by_tier": health_by_tier(scores),
        "findings": _records(findings, 6),
        "early_warning": _records(_read_csv(run_dir / "early_warning.csv"), 10),
        "early_warning_total": len(_read_csv(run_dir / "early_warning.csv")),
        "drivers": _records(_read_csv(run_dir / "drivers.csv"), 8),
        "metrics": metrics,
        "health": _read_json(run_dir / "data_health.json"),
        "manifest": _read_json(run_dir / "manifest.json"),
        "charts": {k: run_dir / v for k, v in headline["charts"].items()},
        "chart_titles": SECTION_CHARTS,
        "scored_accounts": len(scores),
    }
    html = _env().get_template("report.html.j2").render(**context)
    out = run_dir / "report.html"
    _write_text(out, html)
    return out


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
