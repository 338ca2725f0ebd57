"""Settings and results of report delivery (see :mod:`churnlab.delivery`).

Settings are built from the ``delivery`` params (:meth:`DeliverySettings.from_params`).

Credentials are never settings: :class:`DeliverySettings` only names the
environment variables that hold the SMTP user and password.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email import errors as email_errors
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from churnlab.config import DeliveryParams
from churnlab.errors import DeliveryError, ParamsError

SECURITY_MODES = ("starttls", "ssl", "none")
#: Placeholders a subject template may use.
SUBJECT_FIELDS = ("as_of", "arr_at_risk", "days", "run_id", "company", "headline_kpi")


@dataclass(frozen=True)
class DeliverySettings:
    """How and to whom the report of a run is mailed.

    Parameters
    ----------
    recipients : sequence of str
        Addresses that receive the report (leadership).
    sender : str
        The ``From`` address.
    smtp_host, smtp_port : str, int
        The SMTP server (port 587 for STARTTLS, 465 for implicit TLS).
    failure_recipients : sequence of str, optional
        Addresses that receive the short notice about a failed run.
    subject_template : str or None
        ``str.format`` template (None: the catalogue's ``email.subject``); placeholders
        ``{as_of}``, ``{arr_at_risk}``, ``{days}`` (the model's horizon), ``{run_id}``, ``{company}``, ``{headline_kpi}`` (the first
        tile, e.g. "Logo churn (monthly) 1.5%"). A run without an ARR at risk (a snapshot
        without renewal dates, no model) uses the catalogue's ``email.subject_no_risk``.
    security : {"starttls", "ssl", "none"}
        ``starttls`` upgrades a plain connection (and fails if the server cannot),
        ``ssl`` connects with implicit TLS, ``none`` sends in clear text (local relays only;
        credentials are then refused).
    username_env, password_env : str
        Names of the environment variables holding the SMTP user and password.
        When neither variable is set, mail is sent without AUTH.
    attach_csv : bool
        Attach the small top-rows CSVs of the renewal map and the monthly book
        (``renewal_map_top.csv``, ``monthly_at_risk_top.csv``) to the report email.
    max_retries : int
        Retries after a transient failure before the message data was handed over
        (4xx reply, refused or dropped connection, timeout). Never after it: then the
        outcome is unknown and churnlab does not retry (see ``data_timeout_seconds``).
    backoff_seconds : float
        Wait before the first retry; doubles with every further retry.
    timeout_seconds : float
        Socket timeout of every SMTP operation up to the ``DATA`` command (connect,
        EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA).
    data_timeout_seconds : float
        Socket timeout while the message data is sent and the server's reply to it
        (the final ``250``) awaited. RFC 5321 section 4.5.3.2.6 allows the server
        10 minutes for that reply.
    ca_file : path, optional
        PEM file of CA certificates to trust instead of the system store
        (a company CA, or a test CA).
    ssl_context : ssl.SSLContext, optional
        A ready TLS context; takes precedence over ``ca_file``.
    """

    recipients: Sequence[str]
    sender: str
    smtp_host: str
    smtp_port: int
    failure_recipients: Sequence[str]
    subject_template: str | None
    security: str
    username_env: str
    password_env: str
    attach_csv: bool
    max_retries: int
    backoff_seconds: float
    timeout_seconds: float
    data_timeout_seconds: float
    ca_file: str | os.PathLike[str] | None = None
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("recipients", "failure_recipients"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise ParamsError(f"delivery.{name} must be a list of addresses, not {value!r}")
            object.__setattr__(self, name, tuple(str(v).strip() for v in value))
            for index, address in enumerate(getattr(self, name)):
                check_address(f"delivery.{name}[{index}]", address)
        object.__setattr__(self, "sender", str(self.sender).strip())
        check_address("delivery.sender", self.sender)
        if self.security not in SECURITY_MODES:
            raise ParamsError(
                f"delivery.smtp.security = {self.security!r}: must be one of "
                f"{', '.join(SECURITY_MODES)}"
            )
        if (
            self.max_retries < 0
            or self.backoff_seconds < 0
            or self.timeout_seconds <= 0
            or self.data_timeout_seconds <= 0
        ):
            raise ParamsError(
                "delivery: max_retries and backoff_seconds must be >= 0, "
                "smtp.timeout_seconds and smtp.data_timeout_seconds > 0"
            )
        if self.ca_file is not None and not Path(self.ca_file).is_file():
            raise ParamsError(
                f"delivery.smtp.ca_file = {str(self.ca_file)!r}: no such file. How to fix: "
                "name the PEM file of your company's CA (relative to the params file's folder)"
            )
        if self.subject_template is None:
            return
        try:
            self.subject_template.format(**dict.fromkeys(SUBJECT_FIELDS, "x"))
        except (KeyError, IndexError, ValueError) as exc:
            raise ParamsError(
                f"delivery.subject = {self.subject_template!r}: invalid template ({exc}); "
                f"placeholders allowed: {', '.join('{' + f + '}' for f in SUBJECT_FIELDS)}"
            ) from None

    @classmethod
    def from_params(
        cls,
        delivery: DeliveryParams | None = None,
        *,
        root: Path | None = None,
        **overrides: Any,
    ) -> DeliverySettings:
        """Build settings from the ``delivery`` section of :class:`churnlab.config.Params`.

        The params are the one definition of every default: these settings have none
        of their own.

        Parameters
        ----------
        delivery : churnlab.config.DeliveryParams, optional
            ``params.delivery``; default: the defaults of params.yaml's model.
        root : Path, optional
            Folder a relative ``delivery.smtp.ca_file`` is resolved against (the main
            params file's, ``Params.root``); default: the working directory.
        **overrides
            Fields to set explicitly (for example ``ca_file``).
        """
        delivery = delivery if delivery is not None else DeliveryParams()
        smtp = delivery.smtp
        ca_file = None
        if smtp.ca_file is not None:
            ca_file = Path(smtp.ca_file)
            if not ca_file.is_absolute() and root is not None:
                ca_file = Path(root) / ca_file
        values: dict[str, Any] = {
            "recipients": list(delivery.recipients),
            "failure_recipients": list(delivery.failure_recipients),
            "sender": delivery.sender,
            "subject_template": delivery.subject,
            "attach_csv": delivery.attach_csv,
            "max_retries": delivery.max_retries,
            "backoff_seconds": delivery.backoff_seconds,
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "security": smtp.security,
            "timeout_seconds": smtp.timeout_seconds,
            "data_timeout_seconds": smtp.data_timeout_seconds,
            "username_env": smtp.username_env,
            "password_env": smtp.password_env,
            "ca_file": ca_file,
        }
        return cls(**(values | overrides))

    def tls_context(self) -> ssl.SSLContext:
        """The TLS context used for ``starttls`` and ``ssl`` (verifies the server)."""
        if self.ssl_context is not None:
            return self.ssl_context
        cafile = None if self.ca_file is None else str(self.ca_file)
        return ssl.create_default_context(cafile=cafile)


def check_address(name: str, value: str) -> None:
    """Refuse ``value`` unless it is one plain email address such as ``vp-cs@example.com``.

    The address must parse as one ``addr-spec`` (:func:`email.utils.parseaddr` gives it
    back unchanged, :class:`email.headerregistry.Address` accepts it) and follow a simple
    rule on top: exactly one ``@``, a non-empty local part and domain, no spaces. A
    non-ASCII local part is allowed (it needs a server with SMTPUTF8). Display names
    (``Name <addr>``) and lists are refused: the value is also the SMTP envelope address.

    Parameters
    ----------
    name : str
        The parameter, e.g. ``delivery.recipients[0]``; named in the error.
    value : str
        The address to check.

    Raises
    ------
    ParamsError
        ``value`` is not a valid address; the message names the parameter and the value.
    """
    problem = _address_problem(value)
    if problem:
        raise ParamsError(
            f"{name} = {value!r} is not a valid email address ({problem}). How to fix: "
            "write one plain address such as vp-cs@example.com: exactly one @, a local "
            "part and a domain, no spaces, no display name; a list takes one address "
            "per entry."
        )


def _address_problem(value: str) -> str:
    """Why ``value`` is not one plain address; empty when it is one."""
    if not value:
        return "it is empty"
    if any(char.isspace() for char in value):
        return "it contains a space or line break"
    if value.count("@") != 1:
        return f"it has {value.count('@')} '@' instead of exactly one"
    local, _, domain = value.partition("@")
    if not local or not domain:
        return "the part before or after '@' is empty"
    if parseaddr(value) != ("", value):
        return "it does not parse as one address"
    try:
        Address(addr_spec=value)
    except email_errors.NonASCIILocalPartDefect:
        pass  # an internationalised local part: valid, sent with SMTPUTF8
    except (ValueError, IndexError, email_errors.MessageError) as exc:
        return f"it does not parse as one address: {exc}"
    return ""


@dataclass(frozen=True)
class Credentials:
    """SMTP user and password read from the environment (never printed)."""

    username: str = field(repr=False)
    password: str = field(repr=False)


def credentials_from_env(settings: DeliverySettings, env: Mapping[str, str]) -> Credentials | None:
    """Read the SMTP credentials from ``env``; None when neither variable is set.

    Raises
    ------
    DeliveryError
        Only one of the two variables is set, or credentials would be sent
        without TLS (``security="none"``).
    """
    username = env.get(settings.username_env) or ""
    password = env.get(settings.password_env) or ""
    if not username and not password:
        return None
    if not (username and password):
        missing = settings.password_env if username else settings.username_env
        raise DeliveryError(
            f"SMTP credentials incomplete: environment variable {missing} is not set. "
            f"How to fix: set both {settings.username_env} and {settings.password_env} "
            "(for example in the systemd EnvironmentFile), or neither for a relay without AUTH."
        )
    if settings.security == "none":
        raise DeliveryError(
            "refusing to send SMTP credentials without TLS (delivery.smtp.security = none). "
            "How to fix: use security starttls (port 587) or ssl (port 465), or unset "
            f"{settings.username_env} / {settings.password_env} for a local relay without AUTH."
        )
    return Credentials(username=username, password=password)


@dataclass(frozen=True)
class DeliveryResult:
    """What a delivery did.

    Attributes
    ----------
    run_dir : pathlib.Path
        The run directory.
    kind : str
        ``"report"`` or ``"failure_notice"``.
    message_id : str
        The ``Message-ID`` header (the same on every retry).
    recipients : tuple of str
        Addresses the server accepted (dry run: the addresses it would go to).
    refused : tuple of str
        Addresses the server refused while accepting others.
    sent_at : str or None
        UTC ISO time of the accepted send; None for a dry run.
    attempts : int
        SMTP attempts made (0 for a dry run).
    dry_run : bool
        True when nothing was sent and ``eml_path`` holds the message.
    forced : bool
        True when the run had been delivered before and ``force`` sent it again.
    eml_path : pathlib.Path or None
        The ``.eml`` file written by a dry run.
    """

    run_dir: Path
    kind: str
    message_id: str
    recipients: tuple[str, ...]
    refused: tuple[str, ...] = ()
    sent_at: str | None = None
    attempts: int = 0
    dry_run: bool = False
    forced: bool = False
    eml_path: Path | None = None


class DeliveryOutcomeUnknown(DeliveryError):
    """The message data was sent but the server's reply never came: it may have been stored.

    churnlab does not retry then; the run's manifest records the delivery with
    ``status = "unknown"`` and later sends of the run are refused unless ``force``.

    Parameters
    ----------
    message : str
        What happened and how to fix it.
    run_dir : pathlib.Path
        The run directory.
    kind : str
        ``"report"`` or ``"failure_notice"``.
    message_id : str
        The ``Message-ID`` to look for in the recipients' mailbox.
    """

    def __init__(self, message: str, *, run_dir: Path, kind: str, message_id: str) -> None:
        super().__init__(message)
        self.run_dir = run_dir
        self.kind = kind
        self.message_id = message_id
