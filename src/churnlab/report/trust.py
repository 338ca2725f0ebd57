"""The report's "How far to trust the scores" in plain words, from ``model_metrics.json``.

Stage 02 stores the trust figures as numbers (``trust``, see
:func:`churnlab.modeling.trust.trust_figures`); this module says them in the report's
language, every word from the ``trust`` topic of the catalogue: the churn rate of the
riskiest 10% against the average ("4 in 10 churned within 90 days — 4× the average"), the
calibration of the riskiest group ("when it says 20%, about that many churn", or how far
off it is), how many risk groups match, how it was measured, and the chart's alt text.
Without figures (no model, too few held-out accounts, no churner among them, a run from
before the figures) it gives a one-sentence note instead.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from churnlab.vocabulary import Vocabulary

__all__ = ["effect_sizes", "frequency", "survival_backtest_sentences", "trust_context"]


def _half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def frequency(rate: float, words: Vocabulary) -> str:
    """A rate as a natural frequency: "4 in 10" from 15%, "1 in 7" below, "nearly all".

    Parameters
    ----------
    rate : float
        A share in [0, 1].
    words : Vocabulary
        The language.

    Returns
    -------
    str
        ``trust.frequency.none`` at 0, ``one_in`` (1 in round(1 / rate)) below 15%,
        ``in_ten`` (round(10 × rate) in 10) up to 95%, ``nearly_all`` from there.
    """
    if rate <= 0:
        return words.text("trust.frequency.none")
    if rate >= 0.95:
        return words.text("trust.frequency.nearly_all")
    if rate >= 0.15:
        return words.text("trust.frequency.in_ten", k=words.number(_half_up(10 * rate)))
    return words.text("trust.frequency.one_in", n=words.number(_half_up(1 / rate)))


def _kind(figures: dict[str, Any]) -> str:
    if figures.get("snapshot"):
        return "snapshot"
    return "later_dates" if figures.get("held_out") == "later_dates" else "accounts"


def _sentences(figures: dict[str, Any], words: Vocabulary) -> list[str]:
    kind = _kind(figures)
    top = words.text(
        f"trust.top_share.{kind}",
        share=words.rate(figures["top_fraction"], 0),
        frequency=frequency(figures["top_rate"], words),
        rate=_pct(figures["top_rate"], words),
        days=words.number(figures.get("horizon_days") or 0),
        lift=_times(figures["top_lift"], words),
        base=words.rate(figures["base_rate"], 1),
    )
    cal = figures["calibration"]
    calibration = words.text(
        f"trust.calibration.{cal['direction']}",
        share=words.rate(cal["share"], 0),
        predicted=_pct(cal["mean_predicted"], words),
        observed=_pct(cal["observed_rate"], words),
        lower=_pct(cal["lower"], words),
        upper=_pct(cal["upper"], words),
    )
    groups = words.text(
        "trust.groups",
        within=words.number(figures["bins_within"]),
        groups=words.number(figures["n_bins"]),
    )
    return [top, calibration, groups]


def _basis(figures: dict[str, Any], words: Vocabulary) -> str:
    kind = _kind(figures)
    fields: dict[str, Any] = {
        "n": words.number(figures["n"]),
        "churned": words.number(figures["churned"]),
        "days": words.number(figures.get("horizon_days") or 0),
    }
    if kind == "later_dates":
        fields.update(
            start=words.date(figures.get("tested_from")), end=words.date(figures.get("tested_to"))
        )
    return words.text(f"trust.basis.{kind}", **fields)


def _alt(figures: dict[str, Any], words: Vocabulary) -> str:
    cal = figures["calibration"]
    return words.text(
        "trust.chart.alt",
        groups=words.number(figures["n_bins"]),
        count=words.number(cal["count"]),
        predicted=_pct(cal["mean_predicted"], words),
        observed=_pct(cal["observed_rate"], words),
    )


def effect_sizes(findings: pd.DataFrame | None, words: Vocabulary) -> list[dict[str, str]]:
    """The effect sizes of the cohort findings the report shows, for the appendix.

    Parameters
    ----------
    findings : pandas.DataFrame or None
        Rows of ``cohort_comparison.csv`` (``feature``, ``kind``, ``level``, ``effect``,
        ``effect_low``, ``effect_high``; categorical rows use ``risk_difference``,
        ``rd_low``, ``rd_high`` when present).
    words : Vocabulary
        The report's language.

    Returns
    -------
    list of dict
        ``label``, ``effect``, ``low``, ``high`` as text, in the findings' order.
    """
    if findings is None or findings.empty or "effect" not in findings:
        return []
    out = []
    for row in findings.to_dict("records"):
        categorical = row.get("kind") == "categorical" and _present(row.get("risk_difference"))
        cols = (
            ("risk_difference", "rd_low", "rd_high")
            if categorical
            else ("effect", "effect_low", "effect_high")
        )
        if not _present(row.get(cols[0])):
            continue
        label = words.feature_label(str(row["feature"]))
        if categorical and _present(row.get("level")):
            label = f"{label} = {words.level_label(row['level'])}"
        effect, low, high = (_two(row.get(c), words) for c in cols)
        out.append({"label": label, "effect": effect, "low": low, "high": high})
    return out


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _two(value: Any, words: Vocabulary) -> str:
    return words.fixed(float(value), 2) if _present(value) else words.fixed(None)


def _pct(value: float, words: Vocabulary) -> str:
    """A share in whole percent from 10%, with one decimal below (``14%``, ``0.5%``)."""
    return words.rate(value, 0 if abs(value) >= 0.095 else 1)


def _times(value: float, words: Vocabulary) -> str:
    """A multiple with one decimal, whole when it rounds to one: ``4``, ``3.3``."""
    rounded = round(float(value), 1)
    return words.number(rounded) if rounded.is_integer() else words.fixed(rounded, 1)


def trust_context(
    metrics: dict[str, Any], words: Vocabulary, findings: pd.DataFrame | None = None
) -> dict[str, Any]:
    """The template context of the trust section and its appendix: ``{"trust": {...}}``.

    Parameters
    ----------
    metrics : dict
        ``model_metrics.json`` of the run (empty when stage 02 wrote none).
    words : Vocabulary
        The report's language.
    findings : pandas.DataFrame, optional
        The cohort findings the report shows (their effect sizes go to the appendix).

    Returns
    -------
    dict
        ``trust``: ``sentences`` (the plain figures), ``basis`` (how they were measured),
        ``chart_alt``, ``note`` (why there are no figures; None when there are) and
        ``effects`` (:func:`effect_sizes`).
    """
    empty: dict[str, Any] = {
        "sentences": [],
        "basis": None,
        "chart_alt": None,
        "note": None,
        "effects": effect_sizes(findings, words),
    }
    if metrics.get("status") == "skipped":
        reason = metrics.get("reason") or ""
        return {"trust": {**empty, "note": words.text("trust.none.no_model", reason=reason)}}
    figures = metrics.get("trust")
    if not figures:
        return {"trust": {**empty, "note": words.text("trust.none.unavailable")}}
    status = figures.get("status")
    if status == "too_few":
        note = words.text(
            "trust.none.too_few",
            n=words.number(figures["n"]),
            min_rows=words.number(figures["min_rows"]),
        )
        return {"trust": {**empty, "note": note}}
    if status == "no_churner":
        note = words.text("trust.none.no_churner", n=words.number(figures["n"]))
        return {"trust": {**empty, "note": note}}
    return {
        "trust": {
            **empty,
            "sentences": _sentences(figures, words),
            "basis": _basis(figures, words),
            "chart_alt": _alt(figures, words),
        }
    }


def survival_backtest_sentences(survival: dict[str, Any], words: Vocabulary) -> list[str]:
    """The time-to-churn back-test in sentences: what it was tested on, the gain, the gap.

    From the ``survival`` section of the model metrics (stage 03): the test landmarks and
    months (at one landmark date, or a held-out share of the accounts), how much lower the
    hazard model's integrated Brier score is than the better baseline's (or that it is
    not), and its mean churn probability beside the classifier's. Said once here for the
    report's appendix and notebook 03 (catalogue topic ``survival.appendix``); empty when
    no hazard model was trained.
    """
    if survival.get("status") != "trained":
        return []
    said, a = words.text, "survival.appendix."
    models = words.catalogue["survival"]["appendix"]["models"]
    test = survival.get("backtest") or {}
    basis = {
        "n": words.number(test.get("test_landmarks", 0)),
        "months": words.number(test.get("horizon_months", 0)),
    }
    if test.get("scheme") == "time":
        sentences = [said(a + "basis_time", date=words.date(test["test_as_of"]), **basis)]
    else:
        sentences = [said(a + "basis_accounts", **basis)]
    base = survival.get("better_baseline")
    if base and survival.get("ibs_improvement") is not None:
        if survival["ibs_improvement"] > 0:
            share = words.rate(survival["ibs_improvement"], 0)
            sentences.append(said(a + "improvement", share=share, baseline=models.get(base, base)))
        else:
            sentences.append(
                said(
                    a + "no_improvement",
                    baseline=models.get(base, base),
                    ours=words.fixed(survival["hazard"]["integrated_brier_score"], 4),
                    theirs=words.fixed(survival[base]["integrated_brier_score"], 4),
                )
            )
    gap = survival.get("classifier_gap") or {}
    if gap:
        sentences.append(
            said(
                a + "gap",
                hazard=words.rate(gap["mean_hazard"], 1),
                classifier=words.rate(gap["mean_classifier"], 1),
                difference=words.rate(gap["mean_absolute_difference"], 1),
            )
        )
    return sentences
