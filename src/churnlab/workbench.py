"""The analyst's workbench: a project object, and one call per question asked of it.

:func:`open_project` opens the project of a params file (with overlays and ``-p`` style
overrides), :func:`sample_project` the built-in synthetic sample. A :class:`Project` loads
and validates the data, computes the KPIs and the observation tables, trains a quick model
or uses the champion of the latest run of the same data set, scores, explains one account
(:class:`~churnlab.explain.AccountExplanation`: the exact SHAP values, a waterfall, the
reasons in words) and asks what would change if some of the account's features were
different (:class:`WhatIf`). It calls the same functions as the pipeline's notebooks, so
its numbers are the run's numbers.

Examples
--------
>>> import churnlab
>>> project = churnlab.sample_project()
>>> project.health.has_errors
False
>>> model = project.train("logistic")       # a quick model on the labelled observations
>>> account = project.riskiest()
>>> explained = project.explain_account(account)
>>> scoring = project.tables.scoring
>>> raw = model.predict_raw(scoring[scoring["account_id"] == account])[0]
>>> bool(abs(explained.log_odds - raw) < 1e-9)   # base value + SHAP values = its log-odds
True
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab.config import Params, load_params
from churnlab.errors import UsageError
from churnlab.explain.account import AccountExplanation, WhatIf, unchanged
from churnlab.observations import ObservationTables
from churnlab.run.folder import RunFolder

__all__ = ["Project", "WhatIf", "find_params", "open_project", "sample_project"]


def find_params(start: str | Path | None = None, name: str = "params.yaml") -> Path:
    """The project's params file: ``name`` in ``start`` (default the working folder) or above.

    A notebook in ``notebooks/exploration/`` finds the project's ``params.yaml`` two folders
    up, and so does one run from the project root (papermill's default working folder).

    Raises
    ------
    UsageError
        No such file in ``start`` or any folder above it.

    Examples
    --------
    >>> from churnlab.workbench import find_params
    >>> find_params("notebooks/exploration").name
    'params.yaml'
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / name).is_file():
            return folder / name
    raise UsageError(
        f"no {name} in {here} or any folder above it: pass the file, "
        f"open_project('path/to/{name}'); under papermill pass -p params_file "
        f"/path/to/{name}, or run from the project with --cwd notebooks/exploration"
    )


def open_project(
    params: str | Path | None = None,
    overlays: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
    *,
    run: str | Path | None = "latest",
) -> Project:
    """The project of a params file: its data, KPIs, observations, model and scores.

    Parameters
    ----------
    params : str or Path, optional
        The project's ``params.yaml`` (relative paths in it resolve against its folder);
        default: :func:`find_params` from the working folder.
    overlays : sequence of str or Path
        Overlay files merged on top, in order (as ``churnlab run --params``).
    overrides : sequence of str
        ``section.key=value`` overrides (as ``churnlab run -p``).
    run : str, Path or None
        The run whose champion model and scores to use: ``"latest"`` (the latest
        successful run of this data set, if any), a run folder, or None (train here).

    Returns
    -------
    Project

    Examples
    --------
    >>> import churnlab
    >>> sample = churnlab.sample_project()
    >>> project = churnlab.open_project(sample.params_file, overrides=["report.top_accounts=5"])
    >>> project.cfg.report.top_accounts
    5
    """
    from churnlab.run.steps import resolve_data_end

    path = Path(params) if params else find_params()
    cfg = resolve_data_end(load_params(path, list(overlays), list(overrides)))
    return Project(cfg, run=_find_run(cfg, run), params_file=path)


def sample_project(
    folder: str | Path | None = None,
    *,
    n_accounts: int = 150,
    months: int = 14,
    seed: int = 7,
    end_date: str = "2026-10-31",
) -> Project:
    """A project on the built-in synthetic SaaS sample (generated once, then reused).

    Parameters
    ----------
    folder : str or Path, optional
        Where the sample, its params, reports and cache go; default a folder named by the
        sample's settings in the system's temporary folder.
    n_accounts, months, seed, end_date
        The sample's size, span, seed and last day (:func:`churnlab.sample.generate_sample`).

    Returns
    -------
    Project
        Without a run: :meth:`Project.train` fits a model on it.

    Examples
    --------
    >>> import churnlab
    >>> project = churnlab.sample_project()
    >>> project.as_of
    '2026-10-31'
    """
    import yaml

    from churnlab.atomic import write_text
    from churnlab.sample import generate_sample, write_sample

    name = f"churnlab-sample-{n_accounts}-{months}-{seed}-{end_date}"
    base = Path(folder) if folder is not None else Path(tempfile.gettempdir()) / name
    data = base / "data"
    if not (data / "events.parquet").exists():  # written aside, then moved in whole
        staging = Path(tempfile.mkdtemp(prefix="data-", dir=_made(base)))
        write_sample(generate_sample(n_accounts, months, end_date, seed), staging)
        try:
            staging.rename(data)
        except OSError:  # another process moved its copy in first: the same files
            shutil.rmtree(staging, ignore_errors=True)
    params_file = base / "params.yaml"
    if not params_file.exists():
        settings = {
            "data": {
                "shape": "events",
                "as_of": "auto",
                "accounts": "data/accounts.parquet",
                "subscriptions": "data/subscriptions.parquet",
                "events": "data/events.parquet",
            },
            "run": {"reports_dir": "reports", "cache_dir": "cache"},
        }
        write_text(params_file, yaml.safe_dump(settings, sort_keys=False))
    return open_project(params_file, run="latest")


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _find_run(cfg: Params, run: str | Path | None) -> RunFolder | None:
    """The run folder asked for: the latest successful one of this data set, a path, or None."""
    if run is None:
        return None
    if str(run) != "latest":
        folder = RunFolder(Path(run))
        if not folder.model.exists():
            raise UsageError(f"run {folder.path}: no model/ in it; pass run=None to train here")
        return folder
    from churnlab.run.folder import ReportsFolder
    from churnlab.run.lineage import dataset_identity, runs_of, scan_runs

    reports = ReportsFolder(cfg.path(cfg.run.reports_dir))
    if not reports.path.exists():
        return None
    mine = [
        r for r in runs_of(scan_runs(reports), dataset_identity(cfg)) if r.folder.model.exists()
    ]
    return mine[-1].folder if mine else None


class Project:
    """One data set with its params: data, KPIs, observations, a model, scores, explanations.

    Parameters
    ----------
    cfg : Params
        The effective params (``data.as_of`` resolved).
    run : RunFolder, optional
        A run of this data set whose champion model and scores are used until
        :meth:`train` is called.
    params_file : Path, optional
        The params file the project was opened from.
    """

    def __init__(
        self, cfg: Params, run: RunFolder | None = None, params_file: Path | None = None
    ) -> None:
        self.cfg, self.run, self.params_file = cfg, run, params_file
        self._model: Any = None
        self._trained = False
        self._scored: tuple[Any, pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None

    def __repr__(self) -> str:
        run = self.run.name if self.run is not None else None
        return f"Project(as_of={self.as_of!r}, data={self.cfg.data.shape!r}, run={run!r})"

    @property
    def as_of(self) -> str:
        """The scoring date, ``YYYY-MM-DD`` (the run's when a run is used)."""
        return str(self.cfg.scoring_as_of())

    @functools.cached_property
    def inputs(self) -> Any:
        """The loaded, validated input data (``steps.Inputs``); raises DataError on bad data."""
        from churnlab.run.steps import load_inputs

        return load_inputs(self.cfg)

    @property
    def health(self) -> Any:
        """The data-health summary (rows read, kept, excluded; notes), shown as tables."""
        return self.inputs.health

    @functools.cached_property
    def fitted(self) -> Params:
        """The params fitted to the data's history (label window, folds), as stage 00 does."""
        from churnlab.run.steps import data_health

        return data_health.adapt(self.cfg, data_health.fit_history(self.cfg, self.inputs))

    @functools.cached_property
    def periods(self) -> pd.DataFrame | None:
        """Active periods of every account (None for snapshot data)."""
        from churnlab.run.steps import data_health

        return data_health.active_periods(self.cfg, self.inputs)

    @functools.cached_property
    def kpis(self) -> pd.DataFrame:
        """Monthly KPIs, overall and per touch tier (``kpis.csv`` of a run)."""
        from churnlab.run.steps import data_health

        return data_health.kpi_table(self.cfg, self.inputs, self.periods)

    @functools.cached_property
    def tables(self) -> ObservationTables:
        """The labelled training observations and the scoring table at :attr:`as_of`."""
        from churnlab.run.steps import data_health

        return data_health.observation_tables(self.fitted, self.inputs, self.periods, self.as_of)

    def train(self, kind: str = "logistic") -> Any:
        """Fit a model of ``kind`` on the labelled observations and use it from now on.

        Parameters
        ----------
        kind : {"logistic", "lightgbm"}
            The quick baseline (seconds) or LightGBM; the run's champion is chosen by a
            backtest (notebook 02), this one is not.

        Returns
        -------
        ChurnModel
            Calibrated on the latest held-out slice, as the run's champion is.

        Examples
        --------
        >>> import churnlab
        >>> churnlab.sample_project().train("logistic").kind
        'logistic'
        """
        from churnlab.run.steps import model as step

        if kind not in ("logistic", "lightgbm"):
            raise UsageError(f"train(kind={kind!r}): use 'logistic' or 'lightgbm'")
        self._model = step.fit_champion(self.fitted, self.tables.training, kind)
        self._trained, self._scored = True, None
        return self._model

    @property
    def model(self) -> Any:
        """The model in use: the one :meth:`train` fitted, else the run's champion."""
        if self._model is None and self.run is not None:
            from churnlab.modeling import load_model

            self._model = load_model(self.run.model)
        if self._model is None:
            raise UsageError(
                "no model yet: call project.train() (or `churnlab run` for a champion model)"
            )
        return self._model

    def _frames(self) -> tuple[Params, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """``(cfg, scoring, observations, names)`` the model in use was trained and scores on."""
        from churnlab.run.steps import account_names

        if self.run is not None and not self._trained:
            from churnlab.run.steps.context import adapted_params

            run = self.run
            names = pd.read_parquet(run.account_names) if run.account_names.exists() else None
            return (
                adapted_params(self.cfg, run),
                pd.read_parquet(run.scoring),
                pd.read_parquet(run.observations),
                names if names is not None else pd.DataFrame(columns=["account_id", "name"]),
            )
        tables = self.tables
        return self.fitted, tables.scoring, tables.training, account_names(self.inputs)

    def run_scores(self) -> pd.DataFrame | None:
        """The run's ``scores.csv`` as written (None without a run): the report's numbers."""
        if self.run is None or not self.run.scores.exists():
            return None
        from churnlab import csvsafe

        return csvsafe.read_csv(self.run.scores, dtype={"account_id": str})

    def scores(self) -> pd.DataFrame:
        """Every active account: probability, health, band, ARR at risk, reasons, next step.

        With the run's champion these are the run's ``scores.csv`` values (recomputed from
        its model and tables); with a model trained here, this project's.

        Examples
        --------
        >>> import churnlab
        >>> project = churnlab.sample_project()
        >>> _ = project.train("logistic")
        >>> scores = project.scores()
        >>> bool(scores["churn_probability"].between(0, 1).all()), len(scores) == len(project.tables.scoring)
        (True, True)
        >>> project.riskiest(3)[0] == project.riskiest()
        True
        """
        return self._explained()[3]

    def _explained(self) -> tuple[Any, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """``(shap, scoring, reasons, scores)`` of every scored account (computed once)."""
        if self._scored is None:
            from churnlab.run.steps import explanations
            from churnlab.run.steps import model as step

            cfg, scoring, observations, names = self._frames()
            shap = explanations.explain(cfg, self.model, scoring, observations)
            reasons = explanations.account_reasons(cfg, shap, scoring, observations)
            raw = step.score(cfg, self.model, scoring, names)
            scores = explanations.attach_reasons(cfg, raw, reasons, scoring)
            self._scored = (shap, scoring, reasons, scores)
        return self._scored

    def riskiest(self, n: int = 1) -> Any:
        """The account(s) most at risk: highest probability, ties by expected ARR at risk.

        Many accounts can share one calibrated probability (isotonic calibration makes
        steps); among them the one with the most ARR at risk comes first, then by id.
        Returns one account id (``n=1``) or a list of ``n``.
        """
        from churnlab.explain.account import rank_by_risk

        ranked = rank_by_risk(self.scores())
        return ranked.iloc[0] if n == 1 else ranked.head(n).tolist()

    def explain_account(self, account_id: str | None = None) -> AccountExplanation:
        """Why one account has its score: exact SHAP values, waterfall, reasons in words.

        Parameters
        ----------
        account_id : str, optional
            Default: :meth:`riskiest`.

        Returns
        -------
        AccountExplanation
            The account's probability, health and ARR at risk, its SHAP values (log-odds;
            ``base_value + values.sum()`` is the model's raw score), the reasons and the
            next step as ``scores.csv`` has them; ``plot()`` draws the waterfall.

        Examples
        --------
        >>> import churnlab
        >>> project = churnlab.sample_project()
        >>> _ = project.train("logistic")
        >>> e = project.explain_account()
        >>> e.account_id == project.riskiest() and 0 < e.probability < 1
        True
        """
        from churnlab.explain.account import explain_row

        shap, scoring, reasons, scores = self._explained()
        account = str(account_id or self.riskiest())
        ids = scoring["account_id"].astype(str)
        if not ids.eq(account).any():
            raise UsageError(
                f"account {account!r} is not scored at {self.as_of} (not active then?); "
                f"scored accounts include {', '.join(ids.head(3))}, ..."
            )
        index = scoring.index[ids.eq(account)][0]
        row = scores[scores["account_id"].astype(str) == account].iloc[0]
        return explain_row(shap, index, reasons, row)

    def what_if(self, account_id: str, **changes: Any) -> WhatIf:
        """The account's score if some of its features were different, by the model.

        Built on the levers' :func:`churnlab.modeling.levers.apply_edits`: the features that
        measure the same thing move together (``logins_28d`` moves the other windows, the
        trend and the per-seat ratio). A model-based estimate of association, not a
        proven effect.

        Parameters
        ----------
        account_id : str
            A scored account.
        **changes
            Feature -> new value: a number, true/false, a category level, or
            ``"tier_median"`` / ``"median"`` (of the retained accounts).

        Returns
        -------
        WhatIf

        Examples
        --------
        >>> import churnlab
        >>> project = churnlab.sample_project()
        >>> _ = project.train("logistic")
        >>> change = project.what_if(project.riskiest(), onboarding_completed=1)
        >>> 0 < change.probability_after < 1
        True
        """
        from churnlab.modeling.levers import apply_edits
        from churnlab.run.steps import model as step

        cfg, scoring, observations, names = self._frames()
        ids = scoring["account_id"].astype(str)
        if not ids.eq(str(account_id)).any():
            raise UsageError(f"account {account_id!r} is not scored at {self.as_of}")
        if not changes:
            raise UsageError("what_if needs at least one change, e.g. logins_28d='tier_median'")
        row = scoring[ids.eq(str(account_id))]
        retained = observations[pd.to_numeric(observations["label"], errors="coerce").eq(0)]
        edited = apply_edits(
            row, changes, reference=retained, ratios=dict(cfg.features.ratios) or None
        )
        before = step.score(cfg, self.model, row, names).iloc[0]
        after = step.score(cfg, self.model, edited, names).iloc[0]
        moved = [c for c in row.columns if not unchanged(row[c].iloc[0], edited[c].iloc[0])]
        return WhatIf(
            account_id=str(account_id),
            changes=dict(changes),
            features=pd.DataFrame(
                {"before": row[moved].iloc[0], "after": edited[moved].iloc[0]}
            ).rename_axis("feature"),
            probability_before=float(before["churn_probability"]),
            probability_after=float(after["churn_probability"]),
            health_before=float(before["health_score"]),
            health_after=float(after["health_score"]),
            arr=float(before["arr"]),
        )
