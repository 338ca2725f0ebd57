"""Session fixtures: one generated sample, one real pipeline run on it, shared by every test.

The run is the real thing: the pipeline's steps run in-process on the generated sample, so
the cohort, model, explanation, report and delivery tests work on what the stage before
them actually wrote. Tests that use it are grouped (``xdist_group("pipeline")``) so that
one pytest worker builds it once.
"""

from __future__ import annotations

from pathlib import Path

import hypothesis
import pandas as pd
import pytest

from churnlab.config import Params
from churnlab.run import RunFolder
from tests.helpers import EVIL_NAME, SAMPLE, sample_params

# Property tests check results, not speed (speed lives in benchmarks/): no per-example
# deadline, which a busy 2-core machine trips at random.
hypothesis.settings.register_profile("churnlab", deadline=None)
hypothesis.settings.load_profile("churnlab")


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """The generated SaaS sample (:data:`tests.helpers.SAMPLE`), one hostile account name."""
    from churnlab.sample import generate_sample, write_sample

    folder = tmp_path_factory.mktemp("sample")
    write_sample(generate_sample(**SAMPLE), folder)
    accounts = pd.read_parquet(folder / "accounts.parquet")
    accounts.loc[accounts.index[0], "name"] = EVIL_NAME
    accounts.to_parquet(folder / "accounts.parquet", index=False)
    return folder


@pytest.fixture(scope="session")
def sample_truth(sample_dir) -> dict:
    """The generator's ground truth of the shared sample."""
    import json

    return json.loads((sample_dir / "ground_truth.json").read_text())


@pytest.fixture(scope="session")
def pipeline_cfg(sample_dir, tmp_path_factory) -> Params:
    """params.yaml on the shared sample; reports and cache in a session folder."""
    return sample_params(sample_dir, tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="session")
def pipeline_run(pipeline_cfg) -> RunFolder:
    """A full in-process run of the pipeline on the shared sample (succeeded)."""
    from churnlab.run.runner import run_pipeline

    result = run_pipeline(pipeline_cfg, in_process=True)
    assert result.succeeded, [s.get("error") for s in result.stages]
    return result.folder


@pytest.fixture(scope="session")
def notebook_run(sample_dir, tmp_path_factory) -> RunFolder:
    """A full papermill run of the notebooks on the shared sample (succeeded).

    Its ``notebooks/`` folder holds the executed notebooks; tests that read them share
    this one run (it takes about as long as the in-process run, plus the kernels).
    """
    from churnlab.run.runner import run_pipeline

    cfg = sample_params(sample_dir, tmp_path_factory.mktemp("notebooks"))
    result = run_pipeline(cfg)
    assert result.succeeded, [s.get("error") for s in result.stages]
    return result.folder


@pytest.fixture(scope="session")
def observations(pipeline_run) -> pd.DataFrame:
    """The labelled observation table stage 00 wrote (month ends and renewal checkpoints)."""
    return pd.read_parquet(pipeline_run.observations)


@pytest.fixture(scope="session")
def scoring(pipeline_run) -> pd.DataFrame:
    """The scoring table stage 00 wrote (every account active at as_of)."""
    return pd.read_parquet(pipeline_run.scoring)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Put every test that uses the shared pipeline run on one worker (built once).

    Marked as each test is collected, before pytest-xdist reads the groups.
    """
    shared = {"pipeline_run", "observations", "scoring", "pipeline_cfg", "notebook_run"}
    if shared & set(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.xdist_group("pipeline"))
