"""The model's sentences in the run files, as messages of the catalogues.

Stage 02 writes the model's summary, notes, warning and (without a model) the reason into
``model_metrics.json``; stage 05 writes the drift warning and the champion change into
``monitoring.json``. Each is made here as a :func:`churnlab.messages.message`
(``messages.model.*``, ``messages.monitoring.*``): the stage stores its English ``text``
under the key it always had and the message beside it, and the report says it in its
language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from churnlab.messages import Message, literal, message

__all__ = [
    "backtest_skipped",
    "champion_change",
    "drift_warning",
    "learning_curve",
    "left_out_notes",
    "reference_note",
    "scheme_description",
    "skipped_note",
    "skipped_summary",
    "summary",
    "untrainable_reason",
    "warning",
]

#: Backtest schemes with a sentence of their own (others: stratified cross-validation).
_SCHEMES = ("rolling_origin", "account_kfold")


def _scheme(scheme: str) -> Message:
    name = scheme if scheme in _SCHEMES else "stratified"
    return message(f"messages.model.scheme.{name}")


def summary(model: str, auc: float, lift: float, ece: float, scheme: str) -> Message:
    """What the champion's backtest shows: ranking (AUC), lift of the top 10%, calibration."""
    return message(
        "messages.model.summary",
        model=model,
        auc=auc,
        lift=lift,
        ece_points=100 * ece,
        scheme=_scheme(scheme),
    )


def scheme_description(scheme: str) -> Message:
    """How the metrics were measured ("Metrics pooled over the folds of a ...")."""
    return message("messages.model.scheme_description", scheme=_scheme(scheme))


def warning(auc: float, floor: float) -> Message:
    """The warning of a champion that ranks churners no better than chance."""
    return message("messages.model.warning", auc=auc, floor=floor)


def reference_note(
    metric: str, reference: float, other_model: str, other: float, *, reference_wins: bool
) -> Message:
    """How the best model compares with the plain reference on the champion metric."""
    key = "reference_wins" if reference_wins else "reference_beaten"
    return message(
        f"messages.model.{key}",
        metric=metric,
        reference=reference,
        other_model=other_model,
        other=other,
    )


def left_out_notes(left_out: Mapping[str, Message | str]) -> list[Message]:
    """What was left out of the models: empty and constant columns by name, the rest with why.

    ``left_out`` maps a column to the reason, a message
    (:func:`churnlab.observations.usable_features_said`) or its words
    (:func:`churnlab.observations.usable_features`); empty and constant columns are said
    by name only.
    """
    reasons = {col: _message(why) for col, why in left_out.items()}
    out = []
    for kind in ("empty", "constant"):
        names = [c for c, why in reasons.items() if _kind(why) == kind]
        if names:
            out.append(message(f"messages.model.left_out_{kind}", columns=names))
    others = [
        message("messages.model.left_out_item", column=col, why=why)
        for col, why in reasons.items()
        if _kind(why) not in ("empty", "constant")
    ]
    if others:
        out.append(message("messages.model.left_out_other", listing=others))
    return out


def backtest_skipped(model: str, why: Message | str) -> Message:
    """A backtest fold that could not be run (``why``: the backtest's message, or words)."""
    return message("messages.model.backtest_skipped", model=model, why=_message(why))


def untrainable_reason(n_rows: int, churned: int, retained: int, minimum: int) -> Message | None:
    """Why no model can learn from the labelled observations (None when one can)."""
    if n_rows == 0:
        return message("messages.model.no_rows")
    if churned == 0:
        return message("messages.model.none_churned")
    if retained == 0:
        return message("messages.model.all_churned")
    if min(churned, retained) < minimum:
        key = "too_few_churned" if churned < retained else "too_few_retained"
        return message(f"messages.model.{key}", n=min(churned, retained), needed=minimum)
    return None


def skipped_summary(reason: Message | str) -> Message:
    """The summary of a run without a model."""
    return message("messages.model.skipped_summary", reason=_message(reason))


def skipped_note(reason: Message | str) -> Message:
    """The note of a run without a model."""
    return message("messages.model.skipped_note", reason=_message(reason))


def learning_curve(training: Mapping[str, Any]) -> Message | None:
    """LightGBM's early stopping in numbers, and what to change when it did not work.

    ``training``: ``ChurnModel.training`` (:func:`churnlab.modeling.train.learning_curve`
    recorded it). None for a model without boosting rounds (the logistic baseline) or a
    model saved before the curve was recorded.
    """
    if training.get("valid_loss_first") is None or training.get("stopping") is None:
        return None
    key = {"never": "stopping_never", "at_once": "stopping_at_once"}.get(
        str(training["stopping"]), "stopping_ok"
    )
    return message(
        f"messages.model.{key}",
        best=training.get("best_iteration"),
        rounds=training.get("n_estimators"),
        patience=training.get("early_stopping_rounds"),
        first=training.get("valid_loss_first"),
        best_loss=training.get("valid_loss_best"),
        last=training.get("valid_loss_last"),
        more=2 * int(training.get("n_estimators") or 0),
    )


def drift_warning(limit: float, features: list[str]) -> Message:
    """The accounts scored differ from the training rows (PSI at or over ``limit``)."""
    return message("messages.monitoring.drift_warning", limit=limit, features=features)


def champion_change(before: str, now: str) -> Message:
    """The champion model differs from the previous run's."""
    return message("messages.monitoring.champion_change", before=before, now=now)


def _message(reason: Message | str) -> Message:
    return literal(reason) if isinstance(reason, str) else reason


def _kind(reason: Message) -> str:
    """``empty``, ``constant`` or another kind of reason a column was left out."""
    key = str(reason.get("key") or "")
    if key.startswith("messages.model.why_"):
        return key.removeprefix("messages.model.why_")
    text = str(reason.get("text", ""))
    return next((k for k in ("empty", "constant") if text.startswith(k)), "other")
