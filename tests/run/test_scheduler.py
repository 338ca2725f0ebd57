"""#21: the order and overlap of the notebook stages (``run.parallel_stages``), on fake kernels.

The real kernels and notebooks run in the pipeline tests; here each "notebook" sleeps a
little and notes when it ran, so the schedule itself is checked: dependencies from the
stages' reads and writes, two at once, the model stage alone while its fits fill the CPUs,
one at a time in pipeline order when off, nothing new after a failure.

Order and overlap are read from the scheduler's own record (when it started a stage and
when it saw the stage end), which does not depend on how fast the threads run on a busy
machine; each notebook's own run is checked to lie inside that window.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from churnlab.run import schedule
from churnlab.run.stages import NOTEBOOK_STAGES


class FakeKernel:
    def __init__(self) -> None:
        self.imported: set[str] = set()
        self.closed = False

    def prepare(self, modules=()) -> None:
        self.imported.update(modules)

    def alive(self) -> bool:
        return True

    def ran_notebook(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
        self.closed_at = time.monotonic()


class Record:
    def __init__(self) -> None:
        self.manifest = {"stages": []}

    def stage_started(self, name):
        entry = {"name": name, "status": "running", "started": time.monotonic()}
        self.manifest["stages"].append(entry)
        return entry

    def stage_ended(self, entry):
        entry["ended"] = time.monotonic()

    def save(self):
        self.saved = [dict(e) for e in self.manifest["stages"]]


def _schedule(monkeypatch, workers, fit_threads=1, fail=(), hold=None):
    """Run the fake stages; ``hold=(a, b)`` holds a's HTML export until b's notebook runs."""
    released: list[bool] = []  # for a held export: whether b ran within the 10 s hold
    b_runs = threading.Event()
    ran_at: dict[str, tuple[float, float]] = {}  # when each fake notebook itself ran
    exported: dict[str, float] = {}  # stage -> when its HTML export began
    calls: list[float] = []
    kernels: list[FakeKernel] = []
    lock = threading.Lock()

    def start_kernel(cfg, stages=()):
        kernels.append(FakeKernel())
        return kernels[-1]

    def run_notebook(stage, nb_dir, folder, parameters, cfg, notify, record, kernel):
        t0 = time.monotonic()
        if hold is not None and stage.name == hold[1]:
            b_runs.set()
        time.sleep(0.15 if stage.name.startswith("02") else 0.05)
        with lock:
            ran_at[stage.name] = (t0, time.monotonic())
        record["status"] = "failed" if stage.name in fail else "succeeded"

    def export_html(stage, folder):
        with lock:
            exported[stage.name] = time.monotonic()
        time.sleep(0.02)
        if hold is not None and stage.name == hold[0]:
            released.append(b_runs.wait(timeout=10))
        return {"html": f"notebooks/{stage.name}.html"}

    monkeypatch.setattr(schedule, "start_kernel", start_kernel)
    monkeypatch.setattr(schedule, "run_notebook", run_notebook)
    monkeypatch.setattr(schedule, "export_html", export_html)
    ctx = SimpleNamespace(
        folder=SimpleNamespace(path="run", params="params.yaml"),
        as_of="2026-10-31",
        previous=None,
        earlier=(),
    )
    cfg = SimpleNamespace(root="project")
    record = Record()
    ok = schedule.run_notebooks(
        list(NOTEBOOK_STAGES),
        ctx,
        record,
        None,
        cfg,
        lambda *a: None,
        lambda: None,
        workers,
        fit_threads,
        last_started=lambda: calls.append(time.monotonic()),
    )
    assert all(k.closed for k in kernels) and len(kernels) == 2
    ran = [e for e in record.saved if e["status"] != "running"]
    times = {e["name"]: (e["started"], e["ended"]) for e in ran}
    assert set(times) == set(ran_at)
    # each notebook ran inside the window in which the scheduler had it running
    assert all(times[n][0] <= ran_at[n][0] and ran_at[n][1] <= times[n][1] for n in times)
    # the report's warm-up hook: once, when the last stage that runs has started
    assert len(calls) == (0 if len(times) < len(NOTEBOOK_STAGES) else 1)
    if calls:  # after the last stage started, before the scheduler saw it end
        last = max(times.values())
        assert last[0] <= calls[0] <= last[1]
    assert released == ([] if hold is None else [True])
    times["closed"] = tuple(sorted(k.closed_at for k in kernels))
    # every notebook that ran is exported after it ended, and its saved record says where
    assert ran and all(e["html"] == f"notebooks/{e['name']}.html" for e in ran)
    assert all(exported[e["name"]] >= e["ended"] for e in ran)
    return ok, times, exported


def test_the_next_stage_does_not_wait_for_the_html_export(monkeypatch):
    # 00's export is held until 02's notebook runs (the helper asserts it did within the
    # 10 s hold): a scheduler that waited for the export would not start 02 before it ended
    ok, t, exported = _schedule(monkeypatch, workers=1, hold=("00_data_health", "02_churn_model"))
    assert ok
    assert exported["00_data_health"] <= t["02_churn_model"][0]


def _overlap(times, a, b) -> bool:
    return times[a][0] < times[b][1] and times[b][0] < times[a][1]


def test_two_at_once_follow_the_reads_and_writes(monkeypatch):
    ok, t, _ = _schedule(monkeypatch, workers=2)
    assert t.pop("closed")[0] > t["05_monitoring"][1]  # two at once: both kernels kept
    assert ok and len(t) == 6
    # every stage starts after the stages that write what it reads
    for stage in NOTEBOOK_STAGES:
        for other in NOTEBOOK_STAGES:
            if set(other.writes) & set(stage.reads) and other is not stage:
                assert t[stage.name][0] >= t[other.name][1], (stage.name, other.name)
    assert _overlap(t, "01_cohort_comparison", "02_churn_model")  # neither reads the other
    assert _overlap(t, "03_time_to_churn", "05_monitoring")


def test_the_model_stage_runs_alone_while_its_fits_fill_the_cpus(monkeypatch):
    ok, t, _ = _schedule(monkeypatch, workers=2, fit_threads=2)
    t.pop("closed")
    assert ok
    assert not any(_overlap(t, "02_churn_model", name) for name in t if name != "02_churn_model")
    assert _overlap(t, "01_cohort_comparison", "03_time_to_churn")  # 01 waits for a free CPU


def test_off_runs_one_at_a_time_in_pipeline_order(monkeypatch):
    ok, t, _ = _schedule(monkeypatch, workers=1)
    assert ok
    # the kernel that ran stage 00 is shut down once the warm spare takes over
    assert t.pop("closed")[0] < t["02_churn_model"][0]
    names = [s.name for s in NOTEBOOK_STAGES]
    assert sorted(t, key=lambda n: t[n][0]) == names
    assert all(t[a][1] <= t[b][0] for a, b in zip(names, names[1:], strict=False))


@pytest.mark.parametrize("workers", [1, 2])
def test_nothing_starts_after_a_failure(monkeypatch, workers):
    ok, t, _ = _schedule(monkeypatch, workers=workers, fail=("02_churn_model",))
    t.pop("closed")
    assert not ok
    assert "03_time_to_churn" not in t and "04_explanations" not in t
    assert "05_monitoring" not in t
