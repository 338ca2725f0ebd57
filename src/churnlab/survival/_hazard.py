"""The discrete-time hazard model: a calibrated classifier on person-period rows.

The monthly hazard ``h(k)`` of a landmark is the probability that the account churns in
month ``k`` given that it was still a customer at the start of it. The classifier is
churnlab's own (:func:`churnlab.modeling.fit_churn_model`: LightGBM or the logistic
baseline, calibrated on a held-out slice of accounts), fitted on the rows of
:func:`~churnlab.survival._landmarks.person_period` with the period features beside the
landmark's. Survival follows as ``S(k) = prod_{j <= k} (1 - h(j))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnlab.survival._landmarks import PERIOD_FEATURES, person_period

__all__ = ["HazardModel", "fit_hazard"]

#: Most person-period rows scored at once (:meth:`HazardModel.hazards`).
PREDICT_ROWS = 200_000


@dataclass
class HazardModel:
    """A fitted discrete-time hazard model.

    Attributes
    ----------
    kind : {"lightgbm", "logistic"}
    model : ChurnModel
        The calibrated classifier of the person-period rows.
    renewals : bool
        Whether the rows carry ``renewal_month`` (event-log data with renewal dates).
    training : dict
        Rows, landmarks and churns it was fitted on.
    """

    kind: str
    model: Any
    renewals: bool
    training: dict[str, Any] = field(default_factory=dict)

    def hazards(self, landmarks: pd.DataFrame, months: int) -> np.ndarray:
        """Monthly hazards, shape ``(len(landmarks), months)``, month 1 first.

        The person-period rows are built and scored a block of landmarks at a time (at
        most :data:`PREDICT_ROWS` rows): every row's hazard is its own, so the blocks only
        bound the memory (100k accounts x 12 months would repeat the whole table 12 times).
        """
        n = len(landmarks)
        if not n or months < 1:
            return np.zeros((n, max(months, 0)))
        out = np.empty((n, months))
        step = max(PREDICT_ROWS // months, 1)
        for start in range(0, n, step):
            block = landmarks.iloc[start : start + step]
            rows = person_period(block, months, renewals=self.renewals)
            h = np.asarray(self.model.predict_proba(rows), dtype=float)
            out[start : start + len(block)] = h.reshape(len(block), months)
        return np.clip(out, 0.0, 1.0)

    def survival(self, landmarks: pd.DataFrame, months: int) -> np.ndarray:
        """``S(k)`` for k = 1..months per landmark (see :func:`survival_from_hazards`)."""
        from churnlab.survival._curves import survival_from_hazards

        return survival_from_hazards(self.hazards(landmarks, months))

    def importance(self) -> pd.Series:
        """The classifier's features by their total gain (LightGBM) or |coefficient|."""
        model = self.model
        booster = getattr(model, "booster_", None)
        if booster is not None:
            gain = booster.feature_importance(importance_type="gain")
            return pd.Series(gain, index=booster.feature_name()).sort_values(ascending=False)
        step = model.pipeline_.named_steps
        names = step["preprocess"].get_feature_names_out()
        coef = np.abs(step["model"].coef_[0])
        out: dict[str, float] = {}
        for name, value in zip(names, coef, strict=True):
            base = name.split("__", 1)[-1]
            for feature in model.features:
                if base == feature or base.startswith(f"{feature}_"):
                    out[feature] = max(out.get(feature, 0.0), float(value))
                    break
        return pd.Series(out).sort_values(ascending=False)


#: Share of accounts whose rows calibrate the hazards (never trained on).
CALIBRATION_SHARE = 0.2


def _held_out_accounts(account_id: pd.Series, seed: int) -> np.ndarray:
    """A seeded fifth of the accounts (every row of an account on one side)."""
    ids = account_id.astype(str)
    unique = np.sort(ids.unique())
    rng = np.random.default_rng(seed)
    held = set(unique[rng.random(len(unique)) < CALIBRATION_SHARE])
    return ids.isin(held).to_numpy()


def fit_hazard(
    landmarks: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    kind: str,
    params: dict[str, Any],
    seed: int,
    horizon: int | None,
    calibration: str = "isotonic",
) -> HazardModel:
    """Fit a calibrated hazard classifier on the landmarks' person-period rows.

    Parameters
    ----------
    landmarks : pandas.DataFrame
        With ``duration``, ``event``, ``offset`` and the features.
    numeric, categorical : list of str
        The landmark features (the period features are added).
    kind : {"lightgbm", "logistic"}
    params : dict
        The classifier's settings (``model.lightgbm`` / ``model.logistic``).
    seed : int
    horizon : int, optional
        Rows stop after this many months (event-log data); None = the whole follow-up.
    calibration : {"isotonic", "platt"}
        Calibrated on the rows of a held-out fifth of the accounts (trained on the rest).

    Raises
    ------
    ModelError
        When the rows cannot train a classifier (a single class).
    """
    from churnlab.errors import ModelError
    from churnlab.modeling.calibration import calibrate
    from churnlab.modeling.fitting import fit_model_kind

    renewals = "days_to_renewal" in landmarks and landmarks["days_to_renewal"].notna().any()
    rows = person_period(landmarks, horizon=horizon, renewals=renewals)
    period = [c for c in PERIOD_FEATURES if c in rows]
    held = _held_out_accounts(rows["account_id"], seed)
    if rows.loc[held, "label"].nunique() < 2 or rows.loc[~held, "label"].nunique() < 2:
        raise ModelError(
            "the person-period rows of the held-out accounts hold a single label value"
        )
    model = fit_model_kind(
        rows[~held],
        kind=kind,
        numeric=[*numeric, *period],
        categorical=list(categorical),
        params=params,
        seed=seed,
        allow_leaky=period,
    )
    model = calibrate(model, rows[held], calibration)
    training = {
        "rows": int(len(rows)),
        "landmarks": int(len(landmarks)),
        "churned": int(rows["label"].sum()),
        "landmark_dates": int(landmarks["as_of"].nunique()) if "as_of" in landmarks else 0,
    }
    return HazardModel(kind, model, bool(renewals), training)
