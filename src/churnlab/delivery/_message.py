"""Building the report email and the failure notice (no network here).

The report email is ``multipart/mixed``::

    multipart/alternative
        text/plain                  compact body (email.txt.j2)
        multipart/related
            text/html               compact body (email.html.j2), <= 100 KB
            image/png ...           charts, referenced as cid: from the HTML
    text/html   attachment          report.html (the full executive report)
    text/csv    attachment          renewal_map.csv (when attach_csv)

Its figures come from the run's :class:`~churnlab.report.Headline`, the same object the
report renders, so the subject, the headline box and the report always agree.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import shlex
from collections.abc import Mapping, Sequence
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from churnlab.delivery._settings import DeliverySettings
from churnlab.errors import DeliveryError, ParamsError, RunError
from churnlab.report.headline import Headline
from churnlab.report.templating import environment
from churnlab.run.folder import RunFolder
from churnlab.run.record import stage_records
from churnlab.vocabulary import vocabulary

logger = logging.getLogger(__name__)

#: Largest HTML body in bytes: Gmail clips longer messages behind "View entire message".
MAX_HTML_BYTES = 100_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The right-hand side of every Content-ID: short, so that no header is ever folded.
CID_DOMAIN = "churnlab"
_REASONS_CHARS = 240
_EVALUE_CHARS = 1500
_ROW_LIMITS = (50, 25, 10, 5, 0)

__all__ = ["MAX_HTML_BYTES", "build_failure_notice", "build_message", "read_json"]


def build_message(
    run_dir: str | Path,
    settings: DeliverySettings,
    *,
    now: dt.datetime | None = None,
    preview: bool = False,
) -> EmailMessage:
    """Build the report email of a run from its ``headline.json`` and files.

    Parameters
    ----------
    run_dir : path
        The run folder (holds ``headline.json``, ``report.html``, ``charts/``).
    settings : DeliverySettings
        Recipients, sender, subject template, ``attach_csv``.
    now : datetime, optional
        Time for the ``Date`` header; the current UTC time when None.
    preview : bool
        A preview (dry run) may have no recipients yet: it is addressed to
        ``undisclosed-recipients:;``.

    Returns
    -------
    email.message.EmailMessage
        The message, with ``Message-ID`` and ``Date`` set.

    Raises
    ------
    DeliveryError
        ``headline.json`` or ``report.html`` is missing or unreadable, or there are no
        recipients (unless ``preview``).
    """
    folder = RunFolder(run_dir)
    try:
        headline = Headline.read(folder.headline)
    except RunError as exc:
        raise DeliveryError(f"{exc}. How to fix: re-run the report stage for this run.") from None
    if not folder.report.is_file():
        raise DeliveryError(
            f"{folder.report} is missing: the report stage did not finish. "
            "How to fix: re-run the report stage for this run (or the whole run)."
        )
    domain = _domain(settings.sender)
    charts = _charts(folder, headline.charts)
    csv_path = folder.renewal_map if settings.attach_csv and folder.renewal_map.is_file() else None
    context = _context(headline, charts, [folder.report, *([csv_path] if csv_path else [])])
    html, shown = _render_html_within_limit(context)
    context = {**context, "renewals": context["renewals"][:shown]}
    text = environment().get_template("email.txt.j2").render(context)

    msg = _new_message(
        settings, settings.recipients, _subject(settings, headline), now, domain, preview
    )
    msg["X-Churnlab-Run"] = _one_line(headline.run_id or folder.name)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_payload()[1]
    for chart in charts:
        html_part.add_related(
            chart["data"],
            maintype="image",
            subtype="png",
            cid=f"<{chart['cid']}>",
            filename=chart["filename"],
            disposition="inline",
        )
    # as text with its charset: a client shows the report's "—" and names as written
    msg.add_attachment(
        folder.report.read_text(encoding="utf-8"),
        subtype="html",
        charset="utf-8",
        filename=folder.report.name,
    )
    if settings.attach_csv:
        if csv_path is not None:
            msg.add_attachment(
                csv_path.read_text(encoding="utf-8"),
                subtype="csv",
                charset="utf-8",
                filename=csv_path.name,
            )
        else:
            logger.warning("%s is missing: the email goes out without the CSV", folder.renewal_map)
    return msg


def build_failure_notice(
    run_dir: str | Path,
    manifest: Mapping[str, Any],
    settings: DeliverySettings,
    *,
    now: dt.datetime | None = None,
    preview: bool = False,
) -> EmailMessage:
    """Build the short plain-text notice about a failed run.

    Names every failed stage with the cell index, exception name and value recorded in
    the manifest, and says where the executed notebooks are.
    """
    folder = RunFolder(run_dir)
    run_id = str(manifest.get("run_id") or folder.name)
    failed = [s for s in stage_records(dict(manifest)) if s.get("status") == "failed"]
    lines = [
        f"The churnlab run {run_id} did not succeed (status: {manifest.get('status')}).",
        f"as_of: {manifest.get('as_of')}   started: {manifest.get('started_at')}   "
        f"finished: {manifest.get('finished_at')}",
        "",
    ]
    for stage in failed:
        error = stage.get("error") or {}
        evalue = str(error.get("evalue", ""))
        if len(evalue) > _EVALUE_CHARS:
            evalue = evalue[:_EVALUE_CHARS] + " ..."
        where = error.get("cell_index")
        lines += [
            f"Failed stage: {stage.get('name')}"
            + (f" (cell {where})" if where is not None else ""),
            f"  {error.get('ename', 'error')}: {evalue}",
        ]
        if stage.get("notebook"):
            lines.append(f"  executed notebook: {folder.path / str(stage['notebook'])}")
        lines.append("")
    if not failed:
        lines += ["No stage is marked failed; see 'error' in the manifest.", ""]
        if manifest.get("error"):
            lines += [f"  {manifest['error']}", ""]
    lines += [
        f"Run directory: {folder.path}",
        "No report was sent to leadership for this run. Fix the cause above and re-run",
        f"`{rerun_command(manifest)}`.",
    ]
    subject = f"churnlab run FAILED: {run_id}"
    msg = _new_message(
        settings, settings.failure_recipients, subject, now, _domain(settings.sender), preview
    )
    msg["X-Churnlab-Run"] = _one_line(run_id)
    msg.set_content("\n".join(lines) + "\n")
    return msg


def read_json(path: Path, producer: str) -> dict[str, Any]:
    """Read a JSON object file, with a clear DeliveryError when it is missing or broken."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeliveryError(
            f"{path} is missing. How to fix: re-run {producer} for this run."
        ) from None
    except (OSError, ValueError) as exc:
        raise DeliveryError(
            f"{path} cannot be read ({exc}). How to fix: re-run {producer}."
        ) from None
    if not isinstance(data, dict):
        raise DeliveryError(f"{path} must hold a JSON object. How to fix: re-run {producer}.")
    return data


def _new_message(
    settings: DeliverySettings,
    recipients: Sequence[str],
    subject: str,
    now: dt.datetime | None,
    domain: str,
    preview: bool = False,
) -> EmailMessage:
    if not recipients and not preview:  # a params problem: nothing was tried (exit 2)
        raise ParamsError(
            "no recipients: the recipient list is empty. How to fix: set delivery.recipients "
            "(and delivery.failure_recipients for failure notices) in your params overlay, "
            "or pass -p 'delivery.recipients=[vp-cs@example.com]'."
        )
    msg = EmailMessage(policy=policy.default)
    msg["From"] = settings.sender
    msg["To"] = ", ".join(recipients) if recipients else "undisclosed-recipients:;"
    msg["Subject"] = _one_line(subject)
    msg["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    msg["Message-ID"] = make_msgid(idstring="churnlab", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def _subject(settings: DeliverySettings, headline: Headline) -> str:
    first = headline.kpis[0] if headline.kpis else None
    fields = {
        "as_of": headline.as_of or "?",
        "arr_at_risk": headline.arr_at_risk_display or vocabulary().money(headline.arr_at_risk),
        "days": headline.renewal_window_days,
        "run_id": headline.run_id,
        "company": headline.company,
        "headline_kpi": f"{first.label} {first.display}" if first else "",
    }
    # null: the catalogue's subject; a run without an ARR at risk (a snapshot without
    # renewal dates, or no model) names the first tile instead of a "$0 at risk" or "n/a"
    words = vocabulary()
    template = settings.subject_template or words.text("email.subject")
    if headline.kpi("arr_at_risk") is None and "{arr_at_risk}" in template:
        template = words.text("email.subject_no_risk")
    return template.format(**fields)


def _charts(folder: RunFolder, charts: Mapping[str, str]) -> list[dict[str, Any]]:
    root = folder.path.resolve()
    out = []
    for key, relative in charts.items():
        path = (folder.path / str(relative)).resolve()
        if not path.is_relative_to(root):
            logger.warning("chart %r points outside the run directory; skipped", key)
            continue
        if not path.is_file():
            logger.warning("chart %s is missing; the email goes out without it", path)
            continue
        data = path.read_bytes()
        if not data.startswith(PNG_SIGNATURE) or len(data) < 24:
            logger.warning("chart %s is not a PNG file; skipped", path)
            continue
        width = int.from_bytes(data[16:20], "big")
        height = int.from_bytes(data[20:24], "big")
        shown = min(width, 700)
        out.append(
            {
                "key": str(key),
                "alt": str(key).replace("_", " ").capitalize(),
                "cid": content_id(len(out) + 1),
                "filename": path.name,
                "data": data,
                "width": shown,
                "height": round(height * shown / width) if width else height,
            }
        )
    return out


def content_id(index: int) -> str:
    """A short, unique Content-ID for the ``index``-th image (``img3.<random>@churnlab``).

    Short enough (under 40 characters) that no header line is folded, and plain ASCII,
    so mail clients match it to the ``cid:`` of the HTML as it is.
    """
    return f"img{index}.{secrets.token_hex(6)}@{CID_DOMAIN}"


def _context(
    headline: Headline, charts: list[dict[str, Any]], attachments: list[Path]
) -> dict[str, Any]:
    words = vocabulary()
    renewals = [
        {
            "name": str(row.name or row.account_id),
            "account_id": str(row.account_id),
            "arr": words.money(row.arr),
            "renewal_date": str(row.renewal_date or ""),
            "probability": words.rate(row.churn_probability, 0),
            "expected_arr_at_risk": words.money(row.expected_arr_at_risk),
            "health_band": str(row.health_band or ""),
            "reasons": _shorten(str(row.reasons or ""), _REASONS_CHARS),
        }
        for row in headline.top_renewals
    ]
    kpis = [
        {
            "label": tile.label,
            "display": tile.display,
            "change_display": tile.change_display,
            "good": tile.good,
        }
        for tile in headline.kpis
    ]
    return {
        "company": headline.company,
        "as_of": headline.as_of,
        "run_id": headline.run_id,
        "arr_at_risk": headline.arr_at_risk_display or words.money(headline.arr_at_risk),
        "renewal_window_days": headline.renewal_window_days,
        "box": _headline_box(headline),
        "warning": headline.warning or "",
        "kpis": kpis,
        "renewals": renewals,
        "renewals_total": len(renewals),
        "charts": [{k: c[k] for k in ("cid", "alt", "width", "height")} for c in charts],
        "attachments": [p.name for p in attachments],
    }


def _headline_box(headline: Headline) -> dict[str, str]:
    """The red box at the top of the email: the ARR at risk, else the first KPI tile."""
    if headline.kpi("arr_at_risk") is not None:
        horizon = f" within {headline.horizon_days} days" if headline.horizon_days else ""
        return {
            "label": f"ARR at risk in the next {headline.renewal_window_days} days "
            f"(expected: p(churn{horizon}) x ARR)",
            "value": headline.arr_at_risk_display,
        }
    first = headline.kpis[0] if headline.kpis else None
    return {"label": first.label if first else "", "value": first.display if first else ""}


def _render_html_within_limit(context: dict[str, Any]) -> tuple[str, int]:
    """Render the HTML body with as many renewal rows as fit in MAX_HTML_BYTES."""
    template = environment().get_template("email.html.j2")
    total = context["renewals_total"]
    for limit in (total, *(n for n in _ROW_LIMITS if n < total)):
        html = template.render({**context, "renewals": context["renewals"][:limit]})
        if len(html.encode("utf-8")) <= MAX_HTML_BYTES:
            if limit < total:
                logger.info("email body shows %d of %d renewals to stay under 100 KB", limit, total)
            return html, limit
    raise DeliveryError(
        f"the email body is larger than {MAX_HTML_BYTES} bytes even without the renewal table. "
        "How to fix: shorten the KPI list of the headline."
    )


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _one_line(text: str) -> str:
    """Header values never carry line breaks (no header injection from user data)."""
    return " ".join(str(text).split())


def rerun_command(manifest: Mapping[str, Any]) -> str:
    """The command that runs a failed run's period again: its own command, as_of, ``--send``.

    The command recorded by ``churnlab run`` (with its ``--params`` overlays and ``-p``
    overrides) is repeated; ``--as-of`` pins the run's date when it was known.
    """
    command = list(manifest.get("command") or ["churnlab", "run"])
    if manifest.get("as_of"):
        command += ["--as-of", str(manifest["as_of"])]
    return shlex.join([*command, "--send"])


def _domain(sender: str) -> str:
    domain = sender.rpartition("@")[2].strip("> ")
    return domain if re.fullmatch(r"[A-Za-z0-9.-]+", domain or "") else "churnlab.localhost"
