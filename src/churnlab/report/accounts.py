"""The report's account sections: ARR at risk and its parts, renewal map, monthly book, segments.

:func:`arr_at_risk_parts` defines the headline's ARR at risk once (the whole book, and its
contract-renewal, monthly and other parts).

The renewal map and the monthly book come from the headline (``top_renewals``,
``top_monthly``); the per-CSM and per-segment tables are built here from ``scores.csv``:
for each column of ``report.segments`` (null: the CSM owner and ``cohorts.segment``),
accounts, ARR, ARR at risk and red accounts by value, the values with the most ARR at
risk first.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from churnlab.config import Params
from churnlab.run.folder import RunFolder
from churnlab.vocabulary import LEVEL_WORDS, Vocabulary

__all__ = [
    "SEGMENT_ROWS",
    "accounts_context",
    "arr_at_risk_parts",
    "lever_context",
    "lever_label",
    "segment_tables",
]

#: Values shown per segment column (the most ARR at risk first).
SEGMENT_ROWS = 10


def _wanted(cfg: Params, scores: pd.DataFrame) -> tuple[list[str], bool]:
    """The segment columns asked for, and whether the user named them."""
    if cfg.report.segments is not None:
        return list(dict.fromkeys(cfg.report.segments)), True
    default = [c for c in ("csm_owner", cfg.cohorts.segment) if c in scores.columns]
    if "csm_owner" in default and not _filled(scores["csm_owner"]):
        default.remove("csm_owner")  # the column exists but the data has no owner
    return list(dict.fromkeys(default)), False


def _filled(values: pd.Series) -> bool:
    return bool(values.astype(str).str.strip().replace({"nan": "", "None": ""}).ne("").any())


def segment_tables(
    scores: pd.DataFrame, cfg: Params, words: Vocabulary, *, rows: int = SEGMENT_ROWS
) -> list[dict[str, Any]]:
    """One small table per segment column of the report.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``scores.csv`` (stage 04 copies the segment columns into it).
    cfg : Params
        ``report.segments`` and ``cohorts.segment``.
    words : Vocabulary
        The report language (the column's label, tier names).
    rows : int
        Values shown per column.

    Returns
    -------
    list of dict
        Per column: ``column``, ``label``, ``rows`` (``value``, ``accounts``, ``arr``,
        ``arr_at_risk``, ``red``), ``total`` (values in all), and ``note`` (why there is
        no table: the data lacks the column or has no value in it; else empty).
    """
    if scores.empty:
        return []
    wanted, named = _wanted(cfg, scores)
    out: list[dict[str, Any]] = []
    for column in wanted:
        label = words.feature_label(column)
        if column not in scores.columns or not _filled(scores[column]):
            if named:
                out.append(
                    {
                        "column": column,
                        "label": label,
                        "rows": [],
                        "total": 0,
                        "note": words.text("accounts.segments.absent", column=column),
                    }
                )
            continue
        frame = scores.assign(
            segment_value=scores[column].astype(object).where(scores[column].notna(), ""),
            _red=(scores["health_band"] == "red").astype(int),
            _risk=pd.to_numeric(scores["expected_arr_at_risk"], errors="coerce"),
            _arr=pd.to_numeric(scores["arr"], errors="coerce"),
        )
        table = (
            frame.groupby("segment_value", sort=True, dropna=False)
            .agg(
                accounts=("account_id", "size"),
                arr=("_arr", "sum"),
                arr_at_risk=("_risk", "sum"),
                red=("_red", "sum"),
            )
            .reset_index()
            .sort_values(
                ["arr_at_risk", "segment_value"], ascending=[False, True], kind="mergesort"
            )
        )
        shown = []
        for row in table.head(rows).itertuples(index=False):
            value = (
                str(row.segment_value)
                if str(row.segment_value) != ""
                else words.text("accounts.segments.unset")
            )
            if column == "touch_tier":
                value = words.tier_label(value)
            elif column in LEVEL_WORDS and str(row.segment_value) != "":
                value = words.level_label(value)
            shown.append(
                {
                    "value": value,
                    "accounts": int(row.accounts),
                    "arr": float(row.arr),
                    "arr_at_risk": float(row.arr_at_risk),
                    "red": int(row.red),
                }
            )
        out.append(
            {"column": column, "label": label, "rows": shown, "total": len(table), "note": ""}
        )
    return out


def accounts_context(
    scores: pd.DataFrame,
    cfg: Params,
    words: Vocabulary,
    *,
    levers: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """What the account sections of the report need besides the headline.

    ``segments`` (:func:`segment_tables`), ``segment_rows`` and ``account_files`` (the
    names of the run files the sections point to, from :class:`RunFolder`), and the
    what-if levers (:func:`lever_context`) from ``levers`` (the per-lever table).
    """
    files = ("scores", "renewal_map", "monthly_at_risk", "early_warning")
    return {
        "segments": segment_tables(scores, cfg, words),
        "segment_rows": SEGMENT_ROWS,
        "account_files": {name: RunFolder.files()[name].name for name in files},
        **lever_context(scores, levers, cfg, words),
    }


def lever_label(name: str, words: Vocabulary) -> str:
    """A lever's name in the report: the catalogue's ``levers.names.<name>``, else its key."""
    try:
        return words.text(f"levers.names.{name}")
    except KeyError:
        return words.text("levers.other", name=str(name).replace("_", " "))


def lever_context(
    scores: pd.DataFrame, levers: pd.DataFrame | None, cfg: Params, words: Vocabulary
) -> dict[str, Any]:
    """The what-if levers for the report: per account (renewal map) and per lever.

    Returns
    -------
    dict
        ``account_levers``: account_id -> ``{"lever", "arr_protected"}`` for the accounts
        with a biggest lever (``scores.csv`` columns ``biggest_lever`` and
        ``lever_arr_protected``; empty when the run has none); ``lever_rows``: one row per
        lever that changes some account (label, next step, accounts it changes, mean risk
        drop, ARR protected, accounts it is the biggest lever for, its note in the report's
        language); ``lever_skipped``: the notes of the others (skipped, or already met by
        every account); ``levers_shown``: whether the renewal map has lever columns.
    """
    from churnlab.explain import next_step_texts
    from churnlab.messages import in_language

    account_levers: dict[str, dict[str, Any]] = {}
    if {"account_id", "biggest_lever", "lever_arr_protected"} <= set(scores.columns):
        has = scores[scores["biggest_lever"].notna() & (scores["biggest_lever"] != "")]
        for row in has.itertuples(index=False):
            account_levers[str(row.account_id)] = {
                "lever": lever_label(str(row.biggest_lever), words),
                "arr_protected": float(row.lever_arr_protected),
            }
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    if levers is not None and len(levers):
        steps = next_step_texts(cfg.playbook, words)
        for record in levers.to_dict("records"):
            said = in_language(record, words)
            if not int(record.get("applies_to") or 0):
                skipped.append(str(said.get("note") or ""))
                continue
            rows.append(
                {
                    "label": lever_label(str(record["lever"]), words),
                    "next_step": steps.get(str(record.get("play")), ""),
                    "applies_to": int(record.get("applies_to") or 0),
                    "mean_risk_drop": record.get("mean_risk_drop"),
                    "mean_risk_drop_display": words.change(
                        "rate", -float(record.get("mean_risk_drop") or 0.0)
                    ),
                    "arr_protected": record.get("arr_protected"),
                    "biggest_for": int(record.get("biggest_for") or 0),
                    "note": said.get("note") or "",
                }
            )
    return {
        "account_levers": account_levers,
        "lever_rows": rows,
        "lever_skipped": skipped,
        "levers_shown": "biggest_lever" in scores.columns,
    }


def arr_at_risk_parts(
    scores: pd.DataFrame | None,
    renewals: pd.DataFrame,
    monthly: pd.DataFrame | None = None,
) -> dict[str, float]:
    """The ARR at risk of the whole book and its parts, defined once.

    ``arr_at_risk`` = the sum of ``expected_arr_at_risk`` (churn probability within the
    model's horizon x ARR) over every scored account; ``renewals`` over the contract
    renewals in the window, ``monthly`` over the monthly book, ``other`` over the rest
    (contracts renewing later), so that the three parts add up to the whole.

    Parameters
    ----------
    scores : pandas.DataFrame or None
        ``scores.csv`` (None: the renewals and the monthly book are the whole book).
    renewals, monthly : pandas.DataFrame
        ``renewal_map.csv`` and ``monthly_at_risk.csv``.

    Returns
    -------
    dict
        ``arr_at_risk``, ``renewals``, ``monthly``, ``other`` (money), ``accounts``,
        ``monthly_accounts``, ``other_accounts`` (counts) and ``has_revenue`` (whether
        any account has an ARR, so that the figure means something).
    """
    monthly = monthly if monthly is not None else pd.DataFrame()
    parts = [t for t in (renewals, monthly) if len(t)]
    book = scores if scores is not None else (pd.concat(parts) if parts else pd.DataFrame())

    def total(table: pd.DataFrame) -> float:
        if table.empty or "expected_arr_at_risk" not in table:
            return 0.0
        return float(pd.to_numeric(table["expected_arr_at_risk"], errors="coerce").sum())

    ids = set()
    for t in (renewals, monthly):
        if "account_id" in t:
            ids |= set(t["account_id"].astype(str))
    rest = (
        book[~book["account_id"].astype(str).isin(ids)] if "account_id" in book else pd.DataFrame()
    )
    has_revenue = "arr" in book and bool(pd.to_numeric(book["arr"], errors="coerce").notna().any())
    return {
        "arr_at_risk": total(book),
        "renewals": total(renewals),
        "monthly": total(monthly),
        "other": total(rest),
        "accounts": float(len(book)),
        "monthly_accounts": float(len(monthly)),
        "other_accounts": float(len(rest)),
        "has_revenue": float(has_revenue),
    }
