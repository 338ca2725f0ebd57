"""Honest evaluation: rolling-origin backtest, and model comparison (:class:`ModelComparison`).

Rolling origin (time-stamped observation tables). The last ``n_folds *
test_months`` calendar months of ``as_of`` dates are cut into ``n_folds``
consecutive test blocks. For a block whose first ``as_of`` is ``T``:

* **test** = the rows with ``as_of`` in the block;
* **train** = the rows whose label window has *closed* before ``T``:
  ``as_of + lead_days + horizon_days < T``. Training on every ``as_of < T``
  would leak: a row at ``T - 1 month`` is labelled by churn up to
  ``T + 2 months``, which nobody knows at ``T``;
* the model is fitted with ``fitting.fit_churn_model`` on the train rows (so
  its calibration slice is the latest of them), then scored on the test rows;
* ``leakage.leak_check`` runs on the test rows; flagged features are listed in
  ``BacktestResult.leaks``.

Snapshot tables (one ``as_of`` or ``checkpoint == "snapshot"``) have no time
order: the backtest falls back to stratified K-fold cross-validation and says
so in ``BacktestResult.scheme`` (``"stratified_kfold"``) and ``note``.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from churnlab.errors import ModelError
from churnlab.messages import Message, literal, message
from churnlab.modeling.fitting import fit_churn_model, label_closed_before
from churnlab.modeling.leakage import LEAK_AUC, leak_check, shared_leak_checks
from churnlab.modeling.metrics import LOWER_IS_BETTER, evaluate
from churnlab.modeling.train import account_folds, is_snapshot
from churnlab.observations.schema import feature_columns

ROLLING = "rolling_origin"
KFOLD = "stratified_kfold"
ACCOUNTS = "account_kfold"


@dataclass
class BacktestResult:
    """Outcome of ``rolling_origin_backtest``.

    Attributes
    ----------
    scheme : {"rolling_origin", "stratified_kfold"}
    note : str
        One sentence on how the folds were made (shown in reports).
    model_kind : str
    folds : pandas.DataFrame
        One row per fold: window (``train_as_of_min/max``, ``cutoff``,
        ``test_as_of_min/max``; NaT for K-fold), sizes and every ``evaluate`` metric.
    pooled : dict
        ``evaluate`` on all test predictions together.
    predictions : pandas.DataFrame
        ``account_id``, ``as_of``, ``fold``, ``label``, ``churn_probability``.
    leaks : pandas.DataFrame
        Suspected leaks on test folds: ``fold``, ``feature``, ``type``, ``auc``.
    skipped : tuple of str
        Folds that could not be used, each with the reason (e.g. a single label value
        in its training rows).
    skipped_messages : tuple of dict
        ``skipped`` as messages of the catalogues (``churnlab.messages``).
    """

    scheme: str
    note: str
    model_kind: str
    folds: pd.DataFrame
    pooled: dict
    predictions: pd.DataFrame
    leaks: pd.DataFrame
    skipped: tuple[str, ...] = ()
    skipped_messages: tuple[Message, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        """Per-fold metrics plus a ``pooled`` row."""
        cols = ["n", "positives", "roc_auc", "pr_auc", "brier", "log_loss", "ece", "lift_10"]
        per_fold = self.folds.set_index("fold")[cols]
        pooled = pd.DataFrame([{c: self.pooled[c] for c in cols}], index=["pooled"])
        return pd.concat([per_fold, pooled])

    def _repr_html_(self) -> str:
        head = f"<p><b>{self.model_kind}</b> backtest ({self.scheme}): {self.note}</p>"
        return head + self.summary.to_html(float_format=lambda v: f"{v:.3f}")


def _month_blocks(as_of: pd.Series, n_folds: int, test_months: int) -> list[list[pd.Period]]:
    months = sorted(as_of.dt.to_period("M").unique())
    need = n_folds * test_months
    if len(months) <= need:
        raise ModelError(
            f"rolling-origin backtest needs more than {need} months of as_of dates "
            f"(n_folds={n_folds} x test_months={test_months}); the table spans {len(months)}"
        )
    test = months[-need:]
    return [test[i * test_months : (i + 1) * test_months] for i in range(n_folds)]


def _fold_splits_time(
    table: pd.DataFrame, n_folds: int, test_months: int, lead_days: int, horizon_days: int
) -> list[tuple[np.ndarray, np.ndarray, pd.Timestamp]]:
    months = table["as_of"].dt.to_period("M")
    splits = []
    for block in _month_blocks(table["as_of"], n_folds, test_months):
        test = months.isin(block).to_numpy()
        cutoff = table.loc[test, "as_of"].min()
        train = label_closed_before(table["as_of"], cutoff, lead_days, horizon_days).to_numpy()
        splits.append((train, test, cutoff))
    return splits


def _fold_splits_kfold(table: pd.DataFrame, n_folds: int, seed: int):
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    y = table["label"].astype(int).to_numpy()
    splits = []
    for train_idx, _test_idx in skf.split(np.zeros(len(y)), y):
        train = np.zeros(len(y), dtype=bool)
        train[train_idx] = True
        splits.append((train, ~train, pd.NaT))
    return splits


def rolling_origin_backtest(
    table: pd.DataFrame,
    *,
    model_kind: str = "lightgbm",
    n_folds: int = 3,
    test_months: int = 1,
    lead_days: int = 0,
    horizon_days: int = 90,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    params: dict | None = None,
    seed: int = 42,
    calibration: str | None = "isotonic",
    calibration_fraction: float = 0.2,
    allow_leaky: Iterable[str] = (),
    leak_threshold: float = LEAK_AUC,
    scheme: str = "auto",
    workers: int = 1,
) -> BacktestResult:
    """Evaluate a model kind on later data it never saw (see the module docstring).

    Parameters
    ----------
    table : pandas.DataFrame
        Labelled observation table.
    model_kind : {"lightgbm", "logistic"}
    n_folds : int
        Number of test blocks (snapshot data: K of the K-fold).
    test_months : int
        Calendar months of ``as_of`` dates per test block.
    lead_days, horizon_days : int
        The table's label window (params.yaml ``observation``); sets the purge.
    numeric, categorical : list of str, optional
        Features; default ``feature_columns(table)``.
    params, seed, calibration, calibration_fraction, allow_leaky
        Passed to ``fit_churn_model``.
    leak_threshold : float
        Single-feature AUC on a test fold from which a feature is reported in ``leaks``.
    scheme : {"auto", "accounts"}
        ``auto``: rolling origin for time-stamped tables, stratified K-fold for
        snapshots. ``accounts``: K-fold across accounts (every row of an account in
        one fold), for a history too short for a backtest in time; it does not test on
        a later period, and says so.
    workers : int
        Folds fitted at once, on threads (:func:`run_folds`); the numbers do not depend on it.

    Returns
    -------
    BacktestResult
    """
    if numeric is None or categorical is None:
        auto_num, auto_cat = feature_columns(table)
        numeric = auto_num if numeric is None else list(numeric)
        categorical = auto_cat if categorical is None else list(categorical)
    table = table.reset_index(drop=True)
    plan = plan_folds(table, n_folds, test_months, lead_days, horizon_days, seed, scheme)
    fit = {
        "kind": model_kind,
        "numeric": list(numeric),
        "categorical": list(categorical),
        "params": params,
        "seed": seed,
        "calibration": calibration,
        "calibration_fraction": calibration_fraction,
        "lead_days": lead_days,
        "horizon_days": horizon_days,
        "allow_leaky": allow_leaky,
    }
    outcomes = run_folds(table, plan, [fit], leak_threshold, workers)[0]
    return assemble(plan, model_kind, outcomes)


@dataclass(frozen=True)
class FoldPlan:
    """How a backtest cuts a table into folds (the same for every model of a comparison).

    Attributes
    ----------
    scheme : str
        ``rolling_origin``, ``stratified_kfold`` or ``account_kfold``.
    note : str
        One sentence on how the folds were made.
    splits : list of (train mask, test mask, cutoff)
        Boolean row masks of the table and the first test ``as_of`` (NaT for K-fold).
    """

    scheme: str
    note: str
    splits: list[tuple[np.ndarray, np.ndarray, pd.Timestamp]]

    @property
    def snapshot(self) -> bool:
        return self.scheme == KFOLD


def plan_folds(
    table: pd.DataFrame,
    n_folds: int,
    test_months: int,
    lead_days: int,
    horizon_days: int,
    seed: int,
    scheme: str = "auto",
) -> FoldPlan:
    """The folds of ``table`` (with a RangeIndex), as :func:`rolling_origin_backtest` cuts them."""
    snapshot = is_snapshot(table)
    if scheme == "accounts" and not snapshot:
        splits = [(~test, test, pd.NaT) for test in account_folds(table, n_folds, seed)]
        note = (
            f"{len(splits)}-fold cross-validation across accounts (every observation of an "
            "account in one fold): the history is too short for a backtest on a later "
            "period, so this does not measure performance over time"
        )
        return FoldPlan(ACCOUNTS, note, splits)
    if snapshot:
        note = (
            f"snapshot data (a single as_of): stratified {n_folds}-fold cross-validation; "
            "there is no later period, so this does not measure performance over time"
        )
        return FoldPlan(KFOLD, note, _fold_splits_kfold(table, n_folds, seed))
    note = (
        f"rolling origin: {n_folds} test blocks of {test_months} month(s); training uses "
        f"only rows whose {lead_days}+{horizon_days}-day label window closed before the "
        "first test as_of"
    )
    splits = _fold_splits_time(table, n_folds, test_months, lead_days, horizon_days)
    return FoldPlan(ROLLING, note, splits)


@dataclass
class FoldOutcome:
    """One model's result on one fold: its test predictions, leaks and metrics, or why not."""

    fold: int
    predictions: pd.DataFrame | None = None
    leaks: pd.DataFrame | None = None
    row: dict | None = None
    skipped: Message | None = None


def run_folds(
    table: pd.DataFrame,
    plan: FoldPlan,
    fits: Sequence[dict],
    leak_threshold: float = LEAK_AUC,
    workers: int = 1,
    finals: Sequence[dict] = (),
) -> list[list[FoldOutcome]]:
    """Fit and test every model of ``fits`` on every fold of ``plan``; outcomes per model.

    ``finals``: arguments of :func:`~churnlab.modeling.fitting.fit_churn_model` for fits on
    the whole ``table``, run in the same pool (their models are appended to ``finals``'
    dicts under ``"model"``, or the error under ``"error"``).

    Each item of ``fits`` holds the arguments of
    :func:`~churnlab.modeling.fitting.fit_churn_model` for one model. With ``workers`` > 1
    the (model, fold) fits run on that many threads: LightGBM and the BLAS of the
    logistic models release the GIL while they fit. Every fit is seeded and
    single-threaded, and the outcomes are put back in order, so the numbers are the same
    for any ``workers`` (a test checks it). The heaviest models are started first.
    """
    tasks = [(m, i) for m, fit in enumerate(fits) for i in range(len(plan.splits))]
    tasks += [(-1 - f, -1) for f in range(len(finals))]
    # the heaviest first, for the pool to end together: whole-table LightGBM fits, then
    # LightGBM folds, then the rest (a stable sort keeps the order within each)
    tasks.sort(key=lambda t: _task_weight(fits[t[0]] if t[0] >= 0 else finals[-1 - t[0]], t))

    def one(task: tuple[int, int]) -> Any:
        m, i = task
        if m < 0:
            final = finals[-1 - m]
            try:
                final["model"] = fit_churn_model(table, **final["kwargs"])
            except ModelError as exc:
                final["error"] = exc
            return None
        train, test, cutoff = plan.splits[i]
        return _fold(table, i + 1, train, test, cutoff, plan, fits[m], leak_threshold)

    if workers <= 1 or len(tasks) <= 1:
        done = dict(zip(tasks, map(one, tasks), strict=True))
    else:
        import contextvars
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        # one BLAS thread for the whole block: the fits' own limits then agree across threads
        with (
            threadpool_limits(limits=1, user_api="blas"),
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="churnlab-fold") as pool,
        ):
            # each task in a copy of this context: the shared leak checks reach the threads
            futures = {t: pool.submit(contextvars.copy_context().run, one, t) for t in tasks}
            done = {t: f.result() for t, f in futures.items()}
    return [[done[(m, i)] for i in range(len(plan.splits))] for m in range(len(fits))]


def _task_weight(fit: dict, task: tuple[int, int]) -> int:
    lightgbm = fit.get("kind", fit.get("kwargs", {}).get("kind")) == "lightgbm"
    return (0 if task[0] < 0 else 1) if lightgbm else 2


def _fold(
    table: pd.DataFrame,
    i: int,
    train: np.ndarray,
    test: np.ndarray,
    cutoff: pd.Timestamp,
    plan: FoldPlan,
    fit: dict,
    leak_threshold: float,
) -> FoldOutcome:
    train_t, test_t = table[train], table[test]
    where = (
        message("messages.model.fold", fold=i)
        if pd.isna(cutoff)
        else message("messages.model.fold_from", fold=i, day=pd.Timestamp(cutoff).date())
    )
    if train_t["label"].nunique() < 2 or test_t.empty:
        return FoldOutcome(i, skipped=message("messages.model.single_label", where=where))
    try:
        model = fit_churn_model(
            train_t, **fit, split="accounts" if plan.scheme == ACCOUNTS else "auto"
        )
    except ModelError as exc:
        if "leak" in str(exc):
            raise
        return FoldOutcome(
            i, skipped=message("messages.model.fold_failed", where=where, error=literal(str(exc)))
        )
    proba = model.predict_proba(test_t)
    predictions = pd.DataFrame(
        {
            "account_id": test_t["account_id"].to_numpy(),
            "as_of": test_t["as_of"].to_numpy(),
            "fold": i,
            "label": test_t["label"].astype(int).to_numpy(),
            "churn_probability": proba,
        }
    )
    flags = leak_check(test_t, fit["numeric"], fit["categorical"], threshold=leak_threshold)
    leaks = (
        flags[flags["suspected_leak"]].drop(columns="suspected_leak").assign(fold=i)
        if len(flags)
        else None
    )
    row = {
        "fold": i,
        "train_as_of_min": train_t["as_of"].min(),
        "train_as_of_max": train_t["as_of"].max(),
        "cutoff": cutoff,
        "test_as_of_min": test_t["as_of"].min() if not plan.snapshot else pd.NaT,
        "test_as_of_max": test_t["as_of"].max() if not plan.snapshot else pd.NaT,
        "n_train": int(len(train_t)),
        "best_iteration": model.training.get("best_iteration"),
        **evaluate(test_t["label"].astype(int), proba),
    }
    return FoldOutcome(i, predictions, leaks, row)


def assemble(plan: FoldPlan, model_kind: str, outcomes: Sequence[FoldOutcome]) -> BacktestResult:
    """One model's :class:`BacktestResult` from its fold outcomes (in fold order)."""
    preds = [o.predictions for o in outcomes if o.predictions is not None]
    leaks = [o.leaks for o in outcomes if o.leaks is not None]
    skipped = [o.skipped for o in outcomes if o.skipped is not None]
    fold_rows = [o.row for o in outcomes if o.row is not None]
    if not preds:
        raise ModelError(
            "no backtest fold could be trained: "
            + "; ".join(str(m["text"]) for m in skipped)
            + ". How to fix: the labelled history needs both churned and retained accounts "
            "before every test period (a longer history, or fewer model.n_folds)"
        )
    predictions = pd.concat(preds, ignore_index=True)
    leak_cols = ["fold", "feature", "type", "auc"]
    leaks_df = (
        pd.concat(leaks, ignore_index=True)[leak_cols] if leaks else pd.DataFrame(columns=leak_cols)
    )
    return BacktestResult(
        scheme=plan.scheme,
        note=plan.note,
        model_kind=model_kind,
        folds=pd.DataFrame(fold_rows),
        pooled=evaluate(predictions["label"], predictions["churn_probability"]),
        predictions=predictions,
        leaks=leaks_df,
        skipped=tuple(str(m["text"]) for m in skipped),
        skipped_messages=tuple(skipped),
    )


@dataclass(frozen=True)
class Candidate:
    """One model the comparison backtests: a kind and the features it is given.

    Attributes
    ----------
    name : str
        How the comparison and the report call it (``lightgbm``, ``reference``...).
    kind : {"lightgbm", "logistic"}
    numeric, categorical : tuple of str
        Its features.
    params : dict, optional
        Parameters of the kind (see :func:`~churnlab.modeling.fit_churn_model`).
    final : FinalFit, optional
        Its fit on the whole table, made beside the backtest (``compare_models(final=...)``).
    """

    name: str
    kind: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...] = ()
    params: dict | None = None
    final: FinalFit | None = field(default=None, compare=False, repr=False)

    def fitted(self, table: pd.DataFrame, kwargs: dict) -> Any:
        """Its model fitted with ``kwargs`` on ``table`` beside the backtest, or None.

        Raises
        ------
        ModelError
            When that fit raised it (as fitting again would).
        """
        if self.final is None or not self.final.matches(table, kwargs):
            return None
        if self.final.error is not None:
            raise self.final.error
        return self.final.model


@dataclass(frozen=True)
class FinalFit:
    """A candidate fitted on the whole table while the backtest ran (``compare_models(final=...)``).

    Attributes
    ----------
    kwargs : dict
        The arguments of :func:`~churnlab.modeling.fitting.fit_churn_model` it was fitted with.
    table : weakref
        The table it was fitted on (a fit for another table is not this one).
    model : ChurnModel or None
        The fitted model; None when the fit raised ``error``.
    error : ModelError or None
    """

    kwargs: dict
    table: Any
    model: Any = None
    error: Exception | None = None

    def matches(self, table: pd.DataFrame, kwargs: dict) -> bool:
        """True when it is the fit of ``kwargs`` on this very ``table`` object."""
        return self.table() is table and self.kwargs == kwargs


@dataclass(frozen=True)
class ModelComparison:
    """Result of :func:`compare_models`: pooled backtest metrics per model and the champion.

    Attributes
    ----------
    table : pandas.DataFrame
        Index ``model``; the pooled metrics of :func:`~churnlab.modeling.metrics.evaluate`,
        ``<metric>_fold_mean`` and ``<metric>_fold_std``, ``scheme`` and a boolean
        ``champion`` column.
    champion : str
        The model with the best pooled ``metric``.
    metric : str
        The metric that chose the champion.
    backtests : dict of str to BacktestResult
        Each model's backtest (folds, test-fold predictions, suspected leaks).
    candidates : dict of str to Candidate
        What each model is: its kind and features (to fit the champion with them).
    """

    table: pd.DataFrame
    champion: str
    metric: str
    backtests: dict[str, BacktestResult]
    candidates: dict[str, Candidate] = field(default_factory=dict)
    #: Each candidate fitted on the whole table beside the backtest (``final=``), by name.
    finals: dict[str, FinalFit] = field(default_factory=dict, repr=False)

    #: The columns :meth:`summary` shows, in order.
    SUMMARY_COLUMNS = (
        "roc_auc", "pr_auc", "brier", "log_loss", "ece",
        "lift_10", "lift_20", "capture_10", "capture_20", "scheme",
    )  # fmt: skip

    def summary(self) -> pd.DataFrame:
        """The headline metrics of each model (ranking, probabilities, lift, scheme)."""
        return self.table[[c for c in self.SUMMARY_COLUMNS if c in self.table]]

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Model comparison</b>: champion <b>{self.champion}</b> by pooled "
            f"{self.metric} on the {self.table['scheme'].iloc[0]} backtest.</p>"
        )
        return head + self.summary().to_html(float_format="{:.3f}".format)

    def __repr__(self) -> str:
        return f"ModelComparison(champion={self.champion!r}, metric={self.metric!r})\n" + repr(
            self.summary()
        )


def compare_models(
    table: pd.DataFrame,
    *,
    kinds: Sequence[str] = ("logistic", "lightgbm"),
    metric: str = "pr_auc",
    params: dict[str, dict] | None = None,
    candidates: Sequence[Candidate] | None = None,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    final: dict | None = None,
    **backtest_kwargs,
) -> ModelComparison:
    """Backtest several models on the same folds and pick the champion.

    The models share each fold's leak checks (:func:`~churnlab.modeling.leakage.shared_leak_checks`):
    a feature's single-feature AUC on the same rows is computed once.

    Parameters
    ----------
    table : pandas.DataFrame
        Labelled observation table.
    kinds : sequence of str
        Model kinds to compare, each on the same features (``numeric``, ``categorical``,
        default ``feature_columns(table)``); ignored when ``candidates`` are given.
    metric : str
        Pooled metric that chooses the champion (``roc_auc``, ``pr_auc``: higher is
        better; ``brier``, ``log_loss``, ``ece``: lower is better).
    params : dict, optional
        Per-kind parameters, e.g. ``{"lightgbm": {...}, "logistic": {"C": 1.0}}``.
    candidates : sequence of Candidate, optional
        Named models, each with its own kind and features.
    numeric, categorical : list of str, optional
        The features of ``kinds``.
    final : dict, optional
        Arguments of :func:`~churnlab.modeling.fitting.fit_churn_model` (``seed``,
        ``calibration``, ``lead_days``...; not the kind, features or params): every
        candidate is also fitted with them on the whole table, in the same pool of
        ``workers`` as the backtest (``ModelComparison.finals``). The champion's is then
        ready when the comparison ends; the others cost little beside LightGBM.
    **backtest_kwargs
        Passed to ``rolling_origin_backtest`` (``n_folds``, ``seed``, ``workers``...).

    Returns
    -------
    ModelComparison
    """
    params = params or {}
    if candidates is None:
        if numeric is None or categorical is None:
            auto_num, auto_cat = feature_columns(table)
            numeric = auto_num if numeric is None else numeric
            categorical = auto_cat if categorical is None else categorical
        candidates = [
            Candidate(kind, kind, tuple(numeric), tuple(categorical), params.get(kind))
            for kind in kinds
        ]
    rows, results = [], {}
    finals = [] if final is None else [{"kwargs": final_fit_kwargs(c, final)} for c in candidates]
    with shared_leak_checks():
        backtests = _backtest_all(table, candidates, finals=finals, **backtest_kwargs)
    ref = weakref.ref(table)
    fitted = {
        c.name: FinalFit(f["kwargs"], ref, f.get("model"), f.get("error"))
        for c, f in zip(candidates, finals, strict=False)  # none without ``final``
    }
    for cand, res in zip(candidates, backtests, strict=True):
        results[cand.name] = res
        folds = res.folds[metric]
        rows.append(
            {
                "model": cand.name,
                **res.pooled,
                f"{metric}_fold_mean": float(folds.mean()),
                f"{metric}_fold_std": float(folds.std(ddof=0)),
                "scheme": res.scheme,
            }
        )
    out = pd.DataFrame(rows).set_index("model")
    champion = choose_champion(out, metric)
    out["champion"] = out.index == champion
    return ModelComparison(
        table=out,
        champion=champion,
        metric=metric,
        backtests=results,
        candidates={c.name: dataclasses.replace(c, final=fitted.get(c.name)) for c in candidates},
        finals=fitted,
    )


def final_fit_kwargs(candidate: Candidate, final: dict) -> dict:
    """The arguments of :func:`~churnlab.modeling.fitting.fit_churn_model` that fit
    ``candidate`` on a whole table with ``final``'s settings."""
    return {
        **final,
        "kind": candidate.kind,
        "numeric": list(candidate.numeric),
        "categorical": list(candidate.categorical),
        "params": candidate.params,
    }


def _backtest_all(
    table: pd.DataFrame,
    candidates: Sequence[Candidate],
    *,
    n_folds: int = 3,
    test_months: int = 1,
    lead_days: int = 0,
    horizon_days: int = 90,
    seed: int = 42,
    calibration: str | None = "isotonic",
    calibration_fraction: float = 0.2,
    allow_leaky: Iterable[str] = (),
    leak_threshold: float = LEAK_AUC,
    scheme: str = "auto",
    workers: int = 1,
    finals: Sequence[dict] = (),
) -> list[BacktestResult]:
    """:func:`rolling_origin_backtest` of every candidate on the same folds, fitted together
    (with the whole-table fits of ``finals``, see :func:`run_folds`)."""
    table = table.reset_index(drop=True)
    plan = plan_folds(table, n_folds, test_months, lead_days, horizon_days, seed, scheme)
    fits = [
        {
            "kind": cand.kind,
            "numeric": list(cand.numeric),
            "categorical": list(cand.categorical),
            "params": cand.params,
            "seed": seed,
            "calibration": calibration,
            "calibration_fraction": calibration_fraction,
            "lead_days": lead_days,
            "horizon_days": horizon_days,
            "allow_leaky": allow_leaky,
        }
        for cand in candidates
    ]
    outcomes = run_folds(table, plan, fits, leak_threshold, workers, finals)
    return [assemble(plan, c.kind, o) for c, o in zip(candidates, outcomes, strict=True)]


def choose_champion(comparison: pd.DataFrame, metric: str) -> str:
    """Name of the model (index) with the best pooled ``metric``; first wins ties."""
    if metric not in comparison.columns:
        raise ModelError(
            f"unknown champion metric {metric!r}; use one of roc_auc, pr_auc, brier, log_loss"
        )
    values = comparison[metric]
    best = values.idxmin() if metric in LOWER_IS_BETTER else values.idxmax()
    return str(best)
