"""Building the report email and the failure notice (no network here).

The report email is ``multipart/mixed``::

    multipart/alternative
        text/plain                  compact body (email.txt.j2)
        multipart/related
            text/html               compact body (email.html.j2), <= 100 KB
            image/png ...           charts, referenced as cid: from the HTML
    text/html   attachment          report.html (the full executive report)
    text/csv    attachment          renewal_map.csv (when attach_csv)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping, Sequence
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import jinja2

from churnlab.delivery_settings import DeliverySettings
from churnlab.errors import DeliveryError

logger = logging.getLogger(__name__)

#: Largest HTML body in bytes: Gmail clips longer messages behind "View entire message".
MAX_HTML_BYTES = 100_000
TEMPLATES_DIR = Path(__file__).parent / "report" / "templates"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_REASONS_CHARS = 240
_EVALUE_CHARS = 1500
_ROW_LIMITS = (50, 25, 10, 5, 0)

__all__ = ["MAX_HTML_BYTES", "build_failure_notice", "build_message", "read_json"]


def build_message(
    run_dir: str | Path, settings: DeliverySettings, *, now: dt.datetime | None = None
) -> EmailMessage:
    """Build the report email of a run from its ``headline.json`` and files.

    Parameters
    ----------
    run_dir : path
        The run directory (holds ``headline.json``, ``report.html``, ``charts/``).
    settings : DeliverySettings
        Recipients, sender, subject template, ``attach_csv``.
    now : datetime, optional
        Time for the ``Date`` header; the current UTC time when None.

    Returns
    -------
    email.message.EmailMessage
        The message, with ``Message-ID`` and ``Date`` set.

    Raises
    ------
    DeliveryError
        ``headline.json`` or ``report.html`` is missing or unreadable, or there are no recipients.
    """
    run_dir = Path(run_dir)
    headline = read_json(run_dir / "headline.json", "the report stage")
    report = run_dir / "report.html"
    if not report.is_file():
        raise DeliveryError(
            f"{report} is missing: the report stage did not finish. "
            "How to fix: re-run the report stage for this run (or the whole run)."
        )
    domain = _domain(settings.sender)
    charts = _charts(run_dir, headline.get("charts") or {}, domain)
    context = _context(headline, charts, settings.attach_csv and (run_dir / "renewal_map.csv"))
    html, shown = _render_html_within_limit(context)
    context = {**context, "renewals": context["renewals"][:shown]}
    text = _environment(autoescape=False).get_template("email.txt.j2").render(context)

    msg = _new_message(settings, settings.recipients, _subject(settings, headline), now, domain)
    msg["X-Churnlab-Run"] = _one_line(str(headline.get("run_id", run_dir.name)))
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
    msg.add_attachment(report.read_bytes(), maintype="text", subtype="html", filename="report.html")
    if settings.attach_csv:
        csv_path = run_dir / "renewal_map.csv"
        if csv_path.is_file():
            msg.add_attachment(
                csv_path.read_bytes(), maintype="text", subtype="csv", filename=csv_path.name
            )
        else:
            logger.warning("%s is missing: the email goes out without the CSV", csv_path)
    return msg


def build_failure_notice(
    run_dir: str | Path,
    manifest: Mapping[str, Any],
    settings: DeliverySettings,
    *,
    now: dt.datetime | None = None,
) -> EmailMessage:
    """Build the short plain-text notice about a failed run.

    Names every failed notebook with the cell index, exception name and value
    recorded in the manifest, and says where the executed notebooks are.
    """
    run_dir = Path(run_dir)
    run_id = str(manifest.get("run_id") or run_dir.name)
    failed = [nb for nb in manifest.get("notebooks") or [] if nb.get("status") == "failed"]
    lines = [
        f"The churnlab run {run_id} did not succeed (status: {manifest.get('status')}).",
        f"as_of: {manifest.get('as_of')}   started: {manifest.get('started_at')}   "
        f"finished: {manifest.get('finished_at')}",
        "",
    ]
    for nb in failed:
        error = nb.get("error") or {}
        evalue = str(error.get("evalue", ""))
        if len(evalue) > _EVALUE_CHARS:
            evalue = evalue[:_EVALUE_CHARS] + " ..."
        lines += [
            f"Failed notebook: {nb.get('name')} (cell {error.get('cell_index', '?')})",
            f"  {error.get('ename', 'error')}: {evalue}",
            f"  executed notebook: {run_dir / 'notebooks' / str(nb.get('name'))}",
            "",
        ]
    if not failed:
        lines += ["No notebook is marked failed; see 'error' in the manifest.", ""]
        if manifest.get("error"):
            lines += [f"  {manifest['error']}", ""]
    lines += [
        f"Run directory: {run_dir}",
        "No report was sent to leadership for this run. Fix the cause above and re-run",
        f"`churnlab run --as-of {manifest.get('as_of')} --send`.",
    ]
    subject = f"churnlab run FAILED: {run_id}"
    msg = _new_message(
        settings, settings.failure_recipients, subject, now, _domain(settings.sender)
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
) -> EmailMessage:
    if not recipients:
        raise DeliveryError(
            "no recipients: the recipient list is empty. How to fix: set delivery.recipients "
            "(and delivery.failure_recipients for failure notices) in params.yaml."
        )
    msg = EmailMessage(policy=policy.default)
    msg["From"] = settings.sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = _one_line(subject)
    msg["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    msg["Message-ID"] = make_msgid(idstring="churnlab", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def _subject(settings: DeliverySettings, headline: Mapping[str, Any]) -> str:
    fields = {
        "as_of": headline.get("as_of", "?"),
        "arr_at_risk": _money(headline.get("arr_at_risk_90d")),
        "run_id": headline.get("run_id", ""),
        "company": headline.get("company", ""),
    }
    return settings.subject_template.format(**fields)


def _charts(run_dir: Path, charts: Mapping[str, str], domain: str) -> list[dict[str, Any]]:
    root = run_dir.resolve()
    out = []
    for key, relative in charts.items():
        path = (run_dir / str(relative)).resolve()
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
        cid = make_msgid(idstring=re.sub(r"[^A-Za-z0-9_.-]", "_", str(key)), domain=domain)[1:-1]
        out.append(
            {
                "key": str(key),
                "alt": str(key).replace("_", " ").capitalize(),
                "cid": cid,
                "filename": path.name,
                "data": data,
                "width": shown,
                "height": round(height * shown / width) if width else height,
            }
        )
    return out


def _context(
    headline: Mapping[str, Any], charts: list[dict[str, Any]], csv: Path | bool
) -> dict[str, Any]:
    renewals = [
        {
            "name": str(row.get("name") or row.get("account_id", "")),
            "account_id": str(row.get("account_id", "")),
            "arr": _money(row.get("arr")),
            "renewal_date": str(row.get("renewal_date") or ""),
            "probability": _percent(row.get("churn_probability")),
            "expected_arr_at_risk": _money(row.get("expected_arr_at_risk")),
            "health_band": str(row.get("health_band") or ""),
            "reasons": _shorten(str(row.get("reasons") or ""), _REASONS_CHARS),
        }
        for row in headline.get("top_renewals") or []
    ]
    kpis = [
        {
            "label": str(k.get("label", k.get("key", ""))),
            "display": str(k.get("display", k.get("value", ""))),
            "change_display": str(k.get("change_display") or ""),
            "good": k.get("good"),
        }
        for k in headline.get("kpis") or []
    ]
    attachments = ["report.html"] + ([csv.name] if isinstance(csv, Path) and csv.is_file() else [])
    return {
        "company": str(headline.get("company", "")),
        "as_of": str(headline.get("as_of", "")),
        "run_id": str(headline.get("run_id", "")),
        "arr_at_risk": _money(headline.get("arr_at_risk_90d")),
        "kpis": kpis,
        "renewals": renewals,
        "renewals_total": len(renewals),
        "charts": [{k: c[k] for k in ("cid", "alt", "width", "height")} for c in charts],
        "attachments": attachments,
    }


def _render_html_within_limit(context: dict[str, Any]) -> tuple[str, int]:
    """Render the HTML body with as many renewal rows as fit in MAX_HTML_BYTES."""
    template = _environment(autoescape=True).get_template("email.html.j2")
    total = context["renewals_total"]
    for limit in (total, *(n for n in _ROW_LIMITS if n < total)):
        html = template.render({**context, "renewals": context["renewals"][:limit]})
        if len(html.encode("utf-8")) <= MAX_HTML_BYTES:
            if limit < total:
                logger.info("email body shows %d of %d renewals to stay under 100 KB", limit, total)
            return html, limit
    raise DeliveryError(
        f"the email body is larger than {MAX_HTML_BYTES} bytes even without the renewal table. "
        "How to fix: shorten the KPI list in headline.json."
    )


def _environment(*, autoescape: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _money(value: Any) -> str:
    try:
        return f"{float(value):,.0f}"
    except (TypeError, ValueError):
        return "n/a"


def _percent(value: Any) -> str:
    try:
        return f"{float(value):.0%}"
    except (TypeError, ValueError):
        return "n/a"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _one_line(text: str) -> str:
    """Header values never carry line breaks (no header injection from user data)."""
    return " ".join(str(text).split())


def _domain(sender: str) -> str:
    domain = sender.rpartition("@")[2].strip("> ")
    return domain if re.fullmatch(r"[A-Za-z0-9.-]+", domain or "") else "churnlab.localhost"
