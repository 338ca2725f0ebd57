"""What the report email says: its images with their alt texts, and the template context.

No MIME and no network here: :mod:`churnlab.delivery._message` loads the images and
assembles the message. Every word comes from the run's catalogue (``email.*``) and every
figure from the run's :class:`~churnlab.report.Headline`, formatted by one
:class:`~churnlab.vocabulary.Vocabulary` (one money format, subject included).

The email shows a VP what to read in two minutes: the ARR at risk, what it sums and its
parts, what changed, the KPIs with a labelled sparkline each, who is at risk (the top
contract renewals and the top monthly accounts, with their reasons, next step and owner)
and two charts, each under a heading and with an alt text that says what it shows and
its key figure. The other charts stay in the attached report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churnlab import csvsafe
from churnlab.report.headline import Headline, KpiTile, Renewal
from churnlab.run.folder import RunFolder
from churnlab.vocabulary import Vocabulary, shorten

__all__ = [
    "EMAIL_CHARTS",
    "EMAIL_WIDTH",
    "EmailImage",
    "chart_width",
    "email_context",
    "email_images",
]

#: Width of the email's single column in CSS pixels (the Litmus/Campaign Monitor norm).
EMAIL_WIDTH = 600
#: Horizontal padding of a block; the charts are shown at most this much narrower.
_PADDING = 24
#: The charts of the run folder the email shows, in order; the others are in the report.
EMAIL_CHARTS = ("retention_trend", "health_by_tier")
_REASONS_CHARS = 240


@dataclass(frozen=True)
class EmailImage:
    """One image of the email body.

    Attributes
    ----------
    key : str
        The chart name (``retention_trend``) or ``spark_<kpi>`` for a KPI's sparkline.
    relative : str
        Its path relative to the run folder.
    alt : str
        What it shows and its key figure (shown when images are blocked).
    title : str or None
        The heading above a chart; None for a sparkline (its KPI row labels it).
    kpi : str or None
        The KPI tile of a sparkline.
    """

    key: str
    relative: str
    alt: str
    title: str | None = None
    kpi: str | None = None


def email_images(headline: Headline, folder: RunFolder, words: Vocabulary) -> list[EmailImage]:
    """The images the email shows: one sparkline per KPI tile that has one, then the charts.

    Parameters
    ----------
    headline : Headline
        The run's headline (tiles, their sparklines and the run's charts).
    folder : RunFolder
        The run folder (the health chart's key figure is counted from ``scores.csv``).
    words : Vocabulary
        The run's language and currency.

    Returns
    -------
    list of EmailImage
    """
    images = []
    for tile in headline.kpis:
        if tile.sparkline:
            images.append(
                EmailImage(
                    key=f"spark_{tile.key}",
                    relative=tile.sparkline,
                    alt=_trend_alt(tile, words),
                    kpi=tile.key,
                )
            )
    for name in EMAIL_CHARTS:
        relative = headline.charts.get(name)
        if not relative:
            continue
        title = words.chart_title(name)
        figure = _key_figure(name, headline, folder, words)
        alt = words.text("email.chart_alt", title=title, figure=figure)
        images.append(EmailImage(key=name, relative=relative, alt=alt, title=title))
    return images


def email_context(
    headline: Headline,
    words: Vocabulary,
    images: Sequence[Mapping[str, Any]],
    attachments: Sequence[Path],
    tables: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The context of ``email.html.j2`` and ``email.txt.j2``: words and figures, formatted.

    Parameters
    ----------
    headline : Headline
        The run's headline.
    words : Vocabulary
        The run's language and currency.
    images : sequence of mapping
        The loaded images (:class:`EmailImage` fields plus ``cid``, ``width``,
        ``height``), in the order of :func:`email_images`.
    attachments : sequence of Path
        The attached files (named in the footer).
    tables : mapping of str to str, optional
        The attached account tables (their top rows) by kind, ``renewals`` or
        ``monthly``, to file name: the footer says what each holds.

    Returns
    -------
    dict
    """
    sparklines = {i["kpi"]: i for i in images if i.get("kpi")}
    box = _box(headline, words)
    kpis = [  # the tile of the box (the ARR at risk) is not repeated below it
        _kpi(tile, words, sparklines.get(tile.key))
        for tile in headline.kpis
        if tile.key != box["key"]
    ]
    renewals = [_renewal(row, words) for row in headline.top_renewals]
    monthly = [_renewal(row, words, monthly=True) for row in headline.top_monthly]
    tables = tables or {}
    notes = {
        "renewals": ("email.csv_renewals", len(headline.top_renewals), headline.renewals_in_window),
        "monthly": ("email.csv_monthly", len(headline.top_monthly), headline.monthly_accounts),
    }
    return {
        "lang": words.language,
        "kicker": words.text("email.kicker", company=headline.company, title=headline.title),
        "title": words.text("email.title", as_of=words.date(headline.as_of)),
        "warning": headline.warning or "",
        "box": box,
        "what_changed": [str(s) for s in headline.what_changed if s],
        "key_numbers": words.text("email.key_numbers", month=words.month(headline.kpi_month))
        if headline.kpi_month and headline.shape != "snapshot"
        else words.text("email.key_numbers_snapshot"),
        "kpis": kpis,
        "renewals": renewals,
        "renewals_total": len(renewals),
        "renewals_intro": words.text(
            "email.at_risk_intro",
            accounts=words.number(headline.renewals_in_window),
            days=headline.renewal_window_days,
        ),
        "no_renewals": words.text("email.no_renewals", days=headline.renewal_window_days),
        "monthly": monthly,
        "monthly_total": len(monthly),
        "monthly_intro": words.text(
            "email.monthly_intro", accounts=words.number(headline.monthly_accounts)
        ),
        "scored": headline.kpi("arr_at_risk") is not None,
        "charts": [dict(i) for i in images if not i.get("kpi")],
        "footer": words.text(
            "email.footer",
            files=", ".join(p.name for p in attachments),
            run_id=headline.run_id,
        ),
        "csv_notes": [
            words.text(key, file=tables[kind], rows=words.number(rows), total=words.number(total))
            for kind, (key, rows, total) in notes.items()
            if kind in tables
        ],
    }


def _box(headline: Headline, words: Vocabulary) -> dict[str, Any]:
    """The box at the top: the ARR at risk, what it sums and its parts, else the first KPI."""
    tile = headline.kpi("arr_at_risk")
    if tile is not None:
        return {
            "key": tile.key,
            "label": tile.label,
            "value": words.money(headline.arr_at_risk),
            "change": tile.change_display,
            "note": _risk_definition(headline, words),
            "parts": _risk_parts(headline, words),
        }
    first = headline.kpis[0] if headline.kpis else None
    if first is None:
        return {"key": "", "label": "", "value": "", "change": "", "note": "", "parts": []}
    return {
        "key": first.key,
        "label": first.label,
        "value": _display(first, first.value, words),
        "change": first.change_display,
        "note": "",
        "parts": [],
    }


def _risk_definition(headline: Headline, words: Vocabulary) -> str:
    """What the ARR at risk sums: the whole book (schema 3), or the renewals in the window."""
    if headline.arr_at_risk_scope == "book":
        accounts = words.number(headline.accounts_scored)
        if headline.horizon_days:
            return words.text(
                "email.risk_book_horizon", horizon=headline.horizon_days, accounts=accounts
            )
        return words.text("email.risk_book", accounts=accounts)
    fields = {
        "accounts": words.number(headline.renewals_in_window),
        "days": headline.renewal_window_days,
    }
    if headline.horizon_days:
        return words.text("email.risk_definition_horizon", horizon=headline.horizon_days, **fields)
    return words.text("email.risk_definition", **fields)


def _risk_parts(headline: Headline, words: Vocabulary) -> list[str]:
    """The parts of the whole book's ARR at risk that hold accounts, one sentence each."""
    if headline.arr_at_risk_scope != "book":
        return []
    parts = (
        ("email.part_renewals", headline.arr_at_risk_renewals, headline.renewals_in_window),
        ("email.part_monthly", headline.arr_at_risk_monthly, headline.monthly_accounts),
        ("email.part_other", headline.arr_at_risk_other, headline.other_accounts),
    )
    return [
        words.text(
            key,
            value=words.money(value),
            accounts=words.number(accounts),
            days=headline.renewal_window_days,
        )
        for key, value, accounts in parts
        if accounts
    ]


def _display(tile: KpiTile, value: float | None, words: Vocabulary) -> str:
    """A tile's value in the run's one format per kind (money compact, rates in %)."""
    return words.rate(value) if tile.kind == "rate" else words.money(value)


def _kpi(tile: KpiTile, words: Vocabulary, spark: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        "label": tile.label,
        "display": _display(tile, tile.value, words),
        "change_display": tile.change_display,
        "yoy": tile.yoy_display,
        "good": tile.good,
        "spark": dict(spark) if spark else None,
    }


def _renewal(row: Renewal, words: Vocabulary, *, monthly: bool = False) -> dict[str, Any]:
    """One account of a table: name, facts in one line, health, reasons, next step, owner.

    A monthly account has no contract to renew: its next billing date is not shown.
    """
    facts = [] if row.arr is None else [words.text("email.arr", value=words.money(row.arr))]
    if row.renewal_date and not monthly:
        facts.append(words.text("email.renews", date=words.date(row.renewal_date)))
    if row.churn_probability is not None:
        facts.append(words.text("email.churn_risk", value=words.rate(row.churn_probability, 0)))
    if row.expected_arr_at_risk is not None:
        facts.append(
            words.text("email.expected_at_risk", value=words.money(row.expected_arr_at_risk))
        )
    band = str(row.health_band or "")
    return {
        "name": shorten(row.name or row.account_id),
        "account_id": str(row.account_id),
        "facts": words.text("email.separator").join(facts),
        "band": band,
        "health": words.text("email.health", band=words.band_label(band)) if band else "",
        "reasons": _reasons(str(row.reasons or ""), words),
        "next_step": str(row.next_step or ""),
        "owner": str(row.csm_owner or ""),
    }


def _reasons(text: str, words: Vocabulary) -> list[str]:
    """The strongest reasons that fit in :data:`_REASONS_CHARS`, whole, one per line.

    The reasons arrive joined by the catalogue's ``reasons.separator``, strongest first;
    the first is always shown (shortened only when it alone is too long), the others
    while they fit. Every reason is in the attached report and tables.
    """
    text = " ".join(text.split())
    if not text:
        return []
    try:
        separator = words.text("reasons.separator").strip() or ";"
    except KeyError:
        separator = ";"
    parts = [p.strip() for p in text.split(separator) if p.strip()]
    shown = [_shorten(parts[0], _REASONS_CHARS)]
    used = len(shown[0])
    for part in parts[1:]:
        used += len(part)
        if used > _REASONS_CHARS:
            break
        shown.append(part)
    return shown


def _trend_alt(tile: KpiTile, words: Vocabulary) -> str:
    values = [v for v in tile.series if v is not None]
    if not values:
        return tile.label
    return words.text(
        "email.trend_alt",
        months=len(values),
        first=_display(tile, values[0], words),
        last=_display(tile, values[-1], words),
    )


def _key_figure(name: str, headline: Headline, folder: RunFolder, words: Vocabulary) -> str:
    """The figure a chart's alt text names (the chart itself is not readable when blocked)."""
    if name == "retention_trend":
        grr = headline.kpi("gross_revenue_retention")
        nrr = headline.kpi("net_revenue_retention")
        if grr is not None and nrr is not None and headline.kpi_month:
            return words.text(
                "email.figure_retention",
                month=words.month(headline.kpi_month),
                grr=words.rate(grr.value),
                nrr=words.rate(nrr.value),
            )
    if name == "health_by_tier":
        figure = _health_figure(folder, words)
        if figure:
            return figure
    return words.text("email.figure_in_report")


def _health_figure(folder: RunFolder, words: Vocabulary) -> str:
    """ "312 of 2,492 accounts are red ($5.2M ARR)" from ``scores.csv``; "" without it."""
    try:
        scores = csvsafe.read_csv(folder.scores, usecols=lambda c: c in {"health_band", "arr"})
    except (OSError, ValueError):
        return ""
    if not {"health_band", "arr"} <= set(scores.columns) or scores.empty:
        return ""
    red = scores["health_band"].astype(str) == "red"
    arr = scores.loc[red, "arr"].sum()
    return words.text(
        "email.figure_health",
        red=words.number(int(red.sum())),
        accounts=words.number(len(scores)),
        arr=words.money(float(arr)),
    )


def chart_width(natural: int) -> int:
    """The width a chart is shown at: its own, at most the column's inner width."""
    return min(natural, EMAIL_WIDTH - 2 * _PADDING)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
