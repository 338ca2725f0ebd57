"""Presenting measured runs: the long table (``track_record.csv``) and a sentence."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import pandas as pd

from churnlab.messages import message, render_message
from churnlab.modeling.track_record._outcomes import _COUNT_FIELDS, _STAT_FIELDS, TrackRecord
from churnlab.vocabulary import vocabulary

_DATE_COLUMNS = ("as_of", "window_start", "window_end", "data_end")

#: Columns of :func:`track_record_table` (``track_record.csv``), in order.
TABLE_COLUMNS = ["run_id", *_DATE_COLUMNS, "section", "group", *_STAT_FIELDS]


def track_record_table(records: Sequence[TrackRecord]) -> pd.DataFrame:
    """All measured runs as one tidy long table (``track_record.csv``).

    Parameters
    ----------
    records : sequence of TrackRecord
        Output of :func:`measure_run`, one per earlier run; rows keep this order.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TABLE_COLUMNS`: the run (``run_id``, ``as_of``, its label
        window ``(window_start, window_end]`` and the ``data_end`` it was measured
        with), ``section``, ``group`` and the :class:`GroupStats` fields (defined in
        the :mod:`churnlab.modeling.track_record` docstring). Per run the rows
        ``section="all"``, ``"flagged"``, ``"rest"`` (``group`` ``""``), then one
        ``section="decile"`` row per non-empty decile (``group`` ``"1"`` = highest
        risk ... ``"10"``).
    """
    frames = []
    for rec in records:
        head = pd.DataFrame([asdict(rec.overall), asdict(rec.flagged), asdict(rec.rest)])
        head = head.assign(section=["all", "flagged", "rest"], group="")
        dec = rec.deciles.assign(section="decile", group=rec.deciles["decile"].astype(str))
        part = pd.concat([head, dec.drop(columns="decile")], ignore_index=True)
        part = part.assign(run_id=rec.run_id, **{c: getattr(rec, c) for c in _DATE_COLUMNS})
        frames.append(part[TABLE_COLUMNS])
    dtypes = dict.fromkeys(_DATE_COLUMNS, "datetime64[ns]") | dict.fromkeys(_COUNT_FIELDS, "int64")
    if frames:
        return pd.concat(frames, ignore_index=True).astype(dtypes)
    text = dict.fromkeys(("run_id", "section", "group"), "object")
    empty = dict.fromkeys(TABLE_COLUMNS, "float64") | text | dtypes
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in empty.items()})


def sentence_message(record: TrackRecord) -> dict[str, Any]:
    """How the earlier run's flagged accounts fared, as a message of the catalogues.

    ``messages.track_record.*`` (see :mod:`churnlab.messages`); its ``text`` is the
    English sentence with churnlab's formats (``23.0%``, ``Jul 31, 2026``).
    """
    flagged, rest = record.flagged, record.rest
    as_of = pd.Timestamp(record.as_of).date().isoformat()
    if flagged.n_accounts == 0:
        return message(
            "messages.track_record.none_flagged",
            as_of=as_of,
            rest_rate=rest.churn_rate,
            rest=rest.n_accounts,
        )
    extra: dict[str, Any] | str = ""
    in_lead = flagged.n_churned_in_lead
    other = flagged.n_unknown - flagged.n_churned_in_lead
    if in_lead and other:
        extra = message(
            "messages.track_record.in_lead_and_unknown",
            n=in_lead,
            lead_days=record.lead_days,
            unknown=other,
        )
    elif in_lead:
        extra = message("messages.track_record.in_lead", n=in_lead, lead_days=record.lead_days)
    elif other:
        extra = message("messages.track_record.unknown", n=other)
    key = "flagged_one" if flagged.n_accounts == 1 else "flagged"
    return message(
        f"messages.track_record.{key}",
        flagged=flagged.n_accounts,
        as_of=as_of,
        churned=flagged.n_churned,
        rate=flagged.churn_rate,
        rest_rate=rest.churn_rate,
        extra=extra,
    )


def sentence(
    record: TrackRecord,
    *,
    number: Callable[[int], str] = "{:,}".format,
    percent: Callable[[float], str] = "{:.0%}".format,
    date: Callable[[pd.Timestamp], str] = "{:%Y-%m-%d}".format,
    missing: str = "n/a",
) -> str:
    """One English sentence on how the earlier run's flagged accounts fared.

    The sentence of :func:`sentence_message`, in the formats given here.

    Parameters
    ----------
    record : TrackRecord
        Output of :func:`measure_run`.
    number : callable, default ``f"{n:,}"``
        Formats a count.
    percent : callable, default ``f"{x:.0%}"``
        Formats a rate given as a fraction (0.23 -> "23%"); never called with NaN.
    date : callable, default ISO ``YYYY-MM-DD``
        Formats the run's ``as_of``.
    missing : str
        Shown instead of a rate that is undefined (no labelled account).

    Returns
    -------
    str
        E.g. ``"Of the 61 accounts flagged on 2026-07-31, 14 churned (23%, vs 4% of
        the rest)."``. The rates are ``churn_rate`` (unknown accounts left out);
        when flagged accounts churned during the lead time or could not be
        measured, a clause says how many, e.g. ``"; a further 3 churned during the
        30-day lead time and 1 could not be measured (not in the rates)."``.
    """

    def pct(x: float | None) -> str:
        return missing if x is None or math.isnan(x) else percent(x)

    formats: dict[str, Callable[[Any], str]] = {
        "number": number,
        "rate": pct,
        "date": lambda day: date(pd.Timestamp(day)),
    }
    return render_message(sentence_message(record), vocabulary("en"), formats)
