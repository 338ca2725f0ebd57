"""The book of accounts as leadership sees it: the portfolio score and the health bands.

**Portfolio score** = Σ health score × ARR / Σ ARR over the scored accounts (the whole
book, and per touch tier): the health of the average dollar. Without revenue (a snapshot
without an MRR column) every account weighs the same and ``weighted`` says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab.vocabulary import BANDS, TIERS

__all__ = ["book_trend", "health_distribution", "portfolio_score"]

_SCORE_COLUMNS = ["segment", "accounts", "arr", "score", "weighted"]
_BAND_COLUMNS = ["band", "accounts", "account_share", "arr", "arr_share"]


def _weighted(part: pd.DataFrame) -> tuple[float, bool]:
    health = part["health_score"].astype(float)
    arr = part["arr"].astype(float) if "arr" in part else pd.Series(np.nan, index=part.index)
    ok = health.notna() & arr.notna() & (arr >= 0)
    if ok.any() and arr[ok].sum() > 0:
        return float((health[ok] * arr[ok]).sum() / arr[ok].sum()), True
    return float(health.mean()), False


def portfolio_score(scores: pd.DataFrame) -> pd.DataFrame:
    """ARR-weighted health of the whole book (``segment == "all"``) and of each touch tier.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``scores.csv``: ``health_score``, ``arr`` and ``touch_tier`` per account.

    Returns
    -------
    pandas.DataFrame
        ``segment`` (``all``, then the tiers in order), ``accounts``, ``arr``,
        ``score`` (0-100), ``weighted`` (False: no ARR, a plain mean). Empty without scores.
    """
    if scores.empty or "health_score" not in scores.columns:
        return pd.DataFrame(columns=_SCORE_COLUMNS)
    groups: list[tuple[str, pd.DataFrame]] = [("all", scores)]
    if "touch_tier" in scores.columns:
        groups += [(t, scores[scores["touch_tier"] == t]) for t in TIERS]
    rows = []
    for segment, part in groups:
        if part.empty:
            continue
        score, weighted = _weighted(part)
        arr = float(part["arr"].astype(float).sum(min_count=1)) if "arr" in part else float("nan")
        rows.append(
            {
                "segment": segment,
                "accounts": len(part),
                "arr": arr,
                "score": score,
                "weighted": weighted,
            }
        )
    return pd.DataFrame(rows, columns=_SCORE_COLUMNS)


def health_distribution(scores: pd.DataFrame) -> pd.DataFrame:
    """Accounts and ARR per health band, with their shares of the book (bands worst first).

    Parameters
    ----------
    scores : pandas.DataFrame
        ``scores.csv``: ``health_band`` and ``arr`` per account.

    Returns
    -------
    pandas.DataFrame
        ``band``, ``accounts``, ``account_share``, ``arr``, ``arr_share`` (NaN without ARR).
    """
    if scores.empty or "health_band" not in scores.columns:
        return pd.DataFrame(columns=_BAND_COLUMNS)
    arr = scores["arr"].astype(float) if "arr" in scores else pd.Series(np.nan, index=scores.index)
    total_arr = float(arr.sum()) if arr.notna().any() else float("nan")
    rows = []
    for band in BANDS:
        hit = (scores["health_band"] == band).to_numpy()
        band_arr = float(arr[hit].sum()) if arr.notna().any() else float("nan")
        rows.append(
            {
                "band": band,
                "accounts": int(hit.sum()),
                "account_share": float(hit.mean()),
                "arr": band_arr,
                "arr_share": band_arr / total_arr if total_arr and total_arr > 0 else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=_BAND_COLUMNS)


def book_trend(runs: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The portfolio score and the band shares of each run, oldest first.

    Parameters
    ----------
    runs : sequence of (str, pandas.DataFrame)
        ``(as_of, scores)`` of the earlier runs and this one, oldest first.

    Returns
    -------
    pandas.DataFrame
        One row per run: ``as_of``, ``score`` (the whole book), ``score_<tier>`` per
        tier, and ``accounts_<band>`` / ``arr_<band>``, the shares of accounts and ARR per
        band.
    """
    rows = []
    for as_of, scores in runs:
        row: dict[str, object] = {"as_of": str(as_of)[:10]}
        score = portfolio_score(scores).set_index("segment")["score"]
        row["score"] = float(score.get("all", np.nan))
        for tier in TIERS:
            row[f"score_{tier}"] = float(score.get(tier, np.nan))
        bands = health_distribution(scores).set_index("band")
        for band in BANDS:
            row[f"accounts_{band}"] = float(bands["account_share"].get(band, np.nan))
            row[f"arr_{band}"] = float(bands["arr_share"].get(band, np.nan))
        rows.append(row)
    columns = ["as_of", "score", *(f"score_{t}" for t in TIERS)]
    columns += [f"{k}_{b}" for b in BANDS for k in ("accounts", "arr")]
    return pd.DataFrame(rows, columns=columns)
