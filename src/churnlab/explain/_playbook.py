"""The customer-success playbook: reason families, their features, and the CSM's next step.

``params.yaml`` ``playbook`` names each family with shell-style feature patterns
(``logins_*``) and a next step (null: the catalogue's ``playbook.<family>``). The
resolution of families to the model's features is defined once, here
(:func:`playbook_features`), for the reasons' next step and for later what-if levers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

import numpy as np
import pandas as pd

from churnlab.vocabulary import Vocabulary

__all__ = ["feature_families", "next_step_texts", "next_steps", "playbook_features"]


def _patterns(play: Any) -> list[str]:
    """The feature patterns of a family given as a ``Play``, a mapping or a list."""
    if isinstance(play, Mapping):
        return list(play.get("features") or [])
    if isinstance(play, str):
        return [play]
    if hasattr(play, "features"):
        return list(play.features)
    return list(play)


def playbook_features(playbook: Mapping[str, Any], features: Iterable[str]) -> dict[str, list[str]]:
    """The features of each reason family: ``{family: [feature, ...]}``.

    Parameters
    ----------
    playbook : mapping
        Family -> its ``features`` patterns (a ``Play`` of params.yaml, a mapping with
        ``features``, or a list of patterns); matched with :func:`fnmatch.fnmatchcase`.
    features : iterable of str
        The features to sort into families (e.g. the model's).

    Returns
    -------
    dict
        Every family of ``playbook`` in its order, with its features in the order given.
        A feature matched by several families belongs to the first; a feature in none is
        in no family.
    """
    families = {family: _patterns(play) for family, play in playbook.items()}
    out: dict[str, list[str]] = {family: [] for family in families}
    for feature in features:
        for family, patterns in families.items():
            if any(fnmatchcase(feature, p) for p in patterns):
                out[family].append(feature)
                break
    return out


def feature_families(playbook: Mapping[str, Any], features: Iterable[str]) -> dict[str, str]:
    """Feature -> its family (the features of no family are absent)."""
    return {
        f: family for family, found in playbook_features(playbook, features).items() for f in found
    }


def next_step_texts(playbook: Mapping[str, Any], words: Vocabulary) -> dict[str, str]:
    """The next step of every family: params' ``next_step``, else the catalogue's words."""
    out = {}
    for family, play in playbook.items():
        own = (
            play.get("next_step") if isinstance(play, Mapping) else getattr(play, "next_step", None)
        )
        if own:
            out[family] = str(own)
            continue
        try:
            out[family] = words.text(f"playbook.{family}")
        except KeyError:
            out[family] = words.text("playbook.other", family=family.replace("_", " "))
    return out


def next_steps(
    reasons: pd.DataFrame,
    playbook: Mapping[str, Any],
    words: Vocabulary,
    *,
    features: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The next step of every account with a risk-raising reason that has a family.

    Parameters
    ----------
    reasons : pandas.DataFrame
        Output of ``top_reasons`` (``direction``, ``rank``, ``feature``).
    playbook : mapping
        params.yaml ``playbook``.
    words : Vocabulary
        The language of the steps taken from the catalogue.
    features : sequence of str, optional
        The features to resolve (default: those of ``reasons``).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``reasons`` (one row per account that has a step): ``family`` and
        ``next_step``, from its strongest risk-raising reason whose feature is in a family.
    """
    raising = reasons[reasons["direction"] == "raises_risk"].sort_values("rank", kind="stable")
    names = features if features is not None else pd.unique(reasons["feature"])
    family = raising["feature"].map(feature_families(playbook, names))
    found = raising.assign(family=family).dropna(subset=["family"])
    found = found[~found.index.duplicated(keep="first")]
    steps = next_step_texts(playbook, words)
    return pd.DataFrame(
        {
            "family": found["family"].to_numpy(dtype=object),
            "next_step": np.asarray([steps[f] for f in found["family"]], dtype=object),
        },
        index=found.index,
    )
