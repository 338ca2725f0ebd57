"""The customer-success vocabulary: the tier rule, labels and formats, defined once."""

from __future__ import annotations

import re
import string

import numpy as np
import pandas as pd
import pytest

from churnlab.vocabulary import BANDS, TIERS, languages, tier_rule, touch_tier, vocabulary

WORDS = vocabulary()


def test_touch_tier_rule_at_its_edges():
    # thresholds (low, high) = (12 000, 60 000): high from 60 000, low from 12 000
    arr = [0.0, 11_999.99, 12_000.0, 59_999.0, 60_000.0, 1e9, np.nan]
    assert touch_tier(arr, (12_000, 60_000)).tolist() == [
        "tech_touch", "tech_touch", "low_touch", "low_touch", "high_touch", "high_touch",
        "tech_touch",
    ]  # fmt: skip
    assert tier_rule((12_000, 60_000)) == (("high_touch", 60_000.0), ("low_touch", 12_000.0))
    assert TIERS[0] == "high_touch" and TIERS[-1] == "tech_touch" and BANDS[0] == "red"


def test_every_stage_applies_the_same_tier_rule(pipeline_run, pipeline_cfg):
    """The engine (observations) and the scoring (scores.csv) agree with the rule."""
    scores = pd.read_csv(pipeline_run.scores)
    expected = touch_tier(scores["arr"], pipeline_cfg.tiers.thresholds)
    assert (scores["touch_tier"] == expected).all()
    observations = pd.read_parquet(pipeline_run.observations)
    has_arr = observations["arr"].notna()
    rule = touch_tier(observations.loc[has_arr, "arr"], pipeline_cfg.tiers.thresholds)
    assert (observations.loc[has_arr, "touch_tier"] == rule).all()


@pytest.mark.parametrize(
    "value, shown",
    [(1_612_345.0, "$1.61M"), (45_300, "$45.3K"), (9_500, "$9,500"), (-45_300, "-$45.3K"),
     (0, "$0"), (None, "n/a"), (float("nan"), "n/a")],
)  # fmt: skip
def test_money(value, shown):
    assert WORDS.money(value) == shown


def test_rates_and_changes():
    assert WORDS.rate(0.0213) == "2.1%" and WORDS.rate(0.165, 0) == "16%"
    assert WORDS.rate(None) == "n/a"
    assert WORDS.change("rate", 0.003) == "+0.3 pp"
    assert WORDS.change("rate", -0.018) == "-1.8 pp"
    assert WORDS.change("money", -12_000) == "-$12K"
    assert WORDS.change("money", 0.0) == "+$0"
    assert WORDS.change("rate", None) == "n/a"
    assert WORDS.month("2026-09-30") == "Sep 2026"
    assert WORDS.date("2026-10-31") == "Oct 31, 2026"


def _python_number(v: float) -> str:
    """The number format the explanations used before Babel (the independent reference)."""
    if float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2g}" if abs(v) < 0.1 else f"{v:.2f}"


def test_numbers_match_python_formatting():
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [rng.normal(0, 5, 400), rng.exponential(2000, 200).round(0), rng.uniform(0.01, 0.1, 100)]
    )
    values = np.concatenate([values, [0.165, 2.675, 0.125, 12.25, 1234.5]])
    assert [WORDS.number(v) for v in values] == [_python_number(v) for v in values]


def test_feature_labels_from_the_catalogue_and_from_column_names():
    assert WORDS.feature_label("logins_28d") == "Logins in the last 28 days"
    assert WORDS.feature_label("feature_reports_90d") == "Feature reports (90 days)"
    assert WORDS.feature_label("webinar_count") == "Webinar count"
    assert WORDS.feature_in_sentence("logins_28d") == "logins in the last 28 days"
    assert WORDS.feature_in_sentence("mrr") == "MRR"  # an acronym keeps its case
    assert WORDS.feature_in_sentence("Contract") == "Contract"  # a user's column as named
    assert WORDS.tier_label("high_touch") == "High touch"
    assert WORDS.kpi_label("arr_at_risk", days=90) == "ARR at risk, next 90 days"


def test_catalogue_labels_name_real_columns(observations):
    labelled = set(WORDS.catalogue["features"])
    assert labelled <= set(observations.columns), labelled - set(observations.columns)


def test_unknown_language_and_message_are_clear_errors():
    with pytest.raises(ValueError, match="available"):
        vocabulary("xx")
    with pytest.raises(KeyError, match="no message"):
        WORDS.text("kpis.nothing")


# ---------------------------------------------------------------- languages: ja, currencies

JA = vocabulary("ja")


def _flat(node: object, prefix: str = "") -> dict[str, object]:
    """Every leaf of a catalogue by dotted key (a list is a leaf)."""
    if not isinstance(node, dict):
        return {prefix: node}
    return {
        k: v
        for key, child in node.items()
        for k, v in _flat(child, f"{prefix}.{key}" if prefix else str(key)).items()
    }


def _fields(text: object) -> set[str]:
    """The placeholder names of a message (``{days}``, ``{share:rate0}`` -> ``share``)."""
    if not isinstance(text, str):
        return set()
    return {
        name.split(":")[0].split("!")[0] for _, name, _, _ in string.Formatter().parse(text) if name
    }


def test_every_language_has_the_same_keys_and_placeholders():
    """A key missing in one language, or a placeholder one translation forgot, fails here."""
    catalogues = {lang: _flat(vocabulary(lang).catalogue) for lang in languages()}
    assert {"en", "ja"} <= set(catalogues)
    english = catalogues["en"]
    for lang, catalogue in catalogues.items():
        missing, extra = (
            sorted(set(english) - set(catalogue)),
            sorted(set(catalogue) - set(english)),
        )
        assert not missing and not extra, f"{lang}: missing {missing[:20]}, not in en {extra[:20]}"
        differ = [k for k in english if _fields(english[k]) != _fields(catalogue[k])]
        assert not differ, f"{lang}: placeholders differ in {differ}"


def test_japanese_text_has_no_english_left_in_it():
    """Every Japanese message that says something holds Japanese, not a copied English text."""
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    english = _flat(WORDS.catalogue)
    copied = [
        key
        for key, text in _flat(JA.catalogue).items()
        if isinstance(text, str)
        # two words or more (a name such as LightGBM, or ARR, MRR, NPS, may stay as it is)
        and len(re.findall(r"[A-Za-z]*[a-z]{3,}", re.sub(r"\{[^}]*\}", "", text))) >= 2
        and not japanese.search(text)
        and text == english[key]
    ]
    assert not copied, copied


@pytest.mark.parametrize(
    "value, shown",
    [(0, "0円"), (9_500.4, "9,500円"), (9_999.6, "1万円"), (45_300, "4.5万円"),
     (99_950, "10万円"), (1_612_345, "161万円"), (12_345_678, "1,235万円"),
     (99_999_999, "1億円"), (123_456_789, "1.2億円"), (1.5e9, "15億円"),
     (-45_300, "-4.5万円"), (None, "該当なし")],
)  # fmt: skip
def test_yen_in_japanese_units(value, shown):
    assert JA.money(value) == shown


def test_japanese_dates_numbers_and_changes():
    assert JA.date("2026-10-31") == "2026年10月31日"
    assert JA.month("2026-10") == "2026年10月"
    assert JA.number(1234.5) == "1,234.5" and JA.rate(0.0213) == "2.1%"
    assert JA.change("rate", -0.018) == "-1.8 ポイント"
    assert JA.change("money", 2_990_000) == "+299万円"
    assert JA.money_exact(1_234_567.6) == "1,234,568円"
    assert JA.fixed(4.0) == "4.0" and WORDS.fixed(1234.56, 1) == "1,234.6"
    assert JA.tier_label("high_touch") == "ハイタッチ" and JA.band_label("red") == "赤"
    assert JA.feature_label("feature_reports_90d") == "機能「reports」の利用回数 (90 日間)"
    assert JA.feature_label("csm_meetings_trend_28d") == "CSM ミーティング数の推移 (28 日間)"
    assert WORDS.feature_label("csm_meetings_trend_28d") == "CSM meetings trend (28 days)"
    assert JA.feature_label("Contract") == "Contract"  # a user's column as named


def test_the_currency_overrides_the_language_default():
    """report.currency changes the money shown, never the amount; one format per pair."""
    assert vocabulary("ja", "USD").money(1_612_345) == "$161.2万"  # Babel's compact ja_JP form
    assert vocabulary("ja", "USD").money(9_500) == "$9,500"
    assert vocabulary("en", "JPY").money(1_612_345) == "¥1.61M"
    assert vocabulary("en", "EUR").money_exact(1_234) == "€1,234"
    assert vocabulary("ja", "JPY").currency == "JPY" and JA.currency == "JPY"
    assert WORDS.currency == "USD"


def test_japanese_charts_use_a_bundled_font_and_english_charts_do_not():
    from churnlab.plots.style import RC, style_rc

    assert style_rc("en") is RC
    family = style_rc("ja")["font.family"]
    assert family[0] == "IPAexGothic"
    from matplotlib import font_manager

    found = font_manager.findfont(font_manager.FontProperties(family=family[0]))
    assert found.endswith("ipaexg.ttf"), found
    import matplotlib as mpl

    assert mpl.rcParams["font.family"] != family  # registering the font changed no global
