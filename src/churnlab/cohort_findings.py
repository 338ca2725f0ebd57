"""Plain-language findings for the rows of a cohort comparison (``churnlab.cohorts``).

A finding states the direction and size of a churned-vs-retained difference in
CS words: "Churned accounts had 64% lower logins in the last 28 days (median 12
vs 33)". Features flagged ``small_group`` say "too few accounts to compare";
features that are not significant after correction say "no clear difference".
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

#: Readable names of the observation-table features (architecture.md section 4).
FEATURE_LABELS = {
    "logins_28d": "logins in the last 28 days",
    "logins_7d": "logins in the last 7 days",
    "logins_90d": "logins in the last 90 days",
    "logins_trend_28d": "login trend over 28 days",
    "days_since_last_login": "days since the last login",
    "active_users_28d": "active users in the last 28 days",
    "seat_utilisation_28d": "seat utilisation (28 days)",
    "adoption_breadth_90d": "product features used in the last 90 days",
    "tenure_days": "tenure in days",
    "mrr_change_90d": "MRR change over 90 days",
    "onboarding_completed": "completed onboarding",
    "billing_period_months": "months per billing period",
    "days_to_onboard": "days to finish onboarding",
    "time_to_value_days": "days to first value",
    "tickets_opened_90d": "tickets opened in the last 90 days",
    "tickets_resolved_90d": "tickets resolved in the last 90 days",
    "open_ticket_backlog": "open support tickets",
    "median_resolution_days_90d": "median ticket resolution days",
    "last_nps": "last NPS score",
    "nps_category": "NPS category",
    "days_since_last_csm_touch": "days since the last CSM touch",
    "logins_per_seat_28d": "logins per seat (28 days)",
    "mrr": "MRR",
    "seats": "seats",
    "touch_tier": "touch tier",
}


def feature_label(feature: str, labels: Mapping[str, str]) -> str:
    """Readable name of a feature: the caller's label, churnlab's, a pattern, or the column name.

    Patterns: ``<x>_trend_<w>d`` -> "<x> trend over <w> days", ``<x>_<w>d`` ->
    "<x> in the last <w> days", ``feature_<name>`` -> "use of <name>".
    """
    if feature in labels or feature in FEATURE_LABELS:
        return labels.get(feature) or FEATURE_LABELS[feature]
    match = _WINDOWED.match(feature)
    if not match:
        return feature
    base, trend, days = match.groups()
    base = re.sub(r"^feature_", "use of ", base).replace("_", " ")
    return f"{base} trend over {days} days" if trend else f"{base} in the last {days} days"


_WINDOWED = re.compile(r"^(.+?)(_trend)?_(\d+)d$")


def format_number(value: float) -> str:
    """Short human number: 12, 3.4, 0.25, 1,250."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2g}"


def _ratio_phrase(share_churned: float, share_retained: float) -> str:
    if share_retained > 0 and share_churned >= share_retained:
        return f"{share_churned / share_retained:.1f}x as likely"
    if share_churned > share_retained:
        return "more likely"
    return "less likely"


def _guard(row: dict, name: str) -> str | None:
    if row["small_group"]:
        return (
            f"{name}: too few accounts to compare ({int(row['n_churned'])} churned, "
            f"{int(row['n_retained'])} retained)"
        )
    return None


def _shares(row: dict) -> str:
    return f"({row['share_churned']:.0%} vs {row['share_retained']:.0%})"


def describe_numeric(row: dict, labels: Mapping[str, str]) -> str:
    """Finding for a numeric row of the comparison summary."""
    name = feature_label(row["feature"], labels)
    guarded = _guard(row, name)
    if guarded:
        return guarded
    a, b = row["median_churned"], row["median_retained"]
    centre = f"median {format_number(a)} vs {format_number(b)}"
    if a == b:
        centre = (
            f"mean {format_number(row['mean_churned'])} vs {format_number(row['mean_retained'])}"
        )
    if not row["significant"]:
        return f"No clear difference in {name} ({centre}; not significant after correction)"
    if isinstance(row.get("level"), str):  # a 0/1 flag
        phrase = _ratio_phrase(row["share_churned"], row["share_retained"])
        return f"Churned accounts were {phrase} to have {name} {_shares(row)}"
    direction = "higher" if row["effect"] > 0 else "lower"
    same_way = (a - b) * row["effect"] > 0
    if a != b and b != 0 and same_way:
        pct = abs(a - b) / abs(b)
        size = f"{pct:.1f}x" if pct >= 10 else f"{pct:.0%}"
        return f"Churned accounts had {size} {direction} {name} ({centre})"
    return f"Churned accounts had {direction} {name} ({centre})"


def describe_categorical(row: dict, labels: Mapping[str, str]) -> str:
    """Finding for a categorical row of the comparison summary."""
    name = feature_label(row["feature"], labels)
    guarded = _guard(row, name)
    if guarded:
        return guarded
    level = f"{name} = {row['level']}"
    if not row["significant"]:
        return f"No clear difference in {name} ({level}: {_shares(row)[1:-1]}; not significant after correction)"
    phrase = _ratio_phrase(row["share_churned"], row["share_retained"])
    return f"Churned accounts were {phrase} to have {level} {_shares(row)}"
