"""The sentences the stages write into run files, said in the report's language.

Built on the real run of the sample (``pipeline_run``): every stored message renders in
English exactly as the English text stored beside it, renders in Japanese with no
placeholder left, and a run written before messages existed (English only) still renders.
"""

from __future__ import annotations

import json
import re
import string

import pandas as pd
import pytest

from churnlab.messages import SPECS, in_language, literal, message, render_message
from churnlab.report import render_report
from churnlab.report.render import fitted_to_data
from churnlab.run import RunFolder
from churnlab.vocabulary import languages, vocabulary
from tests.helpers import copy_run

EN, JA = vocabulary("en"), vocabulary("ja")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _json(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def stored_messages(run: RunFolder) -> list[tuple[str, dict, str]]:
    """Every message of a run's files: ``(where, message, the English text stored beside it)``."""
    out = []
    for path in (run.data_health, run.model_metrics, run.monitoring):
        payload = _json(path)
        for name, value in payload.items():
            if name.endswith("_message") and value:
                out.append((f"{path.name}:{name}", value, payload[name.removesuffix("_message")]))
            elif name.endswith("_messages"):
                texts = payload[name.removesuffix("_messages")]
                assert len(texts) == len(value), name  # one message per English sentence
                out += [(f"{path.name}:{name}", m, t) for m, t in zip(value, texts, strict=True)]
    findings = pd.read_csv(run.cohort_comparison)
    for text, cell in zip(findings["finding"], findings["finding_message"], strict=True):
        out.append(("cohort_comparison.csv:finding", json.loads(cell), text))
    return out


def test_every_message_says_its_english_text_and_says_it_in_japanese(pipeline_run):
    found = stored_messages(pipeline_run)
    where = {w.split(":")[1] for w, _, _ in found}
    # what the demo report shows: findings, model summary and description, notes, drift
    assert {"finding", "summary_message", "scheme_description_message", "notes_messages"} <= where
    assert (
        "drift_warning_message" in where or _json(pipeline_run.monitoring)["drift_warning"] is None
    )
    keyed = 0
    for place, msg, text in found:
        assert render_message(msg, EN) == msg["text"] == text, place
        said = render_message(msg, JA)
        assert said and not re.search(r"[{}]", said), (place, said)
        if msg.get("key"):
            keyed += 1
            assert JAPANESE.search(said), (place, said)
            assert said != text, place
    assert keyed >= 40  # the findings of every compared feature, the model's sentences


def test_the_report_says_the_stage_sentences_in_its_language(pipeline_run, pipeline_cfg, tmp_path):
    run = copy_run(pipeline_run, tmp_path / "reports")
    metrics, monitoring = _json(run.model_metrics), _json(run.monitoring)
    html = render_report(run, pipeline_cfg, words=JA).read_text(encoding="utf-8")
    assert render_message(metrics["summary_message"], JA) in html
    assert metrics["summary"] not in html
    if monitoring.get("drift_warning_message"):
        assert render_message(monitoring["drift_warning_message"], JA) in html
        assert monitoring["drift_warning"] not in html
    findings = pd.read_csv(run.cohort_comparison)
    shown = findings[findings["significant"] & ~findings["small_group"]].head(6)
    assert len(shown)
    for cell, text in zip(shown["finding_message"], shown["finding"], strict=True):
        assert render_message(json.loads(cell), JA) in html
        assert text not in html


def test_a_run_written_before_messages_still_renders_its_english(
    pipeline_run, pipeline_cfg, tmp_path
):
    """An old run folder: the English strings only, no ``*_message`` keys or column."""
    run = copy_run(pipeline_run, tmp_path / "reports")
    for path in (run.data_health, run.model_metrics, run.monitoring):
        payload = {
            k: v for k, v in _json(path).items() if not k.endswith(("_message", "_messages"))
        }
        path.write_text(json.dumps(payload), encoding="utf-8")
    findings = pd.read_csv(run.cohort_comparison).drop(columns="finding_message")
    findings.to_csv(run.cohort_comparison, index=False)
    metrics = _json(run.model_metrics)
    assert in_language(metrics, JA) == metrics  # nothing to translate: unchanged
    for words in (EN, JA):  # Japanese falls back to the stored English sentences
        html = render_report(run, pipeline_cfg, words=words).read_text(encoding="utf-8")
        assert metrics["summary"] in html
        assert findings.loc[findings["significant"], "finding"].iloc[0] in html


# ------------------------------------------------------------ the form, on worked examples


def test_fields_are_formatted_by_the_language():
    msg = message(
        "messages.findings.sized",
        size=message("messages.findings.size_percent", share=0.6452),
        direction="lower",
        feature="logins_28d",
        centre=message("messages.findings.median", churned=12, retained=33.5),
    )
    assert (
        msg["text"]
        == "Churned accounts had 65% lower logins in the last 28 days (median 12 vs 33.5)"
    )
    assert render_message(msg, JA) == (
        f"解約した顧客は{JA.feature_in_sentence('logins_28d')}が65%低い (中央値 12 対 33.5)"
    )
    json.dumps(msg, allow_nan=False)  # JSON-ready: numpy scalars, dates and NaN made plain
    warning = message(
        "messages.data.table_ends_early",
        table="events",
        table_end=pd.Timestamp("2026-09-30"),
        gap=31,
        data_end=pd.Timestamp("2026-10-31").date(),
    )
    assert warning["fields"]["table_end"] == "2026-09-30"
    assert "ends on 2026-09-30, 31 days before the data's last day (2026-10-31)" in warning["text"]
    assert "イベントテーブルは 2026年9月30日 で終わって" in render_message(warning, JA)
    lists = message(
        "messages.monitoring.drift_warning", limit=0.25, features=["mrr", "tenure_days"]
    )
    assert "(population stability index 0.25 or more): MRR, Tenure (days)." in lists["text"]
    assert f"{JA.feature_label('mrr')}、{JA.feature_label('tenure_days')}" in render_message(
        lists, JA
    )
    fold = message("messages.model.fold_from", fold=1, day=pd.Timestamp("2026-03-31"))
    skipped = message(
        "messages.model.backtest_skipped",
        model="lightgbm",
        why=message("messages.model.single_label", where=fold),
    )
    assert skipped["text"] == (  # the sentence the backtest wrote before messages
        "lightgbm: backtest fold 1 (test from 2026-03-31): its training rows hold a single "
        "label value."
    )
    assert "分割 1 (2026年3月31日 以降で検証)" in render_message(skipped, JA)
    missing = message("messages.model.warning", auc=float("nan"), floor=0.55)
    assert missing["fields"]["auc"] is None and "ROC AUC n/a, below 0.55" in missing["text"]


def test_literals_unknown_keys_and_plain_strings_fall_back_to_their_text():
    assert render_message(literal("as the loader said it"), JA) == "as the loader said it"
    assert render_message("an old sentence", JA) == "an old sentence"
    assert render_message(None, JA) == ""
    gone = {"key": "messages.no_longer_there", "fields": {}, "text": "Said by an older churnlab."}
    assert render_message(gone, JA) == "Said by an older churnlab."
    renamed = {"key": "messages.findings.median", "fields": {"a": 1}, "text": "median 1 vs 2"}
    assert render_message(renamed, JA) == "median 1 vs 2"
    labelled = message("messages.findings.unsized", direction="higher", feature=literal("Seats!"),
                       centre=literal("x"))  # fmt: skip
    assert labelled["text"] == "Churned accounts had higher Seats! (x)"
    cell = {"finding": "old", "finding_message": json.dumps(labelled)}
    assert in_language([cell], JA)[0]["finding"] == "解約した顧客はSeats!が高い (x)"


def test_every_placeholder_names_a_known_format():
    for language in languages():
        words = vocabulary(language)
        texts = _leaves(words.catalogue["messages"])
        for key, text in texts.items():
            for _, name, spec, _ in string.Formatter().parse(text):
                if name is not None:
                    assert spec in SPECS, (language, key, spec)
    with pytest.raises(ValueError, match="unknown field format"):
        render_message({"key": "messages.findings.median", "fields": {"churned": 1}}, _Broken())


def test_fitted_to_data_says_the_notes_in_the_language():
    from churnlab.observations import fit_to_history

    fit = fit_to_history(
        pd.Timestamp("2025-10-01"),
        pd.Timestamp("2026-10-31"),
        grace_days=7,
        lead_days=0,
        horizon_days=90,
        history_months=18,
        renewal_checkpoint_days=90,
        n_folds=3,
        renewal_window_days=90,
    )
    assert fit.notes and [m["text"] for m in fit.messages] == list(fit.notes)
    health = {"notes": list(fit.notes), "notes_messages": list(fit.messages)}
    manifest = {"stages": [{"name": "04_explanations", "status": "skipped", "reason": "why"}]}
    english = fitted_to_data(health, {}, manifest)
    assert english == [*fit.notes, "Stage 04_explanations skipped: why."]
    japanese = fitted_to_data(health, {}, manifest, JA)
    assert len(japanese) == len(english) and all(JAPANESE.search(n) for n in japanese)
    assert japanese[-1] == "ステージ 04_explanations はスキップされました: why。"


def test_the_loaders_notes_are_messages_beside_their_english():
    from churnlab.data import DataHealth

    health = DataHealth()
    health.flag("accounts", "without any subscription", 1234)
    health.note("a loader's sentence without a key")
    health.note(message("messages.data.no_name_column"))
    health.note(message("messages.data.no_name_column"))  # once
    saved = health.to_dict()
    assert saved["notes"] == [
        "accounts: 1234 row(s) without any subscription",
        "a loader's sentence without a key",
        "accounts has no name column: account ids stand in for names",
    ]
    assert [m["text"] for m in saved["notes_messages"]] == saved["notes"]
    said = in_language(saved, JA)["notes"]
    assert said[0] == "顧客: 1,234 行 (契約が 1 件もない)"
    assert said[1] == "a loader's sentence without a key" and JAPANESE.search(said[2])


def test_a_loader_reason_with_a_column_name_is_said_in_the_language():
    """A reason built from a template (the snapshot loader's blank-to-0) keeps its column."""
    from churnlab.messages import row_reason, rows_in_language

    reason = message("messages.rows.blank_set_to_zero", column="TotalCharges")["text"]
    assert reason == "blank TotalCharges set to 0 (tenure 0)"
    said = row_reason(reason)
    assert said["key"] == "messages.rows.blank_set_to_zero"
    assert said["fields"] == {"column": "TotalCharges"}
    rows = rows_in_language({f"snapshot: {reason}": 11, "snapshot: an odd reason": 2}, JA)
    assert rows == {"スナップショット: 空欄の TotalCharges を 0 に設定 (契約期間 0)": 11,
                    "スナップショット: an odd reason": 2}  # fmt: skip


def test_the_features_left_out_say_why_in_the_language():
    from churnlab.modeling.sentences import left_out_notes
    from churnlab.observations import usable_features, usable_features_said

    ids = [f"A{i}" for i in range(40)]
    table = pd.DataFrame(
        {"account_id": ids, "empty": float("nan"), "flat": 1.0, "code": ids, "x": range(40)}
    )
    args = (table, ["empty", "flat", "x"], ["code"])
    _, _, words = usable_features(*args, max_categories=5)
    _, _, said = usable_features_said(*args, max_categories=5)
    assert words["code"] == "id-like: 40 distinct values, nearly one per account"
    english = [m["text"] for m in left_out_notes(words)]
    assert (
        english
        == [m["text"] for m in left_out_notes(said)]
        == [
            "Left out of the models as empty: empty.",
            "Left out of the models as constant: flat.",
            "Left out of the models: code (id-like: 40 distinct values, nearly one per account).",
        ]
    )
    japanese = [render_message(m, JA) for m in left_out_notes(said)]
    assert all(JAPANESE.search(n) for n in japanese) and "id-like" not in japanese[2]


class _Broken:
    """A vocabulary whose catalogue names a format that does not exist."""

    language = "xx"

    def text(self, key: str) -> str:
        return "{churned:nonsense}"


def _leaves(node: object, prefix: str = "messages") -> dict[str, str]:
    if isinstance(node, dict):
        return {
            k: v
            for key, child in node.items()
            for k, v in _leaves(child, f"{prefix}.{key}").items()
        }
    return {prefix: node} if isinstance(node, str) else {}


def test_the_japanese_report_says_no_stored_english_reason_or_category(
    pipeline_run, pipeline_cfg, tmp_path
):
    """The lineage note, skip reasons, row reasons and NPS categories follow the language."""
    from churnlab.data import DataHealth
    from churnlab.run.runner import _lineage_hint

    run = copy_run(pipeline_run, tmp_path / "reports")
    manifest, health = _json(run.manifest), _json(run.data_health)
    hint = message(
        "messages.lineage.other_files", dataset="export_2026_05", n=2, latest="export_2026_04"
    )
    manifest["lineage_note"], manifest["lineage_note_message"] = hint["text"], hint
    skipped = message(
        "messages.stages.nothing_to_explain", reason=message("messages.stages.no_model_trained")
    )
    manifest["stages"] = [
        *manifest.get("stages", []),
        {"name": "09_extra", "status": "skipped", "reason": skipped["text"]}
        | {"reason_message": skipped},
    ]
    run.manifest.write_text(json.dumps(manifest), encoding="utf-8")
    loaded = DataHealth()
    english_reasons = [
        "after data_end",
        "with negative MRR",
        "of accounts not in the accounts table",
        "exact copies of an earlier row",
    ]
    for reason in english_reasons:
        loaded.reject("events", reason, 3, "")
    loaded.flag("accounts", "without any subscription", 2)
    health["rejected_rows"] = {**loaded.to_dict()["rejected_rows"], "events: odd rows": 1}
    health["notes"] = [*health["notes"], *loaded.to_dict()["notes"]]
    health["notes_messages"] = [*health["notes_messages"], *loaded.to_dict()["notes_messages"]]
    run.data_health.write_text(json.dumps(health), encoding="utf-8")
    findings = pd.read_csv(run.cohort_comparison)
    row = {c: findings.iloc[0][c] for c in findings.columns} | {
        "feature": "nps_category",
        "kind": "categorical",
        "level": "detractor",
        "significant": True,
        "small_group": False,
        "risk_difference": 0.12,
        "rd_low": 0.05,
        "rd_high": 0.2,
    }
    said = message(
        "messages.findings.level_likely",
        likely=message("messages.findings.more_likely"),
        feature="nps_category",
        level="detractor",
        share_churned=0.4,
        share_retained=0.2,
    )
    row["finding"], row["finding_message"] = said["text"], json.dumps(said)
    pd.concat([pd.DataFrame([row]), findings]).to_csv(run.cohort_comparison, index=False)

    html = render_report(run, pipeline_cfg, words=JA).read_text(encoding="utf-8")
    body = html.split("<body", 1)[-1]
    for english in [
        hint["text"][:40],
        "Nothing to explain",
        "nothing to explain",
        "stage 02 trained no model",
        *english_reasons,
        "without any subscription",
        "= detractor",  # the appendix's effect of a category
        "「detractor」",  # the finding
    ]:
        assert english not in body, english
    assert render_message(hint, JA) in body and render_message(skipped, JA) in body
    footer = body.split('id="data-freshness"')[1]
    assert "イベント: data_end より後: 3" in footer and "イベント: odd rows: 1" in footer
    assert "批判者" in body
    assert _lineage_hint([], None, None) is None
    english = render_report(run, pipeline_cfg, words=EN).read_text(encoding="utf-8")
    assert "events: after data_end: 3" in english and hint["text"][1:40] in english
    assert "= detractor" in english and said["text"] in english
