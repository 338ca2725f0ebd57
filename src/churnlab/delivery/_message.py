"""Building the report email and the failure notice (no network here).

The report email is ``multipart/mixed``::

    multipart/alternative
        text/plain                  compact body (email.txt.j2)
        multipart/related
            text/html               compact body (email.html.j2), <= 100 KB decoded
            image/png ...           sparklines and two charts, cid: from the HTML
    text/html   attachment          report.html (the full executive report)
    text/csv    attachment          renewal_map_top.csv (when attach_csv)
    text/csv    attachment          monthly_at_risk_top.csv (when attach_csv and present)

Its figures come from the run's :class:`~churnlab.report.Headline`, the same object the
report renders, so the subject, the headline box and the report always agree; its words
and formats from the catalogue of the headline's language and currency
(:mod:`churnlab.delivery._body`). The subject is RFC 2047-encoded when it is not ASCII
(the ``email`` package's default policy); every text part is UTF-8, base64 when it holds
any non-ASCII character (Japanese is never quoted-printable).
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import datetime as dt
import io
import itertools
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

import jinja2

from churnlab.delivery._body import EmailImage, chart_width, email_context, email_images
from churnlab.delivery._settings import DeliverySettings
from churnlab.errors import DeliveryError, ParamsError, RunError
from churnlab.report.headline import Headline
from churnlab.report.templating import environment
from churnlab.run.folder import RunFolder
from churnlab.run.record import stage_records
from churnlab.vocabulary import Vocabulary, vocabulary

logger = logging.getLogger(__name__)

#: Largest HTML body in bytes, decoded and encoded: Gmail clips longer messages (102 KB)
#: behind "View entire message".
MAX_HTML_BYTES = 100_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The right-hand side of every Content-ID: short, so that no header is ever folded.
CID_DOMAIN = "churnlab"
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
    words = vocabulary(headline.language, headline.currency)
    domain = _domain(settings.sender)
    images = _charts(folder, email_images(headline, folder, words))
    tables = _tables(folder, headline) if settings.attach_csv else {}
    context = email_context(
        headline,
        words,
        images,
        [folder.report, *(Path(name) for name, _ in tables.values())],
        {kind: name for kind, (name, _) in tables.items()},
    )
    env = environment(headline.language, headline.currency)
    html, shown = _render_html_within_limit(env, context)
    context = {
        **context,
        "renewals": context["renewals"][:shown],
        "monthly": context["monthly"][:shown],
    }
    text = env.get_template("email.txt.j2").render(context)

    msg = _new_message(
        settings, settings.recipients, _subject(settings, headline, words), now, domain, preview
    )
    msg["X-Churnlab-Run"] = _one_line(headline.run_id or folder.name)
    msg.set_content(text, cte=_transfer_encoding(text))
    msg.add_alternative(html, subtype="html", cte=_transfer_encoding(html))
    html_part = msg.get_payload()[1]
    for image in images:
        html_part.add_related(
            image["data"],
            maintype="image",
            subtype="png",
            cid=f"<{image['cid']}>",
            filename=image["filename"],
            disposition="inline",
        )
    # as text with its charset: a client shows the report's "—" and names as written
    report = folder.report.read_text(encoding="utf-8")
    msg.add_attachment(
        report,
        subtype="html",
        charset="utf-8",
        cte=_transfer_encoding(report),
        filename=folder.report.name,
    )
    for name, table in tables.values():
        msg.add_attachment(
            table, subtype="csv", charset="utf-8", cte=_transfer_encoding(table), filename=name
        )
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
    body = "\n".join(lines) + "\n"
    msg.set_content(body, cte=_transfer_encoding(body))
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


def _subject(settings: DeliverySettings, headline: Headline, words: Vocabulary) -> str:
    """The subject in the run's language, its money in the body's one format."""
    first = headline.kpis[0] if headline.kpis else None
    first_display = ""
    if first is not None:
        value = words.rate(first.value) if first.kind == "rate" else words.money(first.value)
        first_display = f"{first.label} {value}"
    fields = {
        "as_of": headline.as_of or "?",
        "arr_at_risk": words.money(headline.arr_at_risk),
        # the horizon of the whole book's ARR at risk (older runs: the renewal window)
        "days": headline.horizon_days
        if headline.arr_at_risk_scope == "book" and headline.horizon_days
        else headline.renewal_window_days,
        "run_id": headline.run_id,
        "company": headline.company,
        "headline_kpi": first_display,
    }
    # null: the catalogue's subject; a run without an ARR at risk (a snapshot without
    # renewal dates, or no model) names the first tile instead of a "$0 at risk" or "n/a"
    template = settings.subject_template or words.text("email.subject")
    if headline.kpi("arr_at_risk") is None and "{arr_at_risk}" in template:
        template = words.text("email.subject_no_risk")
    return template.format(**fields)


def _tables(folder: RunFolder, headline: Headline) -> dict[str, tuple[str, str]]:
    """The account tables the email carries, by kind: ``(file name, CSV text)``.

    The top rows the report stage wrote for the email (``renewal_map_top.csv``,
    ``monthly_at_risk_top.csv``); a run made before them gets the top rows of its
    ``renewal_map.csv``. The full tables stay in the run folder.
    """
    out: dict[str, tuple[str, str]] = {}
    if folder.renewal_map_top.is_file():
        out["renewals"] = (folder.renewal_map_top.name, folder.renewal_map_top.read_text("utf-8"))
    elif folder.renewal_map.is_file():
        table = top_rows(folder.renewal_map.read_text("utf-8"), len(headline.top_renewals))
        out["renewals"] = (folder.renewal_map_top.name, table)
    else:
        logger.warning("%s is missing: the email goes out without it", folder.renewal_map)
    if folder.monthly_at_risk_top.is_file() and headline.top_monthly:
        top = folder.monthly_at_risk_top
        out["monthly"] = (top.name, top.read_text("utf-8"))
    return out


def top_rows(table: str, rows: int) -> str:
    """The header and the first ``rows`` records of a CSV text, each field as written.

    The email carries the renewals its body names (``report.top_accounts``, most expected
    ARR at risk first); the full table stays in the run folder. Quoted fields with line
    breaks stay one record.
    """
    records = list(itertools.islice(csv.reader(io.StringIO(table, newline="")), rows + 1))
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue()


def _transfer_encoding(text: str) -> str | None:
    """``base64`` unless the text is plain ASCII in short lines (then 7bit, as it is).

    Never quoted-printable: it triples every non-ASCII byte (Japanese text) and some
    clients show it broken; base64 is safe on every transport (8bit needs the server's
    8BITMIME). ``None`` lets the email package choose 7bit for short ASCII lines.
    """
    short = all(len(line) <= 78 for line in text.splitlines())
    return None if text.isascii() and short else "base64"


def _charts(folder: RunFolder, images: Sequence[EmailImage]) -> list[dict[str, Any]]:
    """Load the images of the body: PNG bytes, a Content-ID and the size they are shown at."""
    root = folder.path.resolve()
    out = []
    for image in images:
        path = (folder.path / str(image.relative)).resolve()
        if not path.is_relative_to(root):
            logger.warning("chart %r points outside the run directory; skipped", image.key)
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
        shown = chart_width(width)
        out.append(
            {
                **dataclasses.asdict(image),
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


def _render_html_within_limit(env: jinja2.Environment, context: dict[str, Any]) -> tuple[str, int]:
    """Render the HTML body with as many account rows per table as fit (:func:`_fits`)."""
    template = env.get_template("email.html.j2")
    total = max(context["renewals_total"], context["monthly_total"])
    for limit in (total, *(n for n in _ROW_LIMITS if n < total)):
        html = template.render(
            {
                **context,
                "renewals": context["renewals"][:limit],
                "monthly": context["monthly"][:limit],
            }
        )
        if _fits(html):
            if limit < total:
                logger.info("email body shows %d of %d accounts to stay under 100 KB", limit, total)
            return html, limit
    raise DeliveryError(
        f"the email body is larger than {MAX_HTML_BYTES} bytes even without the renewal table. "
        "How to fix: shorten the KPI list of the headline."
    )


def _fits(html: str) -> bool:
    """Whether the body stays under the limit decoded and as it travels (base64 or 7bit).

    Gmail clips a body above 102 KB; whichever size it counts, both stay under
    :data:`MAX_HTML_BYTES`.
    """
    data = html.encode("utf-8")
    travels = len(base64.encodebytes(data)) if _transfer_encoding(html) else len(data)
    return max(len(data), travels) <= MAX_HTML_BYTES


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
