"""Sending a run's report or failure notice at most once, recording it in the manifest.

Every delivery appends one record to the ``delivery`` list of the run's ``manifest.json``:
``{kind, status, message_id, sent_at, recipients, forced}`` (plus ``refused`` when the
server refused some recipients), or ``{kind, status: "not_sent", reason, at}`` when a
failure notice was due and nobody was set to receive it. ``status`` is ``"sent"`` (the server answered 250 to the
message data) or ``"unknown"`` (the data was sent but the reply never came: the server
may have stored the message). Records written before ``status`` existed are sent ones.
A run with a record of either status is not sent again unless ``force``; ``force`` sends
a new message with a fresh ``Message-ID`` and keeps the earlier records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from churnlab.atomic import write_bytes, write_json
from churnlab.delivery._message import build_failure_notice, build_message, read_json
from churnlab.delivery._settings import (
    DeliveryOutcomeUnknown,
    DeliveryResult,
    DeliverySettings,
    credentials_from_env,
)
from churnlab.delivery._smtp import OutcomeUnknown, send_with_retries
from churnlab.errors import DeliveryError
from churnlab.run.folder import RunFolder

try:  # POSIX: serialise concurrent sends of one run; the lock dies with the process.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

REPORT, FAILURE_NOTICE = "report", "failure_notice"
#: ``status`` of a delivery record: the server accepted the message / may have stored it.
SENT, UNKNOWN = "sent", "unknown"

__all__ = ["send_failure_notice", "send_run"]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def send_run(
    run_dir: str | Path,
    settings: DeliverySettings,
    *,
    dry_run: bool = False,
    force: bool = False,
    env: Mapping[str, str] = os.environ,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], dt.datetime] = _utc_now,
) -> DeliveryResult:
    """Mail the report of a succeeded run to ``settings.recipients``.

    Parameters
    ----------
    run_dir : path
        The run directory.
    settings : DeliverySettings
        Recipients, server, retries.
    dry_run : bool
        Build the message and write it to ``email-<UTC timestamp>.eml`` in the run
        directory; send nothing and record nothing (allowed also for a delivered run).
    force : bool
        Send even though the manifest records an earlier delivery of this run (sent, or
        with an unknown outcome). The new message has a fresh ``Message-ID``.
    env : mapping
        Where the SMTP credentials are read from (``os.environ``).
    sleep : callable
        Backoff between retries (``time.sleep``).
    clock : callable
        Returns the current UTC time (``Date`` header, ``sent_at``, file names).

    Returns
    -------
    DeliveryResult

    Raises
    ------
    DeliveryOutcomeUnknown
        The message data was sent but the server's reply never came (a timeout after
        ``data_timeout_seconds`` or a dropped connection): the server may have stored it.
        The manifest records the delivery with ``status = "unknown"``; nothing is retried.
    DeliveryError
        The run did not succeed (use :func:`send_failure_notice`), was delivered
        before or its delivery outcome is unknown (use ``force``), its files are
        missing, or SMTP failed for good.
    """
    run_dir = Path(run_dir)
    with _run_lock(run_dir):
        manifest = _read_manifest(run_dir)
        status = manifest.get("status")
        if status != "succeeded":
            raise DeliveryError(
                f"run {run_dir.name} has status {status!r}, not 'succeeded': its report is not "
                "sent. How to fix: send the failure notice instead (send_failure_notice / "
                "`churnlab send --failure-notice`), fix the cause and re-run."
            )
        previous = _records(manifest, REPORT)
        if previous and not force and not dry_run:
            last = previous[-1]
            if _status(last) == UNKNOWN:
                raise DeliveryError(_unknown_refusal(run_dir, last, "report", "--force"))
            raise DeliveryError(
                f"run {run_dir.name} was already delivered at {last.get('sent_at')} to "
                f"{', '.join(last.get('recipients') or [])} (Message-ID {last.get('message_id')}). "
                "How to fix: nothing, if that mail arrived; to send it again pass --force."
            )
        now = clock()
        msg = build_message(run_dir, settings, now=now, preview=dry_run)
        if dry_run:
            return _write_eml(run_dir, msg, REPORT, settings.recipients, now)
        return _send_and_record(
            run_dir, msg, settings, settings.recipients, REPORT, bool(previous), env, sleep, clock
        )


def send_failure_notice(
    run_dir: str | Path,
    settings: DeliverySettings,
    *,
    dry_run: bool = False,
    force: bool = False,
    env: Mapping[str, str] = os.environ,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], dt.datetime] = _utc_now,
) -> DeliveryResult:
    """Mail a short plain-text notice about a failed run to ``settings.failure_recipients``.

    The notice names every notebook the manifest marks ``failed`` with the
    cell index, exception name and value. Like :func:`send_run` it is sent at
    most once per run unless ``force``, and recorded in the manifest with
    ``kind = "failure_notice"``. Parameters are those of :func:`send_run`.

    Raises
    ------
    DeliveryOutcomeUnknown
        The notice was sent but the server's reply never came (see :func:`send_run`).
    DeliveryError
        The run succeeded (use :func:`send_run`), ``failure_recipients`` is empty,
        a notice was sent before (or with an unknown outcome), or SMTP failed for good.
    """
    run_dir = Path(run_dir)
    with _run_lock(run_dir):
        manifest = _read_manifest(run_dir)
        if manifest.get("status") == "succeeded":
            raise DeliveryError(
                f"run {run_dir.name} succeeded: there is no failure to report. "
                "How to fix: send its report with send_run / `churnlab send`."
            )
        previous = _records(manifest, FAILURE_NOTICE)
        if previous and not force and not dry_run:
            if _status(previous[-1]) == UNKNOWN:
                raise DeliveryError(
                    _unknown_refusal(
                        run_dir, previous[-1], "failure notice", "--failure-notice --force"
                    )
                )
            raise DeliveryError(
                f"the failure notice of run {run_dir.name} was already sent at "
                f"{previous[-1].get('sent_at')}. How to fix: pass --force to send it again."
            )
        now = clock()
        msg = build_failure_notice(run_dir, manifest, settings, now=now, preview=dry_run)
        if dry_run:
            return _write_eml(run_dir, msg, FAILURE_NOTICE, settings.failure_recipients, now)
        return _send_and_record(
            run_dir,
            msg,
            settings,
            settings.failure_recipients,
            FAILURE_NOTICE,
            bool(previous),
            env,
            sleep,
            clock,
        )


def _send_and_record(
    run_dir: Path,
    msg: EmailMessage,
    settings: DeliverySettings,
    recipients: Sequence[str],
    kind: str,
    forced: bool,
    env: Mapping[str, str],
    sleep: Callable[[float], None],
    clock: Callable[[], dt.datetime],
) -> DeliveryResult:
    credentials = credentials_from_env(settings, env)
    message_id = str(msg["Message-ID"])
    try:
        outcome = send_with_retries(msg, settings, recipients, credentials, sleep)
    except OutcomeUnknown as unknown:
        record = _record(kind, UNKNOWN, message_id, clock, recipients, unknown.refused, forced)
        raise _outcome_unknown(run_dir, settings, record, unknown) from unknown
    record = _record(kind, SENT, message_id, clock, recipients, outcome.refused, forced)
    try:
        _append_record(run_dir, record)
    except (OSError, DeliveryError) as exc:
        raise DeliveryError(
            f"the email was sent (Message-ID {message_id}) but recording it in "
            f"{RunFolder(run_dir).manifest} failed ({exc}). How to fix: do NOT re-send; "
            "check the run directory's permissions and disk space."
        ) from exc
    logger.info("run %s: %s sent to %s", run_dir.name, kind, ", ".join(record["recipients"]))
    return DeliveryResult(
        run_dir=run_dir,
        kind=kind,
        message_id=message_id,
        recipients=tuple(record["recipients"]),
        refused=outcome.refused,
        sent_at=record["sent_at"],
        attempts=outcome.attempts,
        forced=forced,
    )


def _record(
    kind: str,
    status: str,
    message_id: str,
    clock: Callable[[], dt.datetime],
    recipients: Sequence[str],
    refused: Sequence[str],
    forced: bool,
) -> dict[str, Any]:
    """One ``delivery`` record of the manifest (``refused`` only when some were)."""
    record: dict[str, Any] = {
        "kind": kind,
        "status": status,
        "message_id": message_id,
        "sent_at": clock().astimezone(dt.UTC).isoformat(timespec="seconds"),
        "recipients": [r for r in recipients if r not in set(refused)],
        "forced": forced,
    }
    if refused:
        record["refused"] = list(refused)
    return record


#: The status of a message that was due but not sent (no failure recipients).
NOT_SENT = "not_sent"


def record_not_sent(run_dir: Path, kind: str, reason: str) -> dict[str, Any]:
    """Record in the manifest that a message of ``kind`` was not sent, and why.

    ``churnlab run --send`` records it when a run fails and
    ``delivery.failure_recipients`` is empty: the manifest then says that nobody was told.
    """
    record = {
        "kind": kind,
        "status": NOT_SENT,
        "reason": reason,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    _append_record(run_dir, record)
    return record


def _append_record(run_dir: Path, record: Mapping[str, Any]) -> None:
    manifest = _read_manifest(run_dir)  # fresh copy: keep what others wrote meanwhile
    manifest["delivery"] = [*(manifest.get("delivery") or []), dict(record)]
    write_json(RunFolder(run_dir).manifest, manifest)


def _outcome_unknown(
    run_dir: Path, settings: DeliverySettings, record: Mapping[str, Any], unknown: OutcomeUnknown
) -> DeliveryError:
    """Record an unknown outcome in the manifest; the error that tells the user what to do."""
    kind, message_id = record["kind"], record["message_id"]
    what = "report" if kind == REPORT else "failure notice"
    flags = "--force" if kind == REPORT else "--failure-notice --force"
    told = (
        f"the {what} of run {run_dir.name} may have been delivered: churnlab sent the whole "
        f"message to the SMTP server {settings.smtp_host}:{settings.smtp_port} (Message-ID "
        f"{message_id}, to {', '.join(record['recipients'])}) but {unknown.reason}. "
        "The server may have stored it, so churnlab does not retry"
    )
    how = (
        f"How to fix: check the recipients' mailbox for Message-ID {message_id}; only if it "
        f"did not arrive, send it again with `churnlab send {run_dir} {flags}`."
    )
    try:
        _append_record(run_dir, record)
    except (OSError, DeliveryError) as exc:
        return DeliveryOutcomeUnknown(
            f"{told}, and recording this in {RunFolder(run_dir).manifest} failed ({exc}): a "
            f"later `churnlab send` will not know about it. {how} Also check the run "
            "directory's permissions and disk space.",
            run_dir=run_dir,
            kind=kind,
            message_id=message_id,
        )
    logger.error("run %s: %s %s has an unknown outcome", run_dir.name, kind, message_id)
    return DeliveryOutcomeUnknown(
        f"{told}; {RunFolder(run_dir).manifest} records this delivery as 'unknown'. {how}",
        run_dir=run_dir,
        kind=kind,
        message_id=message_id,
    )


def _unknown_refusal(run_dir: Path, record: Mapping[str, Any], what: str, flags: str) -> str:
    """Why a run whose last delivery has an unknown outcome is not sent again."""
    message_id = record.get("message_id")
    return (
        f"the {what} of run {run_dir.name} was sent at {record.get('sent_at')} to "
        f"{', '.join(record.get('recipients') or [])} but its outcome is unknown: the SMTP "
        "server gave no clear reply after the message data, and may have stored it "
        f"(Message-ID {message_id}). How to fix: check the recipients' mailbox for "
        f"Message-ID {message_id}; nothing to do if it arrived; only if it did not, send "
        f"it again with `churnlab send {run_dir} {flags}`."
    )


def _write_eml(
    run_dir: Path, msg: EmailMessage, kind: str, recipients: Any, now: dt.datetime
) -> DeliveryResult:
    path = RunFolder(run_dir).new_eml(kind, now)
    write_bytes(path, msg.as_bytes())
    logger.info("dry run: %s written, nothing sent", path)
    return DeliveryResult(
        run_dir=run_dir,
        kind=kind,
        message_id=str(msg["Message-ID"]),
        recipients=tuple(recipients),
        dry_run=True,
        eml_path=path,
    )


def delivery_status(manifest: Mapping[str, Any], kind: str = REPORT) -> str | None:
    """The last delivery of ``kind`` recorded in a manifest: ``sent``, ``unknown`` or None."""
    records = _records(manifest, kind)
    return _status(records[-1]) if records else None


def _records(manifest: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    """Delivery records of one kind (records without ``kind`` are report deliveries).

    A ``not_sent`` record (see :func:`record_not_sent`) is no delivery: left out.
    """
    return [
        r
        for r in manifest.get("delivery") or []
        if r.get("kind", REPORT) == kind and r.get("status") != NOT_SENT
    ]


def _status(record: Mapping[str, Any]) -> str:
    """``"sent"`` or ``"unknown"``; records written before ``status`` existed were sent."""
    return str(record.get("status", SENT))


def _read_manifest(run_dir: Path) -> dict[str, Any]:
    if not run_dir.is_dir():
        raise DeliveryError(f"run directory {run_dir} does not exist. How to fix: check the path.")
    return read_json(RunFolder(run_dir).manifest, "the run (`churnlab run`)")


@contextlib.contextmanager
def _run_lock(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the run while checking, sending and recording."""
    if fcntl is None or not run_dir.is_dir():
        yield
        return
    with open(RunFolder(run_dir).delivery_lock, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
