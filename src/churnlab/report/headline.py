"""The report's first screen as data (``headline.json``): KPIs, changes, ARR at risk, renewals."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab.config import Params

#: KPI tiles: (key in kpis.csv, label, kind, higher is better)
KPI_TILES: tuple[tuple[str, str, str, bool], ...] = (
    ("logo_churn_rate", "Logo churn (monthly)", "rate", False),
    ("gross_revenue_retention", "Gross revenue retention (monthly)", "rate", True),
    ("net_revenue_retention", "Net revenue retention (monthly)", "rate", True),
    ("arr", "ARR", "money", True),
)


def fmt_money(value: float | None) -> str:
    """$1.2M / $45.3k / $950 style amounts."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    sign = "-" if value < 0 else ""
    v = abs(float(value))
    if v >= 1e6:
        return f"{sign}${v / 1e6:,.2f}M"
    if v >= 1e4:
        return f"{sign}${v / 1e3:,.1f}k"
    return f"{sign}${v:,.0f}"


def fmt_rate(value: float | None, digits: int = 1) -> str:
    """0.0213 -> '2.1%'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * float(value):.{digits}f}%"


def fmt_change(kind: str, delta: float | None) -> str:
    """A change since the previous run: '+0.3 pp', '-$12.0k', 'no earlier run'."""
    if delta is None or (isinstance(delta, float) and math.isnan(delta)):
        return "first run"
    if kind == "rate":
        return f"{100 * delta:+.1f} pp"
    return ("+" if delta >= 0 else "") + fmt_money(delta)


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def overall_kpis(kpis: pd.DataFrame) -> pd.DataFrame:
    """The overall (all segments) monthly KPI rows, sorted by month."""
    frame = kpis
    if "segment" in frame.columns:
        frame = frame[frame["segment"].astype(str) == "all"]
    return frame.sort_values("month").reset_index(drop=True)


def build_headline(
    run_dir: Path, cfg: Params, previous_run_dir: Path | None = None
) -> dict[str, Any]:
    """Assemble ``headline.json`` from a run directory's files.

    Parameters
    ----------
    run_dir : Path
        The run directory holding ``kpis.csv`` and ``renewal_map.csv``.
    cfg : Params
        Effective parameters (report title, renewal window, number of accounts).
    previous_run_dir : Path, optional
        The previous successful run, for the change of each KPI.

    Returns
    -------
    dict
        The headline, as documented in docs/architecture.md.
    """
    kpis = overall_kpis(pd.read_csv(run_dir / "kpis.csv"))
    renewal_map = pd.read_csv(run_dir / "renewal_map.csv")
    previous = _read_json(previous_run_dir / "headline.json") if previous_run_dir else {}
    prev_values = {k["key"]: k.get("value") for k in previous.get("kpis", [])}

    last = kpis.iloc[-1] if len(kpis) else pd.Series(dtype=float)
    tiles = []
    for key, label, kind, higher_better in KPI_TILES:
        value = float(last[key]) if key in last and pd.notna(last[key]) else None
        prev = prev_values.get(key)
        delta = value - prev if value is not None and prev is not None else None
        display = fmt_rate(value) if kind == "rate" else fmt_money(value)
        tiles.append(
            {
                "key": key,
                "label": label,
                "kind": kind,
                "value": value,
                "display": display,
                "change_display": fmt_change(kind, delta),
                "good": None if delta is None or delta == 0 else (delta > 0) == higher_better,
                "series": [None if pd.isna(v) else float(v) for v in kpis.get(key, pd.Series())][
                    -12:
                ],
            }
        )
    at_risk = float(renewal_map["expected_arr_at_risk"].sum()) if len(renewal_map) else 0.0
    prev_risk = previous.get("arr_at_risk")
    risk_delta = at_risk - prev_risk if prev_risk is not None else None
    tiles.append(
        {
            "key": "arr_at_risk",
            "kind": "money",
            "label": f"ARR at risk, next {cfg.health.renewal_window_days} days",
            "value": at_risk,
            "display": fmt_money(at_risk),
            "change_display": fmt_change("money", risk_delta),
            "good": None if not risk_delta else risk_delta < 0,
            "series": [],
        }
    )
    top = renewal_map.head(cfg.report.top_accounts)
    columns = [
        "account_id",
        "name",
        "touch_tier",
        "arr",
        "renewal_date",
        "churn_probability",
        "expected_arr_at_risk",
        "health_score",
        "health_band",
        "reasons",
    ]
    top_rows = [
        {c: (None if c not in top.columns or pd.isna(row.get(c)) else row.get(c)) for c in columns}
        for row in top.to_dict("records")
    ]
    month_label = str(last.get("month", ""))[:7] if len(kpis) else ""
    return {
        "as_of": (_read_json(run_dir / "manifest.json").get("as_of") or str(cfg.scoring_as_of())),
        "run_id": run_dir.name,
        "title": cfg.report.title,
        "company": cfg.report.company,
        "kpi_month": month_label,
        "kpis": tiles,
        "arr_at_risk": at_risk,
        "arr_at_risk_display": fmt_money(at_risk),
        "renewal_window_days": cfg.health.renewal_window_days,
        "renewals_in_window": int(len(renewal_map)),
        "top_renewals": top_rows,
        "charts": {},
    }
