"""Scoring accounts: churn probability, health score, bands, tiers, renewals, early warning.

Health score (0-100, higher is healthier) is a fixed, documented function of the
calibrated churn probability ``p`` (never a rank, so a score means the same thing
from one run to the next and across accounts)::

    survival    = (1 - p) ** (365 / horizon_days)   # chance to still be a customer in a
                                                    # year if this risk persisted
    health_score = floor(100 * survival + 0.5)      # round half up, an int in 0..100

``p`` is the churn probability over the model's label window (``horizon_days``,
90 in params.yaml), so annualising it follows domain.md's rule
``annual = 1 - (1 - period)^(365 / days)``: with a 90-day p of 0.05 the health is
81, 0.084 -> 70 (green limit), 0.12 -> 60, 0.2 -> 40 (red limit). Without a
horizon (``horizon_days=None`` and none recorded in the model) the exponent is 1
and ``health_score = floor(100 * (1 - p) + 0.5)``. A 90-day probability alone
would put nearly every account above 90, leaving the bands empty.

Bands: ``red`` when ``health_score < red_below``, ``green`` when
``health_score >= green_from``, ``yellow`` otherwise (params.yaml ``health``).

Touch tiers from ARR (params.yaml ``tiers``) by :func:`churnlab.vocabulary.tier_rule`:
``tech_touch`` below both thresholds and when ARR is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.errors import ModelError
from churnlab.vocabulary import Vocabulary, touch_tier, vocabulary

SCORE_COLUMNS = [
    "account_id",
    "as_of",
    "churn_probability",
    "health_score",
    "health_band",
    "touch_tier",
    "arr",
    "renewal_date",
    "days_to_renewal",
    "expected_arr_at_risk",
]


def health_score(proba, horizon_days: int | None = None) -> np.ndarray:
    """``floor(100 * (1 - p) ** (365 / horizon_days) + 0.5)`` as int (exponent 1 when None).

    0 = certain churn, 100 = no risk; see the module docstring.
    """
    p = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    exponent = 1.0 if horizon_days is None else 365.0 / float(horizon_days)
    return np.clip(np.floor(100.0 * (1.0 - p) ** exponent + 0.5), 0, 100).astype(int)


def health_band(score, bands: tuple[float, float] = (40, 70)) -> np.ndarray:
    """``red`` below ``bands[0]``, ``green`` from ``bands[1]``, ``yellow`` between."""
    red_below, green_from = bands
    if red_below > green_from:
        raise ModelError(f"health bands must satisfy red_below <= green_from, got {bands}")
    s = np.asarray(score, dtype=float)
    return np.where(s < red_below, "red", np.where(s >= green_from, "green", "yellow"))


def score_accounts(
    model,
    scoring_table: pd.DataFrame,
    *,
    bands: tuple[float, float] = (40, 70),
    touch_thresholds: tuple[float, float] = (12000, 60000),
    horizon_days: int | None = None,
) -> pd.DataFrame:
    """Score every row of a scoring table.

    Parameters
    ----------
    model : ChurnModel
        Anything with ``predict_proba(table) -> array`` (calibrated probabilities).
    scoring_table : pandas.DataFrame
        Observation table for one ``as_of`` (``label`` may be missing); needs
        ``account_id``, ``as_of``, ``arr``, ``renewal_date`` and the model's features.
    bands : (red_below, green_from)
        Health-band limits.
    touch_thresholds : (low_touch_min_arr, high_touch_min_arr)
        ARR limits of the touch tiers.
    horizon_days : int, optional
        Label window of the model's probabilities, for the health score; default
        ``model.training["horizon_days"]`` (recorded by ``fit_churn_model``), else
        None (health = 100 x (1 - p)).

    Returns
    -------
    pandas.DataFrame
        ``SCORE_COLUMNS`` (plus ``name`` when the table has it), in the input order:
        ``days_to_renewal`` = ``(renewal_date - as_of).days`` (nullable Int64, <NA>
        without a renewal date); ``expected_arr_at_risk`` = ``churn_probability * arr``.
    """
    needed = ["account_id", "as_of", "arr", "renewal_date"]
    missing = [c for c in needed if c not in scoring_table.columns]
    if missing:
        raise ModelError(f"scoring table lacks column(s) {missing}; needed: {needed}")
    p = np.asarray(model.predict_proba(scoring_table), dtype=float)
    arr = scoring_table["arr"].astype(float).to_numpy()
    if horizon_days is None:
        horizon_days = (getattr(model, "training", None) or {}).get("horizon_days")
    score = health_score(p, horizon_days)
    days = (scoring_table["renewal_date"] - scoring_table["as_of"]).dt.days.astype("Int64")
    out = pd.DataFrame(
        {
            "account_id": scoring_table["account_id"].to_numpy(),
            "as_of": scoring_table["as_of"].to_numpy(),
            "churn_probability": p,
            "health_score": score,
            "health_band": health_band(score, bands),
            "touch_tier": touch_tier(arr, touch_thresholds),
            "arr": arr,
            "renewal_date": scoring_table["renewal_date"].to_numpy(),
            "days_to_renewal": days.array,
            "expected_arr_at_risk": p * arr,
        }
    )
    if "name" in scoring_table.columns:
        out.insert(1, "name", scoring_table["name"].to_numpy())
    return out


#: Billing period (months) from which a subscription is a contract that renews.
CONTRACT_MONTHS = 2


def is_contract(scores: pd.DataFrame, min_months: int = CONTRACT_MONTHS) -> pd.Series:
    """Whether each account is on a contract of ``min_months`` months or more.

    An unknown billing period (no ``billing_period_months`` column, or a missing value)
    is not a contract: such accounts belong to the monthly book.
    """
    if "billing_period_months" not in scores.columns:
        return pd.Series(False, index=scores.index)
    months = pd.to_numeric(scores["billing_period_months"], errors="coerce")
    return months.ge(min_months).fillna(False).astype(bool)


def renewal_map(
    scores: pd.DataFrame, *, as_of, days: int = 90, min_billing_months: int | None = None
) -> pd.DataFrame:
    """Accounts renewing in the next ``days`` days, most expected ARR at risk first.

    Keeps rows with ``as_of <= renewal_date <= as_of + days`` (both ends included);
    ties in expected ARR at risk are broken by the earlier renewal, then account_id.
    With ``min_billing_months`` (the pipeline passes :data:`CONTRACT_MONTHS`), only
    contract renewals: accounts whose billing period is at least that many months (see
    :func:`is_contract`); a monthly subscription "renews" every month and is in the
    monthly book (:func:`monthly_at_risk`) instead.
    """
    start = pd.Timestamp(as_of)
    end = start + pd.Timedelta(days=days)
    mask = scores["renewal_date"].between(start, end, inclusive="both")
    if min_billing_months is not None:
        mask &= is_contract(scores, min_billing_months)
    return (
        scores[mask]
        .sort_values(
            ["expected_arr_at_risk", "renewal_date", "account_id"],
            ascending=[False, True, True],
            kind="mergesort",
        )
        .reset_index(drop=True)
    )


def monthly_at_risk(
    scores: pd.DataFrame, *, min_billing_months: int = CONTRACT_MONTHS
) -> pd.DataFrame:
    """The monthly book: accounts not on a contract, most expected ARR at risk first.

    Every account that :func:`is_contract` does not count as a contract (billing period
    under ``min_billing_months``, or unknown); ties broken by account_id.
    """
    book = scores[~is_contract(scores, min_billing_months)]
    return book.sort_values(
        ["expected_arr_at_risk", "account_id"], ascending=[False, True], kind="mergesort"
    ).reset_index(drop=True)


def early_warning(
    scores: pd.DataFrame,
    previous_scores: pd.DataFrame | None,
    *,
    drop_points: int = 15,
    words: Vocabulary | None = None,
) -> pd.DataFrame:
    """Accounts that entered the red band or whose health fell by >= ``drop_points``.

    Parameters
    ----------
    scores : pandas.DataFrame
        This run's ``score_accounts`` output.
    previous_scores : pandas.DataFrame or None
        The previous run's output (of the same data set). None: no comparable earlier
        run, nothing to compare with, and the list is empty.
    drop_points : int
        Health drop that triggers a warning.
    words : Vocabulary, optional
        The language of ``reason`` (catalogue ``accounts.early_warning``); default English.

    Returns
    -------
    pandas.DataFrame
        ``account_id``, ``previous_health`` (Int64, <NA> for new accounts),
        ``current_health``, ``health_change``, ``health_band``, ``churn_probability``,
        ``arr``, ``expected_arr_at_risk``, ``reason`` ("entered red", "health fell 22
        points", or both joined by "; "); most expected ARR at risk first. An account
        absent from the previous run counts as entering red when it is red now.
    """
    cur = scores.reset_index(drop=True)
    if previous_scores is None:  # nothing to compare with: no account is flagged
        cur = cur.iloc[:0]
        previous_scores = pd.DataFrame(columns=["account_id", "health_score", "health_band"])
    prev = previous_scores.drop_duplicates("account_id", keep="last").set_index("account_id")
    prev_health = cur["account_id"].map(prev["health_score"]).astype("Int64")
    prev_band = cur["account_id"].map(prev["health_band"])
    is_red = cur["health_band"] == "red"
    entered_red = is_red & (prev_band != "red")
    change = cur["health_score"].astype("Int64") - prev_health
    fell = (change <= -drop_points).fillna(False).astype(bool)
    words = words or vocabulary()
    red_reason = words.text("accounts.early_warning.entered_red")
    fell_text = [
        words.text("accounts.early_warning.fell", points=words.number(-float(c))) if f else ""
        for c, f in zip(change.fillna(0).to_numpy(), fell.to_numpy(), strict=True)
    ]
    reason = (
        pd.Series(np.where(entered_red, red_reason, ""), index=cur.index)
        + np.where(entered_red & fell, words.text("reasons.separator"), "")
        + pd.Series(fell_text, index=cur.index, dtype=object)
    )
    out = pd.DataFrame(
        {
            "account_id": cur["account_id"],
            "previous_health": prev_health,
            "current_health": cur["health_score"].astype(int),
            "health_change": change,
            "health_band": cur["health_band"],
            "churn_probability": cur["churn_probability"],
            "arr": cur["arr"],
            "expected_arr_at_risk": cur["expected_arr_at_risk"],
            "reason": reason,
        }
    )
    out = out[(entered_red | fell).to_numpy()]
    return out.sort_values(
        ["expected_arr_at_risk", "account_id"], ascending=[False, True], kind="mergesort"
    ).reset_index(drop=True)
