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

import pandas as pd

from churnlab.errors import ModelError
from churnlab.modeling.folds import (
    BacktestResult,
    assemble,
    plan_folds,
    run_folds,
)
from churnlab.modeling.leakage import LEAK_AUC, shared_leak_checks
from churnlab.modeling.metrics import LOWER_IS_BETTER
from churnlab.observations.schema import feature_columns


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
    candidate = Candidate(model_kind, model_kind, tuple(numeric), tuple(categorical), params)
    return _backtest_all(
        table,
        [candidate],
        n_folds=n_folds,
        test_months=test_months,
        lead_days=lead_days,
        horizon_days=horizon_days,
        seed=seed,
        calibration=calibration,
        calibration_fraction=calibration_fraction,
        allow_leaky=allow_leaky,
        leak_threshold=leak_threshold,
        scheme=scheme,
        workers=workers,
    )[0]


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
    if not table.index.equals(pd.RangeIndex(len(table))):  # a copy only when needed
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
