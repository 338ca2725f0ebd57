"""The ground truth of a generated sample and the README written next to it."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from . import _spec as S

FEATURES_NOTE = (
    "features: the observable features the generator drives from the driver's latent state, "
    "the primary measure (feature) first; {w} stands for any window length in days "
    "(logins_{w}d: logins_7d, logins_28d, ...). Only direct measures are listed: "
    "feature_<name>_{w}d counts scale with both usage level and adoption breadth and are "
    "listed under neither; plan and seats only correlate with touch tier."
)


def ground_truth(params: dict, realised: dict) -> dict:
    """Drivers (ranked by |log-odds|), irrelevant attributes, parameters and realised counts."""
    ranked = sorted(S.DRIVERS, key=lambda d: -abs(d.log_odds))
    drivers = [
        {
            "rank": rank,
            "name": d.name,
            "feature": d.feature,
            "features": [d.feature, *S.MEASURES[d.name]],
            "description": d.description,
            "log_odds": d.log_odds,
            "hazard_ratio": round(math.exp(d.log_odds), 3),
            "strong": rank <= 4,
        }
        for rank, d in enumerate(ranked, start=1)
    ]
    return {
        "description": (
            "Synthetic B2B SaaS sample. Each month every active account has a churn log-odds = "
            "base_log_odds + the sum of the effects of its active drivers (latent states that "
            "also generate the events). Decisions lag the experience: a monthly contract churns "
            "at its next monthly renewal with the probability of the month before (one month's "
            "notice); an annual contract is decided 2 months before its renewal, with "
            "probability 1 - (1 - 0.6 x mean monthly hazard of the 3 months before that)^12 "
            "(annual commitment). Effects are log-odds of "
            "the monthly hazard (hazard_ratio = exp(log_odds), close to the hazard ratio at "
            "these low rates). The features measure the latent drivers with noise, so effects "
            "estimated from them are attenuated; the ranking of the strong four is the target. "
            "Onboarding is only mildly correlated with the weaker drivers (slow time to value, "
            "narrow adoption) and with the usage level. " + FEATURES_NOTE
        ),
        "base_log_odds": S.BASE_LOG_ODDS,
        "drivers": drivers,
        "strong_drivers": [d["name"] for d in drivers if d["strong"]],
        "touch_tier_effects": {
            "tech_touch": 0.0,
            "low_touch": S.LOW_TOUCH_LOG_ODDS,
            "high_touch": S.EFFECT["touch_tier"],
        },  # fmt: skip
        "goodman_law": {
            "resolved_ticket_log_odds": S.RESOLVED_TICKET_LOG_ODDS,
            "months": S.RESOLVED_BONUS_MONTHS,
            "description": (
                "A problem makes an account unhappy (detractor). It complains (opens a ticket) "
                "with probability 0.55/0.70/0.85 by tech/low/high touch; a resolved ticket ends "
                "the unhappiness and lowers risk for 6 months, while silent unhappy accounts "
                "recover only slowly (8% a month) and never show a ticket."
            ),
        },
        "irrelevant_attributes": ["region"],
        "indirect_attributes": {
            "acquisition_channel": "changes the chance of completing onboarding only",
            "plan": "sets MRR, seats and the annual share, hence touch tier",
            "industry": "no effect",
        },
        "conventions": {
            "subscription_end_date": (
                "exclusive; a row whose end_date is after the data end keeps its contractual "
                "end (the next renewal date); no row has end_date NaT"
            ),
            "grace_gaps": "late renewals leave gaps of 3-25 days (not churn with grace_days >= 25)",
            "resignups": "a churned account may return after more than a month (gap > 30 days)",
            "observable_churn": "only churn dates on or before end_date are in the data",
        },
        "parameters": params,
        "realised": realised,
    }


def driver_features(truth: dict, columns: Iterable[str]) -> dict[str, list[str]]:
    """The columns of a feature table that measure each driver of a ground truth.

    Parameters
    ----------
    truth : dict
        ``SampleData.ground_truth`` (or the parsed ``ground_truth.json``).
    columns : iterable of str
        Feature names, e.g. the columns of an observation table.

    Returns
    -------
    dict of str to list of str
        Driver name -> the columns matching its ``features`` (``{w}`` = any window),
        in the order of ``columns``.

    Examples
    --------
    >>> truth = {"drivers": [{"name": "detractor", "features": ["last_nps", "nps_responses_{w}d"]}]}
    >>> driver_features(truth, ["nps_responses_28d", "last_nps", "region"])
    {'detractor': ['nps_responses_28d', 'last_nps']}
    """
    cols = list(columns)
    out = {}
    for d in truth["drivers"]:
        pats = [re.compile(re.escape(f).replace(re.escape("{w}"), r"\d+")) for f in d["features"]]
        out[d["name"]] = [c for c in cols if any(p.fullmatch(c) for p in pats)]
    return out


def readme(truth: dict) -> str:
    """A short Markdown description of the sample and its drivers."""
    p, r = truth["parameters"], truth["realised"]
    lines = [
        "# churnlab synthetic SaaS sample",
        "",
        f"Generated by `churnlab.sample.generate_sample` with seed {p['seed']}: "
        f"{r['accounts']} accounts, {r['subscriptions']} subscription rows and "
        f"{r['events']} events over {p['months']} months ending {p['end_date']}.",
        "",
        "Files: `accounts.parquet`, `subscriptions.parquet`, `events.parquet` "
        "(columns as in churnlab's docs/architecture.md) and `ground_truth.json`.",
        "",
        "## Churn drivers (monthly hazard log-odds, strongest first)",
        "",
        "| rank | driver | primary feature | also measured by | log-odds | |",
        "|---|---|---|---|---|---|",
    ]
    for d in truth["drivers"]:
        strong = "strong" if d["strong"] else ""
        also = ", ".join(f"`{f}`" for f in d["features"][1:])
        lines.append(
            f"| {d['rank']} | {d['name']} | `{d['feature']}` | {also} | {d['log_odds']:+.2f} "
            f"| {strong} |"
        )
    lines += [
        "",
        FEATURES_NOTE[0].upper() + FEATURES_NOTE[1:],
        "Onboarding is only mildly correlated with slow time to value and narrow adoption "
        "(separate draws), so those consequences do not stand in for it.",
        "",
        "`region` has no effect on churn and is independent of every driver.",
        "Goodman's law: accounts whose tickets were resolved churn less than unhappy accounts "
        "that never complained; unresolved tickets raise risk.",
        "",
        "Conventions: subscription `end_date` is exclusive; rows running past the data end keep "
        "their contractual end date (the next renewal). Late renewals leave gaps shorter than "
        "30 days (not churn); re-signups come back after more than 30 days. A few company "
        "names contain `&`, `'`, `<` or start with `=` on purpose (escaping tests).",
        "",
    ]
    return "\n".join(lines)
