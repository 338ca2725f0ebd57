"""Event-log feature block of the observation table (Ibis expressions, run on DuckDB).

:func:`event_block` takes the spine keys ``S`` (``account_id``, ``as_of``,
``as_of`` at midnight) and the events table ``E`` (``account_id``,
``timestamp``, ``event_type``, ``value``, ``user_id``; timestamps cast to
``timestamp``) and returns one row per key. Only events with
``timestamp < as_of`` are used.

A window of ``w`` days is ``[as_of - w days, as_of)``; the window before it is
``[as_of - 2w days, as_of - w days)``. Day counts are calendar-day differences
(``DATE_DIFF('day', earlier, later)``), so an event at 15:00 on the day
before ``as_of`` is 1 day old. As ``as_of`` is midnight,
``timestamp < as_of - k days`` holds exactly when the event's calendar day is
before ``as_of - k``: every window is a range of whole days.

How it stays cheap (no join of events against observations):

* **markers**: the days ``as_of - o`` for every window boundary offset ``o``
  (``0``, each ``w``, ``2w`` for trends) of every observation; ``M`` = their
  distinct values over the whole spine (a few dozen for month-end spines).
* **ids**: accounts become integer ids (``aid``, their rank among the spine
  accounts, int32; the counts join them after grouping by ``account_id``,
  the logins before). A small table of the counted event types (plus login
  and the CSM touches) is joined to the events: what one event adds to each
  packed word, and whether it is a login or a touch.
* **buckets**: an event on day ``d`` counts for marker ``X`` exactly when
  ``d < X``; it is summed into the bucket of the smallest marker ``> d``
  (a hash join with a small calendar table). A hash aggregation turns the
  event log into per-``(account_id, bucket)`` counts and the last login / CSM
  touch day; the user sightings below are one more.
* **packed counts** (:class:`Packing`): the per-type counts and the presence
  deltas below share a few float64 *words*, ``bits`` bits per count, where
  ``2**bits`` exceeds any account's number of events. Each event type's row
  in the type table holds what one event adds to each word, so the
  aggregation is a few sums per ``(aid, bucket)`` (4 for 16 counted types at
  11 to 13 bits) rather than one filtered count per type, and the running-sum pass
  has one aggregate per word. DuckDB pays per aggregate, in time and in
  hash-table memory.
* **distinct users**: the buckets a user was seen in (one row per login; a
  repeat in one bucket neither starts nor ends a run); per window ``w`` only the start
  (``+1``) and the end (``-1`` at ``m + w``) of each run of sightings at most
  ``w`` days apart are emitted, so a running sum at marker ``X`` counts users
  seen in ``[X - w, X)`` exactly (``X`` and ``X - w`` are both markers).
* **adoption breadth** needs no distinct step: every ``feature_*`` type is
  counted, and a type is used in a window exactly when its count there is
  above 0.
* **stages**: the per-``(aid, bucket)`` counts, the user presence deltas,
  the sparse event types and the running values are materialised one after
  the other (``stage``, temporary tables of the backend) rather than run as
  one query: each gets the whole memory budget, and the event log is read by
  each step filtered at the scan instead of being materialised whole.
* a running sum (per word) / max per account over the buckets (one window
  pass over a table of at most accounts x markers rows) gives every
  cumulative value at every marker; one hash join per marker offset ``o``
  (on a single int64 key ``(aid, as_of - o)``) puts the values at
  ``as_of - o`` on the observation's row, and a window count is
  ``C(as_of) - C(as_of - w)``.
* the first ``onboarding_completed`` / ``first_value`` before ``as_of`` is
  the first one overall when that is before ``as_of`` (no running min).

Sparse features with no additive form use small direct steps: the median
ticket resolution time (a range join of ``ticket_resolved`` events only) and
the last NPS answer (an ASOF join of the NPS answers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from churnlab.observations.schema import count_name

LOGIN = "login"
FEATURE_PREFIX = "feature_"
TICKET_OPENED = "ticket_opened"
TICKET_RESOLVED = "ticket_resolved"
NPS = "nps_response"
ONBOARDING_COMPLETED = "onboarding_completed"
FIRST_VALUE = "first_value"
CSM_TOUCH_TYPES = ("csm_meeting", "qbr", "webinar")

_EPOCH = ibis.date(1970, 1, 1)
_KEYS = ["account_id", "as_of"]


def trend(last: ir.NumericValue, previous: ir.NumericValue) -> ir.FloatingValue:
    """Trend of a count: ``(last - previous) / (previous + 1)``.

    Defined for every pair of non-negative counts (0 when both are 0, ``last``
    when the previous window was empty, -1 < trend when usage drops).
    """
    return (last - previous).cast("float64") / (previous + 1).cast("float64")


def day_number(value: ir.TimestampValue) -> ir.IntegerValue:
    """Calendar day of a timestamp as days since 1970-01-01 (exact for any date)."""
    return value.date().delta(_EPOCH, unit="day")


def marker_offsets(windows: Sequence[int], trend_windows: Sequence[int]) -> list[int]:
    """Day offsets ``o`` of the window boundaries ``as_of - o`` every observation needs."""
    return sorted({0, *windows, *trend_windows, *(2 * w for w in trend_windows)})


def marker_calendar(as_of_days: np.ndarray, offsets: Sequence[int]) -> pd.DataFrame:
    """``key -> bucket`` (smallest marker ``>= key``) for every day between the markers.

    ``as_of_days`` are the distinct ``as_of`` day numbers of the spine. Keys
    before the first marker belong to the first marker (clamp them); keys after
    the last marker belong to no bucket.
    """
    days = np.asarray(as_of_days, dtype="int64")
    markers = np.unique((days[:, None] - np.asarray(offsets, dtype="int64")[None, :]).ravel())
    keys = np.arange(markers[0], markers[-1] + 1, dtype="int64")
    buckets = markers[np.searchsorted(markers, keys)]
    return pd.DataFrame({"key": keys.astype("int32"), "bucket": buckets.astype("int32")})


def _bucketed(table: ir.Table, key: ir.IntegerValue, calendar: ir.Table, first: int) -> ir.Table:
    """``table`` plus column ``b``: the bucket of ``key`` (rows after the last marker dropped)."""
    t = table.mutate(_key=ibis.greatest(key, ibis.literal(first, "int32")).cast("int32"))
    joined = t.join(calendar, t._key == calendar.key)
    return joined.select(*[t[c] for c in table.columns if c != "b"], b=calendar.bucket)


def _login_rows(logins: ir.Table, ids: ir.Table, calendar: ir.Table, first: int) -> ir.Table:
    """``(aid, user_id, b)`` per login of a spine account (``b``: its bucket)."""
    joined = logins.join(ids, "account_id")
    rows = joined.select(
        aid=joined.aid.cast("int32"),
        user_id=joined.user_id,
        dn=day_number(joined.timestamp).cast("int32"),
    )
    return _bucketed(rows, rows.dn + 1, calendar, first).select("aid", "user_id", "b")


def _user_presence(
    logins: ir.Table, windows: Sequence[int], pack: Packing, calendar: ir.Table, first: int
) -> ir.Table:
    """Per ``(aid, b)``: packed net changes of the number of active users.

    ``logins`` holds one ``(aid, user_id, b)`` row per login with a user. The
    result has the words of ``pack`` that hold the fields ``au<w>`` (one per
    window ``w``).

    Seen in bucket ``m``, a user counts for the markers ``X`` with
    ``m <= X < m + w``; consecutive sightings closer than ``w`` overlap, so
    only the start of a run (``+1`` at ``m`` when the previous sighting is at
    or before ``m - w``, or there is none) and its end (``-1`` at ``m + w``
    when the next sighting is after ``m + w``, or there is none) are emitted.
    A running sum of ``au<w>`` at marker ``X`` is the number of users seen in
    ``[X - w, X)`` (``X`` and ``X - w`` are both markers). Repeats in one
    bucket need no ``DISTINCT`` (a hash aggregation of every login, dearer
    than the window's own sort): the logins of one bucket are neighbours in
    the window's order, so a repeat has ``prev == m`` or ``nxt == m`` and
    neither starts nor ends a run.
    """
    order = {"group_by": ["aid", "user_id"], "order_by": "b"}
    seen = logins.mutate(prev=logins.b.lag().over(**order), nxt=logins.b.lead().over(**order))
    starts = {
        f"au{w}": (seen.prev.isnull() | (seen.prev + w < seen.b)).cast("int64") for w in windows
    }
    ends = {f"e{w}": (seen.nxt.isnull() | (seen.nxt > seen.b + w)).cast("int64") for w in windows}
    end_pack = Packing(list(ends), (1 << pack.bits) - 1, packed=pack.packed)
    # one pass over the logins: packed run starts and packed run ends
    per = seen.group_by(["aid", "b"]).aggregate(
        **{word: term.sum() for word, term in pack.pack(starts).items()},
        **{f"end_{word}": term.sum() for word, term in end_pack.pack(ends).items()},
    )
    words = list(dict.fromkeys(pack.word_of[f"au{w}"] for w in windows))
    # the ends of the runs seen in bucket m land in the bucket of m + w
    parts = []
    for w in windows:
        n = end_pack.unpack(per[f"end_{end_pack.word_of[f'e{w}']}"].cast("int64"), f"e{w}")
        delta = pack.pack({f"au{w}": -n})
        parts.append(
            per.filter(n > 0).select(
                "aid", k=per.b + w, **{c: delta.get(c, ibis.literal(0.0)) for c in words}
            )
        )
    moved = ibis.union(*parts, distinct=False)
    moved = _bucketed(moved, moved.k, calendar, first)
    moved = moved.group_by(["aid", "b"]).aggregate(**{c: moved[c].sum() for c in words})
    return ibis.union(per.select("aid", "b", *words), moved, distinct=False)


def _pad(table: ir.Table, schema: dict[str, str]) -> ir.Table:
    """All ``schema`` columns (typed nulls for the missing ones), in that order."""
    return table.select(
        *[
            (table[c].cast(t) if c in table.columns else ibis.null(t)).name(c)
            for c, t in schema.items()
        ]
    )


def event_block(
    keys: ir.Table,
    events: ir.Table,
    *,
    windows: Sequence[int],
    trend_windows: Sequence[int],
    event_types: Sequence[str],
    as_of_days: np.ndarray,
    max_events_per_account: int,
    all_event_types: Sequence[str],
    stage: Callable[[ir.Table], ir.Table] | None = None,
    execute: Callable[[ir.Scalar], object] | None = None,
    release: Callable[[ir.Table], None] | None = None,
    last_before: Callable[[ir.Table, ir.Table, str], ir.Table] | None = None,
    packed: bool = True,
    reuse: Callable[[ir.Table], ir.Table] | None = None,
) -> ir.Table:
    """Every event feature per ``(account_id, as_of)``.

    Columns: ``<count_name>_<w>d`` per event type and window,
    ``_prev_<stem>_<w>d`` / ``_last_<stem>_<w>d`` trend helpers,
    ``active_users_<w>d`` (distinct non-null ``user_id`` of ``login``
    events), ``adoption_breadth_<w>d`` (distinct ``feature_*`` types),
    ``median_resolution_days_<W>d`` (median ``value`` of ``ticket_resolved``
    events, ``W`` = the largest window), ``days_since_last_login``,
    ``tickets_opened_total``, ``tickets_resolved_total``, ``onboarded_day``,
    ``first_value_day``, ``last_csm_touch_day`` (day numbers, :func:`day_number`)
    and ``last_nps`` (the latest
    ``nps_response`` value; ties at the same timestamp resolve to the highest).
    ``as_of_days``: the distinct ``as_of`` day numbers (:func:`day_number`);
    ``max_events_per_account``: an upper bound of any account's event count
    (sizes the bit fields of :class:`Packing`), or with ``execute`` (runs a
    scalar expression) a guess: the exact bound is then read from the counts
    (one more aggregate, instead of a scan of the event log beforehand) and
    the counts are rebuilt if the guess was too small; ``all_event_types``: every
    event type present (adoption breadth counts every ``feature_*`` type,
    counted or not).

    Accounts are replaced by integer ids (``aid``, their rank among the spine
    accounts): the counts after grouping by ``account_id``, every other step
    before grouping.

    ``stage``, when given, materialises intermediate tables (e.g. as temporary
    tables of the backend, see ``features.build_observation_table``): the
    account ids, the per-bucket counts, the sparse events, the user presence
    and the running values are then computed one at a time, each with the
    whole memory budget, rather than as parts of one query whose hash tables
    all live at once (and spill). ``release`` drops a staged table that no
    later step reads. ``last_before`` (``Engine.last_before`` of the backend:
    an ASOF join on DuckDB, a range join elsewhere) finds the last NPS answer;
    ``packed=False`` gives every count its own word (no shifts, no masks).
    ``reuse`` stages the parts read several times on a backend that would
    recompute them at every use (Spark); on DuckDB it returns them as they are.
    """
    stage = stage or (lambda table: table)
    reuse = reuse or (lambda table: table)
    release = release or (lambda table: None)
    offsets = marker_offsets(windows, trend_windows)
    cal_df = marker_calendar(as_of_days, offsets)
    first = int(cal_df.key.iloc[0])
    calendar = ibis.memtable(cal_df)
    user_windows = sorted({*windows, *trend_windows})
    # every feature_* type is counted: adoption breadth is the number of them with events
    feature_types = [t for t in all_event_types if t.startswith(FEATURE_PREFIX)]
    ctypes = list(dict.fromkeys([*event_types, TICKET_OPENED, TICKET_RESOLVED, *feature_types]))
    fields = [f"c{i}" for i in range(len(ctypes))]
    fields += [f"au{w}" for w in user_windows]
    ids = keys.select("account_id").distinct()
    ids = stage(ids.mutate(aid=ibis.row_number().over(order_by="account_id")))

    def packed_counts(bound: int) -> tuple[Packing, list[str], ir.Table]:
        pack = Packing(fields, bound, packed=packed)
        # one row per counted event type: what one event adds to each packed count word
        count_words = list(dict.fromkeys(pack.word_of[f"c{i}"] for i in range(len(ctypes))))
        # login and the CSM touches join the table even when their counts are not asked for
        joined_types = list(dict.fromkeys([*ctypes, LOGIN, *CSM_TOUCH_TYPES]))
        increments = {w: np.zeros(len(joined_types), dtype="float64") for w in count_words}
        for i in range(len(ctypes)):
            increments[pack.word_of[f"c{i}"]][i] = float(1 << pack.shift[f"c{i}"])
        types = ibis.memtable(
            pd.DataFrame(
                {
                    "event_type": joined_types,
                    "is_login": [t == LOGIN for t in joined_types],
                    "is_touch": [t in CSM_TOUCH_TYPES for t in joined_types],
                    **{f"inc_{w}": v for w, v in increments.items()},
                }
            )
        )
        # each consumer reads the event log itself, filtered at the scan: one shared stream
        # of event rows would be materialised whole (a CTE read by several consumers);
        # grouped by the account_id itself, the integer id joined to the 100x fewer groups
        typed = events.join(types, "event_type")
        typed = typed.select(
            "account_id",
            dn=day_number(typed.timestamp).cast("int32"),
            is_login=typed.is_login,
            is_touch=typed.is_touch,
            **{c: typed[c] for c in types.columns if c.startswith("inc_")},
        )
        ev = _bucketed(typed, typed.dn + 1, calendar, first)
        counts = ev.group_by(["account_id", "b"]).aggregate(
            **{w: ev[f"inc_{w}"].sum() for w in count_words},
            login_day=ev.dn.max(where=ev.is_login),
            last_csm_touch_day=ev.dn.max(where=ev.is_touch),
            n=ev.count(),
        )
        counts = counts.join(ids, "account_id")
        counts = counts.select(
            "b", *count_words, "login_day", "last_csm_touch_day", "n", aid=counts.aid.cast("int32")
        )
        return pack, count_words, stage(counts)

    if execute is None:
        pack, count_words, counts = packed_counts(max_events_per_account)
    else:
        # the bound is a guess, widened to the most bits that need no more words; the
        # exact bound is the largest per-account sum of n, and the counts are built
        # again when a packed field overflowed (2**bits or more)
        pack, count_words, counts = packed_counts(_widest(max_events_per_account, len(fields)))
        per_account = counts.group_by("aid").aggregate(n=counts.n.sum())
        top = execute(per_account.n.max())
        top = 0 if top is None or pd.isna(top) else int(top)
        if top >= 1 << pack.bits:
            release(counts)
            pack, count_words, counts = packed_counts(top)
    # the sparse event types read directly (firsts, median resolution, last NPS): one scan
    sparse = events.filter(
        events.event_type.isin([ONBOARDING_COMPLETED, FIRST_VALUE, TICKET_RESOLVED, NPS])
    )
    sparse = stage(sparse.select("account_id", "timestamp", "event_type", "value"))
    # the earliest such event before as_of is the earliest one overall if that is before as_of
    rare = sparse.filter(sparse.event_type.isin([ONBOARDING_COMPLETED, FIRST_VALUE]))
    rare = rare.join(ids, "account_id")
    rare = rare.mutate(dn=day_number(rare.timestamp).cast("int32"))
    firsts = rare.group_by("aid").aggregate(
        onboarded_day=rare.dn.min(where=rare.event_type == ONBOARDING_COMPLETED),
        first_value_day=rare.dn.min(where=rare.event_type == FIRST_VALUE),
    )
    logins = events.filter((events.event_type == LOGIN) & events.user_id.notnull())
    logins = _login_rows(logins, ids, calendar, first)
    au = stage(_user_presence(logins, user_windows, pack, calendar, first))

    obs = keys.join(ids, "account_id")
    obs = reuse(obs.select("account_id", "as_of", aid=ids.aid, day=day_number(obs.as_of)))
    probes = obs.cross_join(ibis.memtable(pd.DataFrame({"o": offsets})))
    markers = probes.select("aid", b=probes.day - probes.o).distinct()

    schema = {"aid": "int64", "b": "int64", **dict.fromkeys(pack.words, "float64")}
    schema |= {"login_day": "int64", "last_csm_touch_day": "int64"}
    rows = ibis.union(*[_pad(t, schema) for t in (markers, counts, au)], distinct=False)
    per = rows.group_by(["aid", "b"]).aggregate(
        **{c: rows[c].sum() for c in pack.words},
        login_day=rows.login_day.max(),
        last_csm_touch_day=rows.last_csm_touch_day.max(),
    )
    run = ibis.cumulative_window(group_by="aid", order_by="b")
    cum = per.select(
        "aid",
        "b",
        **{c: per[c].sum().over(run).cast("int64").fill_null(0) for c in pack.words},
        login_day=per.login_day.max().over(run),
        last_csm_touch_day=per.last_csm_touch_day.max().over(run),
    )
    cum = stage(cum)
    release(counts)
    release(au)
    # one row per observation: the running values at as_of - o, one join per offset
    at_offset = {
        o: cum.select(
            **{f"key__{o}": _pair_key(cum.aid, cum.b)},
            **{f"{c}__{o}": cum[c] for c in cum.columns[2:] if o == 0 or c not in _AT_AS_OF_ONLY},
        )
        for o in offsets
    }
    # one join key per offset: with separate (aid, b) equalities DuckDB infers aid = aid
    # between the offset tables and may join them to each other first (accounts x markers^2)
    obs = obs.view()  # cum derives from obs: a fresh relation for the joins below
    j = obs
    for o, t in at_offset.items():
        j = j.join(t, _pair_key(obs.aid, obs.day - o) == t[f"key__{o}"])
    j = j.left_join(firsts, obs.aid == firsts.aid)

    def at(column: str, o: int) -> ir.Value:
        if column in pack.word_of:
            return pack.unpack(at_offset[o][f"{pack.word_of[column]}__{o}"], column)
        return at_offset[o][f"{column}__{o}"]

    before = firsts.onboarded_day < obs.day, firsts.first_value_day < obs.day
    out = j.select(
        obs.account_id,
        obs.as_of,
        **_window_columns(at, ctypes, event_types, windows, trend_windows),
        days_since_last_login=(obs.day - at("login_day", 0)).cast("float64"),
        onboarded_day=ibis.ifelse(before[0], firsts.onboarded_day, ibis.null("int64")),
        first_value_day=ibis.ifelse(before[1], firsts.first_value_day, ibis.null("int64")),
        last_csm_touch_day=at("last_csm_touch_day", 0),
    )
    nps = _last_nps(keys, sparse, last_before or _asof_last)
    for block in (_median_resolution(keys, sparse, max(windows)), nps):
        joined = out.left_join(block, _KEYS)
        out = joined.select(
            *[out[c] for c in out.columns], *[block[c] for c in block.columns if c not in _KEYS]
        )
    return out


class Packing:
    """Several non-negative running counts in one float64 column (fewer window aggregates).

    Every running value (a count of events or users of one account up to a
    marker) lies in ``[0, 2**bits)`` with ``bits`` the bit length of
    ``max_events_per_account``, when that bounds every account's event count:
    no account has more users seen than events. (:func:`event_block` may start
    from a guess and checks it against the exact count.) ``52 // bits`` fields share a
    float64 word, ``sum(value_j * 2**(bits * j))``: every partial sum is an
    integer of absolute value below ``2**52`` (each field of it is within
    ``(-2**bits, 2**bits)``), so float64 sums are exact (and cheaper than
    DuckDB's 128-bit integer sums). Per-bucket deltas may be
    negative (presence ends): sums of packed words are sums of the fields, and
    every running sum decodes exactly because each running field stays in
    range. The window pass then computes one running sum per word instead of
    one per field (DuckDB's cost is per window aggregate).
    """

    def __init__(
        self, fields: Sequence[str], max_events_per_account: int, *, packed: bool = True
    ) -> None:
        self.bits = max(1, int(max_events_per_account).bit_length())
        if self.bits > 52:
            raise ValueError(
                f"{max_events_per_account:,} events in one account: counts above 2**52 "
                "cannot be summed exactly in float64"
            )
        #: False: one field per word (the unpacked variant, no shifts or masks)
        self.packed = packed
        per_word = max(1, 52 // self.bits) if packed else 1
        self.word_of = {f: f"w{i // per_word}" for i, f in enumerate(fields)}
        self.shift = {f: self.bits * (i % per_word) for i, f in enumerate(fields)}
        self.words = list(dict.fromkeys(self.word_of.values()))

    def pack(self, values: Mapping[str, ir.IntegerValue]) -> dict[str, ir.FloatingValue]:
        """Word columns holding ``values`` (``{field: column}``; other fields 0)."""
        words: dict[str, ir.FloatingValue] = {}
        for field, value in values.items():
            term = value.cast("float64") * float(1 << self.shift[field])
            word = self.word_of[field]
            words[word] = words[word] + term if word in words else term
        return words

    def unpack(self, word: ir.IntegerValue, field: str) -> ir.IntegerValue:
        """The value of ``field`` in a (running) word."""
        if not self.packed:
            return word
        return (word >> self.shift[field]) & ((1 << self.bits) - 1)


def _widest(guess: int, n_fields: int) -> int:
    """The largest bound whose :class:`Packing` of ``n_fields`` needs no more words than ``guess``'s."""
    need = min(52, max(1, int(guess).bit_length()))

    def words(bits: int) -> int:
        return -(-n_fields // (52 // bits))

    return (1 << max(b for b in range(need, 53) if words(b) == words(need))) - 1


def _pair_key(aid: ir.IntegerValue, day: ir.IntegerValue) -> ir.IntegerValue:
    """One int64 for ``(aid, day)``: unique while ``|day| < 2**31`` and ``aid < 2**31``."""
    return aid.cast("int64") * (2**32) + day.cast("int64")


_AT_AS_OF_ONLY = ("login_day", "last_csm_touch_day")


def _window_columns(
    at: Callable[[str, int], ir.Value],
    ctypes: Sequence[str],
    event_types: Sequence[str],
    windows: Sequence[int],
    trend_windows: Sequence[int],
) -> dict[str, ir.Value]:
    """Count, active-user and breadth columns from the running values ``at(column, offset)``."""

    def count(i: int, lo: int, hi: int) -> ir.Value:  # events in [as_of - lo, as_of - hi)
        return (at(f"c{i}", hi) - at(f"c{i}", lo)).cast("int64")

    cols: dict[str, ir.Value] = {}
    for i, et in enumerate(ctypes):
        name = count_name(et)
        if et in event_types:
            for w in windows:
                cols[f"{name}_{w}d"] = count(i, w, 0)
            for w in trend_windows:
                cols[f"_prev_{name}_{w}d"] = count(i, 2 * w, w)
                if w not in windows:
                    cols[f"_last_{name}_{w}d"] = count(i, w, 0)
        if et in (TICKET_OPENED, TICKET_RESOLVED):
            cols[f"{name}_total"] = at(f"c{i}", 0).cast("int64")
    for w in windows:
        # a feature type is used in the window when it has events there
        used = [
            (count(i, w, 0) > 0).cast("int64")
            for i, et in enumerate(ctypes)
            if et.startswith(FEATURE_PREFIX)
        ]
        breadth = sum(used[1:], used[0]) if used else ibis.literal(0, "int64")
        cols[f"adoption_breadth_{w}d"] = breadth
    for w in windows:
        cols[f"active_users_{w}d"] = at(f"au{w}", 0).cast("int64")
    for w in trend_windows:
        cols[f"_prev_active_users_{w}d"] = at(f"au{w}", w).cast("int64")
        if w not in windows:
            cols[f"_last_active_users_{w}d"] = at(f"au{w}", 0).cast("int64")
    return cols


def _median_resolution(keys: ir.Table, events: ir.Table, top: int) -> ir.Table:
    """``median_resolution_days_<top>d``: a range join of the sparse ``ticket_resolved`` rows.

    The median is taken from the middle one or two values in order (a window
    over the joined rows) rather than a holistic ``median`` aggregate, whose
    per-group state spills badly when the event aggregation holds the memory.
    """
    res = events.filter((events.event_type == TICKET_RESOLVED) & events.value.notnull())
    res = res.select("account_id", "timestamp", "value")
    j = keys.join(
        res,
        [
            keys.account_id == res.account_id,
            res.timestamp < keys.as_of,
            res.timestamp >= keys.as_of - ibis.interval(days=top),
        ],
    )
    j = j.select(keys.account_id, keys.as_of, j.value)
    ranked = j.mutate(
        _rank=ibis.row_number().over(group_by=_KEYS, order_by=j.value),
        _n=j.count().over(group_by=_KEYS),
    )
    middle = ranked.filter(
        (ranked._rank == (ranked._n - 1) // 2) | (ranked._rank == ranked._n // 2)
    )
    return middle.group_by(_KEYS).aggregate(
        **{f"median_resolution_days_{top}d": middle.value.mean()}
    )


def _last_nps(
    keys: ir.Table,
    events: ir.Table,
    last_before: Callable[[ir.Table, ir.Table, str], ir.Table],
) -> ir.Table:
    """``last_nps``: the answer at the latest NPS timestamp before ``as_of`` (ties: highest).

    ``last_before`` is the backend's way to take the latest row before a date
    (``Engine.last_before``: an ASOF join on DuckDB, a range join on Spark).
    """
    nps = events.filter(events.event_type == NPS)
    nps = nps.group_by(["account_id", "timestamp"]).aggregate(last_nps=nps.value.max())
    return last_before(keys, nps, "last_nps")


def _asof_last(keys: ir.Table, values: ir.Table, column: str) -> ir.Table:
    """The latest ``column`` before ``as_of`` by an ASOF join (DuckDB's way)."""
    joined = keys.asof_join(values, on=keys.as_of > values.timestamp, predicates="account_id")
    return joined.select("account_id", "as_of", column)


def finish_window_columns(
    table: ir.Table,
    *,
    windows: Sequence[int],
    trend_windows: Sequence[int],
    event_types: Sequence[str],
) -> ir.Table:
    """Add the trend columns and drop helper columns."""
    trends: dict[str, ir.Value] = {}
    for w in trend_windows:
        for stem in [count_name(et) for et in event_types] + ["active_users"]:
            last = table[f"{stem}_{w}d"] if w in windows else table[f"_last_{stem}_{w}d"]
            trends[f"{stem}_trend_{w}d"] = trend(last, table[f"_prev_{stem}_{w}d"])
    table = table.mutate(**trends)
    return table.drop(*[c for c in table.columns if c.startswith("_")])
