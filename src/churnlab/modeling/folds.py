"""The folds of a backtest and the fits on them (:func:`plan_folds`, :func:`run_folds`).

:mod:`churnlab.modeling.backtest` cuts the folds here, fits every model on every fold (on
threads with ``workers`` > 1, the same numbers either way) and assembles each model's
:class:`BacktestResult`; its module docstring says how the folds are cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from churnlab.errors import ModelError
from churnlab.messages import Message, literal, message
from churnlab.modeling.fitting import fit_churn_model, label_closed_before
from churnlab.modeling.leakage import LEAK_AUC, leak_check
from churnlab.modeling.metrics import evaluate
from churnlab.modeling.train import account_folds, is_snapshot

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
