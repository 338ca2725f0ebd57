"""SMTP transport of :mod:`churnlab.delivery`: TLS, AUTH, retries with backoff, at most once.

One attempt is EHLO, STARTTLS, AUTH, then the mail transaction, sent here step by step
(``MAIL``, ``RCPT``, ``DATA``) rather than with :meth:`smtplib.SMTP.send_message`, so that
two moments can be told apart:

- **Before the message data is handed over** (up to the server's ``354`` to ``DATA``, and
  while the data is being written): the server cannot have stored the message. Transient
  failures here (4xx replies, a refused or dropped connection, a timeout) are retried with
  exponential backoff, with the same message (same ``Message-ID``). Every operation up to
  here waits at most ``timeout_seconds``.
- **After the data was handed over, before the server's reply** (the final ``250``): the
  server may have stored the message. A timeout (``data_timeout_seconds``, 10 minutes by
  default as RFC 5321 section 4.5.3.2.6 allows) or a dropped connection here raises
  :class:`OutcomeUnknown` and is never retried. An explicit 4xx/5xx reply to the data is
  a refusal and is handled like one.

Authentication, TLS and 5xx failures are permanent: they raise
:class:`~churnlab.errors.DeliveryError` at once, with how to fix them.
Credentials are never logged and never part of an error message.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.message import EmailMessage

from churnlab.delivery._settings import Credentials, DeliverySettings
from churnlab.errors import DeliveryError

logger = logging.getLogger("churnlab.delivery")

#: Reply of :meth:`smtplib.SMTP.rcpt` per refused address: ``{address: (code, text)}``.
Refused = dict[str, tuple[int, bytes]]


@dataclass(frozen=True)
class SendOutcome:
    """Result of :func:`send_with_retries`: attempts made and addresses refused."""

    attempts: int
    refused: tuple[str, ...]


class OutcomeUnknown(Exception):
    """The message data was sent but no reply to it came: the server may have stored it.

    Raised by :func:`send_with_retries` and never retried.

    Parameters
    ----------
    reason : str
        What happened after the data was sent, e.g. "no reply came within ...".
    refused : tuple of str
        Recipients the server refused at ``RCPT`` (the others may have the message).
    attempts : int
        The attempt that sent the data (1 for the first).
    """

    def __init__(self, reason: str, refused: tuple[str, ...] = (), attempts: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused
        self.attempts = attempts


def send_with_retries(
    msg: EmailMessage,
    settings: DeliverySettings,
    recipients: Sequence[str],
    credentials: Credentials | None,
    sleep: Callable[[float], None],
) -> SendOutcome:
    """Send ``msg`` to ``recipients``, retrying failures that happen before the data is sent.

    Parameters
    ----------
    msg : email.message.EmailMessage
        The message; it is sent unchanged on every attempt.
    settings : DeliverySettings
        Server, security, timeouts, ``max_retries`` and ``backoff_seconds``.
    recipients : sequence of str
        Envelope recipients.
    credentials : Credentials or None
        AUTH user and password; None sends without AUTH.
    sleep : callable
        Called with the backoff in seconds between attempts (inject a no-op in tests).

    Returns
    -------
    SendOutcome

    Raises
    ------
    OutcomeUnknown
        The message data was sent but the server's reply did not come (timeout after
        ``data_timeout_seconds``, dropped connection): the message may have been stored.
        Not retried.
    DeliveryError
        A permanent failure, or transient failures on every attempt.
    """
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    attempts_allowed = settings.max_retries + 1
    for attempt in range(1, attempts_allowed + 1):
        try:
            refused = _send_once(msg, settings, recipients, credentials)
        except OutcomeUnknown as unknown:
            logger.error(
                "SMTP attempt %d: email %s sent to %s, but %s; not retrying",
                attempt,
                msg["Message-ID"],
                where,
                unknown.reason,
            )
            raise OutcomeUnknown(unknown.reason, unknown.refused, attempt) from unknown
        except (smtplib.SMTPException, OSError) as exc:
            transient, reason = _classify(exc, settings, credentials)
            if not transient:
                raise DeliveryError(f"could not send the email via {where}: {reason}") from exc
            if attempt == attempts_allowed:
                raise DeliveryError(
                    f"could not send the email via {where} after {attempt} attempt(s): {reason}. "
                    "How to fix: check that the SMTP server is up and reachable, then re-run "
                    "`churnlab send` (the run is not marked as delivered)."
                ) from exc
            delay = settings.backoff_seconds * 2 ** (attempt - 1)
            logger.warning(
                "SMTP attempt %d/%d failed (%s); retrying in %.1f s",
                attempt,
                attempts_allowed,
                reason,
                delay,
            )
            sleep(delay)
            continue
        if refused:
            logger.warning("SMTP server refused some recipients: %s", ", ".join(sorted(refused)))
        logger.info("email %s accepted by %s (attempt %d)", msg["Message-ID"], where, attempt)
        return SendOutcome(attempts=attempt, refused=tuple(sorted(refused)))
    raise AssertionError("unreachable")  # pragma: no cover


def _send_once(
    msg: EmailMessage,
    settings: DeliverySettings,
    recipients: Sequence[str],
    credentials: Credentials | None,
) -> Refused:
    timeout = settings.timeout_seconds
    if settings.security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=settings.tls_context()
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    polite = True  # say QUIT at the end; not after an unanswered DATA (the state is unknown)
    try:
        smtp.ehlo()
        if settings.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server.")
            smtp.starttls(context=settings.tls_context())
            smtp.ehlo()
        if credentials is not None:
            smtp.login(credentials.username, credentials.password)
        return _transaction(smtp, msg, settings, recipients)
    except OutcomeUnknown:
        polite = False
        raise
    finally:
        if polite:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
        smtp.close()


def _transaction(
    smtp: smtplib.SMTP, msg: EmailMessage, settings: DeliverySettings, recipients: Sequence[str]
) -> Refused:
    """``MAIL``, ``RCPT``, ``DATA`` as :meth:`smtplib.SMTP.sendmail` sends them.

    The difference: the message data and the reply to it get ``data_timeout_seconds``,
    and a failure after the data was sent raises :class:`OutcomeUnknown`.
    """
    sender = settings.sender
    payload, mail_options = _flatten(smtp, msg, sender, recipients)
    esmtp_options: list[str] = []
    if smtp.does_esmtp:
        if smtp.has_extn("size"):
            esmtp_options.append(f"size={len(payload)}")
        esmtp_options.extend(mail_options)
    code, reply = smtp.mail(sender, esmtp_options)
    if code != 250:
        _end_transaction(smtp, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: Refused = {}
    for address in recipients:
        code, reply = smtp.rcpt(address)
        if code not in (250, 251):
            refused[address] = (code, reply)
        if code == 421:
            smtp.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(recipients):
        _end_transaction(smtp, None)
        raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = smtp.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    # Until sendall returns, the end-of-data line has not left: the server cannot have
    # stored the message, and a failure is retried like any other.
    _set_timeout(smtp, settings.data_timeout_seconds)
    smtp.send(_end_of_data(payload))
    try:
        code, reply = smtp.getreply()
    except (smtplib.SMTPException, OSError) as exc:
        timed_out = isinstance(exc.__context__, TimeoutError) or isinstance(exc, TimeoutError)
        reason = (
            "no reply came within delivery.smtp.data_timeout_seconds = "
            f"{settings.data_timeout_seconds:g} s"
            if timed_out
            else f"the connection closed before the reply ({exc})"
        )
        raise OutcomeUnknown(reason, tuple(sorted(refused))) from exc
    _set_timeout(smtp, settings.timeout_seconds)
    if code == 250:
        return refused
    if 400 <= code < 600:  # an explicit refusal of the data: nothing was stored
        _end_transaction(smtp, code)
        raise smtplib.SMTPDataError(code, reply)
    smtp.close()
    raise OutcomeUnknown(f"the reply was not understood ({code} {reply!r})", tuple(sorted(refused)))


def _flatten(
    smtp: smtplib.SMTP, msg: EmailMessage, sender: str, recipients: Sequence[str]
) -> tuple[bytes, tuple[str, ...]]:
    """The message as :meth:`smtplib.SMTP.send_message` serialises it, and its MAIL options.

    ``Bcc`` and ``Resent-Bcc`` are dropped; non-ASCII addresses need the server's SMTPUTF8
    and are then sent with ``SMTPUTF8`` and ``BODY=8BITMIME`` (utf8 policy).
    """
    msg_copy = copy.copy(msg)
    del msg_copy["Bcc"]
    del msg_copy["Resent-Bcc"]
    international = not "".join([sender, *recipients]).isascii()
    if international and not smtp.has_extn("smtputf8"):
        raise smtplib.SMTPNotSupportedError(
            "One or more source or delivery addresses require internationalized email "
            "support, but the server does not advertise the required SMTPUTF8 capability"
        )
    with io.BytesIO() as buffer:
        if international:
            generator = BytesGenerator(buffer, policy=msg.policy.clone(utf8=True))
        else:
            generator = BytesGenerator(buffer)
        generator.flatten(msg_copy, linesep="\r\n")
        payload = buffer.getvalue()
    return payload, (("SMTPUTF8", "BODY=8BITMIME") if international else ())


def _end_of_data(payload: bytes) -> bytes:
    """``payload`` dot-stuffed and terminated by ``CRLF . CRLF`` (as :meth:`smtplib.SMTP.data`)."""
    stuffed = re.sub(rb"(?m)^\.", b"..", payload)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


def _set_timeout(smtp: smtplib.SMTP, seconds: float) -> None:
    if smtp.sock is not None:
        smtp.sock.settimeout(seconds)


def _end_transaction(smtp: smtplib.SMTP, code: int | None) -> None:
    """After a refusal: close on 421 (the server is going away), else reset the transaction."""
    if code == 421:
        smtp.close()
        return
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.rset()


def _classify(
    exc: BaseException, settings: DeliverySettings, credentials: Credentials | None
) -> tuple[bool, str]:
    """Return ``(transient, reason with how to fix)`` for an SMTP or socket failure."""
    env_names = f"{settings.username_env} / {settings.password_env}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False, (
            f"authentication failed ({_reply(exc)}). How to fix: check {env_names} "
            "(the environment variables holding the SMTP user and password)"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        text = str(exc)
        if "SMTPUTF8" in text.upper():
            return False, (
                f"{text}. How to fix: use ASCII addresses in delivery.sender and the "
                "recipients, or a server that supports SMTPUTF8"
            )
        if "STARTTLS" in text.upper():
            return False, (
                f"TLS failure: the server does not support STARTTLS ({text}). How to fix: use "
                "delivery.smtp.security = ssl with port 465 if the server speaks implicit TLS, "
                "or check delivery.smtp.host / port"
            )
        return False, (
            f"{text} How to fix: the server offers AUTH only over TLS or not at all; use "
            f"security starttls/ssl, or unset {env_names} for a relay without AUTH"
        )
    if isinstance(exc, ssl.SSLError):
        return False, (
            f"TLS failure ({exc}). How to fix: check delivery.smtp.security (starttls on port "
            "587, ssl on port 465) and that the server certificate is valid for "
            f"{settings.smtp_host}; for a company CA set delivery.smtp.ca_file to its PEM "
            "file (or the environment variable SSL_CERT_FILE)"
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{addr}: {_reply_of(c, m)}" for addr, (c, m) in exc.recipients.items())
        if codes and all(400 <= code < 500 for code in codes):
            return True, f"recipients temporarily refused ({detail})"
        return False, f"all recipients refused ({detail}). How to fix: check delivery.recipients"
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        if 400 <= code < 500:
            return True, f"temporary server error ({_reply(exc)})"
        hint = "How to fix: read the server reply above; the message was not accepted"
        if code == 530 and credentials is None:
            hint = f"How to fix: the server requires AUTH; set {env_names}"
        elif isinstance(exc, smtplib.SMTPSenderRefused):
            hint = "How to fix: check delivery.sender (the server refused it)"
        return False, f"permanent server error ({_reply(exc)}). {hint}"
    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError | TimeoutError):
        return True, f"connection problem ({type(exc).__name__}: {exc})"
    if isinstance(exc, socket.gaierror):
        return False, (
            f"cannot resolve SMTP host {settings.smtp_host!r} ({exc}). "
            "How to fix: check delivery.smtp.host"
        )
    if isinstance(exc, OSError):
        return True, f"network error ({type(exc).__name__}: {exc})"
    return False, f"SMTP error ({type(exc).__name__}: {exc})"


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return _reply_of(exc.smtp_code, exc.smtp_error)


def _reply_of(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"
