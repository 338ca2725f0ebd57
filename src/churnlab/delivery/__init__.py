"""Mail the report of a run to leadership, reliably and at most once.

The inputs are the files of one run directory (docs/architecture.md, "The run folder"):
``manifest.json`` (``status``, ``delivery`` records), ``headline.json``,
``report.html``, the small top-rows CSVs of the renewal map and the monthly book, and the
KPI sparklines and :data:`EMAIL_CHARTS` of ``charts/*.png``.

- :func:`build_message` builds the email (see :mod:`churnlab.delivery._message`).
- :func:`send_run` sends it at most once: a run whose manifest already records a
  delivery is refused unless ``force=True``; a successful send appends
  ``{kind, status: "sent", message_id, sent_at, recipients, forced}`` to
  ``manifest.json`` atomically. When the message data was sent but the server's reply
  never came, the server may have stored it: nothing is retried, the record gets
  ``status: "unknown"`` and :class:`DeliveryOutcomeUnknown` says to check the mailbox
  for the ``Message-ID`` before sending again with ``force``. ``dry_run=True`` writes
  ``email-<UTC timestamp>.eml`` instead.
- :func:`send_failure_notice` mails a short notice about a failed run to the
  failure recipients.

SMTP credentials come only from the environment variables named in the
settings; they are never written to the run directory or logged.
"""

from churnlab.delivery._body import EMAIL_CHARTS
from churnlab.delivery._message import build_failure_notice, build_message
from churnlab.delivery._send import (
    delivery_status,
    record_not_sent,
    send_failure_notice,
    send_run,
)
from churnlab.delivery._settings import DeliveryOutcomeUnknown, DeliveryResult, DeliverySettings

__all__ = [
    "EMAIL_CHARTS",
    "DeliveryOutcomeUnknown",
    "DeliveryResult",
    "DeliverySettings",
    "build_failure_notice",
    "build_message",
    "delivery_status",
    "record_not_sent",
    "send_failure_notice",
    "send_run",
]
