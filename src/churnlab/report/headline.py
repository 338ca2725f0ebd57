"""The report's first screen as data: the typed :class:`Headline` (``headline.json``).

The report stage writes it; the report template, the email and the next run's comparison
read it, all through :meth:`Headline.read`, so a field has one name everywhere.
``schema_version`` is written with it; headlines of runs made before it was recorded
(version 0) are read too (they may name the ARR at risk ``arr_at_risk_90d``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab.atomic import write_json
from churnlab.config import Params
from churnlab.errors import RunError
from churnlab.report.accounts import arr_at_risk_parts
from churnlab.vocabulary import Vocabulary, vocabulary

__all__ = [
    "HEADLINE_SCHEMA_VERSION",
    "KPI_TILES",
    "Headline",
    "KpiTile",
    "Renewal",
    "build_headline",
    "overall_kpis",
]

#: Version of the headline's fields; bump it when a field is renamed or changes meaning.
#: 2: a KPI tile's change is month over month from the KPI series (``change_basis``
#: "month", with ``yoy_display``); only ARR at risk changes "since the last run".
#: 3: ARR at risk sums every scored account (the whole book), with the contract-renewal,
#: monthly and other parts beside it (before: the renewals in the window only).
HEADLINE_SCHEMA_VERSION = 3

#: KPI tiles from ``kpis.csv``: (column, kind, higher is better). Labels: the vocabulary.
KPI_TILES: tuple[tuple[str, str, bool], ...] = (
    ("logo_churn_rate", "rate", False),
    ("gross_revenue_retention", "rate", True),
    ("net_revenue_retention", "rate", True),
    ("arr", "money", True),
)
#: The tile of the expected ARR at risk: sum of p(churn within the horizon) x ARR, whole book.
ARR_AT_RISK = "arr_at_risk"
#: The label key of a snapshot's churn share (in place of the monthly logo churn).
SNAPSHOT_CHURN = "churned_share"


@dataclass(frozen=True)
class KpiTile:
    """One KPI tile: the value, its display, and its change in words.

    A KPI's change is month over month, from the KPI series itself (``change_basis``
    ``"month"``; ``yoy_display`` the change over twelve months when the series reaches
    back that far). A model output (ARR at risk) changes since the last run of the same
    data set (``"run"``). ``change_display`` says what it compares to (``+0.3 pp vs Sep
    2026``, ``no comparable earlier run``); ``good`` colours it.
    """

    key: str
    label: str
    kind: str
    value: float | None
    display: str
    change_display: str
    good: bool | None
    series: list[float | None] = field(default_factory=list)
    sparkline: str | None = None
    change_basis: str | None = None
    yoy_display: str = ""


@dataclass(frozen=True)
class Renewal:
    """One row of the renewal map's top accounts."""

    account_id: str
    name: str | None = None
    touch_tier: str | None = None
    arr: float | None = None
    renewal_date: str | None = None
    churn_probability: float | None = None
    expected_arr_at_risk: float | None = None
    health_score: float | None = None
    health_band: str | None = None
    reasons: str | None = None
    next_step: str | None = None
    csm_owner: str | None = None


@dataclass(frozen=True)
class Headline:
    """The report's first screen: KPIs with their changes, ARR at risk, top renewals.

    Attributes
    ----------
    as_of, run_id, title, company : str
        The scoring date, the run and the report's title and company.
    kpi_month : str
        ``YYYY-MM`` of the KPIs shown (the last complete month).
    kpis : list of KpiTile
        The tiles, ARR at risk last.
    arr_at_risk : float
        Expected ARR at risk over the whole book: the sum over every scored account of
        its churn probability (within ``horizon_days``) times its ARR.
    arr_at_risk_display : str
        ``arr_at_risk`` formatted for reading (``$1.61M``).
    arr_at_risk_renewals, arr_at_risk_monthly, arr_at_risk_other : float
        Its parts: the contract renewals in the window (``renewal_map.csv``), the monthly
        book (``monthly_at_risk.csv``), and the contracts renewing later; they add up
        to ``arr_at_risk``.
    accounts_scored, monthly_accounts, other_accounts : int
        How many accounts the whole book, the monthly book and the later contracts hold.
    renewal_window_days, renewals_in_window : int
        The window and how many contracts renew in it.
    top_renewals : list of Renewal
        The contract renewals with the most expected ARR at risk.
    top_monthly : list of Renewal
        The monthly accounts with the most expected ARR at risk.
    charts : dict of str to str
        Chart name -> path relative to the run folder.
    schema_version : int
        :data:`HEADLINE_SCHEMA_VERSION` when written.
    horizon_days : int or None
        The horizon of the churn probabilities (the model's label window); None without
        a model.
    warning : str or None
        A warning a reader must see first (scores no better than chance), or None.
    shape : str
        ``events`` (subscription and event logs) or ``snapshot``.
    language, currency : str
        The language of the words (``en``, ``ja``) and the ISO 4217 code of the money
        shown; delivery formats and words the email with the same vocabulary.
    what_changed : list of str
        Two or three sentences on what changed this month (the executive view's, filled
        by the report: :func:`churnlab.report.executive.executive_view`).
    """

    as_of: str
    run_id: str
    title: str
    company: str
    kpi_month: str
    kpis: list[KpiTile]
    arr_at_risk: float
    arr_at_risk_display: str
    renewal_window_days: int
    renewals_in_window: int
    top_renewals: list[Renewal]
    charts: dict[str, str] = field(default_factory=dict)
    schema_version: int = HEADLINE_SCHEMA_VERSION
    horizon_days: int | None = None
    warning: str | None = None
    shape: str = "events"
    language: str = "en"
    currency: str = "USD"
    what_changed: list[str] = field(default_factory=list)
    arr_at_risk_renewals: float = 0.0
    arr_at_risk_monthly: float = 0.0
    arr_at_risk_other: float = 0.0
    accounts_scored: int = 0
    monthly_accounts: int = 0
    other_accounts: int = 0
    top_monthly: list[Renewal] = field(default_factory=list)
    arr_at_risk_scope: str = "book"

    def kpi(self, key: str) -> KpiTile | None:
        """The tile of ``key``, or None."""
        return next((t for t in self.kpis if t.key == key), None)

    def replace(self, **changes: Any) -> Headline:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form written to ``headline.json``."""
        return dataclasses.asdict(self)

    def write(self, path: Path) -> Path:
        """Write ``headline.json`` atomically."""
        return write_json(path, self.to_dict())

    @classmethod
    def read(cls, path: Path) -> Headline:
        """Read a ``headline.json`` of any schema version this release knows.

        Raises
        ------
        RunError
            The file is missing, is not JSON, or has a newer schema version.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(
                f"{path} is missing: the report stage of that run did not finish"
            ) from None
        except (OSError, ValueError) as exc:
            raise RunError(f"{path} cannot be read as JSON ({exc})") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "headline") -> Headline:
        """Build a headline from its JSON form (versions 0 to 2; older tiles lack a basis)."""
        if not isinstance(data, Mapping):
            raise RunError(f"{source}: a headline is a JSON object")
        version = int(data.get("schema_version", 0))
        if version > HEADLINE_SCHEMA_VERSION:
            raise RunError(
                f"{source}: headline schema version {version} is newer than this churnlab "
                f"reads ({HEADLINE_SCHEMA_VERSION}); upgrade churnlab"
            )
        risk = data.get("arr_at_risk", data.get("arr_at_risk_90d"))
        return cls(
            as_of=str(data.get("as_of", "")),
            run_id=str(data.get("run_id", "")),
            title=str(data.get("title", "")),
            company=str(data.get("company", "")),
            kpi_month=str(data.get("kpi_month", "")),
            kpis=[_known(KpiTile, t) for t in data.get("kpis") or []],
            arr_at_risk=float(risk) if risk is not None else float("nan"),
            arr_at_risk_display=str(data.get("arr_at_risk_display") or ""),
            renewal_window_days=int(data.get("renewal_window_days") or 0),
            renewals_in_window=int(data.get("renewals_in_window") or 0),
            top_renewals=[_known(Renewal, r) for r in data.get("top_renewals") or []],
            charts=dict(data.get("charts") or {}),
            schema_version=HEADLINE_SCHEMA_VERSION,
            horizon_days=data.get("horizon_days"),
            warning=data.get("warning"),
            shape=str(data.get("shape") or "events"),
            language=str(data.get("language") or "en"),
            currency=str(data.get("currency") or "USD"),
            what_changed=[str(x) for x in data.get("what_changed") or []],
            arr_at_risk_renewals=float(data.get("arr_at_risk_renewals") or 0.0),
            arr_at_risk_monthly=float(data.get("arr_at_risk_monthly") or 0.0),
            arr_at_risk_other=float(data.get("arr_at_risk_other") or 0.0),
            accounts_scored=int(data.get("accounts_scored") or 0),
            monthly_accounts=int(data.get("monthly_accounts") or 0),
            other_accounts=int(data.get("other_accounts") or 0),
            top_monthly=[_known(Renewal, r) for r in data.get("top_monthly") or []],
            # before version 3 the ARR at risk summed the renewals in the window only
            arr_at_risk_scope="book" if version >= 3 else "renewals",
        )


def _known(kind: type, row: Mapping[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(kind)}
    return kind(**{k: v for k, v in row.items() if k in names})


def overall_kpis(kpis: pd.DataFrame) -> pd.DataFrame:
    """The overall (all segments) monthly KPI rows, sorted by month."""
    frame = kpis
    if "segment" in frame.columns:
        frame = frame[frame["segment"].astype(str) == "all"]
    return frame.sort_values("month").reset_index(drop=True)


def build_headline(
    kpis: pd.DataFrame,
    renewal_map: pd.DataFrame,
    cfg: Params,
    *,
    as_of: str,
    run_id: str,
    previous: Headline | None = None,
    words: Vocabulary | None = None,
    horizon_days: int | None = None,
    warning: str | None = None,
    scored: bool = True,
    scores: pd.DataFrame | None = None,
    monthly: pd.DataFrame | None = None,
) -> Headline:
    """Assemble the headline from the run's KPI table, scores, renewal map and monthly book.

    The tiles fit the data: a snapshot's churn rate is the share of churned accounts in
    the data set (not a monthly rate), and a tile without a value (GRR and NRR of a
    snapshot, ARR of data without revenue, ARR at risk without a renewal date) is left
    out rather than shown as "n/a" or "$0".

    Parameters
    ----------
    kpis : pandas.DataFrame
        ``kpis.csv`` of the run.
    renewal_map : pandas.DataFrame
        ``renewal_map.csv`` of the run (sorted by expected ARR at risk).
    cfg : Params
        Effective parameters (report title, renewal window, number of accounts).
    as_of, run_id : str
        The run's scoring date and id.
    previous : Headline, optional
        The headline of the previous run of the same data set (an earlier as_of), for
        the change of the ARR at risk; the KPIs change month over month from ``kpis``.
    words : Vocabulary, optional
        Labels and formats; default: ``report.language`` and ``report.currency`` of ``cfg``.
    horizon_days : int, optional
        The horizon of the model's churn probabilities.
    warning : str, optional
        A warning to show first (e.g. the model ranks churners no better than chance).
    scored : bool
        Whether the run scored its accounts; without scores there is no ARR at risk.
    scores : pandas.DataFrame, optional
        ``scores.csv``: the whole book, whose ``expected_arr_at_risk`` sums to the ARR
        at risk (default: the renewal map and the monthly book together).
    monthly : pandas.DataFrame, optional
        ``monthly_at_risk.csv`` (sorted by expected ARR at risk): its part and its top rows.
    """
    words = words or vocabulary(cfg.report.language, cfg.report.currency)
    snapshot = cfg.data.shape == "snapshot"
    overall = overall_kpis(kpis)
    last = overall.iloc[-1] if len(overall) else pd.Series(dtype=float)
    tiles = []
    for key, kind, higher_better in KPI_TILES:
        value = float(last[key]) if key in last and pd.notna(last[key]) else None
        if snapshot and value is None:
            continue  # a snapshot has no monthly history (and maybe no revenue)
        series = overall[key] if key in overall else pd.Series(dtype=float)
        mom, month = _earlier(overall, key, months=1)
        yoy, year_month = _earlier(overall, key, months=12)
        delta = value - mom if value is not None and mom is not None else None
        if snapshot:
            change = ""  # one row: nothing to compare with
        elif delta is None:
            change = words.text("changes.no_earlier_month")
        else:
            change = words.text(
                "changes.vs_month", change=words.change(kind, delta), month=words.month(month)
            )
        yoy_delta = value - yoy if value is not None and yoy is not None else None
        tiles.append(
            KpiTile(
                key=key,
                label=words.kpi_label(
                    SNAPSHOT_CHURN if snapshot and key == "logo_churn_rate" else key
                ),
                kind=kind,
                value=value,
                display=words.rate(value) if kind == "rate" else words.money(value),
                change_display=change,
                good=None if delta is None or delta == 0 else (delta > 0) == higher_better,
                series=[None if pd.isna(v) else float(v) for v in series][-12:],
                change_basis=None if snapshot else "month",
                yoy_display=""
                if yoy_delta is None
                else words.text(
                    "changes.vs_month",
                    change=words.change(kind, yoy_delta),
                    month=words.month(year_month),
                ),
            )
        )
    parts = arr_at_risk_parts(scores, renewal_map, monthly)
    at_risk = parts["arr_at_risk"]
    prev_risk = previous.arr_at_risk if previous else None
    if previous is not None and previous.arr_at_risk_scope != "book":
        prev_risk = None  # an earlier run summed its renewals only: not comparable
    risk_delta = at_risk - prev_risk if prev_risk is not None and pd.notna(prev_risk) else None
    days = cfg.health.renewal_window_days
    if scored and parts["has_revenue"]:
        since = words.text("changes.no_comparable_run")
        if risk_delta is not None and previous is not None:
            since = words.text(
                "changes.since_run",
                change=words.change("money", risk_delta),
                as_of=words.date(previous.as_of),
            )
        tiles.append(
            KpiTile(
                key=ARR_AT_RISK,
                label=words.kpi_label(ARR_AT_RISK, days=horizon_days or days),
                kind="money",
                value=at_risk,
                display=words.money(at_risk),
                change_display=since,
                good=None if not risk_delta else risk_delta < 0,
                change_basis="run",
            )
        )
    names = [f.name for f in dataclasses.fields(Renewal)]
    top = _top(renewal_map, names, cfg.report.top_accounts)
    top_monthly = _top(monthly, names, cfg.report.top_accounts)
    return Headline(
        as_of=as_of,
        run_id=run_id,
        title=cfg.report.title or words.text("report.title"),
        company=cfg.report.company,
        kpi_month=str(last.get("month", ""))[:7] if len(overall) else "",
        kpis=tiles,
        arr_at_risk=at_risk,
        arr_at_risk_display=words.money(at_risk),
        renewal_window_days=days,
        renewals_in_window=int(len(renewal_map)),
        top_renewals=top,
        top_monthly=top_monthly,
        arr_at_risk_renewals=parts["renewals"],
        arr_at_risk_monthly=parts["monthly"],
        arr_at_risk_other=parts["other"],
        accounts_scored=int(parts["accounts"]),
        monthly_accounts=int(parts["monthly_accounts"]),
        other_accounts=int(parts["other_accounts"]),
        horizon_days=horizon_days,
        warning=warning,
        shape=cfg.data.shape,
        language=words.language,
        currency=words.currency,
    )


def _top(table: pd.DataFrame | None, names: list[str], n: int) -> list[Renewal]:
    if table is None or table.empty:
        return []
    return [
        Renewal(**{c: _plain(row.get(c)) for c in names})
        for row in table.head(n).to_dict("records")
    ]


def _earlier(overall: pd.DataFrame, key: str, *, months: int) -> tuple[float | None, str]:
    """The KPI ``key`` ``months`` before the last row of ``overall``, and that month."""
    if key not in overall or len(overall) < 2:
        return None, ""
    month = pd.to_datetime(overall["month"]).dt.to_period("M")
    target = month.iloc[-1] - months
    rows = overall.loc[(month == target).to_numpy(), key]
    if rows.empty or pd.isna(rows.iloc[-1]):
        return None, ""
    return float(rows.iloc[-1]), str(target)


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value
