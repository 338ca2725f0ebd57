"""The customer-success words and formats churnlab uses, defined once.

- the **touch-tier rule** and the order of tiers and health bands;
- **labels**: features, touch tiers, KPI tiles, charts, sentences, from a message
  catalogue per language (``locales/<language>/*.yaml``: one file per topic, merged; every
  language has the same keys);
- **formats**: money, rates, changes since the last run, numbers and dates, formatted
  for the catalogue's locale by Babel.

The report, the email, the explanations, the cohort findings and the notebooks all take
their words from here::

    from churnlab.vocabulary import vocabulary

    words = vocabulary()                      # English
    words.feature_label("logins_28d")         # 'Logins in the last 28 days'
    words.money(1_612_345)                    # '$1.61M'
    words.change("rate", -0.018)              # '-1.8 pp'

    ja = vocabulary("ja")                     # Japanese, yen (report.language: ja)
    ja.money(12_345_678), ja.date("2026-10-31")   # ('1,235万円', '2026年10月31日')
    vocabulary("ja", "USD").money(1_612_345)  # '$161.2万' (report.currency overrides)
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import numpy as np
import yaml
from babel.dates import format_date
from babel.numbers import format_compact_currency, format_currency, format_decimal, format_percent

__all__ = [
    "BANDS",
    "LEVEL_WORDS",
    "LOWEST_TIER",
    "TIERS",
    "Vocabulary",
    "feature_label",
    "languages",
    "shorten",
    "tier_rule",
    "touch_tier",
    "vocabulary",
]

#: Touch tiers, largest accounts first: the order of every table, chart and legend.
TIERS = ("high_touch", "low_touch", "tech_touch")
#: The tier of accounts below every threshold.
LOWEST_TIER = "tech_touch"
#: Health bands, worst first.
BANDS = ("red", "yellow", "green")
#: Categorical features whose values the catalogue says in words: feature -> the
#: catalogue section holding a word per value (``reasons.nps.detractor``).
LEVEL_WORDS = {"nps_category": "reasons.nps"}

_WINDOW = re.compile(r"_(\d+)d$")


def tier_rule(thresholds: tuple[float, float]) -> tuple[tuple[str, float], ...]:
    """The touch-tier rule: ``(tier, minimum ARR)`` from the largest tier down.

    Parameters
    ----------
    thresholds : (float, float)
        ``(low_touch_min_arr, high_touch_min_arr)`` from params.yaml ``tiers``.

    Returns
    -------
    tuple
        ``(("high_touch", high), ("low_touch", low))``: an account is in the first tier
        whose minimum its ARR reaches, else in :data:`LOWEST_TIER`.
    """
    low, high = thresholds
    return (("high_touch", float(high)), ("low_touch", float(low)))


def touch_tier(arr: Any, thresholds: tuple[float, float]) -> np.ndarray:
    """The touch tier of each ARR by :func:`tier_rule` (missing ARR: the lowest tier)."""
    a = np.asarray(arr, dtype=float)
    rule = tier_rule(thresholds)
    return np.select([a >= minimum for _, minimum in rule], [t for t, _ in rule], LOWEST_TIER)


class Vocabulary:
    """The labels and formats of one language (see the module docstring).

    Parameters
    ----------
    language : str
        A catalogue in ``churnlab/locales`` (``"en"``, ``"ja"``).
    currency : str, optional
        ISO 4217 code of the money shown (``"JPY"``); default: the catalogue's.
    """

    def __init__(self, language: str = "en", currency: str | None = None) -> None:
        self.language = language
        self.catalogue = _catalogue(language)
        self.locale: str = self.catalogue["locale"]
        self.currency: str = currency or self.catalogue["currency"]

    def __repr__(self) -> str:
        return f"Vocabulary({self.language!r}, locale={self.locale!r}, currency={self.currency!r})"

    # ------------------------------------------------------------------ words

    def text(self, key: str, **fields: Any) -> str:
        """A message of the catalogue by dotted key (``"changes.first_run"``), filled in."""
        node: Any = self.catalogue
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise KeyError(f"no message {key!r} in the {self.language!r} catalogue")
            node = node[part]
        return str(node).format(**fields) if fields else str(node)

    def feature_label(self, feature: str) -> str:
        """Human label of a feature: the catalogue's, else built from the column name.

        A windowed column ``<stem>_<n>d`` (``<stem>_trend_<n>d``) takes the catalogue's
        label of its stem (``feature_stems``; ``feature_<name>``: the use of a product
        feature) in ``feature_window`` (``feature_trend``); an unknown stem is its name in
        words: ``feature_reports_90d`` becomes "Feature reports (90 days)", ``webinar_count``
        "Webinar count".
        """
        labels = self.catalogue["features"]
        if feature in labels:
            return str(labels[feature])
        match = _WINDOW.search(feature)
        stem = feature[: match.start()] if match else feature
        trend = match is not None and stem.endswith("_trend") and len(stem) > len("_trend")
        if trend:
            stem = stem[: -len("_trend")]
        text = self._stem_label(stem) or feature
        if match is None:
            return text
        return self.text(
            "feature_trend" if trend else "feature_window", stem=text, days=match.group(1)
        )

    def _stem_label(self, stem: str) -> str:
        """The label of a measure behind windowed columns (``logins``, ``feature_api``)."""
        stems = self.catalogue["feature_stems"]
        if stem in stems:
            return str(stems[stem])
        if stem.startswith("feature_") and stem.strip("_") != "feature":
            return self.text("feature_use", name=stem[len("feature_") :].replace("_", " "))
        text = stem.replace("_", " ").strip()
        return text[:1].upper() + text[1:]

    def feature_in_sentence(self, feature: str) -> str:
        """The feature label inside a sentence: lower-case first letter unless an acronym.

        A column the catalogue does not know and whose name needs no rewriting (a user's
        ``Contract``) is shown as it is named.
        """
        label = self.feature_label(feature)
        if label == feature or (len(label) > 1 and label[1].isupper()):
            return label  # MRR, NPS category, CSM owner
        return label[:1].lower() + label[1:]

    def tier_label(self, tier: str) -> str:
        """Display name of a touch tier (``high_touch`` -> "High touch")."""
        return str(self.catalogue["tiers"].get(tier, str(tier).replace("_", " ")))

    def level_label(self, level: Any) -> str:
        """A category value in words where the catalogue has them (NPS ``detractor``).

        The values of the categorical features listed in :data:`LEVEL_WORDS` are said by
        the catalogue's words for them (``reasons.nps.detractor``); any other value is
        shown as it is.
        """
        text = str(level)
        for section in LEVEL_WORDS.values():
            try:
                said = self.text(f"{section}.{text}")
            except KeyError:
                continue
            if "{" not in said:
                return said
        return text

    def band_label(self, band: str) -> str:
        """Display name of a health band."""
        return str(self.catalogue["bands"].get(band, band))

    def kpi_label(self, key: str, **fields: Any) -> str:
        """Label of a KPI tile (``arr_at_risk`` takes ``days``)."""
        return self.text(f"kpis.{key}", **fields)

    def chart_title(self, name: str) -> str:
        """Title (and alt text) of a chart of the run folder."""
        return self.text(f"charts.{name}")

    def chart_text(self, chart: str, key: str, **fields: Any) -> str:
        """A text inside a chart (``chart_text.<chart>.<key>``: title, axis, legend)."""
        return self.text(f"chart_text.{chart}.{key}", **fields)

    # ------------------------------------------------------------------ formats

    def money(self, value: float | None) -> str:
        """A compact amount: ``$1.61M``, ``$45.3K``, ``$9,500`` (``n/a`` when missing).

        A language that counts money in its own units (``formats.money_units`` of the
        catalogue, for the catalogue's currency) uses them: Japanese yen as ``9,500円``,
        ``4.5万円``, ``1,234万円``, ``1.2億円``. Another currency in that language takes
        Babel's compact form of the locale (``$161.2万``).
        """
        if _missing(value):
            return self.text("changes.missing")
        v = float(value)  # type: ignore[arg-type]
        units = self._money_units()
        if units:
            return _in_units(v, units, self.locale)
        if self._counts_in_units() and abs(v) >= 1e4:  # 万 and 億 with a foreign currency
            return format_compact_currency(v, self.currency, locale=self.locale, fraction_digits=1)
        if abs(v) >= 1e6:
            return format_compact_currency(v, self.currency, locale=self.locale, fraction_digits=2)
        if abs(v) >= 1e4:
            return format_compact_currency(v, self.currency, locale=self.locale, fraction_digits=1)
        return self.money_exact(v)

    def money_exact(self, value: float | None) -> str:
        """A whole amount with separators: ``$1,234`` (``n/a`` when missing)."""
        if _missing(value):
            return self.text("changes.missing")
        units = self._money_units()
        if units:
            return _in_units(float(value), units[-1:], self.locale)  # type: ignore[arg-type]
        return format_currency(
            _rounded(float(value), 0),  # type: ignore[arg-type]
            self.currency,
            format="¤#,##0",
            currency_digits=False,
            locale=self.locale,
        )

    def rate(self, value: float | None, digits: int = 1) -> str:
        """A share as a percentage: ``0.0213`` -> ``2.1%`` (``n/a`` when missing)."""
        if _missing(value):
            return self.text("changes.missing")
        digits = max(0, digits)
        pattern = "#,##0%" if digits == 0 else "#,##0." + "0" * digits + "%"
        points = _rounded(100 * float(value), digits)  # type: ignore[arg-type]
        return format_percent(points / 100, pattern, locale=self.locale)

    def number(self, value: float) -> str:
        """A short number: whole numbers plain (``1,234``), ``12.3``, ``0.45``, ``0.034``."""
        if _missing(value) or math.isinf(float(value)):
            return self.text("changes.missing")
        v = float(value)
        if v.is_integer():
            return format_decimal(v, "#,##0", locale=self.locale)
        if abs(v) >= 10:
            return format_decimal(_rounded(v, 1), "#,##0.0", locale=self.locale)
        if abs(v) < 0.1:
            return format_decimal(float(f"{v:.2g}"), "@#", locale=self.locale)
        return format_decimal(_rounded(v, 2), "0.00", locale=self.locale)

    def fixed(self, value: float | None, digits: int = 1) -> str:
        """A number with exactly ``digits`` decimals: ``4.0``, ``1,234.5`` (``n/a`` when missing)."""
        if _missing(value) or math.isinf(float(value)):  # type: ignore[arg-type]
            return self.text("changes.missing")
        digits = max(0, digits)
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(_rounded(float(value), digits), pattern, locale=self.locale)  # type: ignore[arg-type]

    def change(self, kind: str, delta: float | None) -> str:
        """A signed change: ``+0.3 pp`` for rates, ``-$12.0K`` for money (``n/a`` when missing).

        The tiles phrase it with what it compares to (``changes.vs_month``,
        ``changes.since_run``).
        """
        if _missing(delta):
            return self.text("changes.missing")
        d = float(delta)  # type: ignore[arg-type]
        if kind == "rate":
            points = format_decimal(_rounded(100 * d, 1), "+#,##0.0;-#,##0.0", locale=self.locale)
            return self.text("changes.points", value=points)
        return ("+" if d >= 0 else "") + self.money(d)

    def month(self, value: dt.date | str | None) -> str:
        """A month in the language's short form (``Sep 2026``, ``2026年9月``); ``n/a`` when missing."""
        if value is None or value == "":
            return self.text("changes.missing")
        day = dt.date.fromisoformat(str(value)[:7] + "-01") if isinstance(value, str) else value
        return format_date(day, self.text("formats.month"), locale=self.locale)

    def date(self, value: dt.date | str | None) -> str:
        """A date in the language's form (``Oct 31, 2026``, ``2026年10月31日``); ``n/a`` when missing."""
        if value is None or value == "":
            return self.text("changes.missing")
        day = dt.date.fromisoformat(str(value)[:10]) if isinstance(value, str) else value
        return format_date(day, self.text("formats.date"), locale=self.locale)

    def _counts_in_units(self) -> bool:
        """Whether the language counts money in its own units (万, 億)."""
        return bool(self.catalogue["formats"]["money_units"])

    def _money_units(self) -> list[tuple[float, float, str, int]]:
        """The catalogue's own money units for its currency, largest first (or none)."""
        if self.currency != self.catalogue["currency"]:
            return []
        rows = self.catalogue["formats"]["money_units"] or []
        return [(float(m), float(u), str(p), int(d)) for m, u, p, d in rows]

    def filters(self) -> dict[str, Callable[..., str]]:
        """The Jinja filters the report and email templates use."""
        return {
            "money": self.money,
            "money_exact": self.money_exact,
            "rate": self.rate,
            "number": self.number,
            "fixed": self.fixed,
            "date": self.date,
            "month": self.month,
            "tier": self.tier_label,
            "band": self.band_label,
            "feature": self.feature_label,
            "shorten": shorten,
        }


#: Characters of a name (an account, a CSM) shown in a table or the email; longer names
#: are cut with an ellipsis (the report keeps the full name in a tooltip).
NAME_CHARS = 80


def shorten(text: Any, limit: int = NAME_CHARS) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (user data in a table cell)."""
    value = "" if text is None else str(text)
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


@functools.cache
def vocabulary(language: str = "en", currency: str | None = None) -> Vocabulary:
    """The (shared, cached) :class:`Vocabulary` of a language (and currency)."""
    return Vocabulary(language, currency)


def languages() -> list[str]:
    """The languages that have a catalogue (``["en", "ja"]``)."""
    root = resources.files("churnlab").joinpath("locales")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))


def feature_label(feature: str) -> str:
    """Human label of a feature in English (see :meth:`Vocabulary.feature_label`)."""
    return vocabulary().feature_label(feature)


@functools.cache
def _catalogue(language: str) -> dict[str, Any]:
    """The catalogue of ``language``: the topic files of its folder, merged.

    A top-level key defined in two files of one language is an error (one definition).
    """
    folder = resources.files("churnlab").joinpath("locales", language)
    if not folder.is_dir():
        raise ValueError(f"no catalogue for language {language!r}; available: {languages()}")
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for path in sorted(
        (p for p in folder.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name
    ):
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, value in content.items():
            if key in merged:
                raise ValueError(
                    f"catalogue {language!r}: key {key!r} is defined in both "
                    f"{origin[key]} and {path.name}"
                )
            merged[key] = value
            origin[key] = path.name
    return merged


def _in_units(value: float, units: list[tuple[float, float, str, int]], locale: str) -> str:
    """``value`` in the first unit (largest first) it reaches once rounded for that unit.

    ``units`` rows are ``(minimum, unit, pattern, decimals)``; ``pattern`` holds
    ``{amount}``. A trailing zero decimal is dropped (``1億円``, not ``1.0億円``).
    """
    size = abs(value)
    row = next((i for i, u in enumerate(units) if size >= u[0]), len(units) - 1)
    # rounding may carry into the larger unit: 99,999,999 is 1億円, not 10,000万円
    while (
        row > 0
        and _rounded(size / units[row][1], units[row][3]) * units[row][1] >= units[row - 1][0]
    ):
        row -= 1
    _, unit, pattern, digits = units[row]
    amount = _rounded(size / unit, digits)
    text = format_decimal(amount, "#,##0." + "#" * digits, locale=locale)
    return ("-" if value < 0 and amount != 0 else "") + pattern.format(amount=text)


def _rounded(value: float, digits: int) -> float:
    """``value`` rounded as Python's string formatting rounds it (the binary value, half even).

    Babel rounds the decimal text of a float; rounding first keeps churnlab's figures
    the same as ``f"{value:.{digits}f}"`` gives, e.g. 2.675 -> 2.67 (its binary value is
    just below the half; its text "2.675" would round to 2.68).
    """
    return float(f"{value:.{digits}f}")


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True
