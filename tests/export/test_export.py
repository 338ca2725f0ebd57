"""``churnlab export``: the real scores of the shared pipeline run, written to real databases.

PostgreSQL is a real server the tests start (``conftest.postgres``); DuckDB and SQLite are
files. Every run exported here is a copy of the session's pipeline run (its real
``scores.csv``); runs of other months, re-runs and failed runs are the same copy with the
manifest fields that make them so (``as_of``, ``finished_at``, ``status``, ``run_id``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from churnlab import csvsafe
from churnlab.cli import app
from churnlab.config import load_params
from churnlab.errors import ExportError, ParamsError
from churnlab.export import COLUMNS, LEVER_COLUMNS, SCHEMA_VERSION, export_run, parse_target
from churnlab.export._schema import score_tables
from churnlab.run import RunFolder
from tests.helpers import ROOT, copy_run

PARAMS = str(ROOT / "params.yaml")
runner = CliRunner()
# a name that breaks naive SQL, CSV and spreadsheets, in two scripts
HOSTILE = 'Robert\'); DROP TABLE churn_scores_history;-- "株式会社テスト" Ünïcødé =1+1 NA'
FORMULA = '=HYPERLINK("http://x","Ω")'


def _run(
    source: RunFolder,
    reports: Path,
    run_id: str,
    *,
    as_of: str,
    finished: str,
    status: str = "succeeded",
    dataset: str | None = None,
) -> RunFolder:
    """The real run's files an export reads, re-dated as another run of the lineage (or of
    another data set)."""
    folder = RunFolder(reports / "runs" / run_id)
    folder.path.mkdir(parents=True)
    for name in ("manifest", "scores", "headline"):
        shutil.copy2(getattr(source, name), getattr(folder, name))
    manifest = folder.read_manifest()
    manifest.update(run_id=run_id, as_of=as_of, finished_at=finished, status=status)
    manifest.pop("exports", None)
    if dataset:
        manifest["dataset"] = {**manifest["dataset"], "id": dataset}
    folder.manifest.write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def _copy(source: RunFolder, reports: Path) -> RunFolder:
    """A copy of the real run as the latest of a reports folder, without export records."""
    run = copy_run(source, reports)
    manifest = run.read_manifest()
    manifest.pop("exports", None)
    run.manifest.write_text(json.dumps(manifest), encoding="utf-8")
    return run


def _table(engine: sa.Engine, name: str) -> pd.DataFrame:
    with engine.connect() as conn:  # (pandas' read_sql_table reflects keys: not on DuckDB)
        frame = pd.read_sql_query(sa.text(f"SELECT * FROM {name}"), conn)
    return frame.sort_values([c for c in ("run_id", "account_id") if c in frame]).reset_index(
        drop=True
    )


def _scores(run: RunFolder) -> pd.DataFrame:
    return csvsafe.read_csv(run.scores, dtype={"account_id": str, "name": str})


# ----------------------------------------------------------------------------- embedded


@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_export_latest_to_a_file_then_again_changes_nothing(pipeline_run, tmp_path, kind):
    # the Done-when, through the command line
    reports = tmp_path / "reports"
    _copy(pipeline_run, reports)
    url = f"{kind}:///{tmp_path}/crm/scores.{kind}"
    args = ["export", "latest", "--to", url, "--params-file", PARAMS]
    args += ["-p", f"run.reports_dir={reports}"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    engine = parse_target(url).engine()
    current, history = (
        _table(engine, "churn_scores_current"),
        _table(engine, "churn_scores_history"),
    )
    scores = _scores(pipeline_run)
    assert len(current) == len(history) == len(scores) > 100
    assert set(current.account_id) == set(scores.account_id)
    by_id = current.set_index("account_id")
    expected = scores.set_index("account_id")
    assert (by_id.loc[expected.index, "account_name"] == expected["name"]).all()
    assert by_id.loc[expected.index, "churn_probability"].tolist() == pytest.approx(
        expected["churn_probability"].tolist()
    )
    for lever in LEVER_COLUMNS:  # exported when the run has them (#17), NULL when not
        stored = by_id.loc[expected.index, lever.name]
        if lever.source in expected:
            assert stored.notna().tolist() == expected[lever.source].notna().tolist()
        else:
            assert stored.isna().all()
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert "0 of" in second.output and "already held this run" in second.output
    pd.testing.assert_frame_equal(_table(engine, "churn_scores_current"), current)
    pd.testing.assert_frame_equal(_table(engine, "churn_scores_history"), history)
    engine.dispose()
    records = RunFolder(reports / "latest").read_manifest()["exports"]
    assert [r["history_added"] for r in records] == [len(scores), 0]
    assert [r["current"] for r in records] == ["replaced", "unchanged"]
    file = (tmp_path / "crm" / f"scores.{kind}").resolve()
    assert [r["target"] for r in records] == [f"{kind}:///{file}"] * 2


# ----------------------------------------------------------------------------- PostgreSQL


def test_history_appends_and_current_is_replaced_only_by_newer_runs(
    pipeline_run, postgres, tmp_path
):
    target = parse_target(postgres.url)
    reports = tmp_path / "reports"
    oct_run = _run(pipeline_run, reports, "oct", as_of="2026-10-31", finished="2026-11-01T06:00:00+00:00")  # fmt: skip
    sep_run = _run(pipeline_run, reports, "sep", as_of="2026-09-30", finished="2026-10-01T06:00:00+00:00")  # fmt: skip
    sep_rerun = _run(pipeline_run, reports, "sep-rerun", as_of="2026-09-30", finished="2026-11-02T06:00:00+00:00")  # fmt: skip
    oct_rerun = _run(pipeline_run, reports, "oct-rerun", as_of="2026-10-31", finished="2026-11-03T06:00:00+00:00")  # fmt: skip
    nov_failed = _run(pipeline_run, reports, "nov", as_of="2026-11-30", finished="2026-12-01T06:00:00+00:00", status="failed")  # fmt: skip
    other = _run(pipeline_run, reports, "telco", as_of="2026-08-31", finished="2026-09-01T06:00:00+00:00", dataset="name:telco")  # fmt: skip
    tables = {"history_table": "t1_history", "current_table": "t1_current"}
    n = len(_scores(pipeline_run))

    def export(run: RunFolder) -> tuple[str, str, int]:
        result = export_run(run.path, target, **tables)
        return result.current, result.current_run, result.history_added

    assert export(oct_run) == ("replaced", "oct", n)
    assert export(sep_run) == ("kept_newer", "oct", n)  # an older month
    assert export(sep_rerun) == ("kept_newer", "oct", n)  # a later re-run of a past month
    engine = target.engine()
    before = _table(engine, "t1_current"), _table(engine, "t1_history")
    assert export(oct_run) == ("unchanged", "oct", 0)  # idempotent
    pd.testing.assert_frame_equal(_table(engine, "t1_current"), before[0])
    pd.testing.assert_frame_equal(_table(engine, "t1_history"), before[1])
    with pytest.raises(ExportError, match="failed, not succeeded"):
        export_run(nov_failed.path, target, **tables)
    assert "exports" not in nov_failed.read_manifest()
    assert export(oct_rerun) == ("replaced", "oct-rerun", n)  # same month, finished later
    assert export(other) == ("replaced", "telco", n)  # another data set: its own rows
    current, history = _table(engine, "t1_current"), _table(engine, "t1_history")
    engine.dispose()
    assert current.groupby("dataset_id").run_id.unique().map(list).to_dict() == {
        pipeline_run.read_manifest()["dataset"]["id"]: ["oct-rerun"],
        "name:telco": ["telco"],
    }
    assert not current.duplicated(["dataset_id", "account_id"]).any()
    assert history.run_id.value_counts().to_dict() == dict.fromkeys(
        ["oct", "sep", "sep-rerun", "oct-rerun", "telco"], n
    )
    assert (history.schema_version == SCHEMA_VERSION).all()
    assert str(current.as_of.min())[:10] == "2026-08-31" and current.horizon_days.notna().all()


def test_a_schema_mismatch_is_named_and_migrate_adds_the_columns(pipeline_run, postgres, tmp_path):
    target = parse_target(postgres.url)
    engine = target.engine()
    history, current = score_tables("t2_history", "t2_current")
    history.metadata.create_all(engine)  # as a churnlab without the lever columns made them
    with engine.begin() as conn:
        for table in ("t2_history", "t2_current"):
            drop = ", ".join(f"DROP COLUMN {c.name}" for c in LEVER_COLUMNS)
            conn.execute(sa.text(f"ALTER TABLE {table} {drop}"))
    run = _copy(pipeline_run, tmp_path / "reports")
    tables = {"history_table": "t2_history", "current_table": "t2_current"}
    with pytest.raises(ExportError) as refused:
        export_run(run.path, target, **tables)
    message = str(refused.value)
    assert "t2_history" in message and "--migrate" in message
    assert all(c.name in message for c in LEVER_COLUMNS)
    assert len(_table(engine, "t2_history")) == 0  # nothing written
    args = ["export", str(run.path), "--to", postgres.url, "--params-file", PARAMS]
    args += ["-p", "delivery.database.history_table=t2_history"]
    args += ["-p", "delivery.database.current_table=t2_current"]
    migrated = runner.invoke(app, [*args, "--migrate"])
    assert migrated.exit_code == 0, migrated.output
    assert "added column t2_current.biggest_lever" in migrated.output
    columns = {c["name"] for c in sa.inspect(engine).get_columns("t2_current")}
    assert {c.name for c in COLUMNS} <= columns
    assert len(_table(engine, "t2_current")) == len(_scores(pipeline_run))
    with engine.begin() as conn:  # a row of a future schema: refused, never overwritten
        conn.execute(sa.text("UPDATE t2_current SET schema_version = 99"))
    newer = runner.invoke(app, args)
    assert newer.exit_code == 5 and "schema version 99" in newer.output
    engine.dispose()


def test_no_credential_in_output_logs_or_manifest(pipeline_run, postgres, tmp_path, caplog, monkeypatch):  # fmt: skip
    reports = tmp_path / "reports"
    run = _copy(pipeline_run, reports)
    base = ["--params-file", PARAMS, "-p", f"run.reports_dir={reports}"]
    with caplog.at_level("DEBUG"):
        ok = runner.invoke(app, ["export", "latest", "--to", postgres.url, *base])
    assert ok.exit_code == 0, ok.output
    with_password = postgres.url.replace("churnlab@", f"churnlab:{postgres.password}@")
    refused = runner.invoke(app, ["export", "latest", "--to", with_password, *base])
    assert refused.exit_code == 2 and "password" in refused.output
    in_params = runner.invoke(app, ["export", *base, "-p", f"delivery.database.url={with_password}"])  # fmt: skip
    assert in_params.exit_code == 2 and "credentials" in in_params.output
    monkeypatch.setenv("PGPASSWORD", "wrong-" + postgres.password)  # libpq: it beats the file
    wrong = runner.invoke(app, ["export", "latest", "--to", postgres.url, *base])
    assert wrong.exit_code == 5 and "authentication failed" in wrong.output
    manifest = run.manifest.read_text(encoding="utf-8")
    said = [ok.output, refused.output, in_params.output, wrong.output, caplog.text, manifest]
    assert all(postgres.password not in text for text in said)
    records = json.loads(manifest)["exports"]
    assert [r["status"] for r in records] == ["exported", "failed"]
    assert all("churnlab@" not in r["target"] and r["target"].startswith("postgresql") for r in records)  # fmt: skip
    assert records[0]["rows"] == len(_scores(pipeline_run)) and records[0]["exported_at"]


def test_names_with_quotes_and_other_scripts_are_stored_exactly(pipeline_run, postgres, tmp_path):
    run = _copy(pipeline_run, tmp_path / "reports")
    scores = _scores(run)
    scores.loc[scores.index[0], "name"] = HOSTILE
    scores.loc[scores.index[1], "name"] = FORMULA  # escaped in the CSV, restored on reading
    scores.loc[scores.index[2], "name"] = "None"
    csvsafe.write_csv(scores, run.scores)
    target = parse_target(postgres.url)
    export_run(run.path, target, history_table="t3_history", current_table="t3_current")
    engine = target.engine()
    stored = _table(engine, "t3_current").set_index("account_id").account_name
    ids = scores.account_id
    assert [stored[ids[0]], stored[ids[1]], stored[ids[2]]] == [HOSTILE, FORMULA, "None"]
    assert len(_table(engine, "t3_history")) == len(scores)
    engine.dispose()


def test_run_export_exports_after_a_successful_run_before_the_mail(
    pipeline_run, postgres, tmp_path, monkeypatch
):
    # `churnlab run --export --send` with the pipeline replaced by the real run's result
    import churnlab.cli
    import churnlab.run.runner
    from churnlab.run.runner import RunResult

    run = _copy(pipeline_run, tmp_path / "reports")
    status = {"value": "succeeded"}
    mailed: list[list[dict]] = []

    def pipeline(cfg, **kwargs):
        manifest = run.read_manifest()
        return RunResult(folder=run, status=status["value"], manifest=manifest)

    monkeypatch.setattr(churnlab.run.runner, "run_pipeline", pipeline)
    monkeypatch.setattr(
        churnlab.cli, "_send_after_run", lambda cfg, result: mailed.append(
            result.folder.read_manifest().get("exports", [])
        ),
    )  # fmt: skip
    base = ["run", "--export", "--send", "--params-file", PARAMS]
    base += ["-p", "delivery.database.history_table=t4_history"]
    base += ["-p", "delivery.database.current_table=t4_current"]
    done = runner.invoke(app, [*base, "-p", f"delivery.database.url={postgres.url}"])
    assert done.exit_code == 0, done.output
    assert [[r["status"] for r in exports] for exports in mailed] == [["exported"]]  # then mail
    nowhere = f"postgresql://churnlab@/postgres?host={tmp_path}"
    broken = runner.invoke(app, [*base, "-p", f"delivery.database.url={nowhere}"])
    assert broken.exit_code == 5 and "export failed" in broken.output
    assert len(mailed) == 2  # the report is still mailed
    status["value"] = "failed"
    failed = runner.invoke(app, [*base, "-p", f"delivery.database.url={postgres.url}"])
    assert failed.exit_code == 1 and "not exported" in failed.output
    assert [r["status"] for r in run.read_manifest()["exports"]] == ["exported", "failed"]


# ----------------------------------------------------------------------------- refusals


def test_a_password_in_params_or_the_url_is_refused_without_repeating_it():
    secret = "s3cr3t-Pa55"
    for url in (f"postgresql://crm:{secret}@db/crm", f"postgresql://crm@db/crm?password={secret}"):
        with pytest.raises(ParamsError) as refused:
            load_params(PARAMS, overrides=[f"delivery.database.url={url}"])
        assert secret not in str(refused.value) and "PGPASSFILE" in str(refused.value)
    with pytest.raises(ParamsError, match="SQL identifier"):
        load_params(PARAMS, overrides=["delivery.database.current_table=x; DROP TABLE y"])
    result = runner.invoke(app, ["run", "--export", "--params-file", PARAMS])
    assert result.exit_code == 2 and "no database to export to" in result.output


def test_the_queries_of_docs_crm_run_on_the_exported_tables(pipeline_run, postgres, tmp_path):
    import re

    run = _copy(pipeline_run, tmp_path / "reports")
    target = parse_target(postgres.url)
    export_run(run.path, target)  # the default table names, as the page names them
    dataset = run.read_manifest()["dataset"]["id"]
    red = _scores(run).query("health_band == 'red'")
    page = (ROOT / "docs" / "crm.md").read_text(encoding="utf-8")
    current, trend = re.findall(r"```sql\n(.*?)```", page, re.S)
    engine = target.engine()
    with engine.connect() as conn:
        rows = conn.execute(sa.text(current.replace("name:production", dataset))).all()
        account = rows[0].account_id if rows else red.account_id.iloc[0]
        history = conn.execute(
            sa.text(trend.replace("name:production", dataset).replace("A00042", account))
        ).all()
    engine.dispose()
    assert len(rows) == min(50, len(red)) > 0
    top = red.sort_values("expected_arr_at_risk", ascending=False).account_id.head(len(rows))
    assert [r.account_id for r in rows] == top.tolist()
    assert len(history) == 1 and history[0].health_score == int(
        red.set_index("account_id").health_score[account]
    )
