import pandas as pd


def subs_frame(rows) -> pd.DataFrame:
    """Subscriptions from ``(account_id, start_date, end_date, mrr)`` tuples, typed."""
    s = pd.DataFrame(rows, columns=["account_id", "start_date", "end_date", "mrr"])
    return s.assign(
        start_date=pd.to_datetime(s["start_date"]),
        end_date=pd.to_datetime(s["end_date"]),
        mrr=s["mrr"].astype(float),
    )
