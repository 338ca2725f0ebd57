"""Plain-language findings for the rows of a cohort comparison (``churnlab.cohorts``).

A finding states the direction and size of a churned-vs-retained difference in
CS words: "Churned accounts had 64% lower logins in the last 28 days (median 12
vs 33)". Features flagged ``small_group`` say "too few accounts to compare";
features that are not significant after correction say "no clear difference".
Each finding is a message of the catalogues (``messages.findings.*``, see
:mod:`churnlab.messages`): the comparison stores it beside the English text, and the report
says it in its language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from churnlab.messages import Message, literal, message
from churnlab.vocabulary import vocabulary


def format_number(value: float) -> str:
    """A short human number for findings and bin edges (:meth:`Vocabulary.number`)."""
    return vocabulary().number(value)


def _feature(feature: str, labels: Mapping[str, str]) -> Any:
    """The feature field of a finding: its name (labelled by the language), or the caller's label."""
    if labels.get(feature):
        return literal(labels[feature])
    return feature


def _likely(share_churned: float, share_retained: float) -> Message:
    if share_retained > 0 and share_churned >= share_retained:
        return message("messages.findings.times_as_likely", times=share_churned / share_retained)
    if share_churned > share_retained:
        return message("messages.findings.more_likely")
    return message("messages.findings.less_likely")


def _guard(row: dict, name: Any) -> Message | None:
    if row["small_group"]:
        return message(
            "messages.findings.too_few",
            feature=name,
            churned=int(row["n_churned"]),
            retained=int(row["n_retained"]),
        )
    return None


def numeric_finding(row: dict, labels: Mapping[str, str]) -> Message:
    """Finding for a numeric row of the comparison summary, as a message (see churnlab.messages)."""
    name = _feature(row["feature"], labels)
    guarded = _guard(row, name)
    if guarded:
        return guarded
    a, b = row["median_churned"], row["median_retained"]
    centre = message("messages.findings.median", churned=a, retained=b)
    if a == b:
        centre = message(
            "messages.findings.mean", churned=row["mean_churned"], retained=row["mean_retained"]
        )
    if not row["significant"]:
        return message("messages.findings.not_clear", feature=name, centre=centre)
    if isinstance(row.get("level"), str):  # a 0/1 flag
        return message(
            "messages.findings.flag_likely",
            likely=_likely(row["share_churned"], row["share_retained"]),
            feature=name,
            share_churned=row["share_churned"],
            share_retained=row["share_retained"],
        )
    direction = "higher" if row["effect"] > 0 else "lower"
    same_way = (a - b) * row["effect"] > 0
    if a != b and b != 0 and same_way:
        pct = abs(a - b) / abs(b)
        size = (
            message("messages.findings.size_times", times=pct)
            if pct >= 10
            else message("messages.findings.size_percent", share=pct)
        )
        return message(
            "messages.findings.sized", size=size, direction=direction, feature=name, centre=centre
        )
    return message("messages.findings.unsized", direction=direction, feature=name, centre=centre)


def categorical_finding(row: dict, labels: Mapping[str, str]) -> Message:
    """Finding for a categorical row of the comparison summary, as a message."""
    name = _feature(row["feature"], labels)
    guarded = _guard(row, name)
    if guarded:
        return guarded
    shares = {"share_churned": row["share_churned"], "share_retained": row["share_retained"]}
    level = str(row["level"])
    if not row["significant"]:
        return message("messages.findings.level_not_clear", feature=name, level=level, **shares)
    likely = _likely(row["share_churned"], row["share_retained"])
    return message(
        "messages.findings.level_likely", likely=likely, feature=name, level=level, **shares
    )


def describe_numeric(row: dict, labels: Mapping[str, str]) -> str:
    """Finding for a numeric row of the comparison summary (the English text)."""
    return str(numeric_finding(row, labels)["text"])


def describe_categorical(row: dict, labels: Mapping[str, str]) -> str:
    """Finding for a categorical row of the comparison summary (the English text)."""
    return str(categorical_finding(row, labels)["text"])
