"""What changed this month, in two or three sentences (the report's executive view and headline).

1. The month's MRR bridge: how much MRR moved, and by what.
2. The touch tier whose net revenue retention (or logo churn) moved most since the month
   before.
3. The portfolio score since the last run of the data set, and the tier whose score moved
   most (or, on a first run, the score alone).

Every word comes from the ``executive.changes`` messages of the vocabulary.
"""

from __future__ import annotations

import math

import pandas as pd

from churnlab.executive._kpis import MrrBridge, overall
from churnlab.vocabulary import TIERS, Vocabulary

__all__ = ["segment_moves", "what_changed"]

#: The monthly rates compared across touch tiers, most telling first.
_MOVERS = ("net_revenue_retention", "logo_churn_rate")


def _signed(words: Vocabulary, value: float) -> str:
    """A rounded number with its sign (``+2``, ``-3``, ``0``)."""
    text = words.number(round(value))
    return "+" + text if round(value) > 0 else text


def segment_moves(kpis: pd.DataFrame) -> pd.DataFrame:
    """Month-over-month change of the compared rates per touch tier, largest first.

    Parameters
    ----------
    kpis : pandas.DataFrame
        ``kpis.csv``.

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``key``, ``month``, ``value``, ``before``, ``change`` sorted by the
        size of ``change``; empty with fewer than two months or no tier rows.
    """
    columns = ["segment", "key", "month", "value", "before", "change"]
    rows = overall(kpis)
    if len(rows) < 2 or "segment" not in kpis.columns:
        return pd.DataFrame(columns=columns)
    month, before = rows["month"].iloc[-1], rows["month"].iloc[-2]
    dated = kpis.assign(month=pd.to_datetime(kpis["month"]))
    out = []
    for tier in TIERS:
        part = dated[dated["segment"] == tier].set_index("month")
        if month not in part.index or before not in part.index:
            continue
        for key in _MOVERS:
            if key not in part.columns:
                continue
            now, then = float(part.loc[month, key]), float(part.loc[before, key])
            if math.isfinite(now) and math.isfinite(then):
                out.append([tier, key, month, now, then, now - then])
    table = pd.DataFrame(out, columns=columns)
    order = table["change"].abs().sort_values(ascending=False, kind="stable").index
    return table.loc[order].reset_index(drop=True)


def what_changed(
    bridge: MrrBridge | None,
    kpis: pd.DataFrame,
    trend: pd.DataFrame,
    words: Vocabulary,
) -> list[str]:
    """Two or three sentences on what changed this month.

    Parameters
    ----------
    bridge : MrrBridge or None
        The month's MRR bridge (None: snapshot data, no sentence on it).
    kpis : pandas.DataFrame
        ``kpis.csv`` (the tier that moved most).
    trend : pandas.DataFrame
        :func:`churnlab.executive.book_trend` of the earlier runs and this one (the last
        row is this run).
    words : Vocabulary
        The report's language.

    Returns
    -------
    list of str
    """
    out = []
    if bridge is not None and bridge.start > 0:
        change = bridge.end - bridge.start
        out.append(
            words.text(
                "executive.changes.bridge",
                month=words.month(bridge.last_month.date()),
                direction=words.text(
                    "executive.changes.up" if change >= 0 else "executive.changes.down"
                ),
                amount=words.money(abs(change)),
                share=words.rate(abs(change) / bridge.start),
                new=words.money(bridge.new + bridge.reactivation),
                expansion=words.money(bridge.expansion),
                lost=words.money(bridge.churn + bridge.contraction),
            )
        )
    moves = segment_moves(kpis)
    if not moves.empty:
        top = moves.iloc[0]
        out.append(
            words.text(
                "executive.changes.segment",
                kpi=words.text(f"executive.kpis.{top['key']}"),
                segment=words.tier_label(str(top["segment"])),
                value=words.rate(top["value"]),
                month=words.month(top["month"].date()),
                change=words.change("rate", top["change"]),
                before=words.month((top["month"] - pd.DateOffset(months=1)).date()),
            )
        )
    if not trend.empty and math.isfinite(float(trend["score"].iloc[-1])):
        now = trend.iloc[-1]
        if len(trend) < 2 or not math.isfinite(float(trend["score"].iloc[-2])):
            out.append(
                words.text("executive.changes.score_first", score=words.number(round(now["score"])))
            )
        else:
            then = trend.iloc[-2]
            tiers = {
                t: float(now[f"score_{t}"]) - float(then[f"score_{t}"])
                for t in TIERS
                if math.isfinite(float(now[f"score_{t}"]) - float(then[f"score_{t}"]))
            }
            mover = max(tiers, key=lambda t: abs(tiers[t])) if tiers else None
            fields = {
                "score": words.number(round(now["score"])),
                "change": _signed(words, float(now["score"]) - float(then["score"])),
                "date": words.date(str(then["as_of"])),
            }
            if mover is None:
                out.append(words.text("executive.changes.score_plain", **fields))
            else:
                segment = {
                    "segment": words.tier_label(mover),
                    "segment_change": _signed(words, tiers[mover]),
                }
                out.append(words.text("executive.changes.score", **fields, **segment))
    return out
