"""Plain-language findings for the rows of a cohort comparison (``churnlab.cohorts``).

A finding states the direction and size of a churned-vs-retained difference in
CS words: "Churned accounts had 64% lower logins in the last 28 days (median 12
vs 33)". Features flagged ``small_group`` say "too few accounts to compare";
features that are not significant after correction say "no clear difference".
"""

from __future__ import annotations

from collections.abc import Mapping

from churnlab.vocabulary import vocabulary


def feature_label(feature: str, labels: Mapping[str, str]) -> str:
    """Readable name of a feature inside a sentence: the caller's label, else churnlab's.

    churnlab's labels come from :mod:`churnlab.vocabulary` ("logins in the last 28 days").
    """
    if labels.get(feature):
        return labels[feature]
    return vocabulary().feature_in_sentence(feature)


def format_number(value: float) -> str:
    """A short human number for findings and bin edges (:meth:`Vocabulary.number`)."""
    return vocabulary().number(value)


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
