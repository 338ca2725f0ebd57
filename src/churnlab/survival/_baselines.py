"""The baselines the hazard model is checked against: Cox PH and Weibull AFT (lifelines).

Both are fitted on the same training landmarks (one row each: ``duration``, ``event``)
with static covariates: the hazard model's strongest landmark features (numbers imputed
with the training median and standardised; text columns one-hot on their common levels)
and the days to the next renewal when the data has renewal dates. They cannot see the
month a renewal falls in, which the hazard model's person-period rows can.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Baseline", "Design", "fit_baselines"]

#: Share of rows a text level needs to get its own column.
MIN_LEVEL_SHARE = 0.02
#: Ridge penalty of both fitters (keeps them stable with correlated columns).
PENALIZER = 0.1


@dataclass(frozen=True)
class Design:
    """How a landmark table becomes the baselines' covariate matrix (learned on training)."""

    numeric: tuple[str, ...]
    medians: tuple[float, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    levels: tuple[tuple[str, str], ...]

    @classmethod
    def learn(cls, table: pd.DataFrame, numeric: list[str], categorical: list[str]) -> Design:
        """Medians, means, scales and common levels of the training landmarks."""
        keep, med, mean, scale = [], [], [], []
        for col in numeric:
            x = pd.to_numeric(table[col], errors="coerce").astype(float)
            if x.notna().sum() == 0:
                continue
            m = float(x.median())
            filled = x.fillna(m)
            sd = float(filled.std())
            if not sd > 0:
                continue
            keep.append(col)
            med.append(m)
            mean.append(float(filled.mean()))
            scale.append(sd)
        levels = []
        for col in categorical:
            shares = table[col].astype(str).value_counts(normalize=True)
            common = [str(v) for v, s in shares.items() if s >= MIN_LEVEL_SHARE][:10]
            levels += [(col, v) for v in common[1:]]  # the first level is the reference
        return cls(tuple(keep), tuple(med), tuple(mean), tuple(scale), tuple(levels))

    def matrix(self, table: pd.DataFrame) -> pd.DataFrame:
        """The covariates of ``table`` (a new frame, one column per number and level)."""
        out = {}
        for col, med, mean, sd in zip(
            self.numeric, self.medians, self.means, self.scales, strict=True
        ):
            x = pd.to_numeric(table[col], errors="coerce").astype(float).fillna(med)
            out[f"x{len(out)}"] = ((x - mean) / sd).to_numpy()
        for col, level in self.levels:
            out[f"x{len(out)}"] = (table[col].astype(str) == level).to_numpy(dtype=float)
        return pd.DataFrame(out, index=range(len(table)))


@dataclass
class Baseline:
    """A fitted lifelines model and the design that feeds it."""

    name: str
    fitter: Any
    design: Design

    def survival(self, landmarks: pd.DataFrame, months: int) -> np.ndarray:
        """``S(k)`` for k = 1..months per landmark, shape ``(n, months)``."""
        x = self.design.matrix(landmarks)
        times = np.arange(1, months + 1, dtype=float)
        curves = self.fitter.predict_survival_function(x, times=times)
        return np.clip(curves.to_numpy(dtype=float).T, 0.0, 1.0)


def _frame(landmarks: pd.DataFrame, design: Design) -> pd.DataFrame:
    x = design.matrix(landmarks)
    x["duration"] = landmarks["duration"].to_numpy(dtype=float)
    x["event"] = landmarks["event"].to_numpy(dtype=int)
    return x


#: Most landmarks the baselines are fitted on (a seeded sample beyond).
MAX_LANDMARKS = 1500


def fit_baselines(
    landmarks: pd.DataFrame, numeric: list[str], categorical: list[str], seed: int = 42
) -> tuple[dict[str, Baseline], dict[str, str]]:
    """Fit Cox PH and Weibull AFT on the training landmarks (at most ``MAX_LANDMARKS``).

    Returns
    -------
    (models, failed)
        The fitted baselines by name (``cox``, ``weibull_aft``) and, for one that could not
        be fitted (no convergence), the reason in words.
    """
    from lifelines import CoxPHFitter, WeibullAFTFitter

    extra = (
        ["days_to_renewal"]
        if "days_to_renewal" in landmarks and landmarks["days_to_renewal"].notna().any()
        else []
    )
    if len(landmarks) > MAX_LANDMARKS:
        landmarks = landmarks.sample(n=MAX_LANDMARKS, random_state=seed)
    design = Design.learn(landmarks, [*numeric, *extra], categorical)
    frame = _frame(landmarks, design)
    models: dict[str, Baseline] = {}
    failed: dict[str, str] = {}
    fitters = {
        "cox": lambda: CoxPHFitter(penalizer=PENALIZER),
        "weibull_aft": lambda: WeibullAFTFitter(penalizer=PENALIZER),
    }
    for name, make in fitters.items():
        fitter = make()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitter.fit(frame, duration_col="duration", event_col="event")
        except Exception as exc:  # lifelines raises ConvergenceError and numpy errors
            failed[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            continue
        models[name] = Baseline(name, fitter, design)
    return models, failed
