"""SMTP transport of :mod:`churnlab.delivery`: TLS, AUTH, retries with backoff.

Transient failures (4xx replies, a dropped connection, a timeout) are retried
with exponential backoff, with the same message (same ``Message-ID``).
Authentication, TLS and 5xx failures are permanent: they raise
:class:`~churnlab.errors.DeliveryError` at once, with how to fix them.
Credentials are never logged and never part of an error message.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from churnlab.delivery._settings import Credentials, DeliverySettings
from churnlab.errors import DeliveryError

logger = logging.getLogger("churnlab.delivery")


@dataclass(frozen=True)
class SendOutcome:
    """Result of :func:`send_with_retries`: attempts made and addresses refused."""

    attempts: int
    refused: tuple[str, ...]


class _Transient(Exception):
    """A failure worth retrying (internal)."""


def send_with_retries(
    msg: EmailMessage,
    settings: DeliverySettings,
    recipients: Sequence[str],
    credentials: Credentials | None,
    sleep: Callable[[float], None],
) -> SendOutcome:
    """Send ``msg`` to ``recipients``, retrying transient failures.

    Parameters
    ----------
    msg : email.message.EmailMessage
        The message; it is sent unchanged on every attempt.
    settings : DeliverySettings
        Server, security, timeout, ``max_retries`` and ``backoff_seconds``.
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
    DeliveryError
        A permanent failure, or transient failures on every attempt.
    """
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    attempts_allowed = settings.max_retries + 1
    for attempt in range(1, attempts_allowed + 1):
        try:
            refused = _send_once(msg, settings, recipients, credentials)
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
) -> dict[str, tuple[int, bytes]]:
    timeout = settings.timeout_seconds
    if settings.security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=settings.tls_context()
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    try:
        smtp.ehlo()
        if settings.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server.")
            smtp.starttls(context=settings.tls_context())
            smtp.ehlo()
        if credentials is not None:
            smtp.login(credentials.username, credentials.password)
        return smtp.send_message(msg, from_addr=settings.sender, to_addrs=list(recipients))
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
        smtp.close()


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
            f"{settings.smtp_host}; for a company CA pass its PEM file as ca_file"
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
