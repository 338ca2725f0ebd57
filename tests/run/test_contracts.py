"""The hand-offs between stages, tested on the real output of the stage before.

- ``--only NN`` reruns one stage on the other stages' files and reproduces the full run;
- each stage reads and writes only the run-folder files it declares (``run/stages.py``);
- delivery reads the headline the report wrote: the raw email carries its figure.
"""

from __future__ import annotations

import contextvars
import re
from email import policy
from email.parser import BytesParser

import pytest
from typer.testing import CliRunner

from churnlab.cli import app
from churnlab.config import Params
from churnlab.delivery import EMAIL_CHARTS
from churnlab.report import Headline
from churnlab.run import CHARTS, RunFile, RunFolder
from churnlab.run import runner as runner_module
from churnlab.run.lineage import RESULT_FREE_SECTIONS
from churnlab.run.runner import run_pipeline
from churnlab.run.stages import NOTEBOOK_STAGES, REPORT
from tests.helpers import ROOT, copy_run, sample_params
from tests.run.compare import differences

SECTIONS = set(Params.model_fields) - {"root"}
_current: contextvars.ContextVar[tuple[str, list] | None] = contextvars.ContextVar(
    "stage", default=None
)


@pytest.fixture
def recorded_access(monkeypatch):
    """Record which RunFolder files each in-process stage touches: {stage: {attribute}}."""
    seen: dict[str, set[str]] = {}
    real_get = RunFile.__get__
    real_run = runner_module.run_in_process

    def spy_get(self, folder, owner):
        current = _current.get()
        if folder is not None and current is not None and folder.path == current[1][0]:
            seen.setdefault(current[0], set()).add(self.attribute)
        return real_get(self, folder, owner)

    def spy_run(stage, ctx, record):
        token = _current.set((stage.name, [ctx.folder.path]))
        try:
            return real_run(stage, ctx, record)
        finally:
            _current.reset(token)

    def spy_params(cfg, name):
        current = _current.get()
        if current is not None and name in SECTIONS:
            sections.setdefault(current[0], set()).add(name)
        return object.__getattribute__(cfg, name)

    sections: dict[str, set[str]] = {}
    seen["params"] = sections  # type: ignore[assignment]
    monkeypatch.setattr(RunFile, "__get__", spy_get)
    monkeypatch.setattr(runner_module, "run_in_process", spy_run)
    monkeypatch.setattr(Params, "__getattribute__", spy_params)
    return seen


@pytest.mark.slow
def test_only_each_stage_reproduces_the_full_run(
    pipeline_run, sample_dir, tmp_path, recorded_access
):
    work = tmp_path / "work"
    copy_run(pipeline_run, work / "reports")  # the full run is the latest successful one
    cfg = sample_params(sample_dir, work)
    made = [pipeline_run.name]
    for stage in NOTEBOOK_STAGES:
        result = run_pipeline(cfg, only=[stage.number], in_process=True)
        made.append(result.folder.name)
        assert result.succeeded, [s.get("error") for s in result.stages]
        assert [s["name"] for s in result.stages] == [stage.name, "report"]
        assert result.manifest["only"] == [stage.name]
        # the full run has the same as_of: no earlier run to compare with, in either
        assert result.manifest["reused_from"]["run"] == made[-2]  # the latest of that day
        assert result.manifest["previous_run"] is None
        assert differences(result.folder, pipeline_run, list(stage.writes)) == []
        charts = [result.folder.relative(result.folder.chart(c)) for c in stage.charts]
        assert all((result.folder.path / c).read_bytes() for c in charts)
        # every file of the other stages was taken from the full run, so the report is whole
        others = [n for s in NOTEBOOK_STAGES if s is not stage for n in s.writes]
        assert differences(result.folder, pipeline_run, others) == []
        full = Headline.read(pipeline_run.headline)
        headline = Headline.read(result.folder.headline)
        assert headline.kpis == full.kpis  # month over month from the same KPI series
        declared = {*stage.reads, *stage.writes, "charts"}
        assert recorded_access[stage.name] <= declared, stage.name
        report_declared = {*REPORT.reads, *REPORT.writes, "charts"}
        assert recorded_access["report"] <= report_declared
        # the params sections the stage reads are those --only compares before reusing it
        # (run.cache_dir and the like change no result)
        read = recorded_access["params"][stage.name] - set(RESULT_FREE_SECTIONS)
        assert read <= set(stage.params), stage.name


def test_stage_declarations_name_real_files_and_hand_on_in_order():
    files = RunFolder.files()
    written: set[str] = set()
    for stage in (*NOTEBOOK_STAGES, REPORT):
        assert set(stage.reads) <= set(files) and set(stage.writes) <= set(files), stage.name
        assert set(stage.charts) <= set(CHARTS)
        # a stage reads what an earlier stage wrote (the report also reads the manifest)
        assert set(stage.reads) - {"manifest"} <= written, stage.name
        written |= set(stage.writes)
    assert sorted(c for s in NOTEBOOK_STAGES for c in s.charts) == sorted(CHARTS)


def test_send_dry_run_mails_the_headline_figure_with_plain_content_ids(pipeline_run, tmp_path):
    """``churnlab send latest --dry-run``: the raw bytes a mail client reads."""
    run = copy_run(pipeline_run, tmp_path / "reports")
    headline = Headline.read(run.headline)
    result = CliRunner().invoke(
        app,
        ["send", "latest", "--dry-run", "--params-file", str(ROOT / "params.yaml"),
         "-p", f"run.reports_dir={tmp_path / 'reports'}",
         "-p", "delivery.recipients=[vp-cs@example.com]"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (eml,) = run.emls()
    raw = eml.read_bytes()
    message = BytesParser(policy=policy.default).parsebytes(raw)
    figure = headline.arr_at_risk_display
    assert figure.startswith("$") and figure in message["Subject"]
    html = message.get_body(preferencelist=("html",)).get_content()
    box = re.search(r"ARR at risk[^<]*</p>\s*<p[^>]*>([^<]*)</p>", html, re.S)
    assert box is not None and box.group(1).strip() == figure
    assert "n/a" not in message["Subject"]
    # Content-ID headers as they are on the wire: one line, a plain <msg-id>, under 78 chars
    lines = raw.split(b"\n")
    content_ids = [i for i, line in enumerate(lines) if line.lower().startswith(b"content-id:")]
    # the email shows the KPI sparklines and its charts (delivery.EMAIL_CHARTS), all of the
    # headline's; the other charts stay in the attached report
    shown = [k for k in headline.charts if k.startswith("spark_") or k in EMAIL_CHARTS]
    assert len(content_ids) == len(shown) > 2
    cids = set()
    for i in content_ids:
        line = lines[i].rstrip(b"\r")
        assert len(line) < 78, line
        assert not lines[i + 1][:1].isspace(), "a folded Content-ID header"
        value = line.split(b":", 1)[1].strip()
        assert re.fullmatch(rb"<[A-Za-z0-9._-]+@[A-Za-z0-9.-]+>", value), value
        cids.add(value[1:-1].decode())
    referenced = set(re.findall(r'src="cid:([^"]+)"', html))
    assert referenced == cids
