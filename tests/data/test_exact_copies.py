"""The loader's duplicate-event check on large logs equals ``DataFrame.duplicated`` exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.data._event_logs import exact_copies


def test_hashed_duplicate_check_equals_pandas_on_a_large_log():
    """Past 100k rows the rows are hashed first: the marks must still be duplicated()'s.

    The values pandas takes as equal but whose bits differ (-0.0 and 0.0, NaN; None, NaN
    and NA in a text column) are mixed in, with categoricals and timestamps.
    """
    rng = np.random.default_rng(19)
    n = 150_000
    table = pd.DataFrame(
        {
            "account_id": pd.Categorical(rng.choice(["A1", "A2", "A3"], n)),
            "timestamp": pd.to_datetime("2026-01-01")
            + pd.to_timedelta(rng.integers(0, 400, n), "h"),
            "event_type": rng.choice(["login", "qbr"], n).astype(object),
            "value": rng.choice([np.nan, 0.0, -0.0, 1.5], n),
            "user_id": rng.choice(np.array(["u1", None, np.nan, pd.NA, "u2"], dtype=object), n),
        }
    )
    expected = table.duplicated(keep="first")
    got = exact_copies(table)
    assert 0 < expected.sum() < n  # some copies, some originals
    assert got.equals(expected)
    # a log without copies (every row numbered) marks nothing
    assert not exact_copies(table.assign(seq=np.arange(n))).any()
