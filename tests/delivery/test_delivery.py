"""Delivery through a real SMTP server (aiosmtpd on localhost) with STARTTLS + AUTH.

Every message is built from a copy of the real pipeline run on the shared sample: the
email reads the headline the report stage actually wrote.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import json
import logging
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from churnlab.config import load_params
from churnlab.delivery import (
    DeliveryOutcomeUnknown,
    DeliverySettings,
    build_message,
    send_failure_notice,
    send_run,
)
from churnlab.delivery._body import EMAIL_CHARTS
from churnlab.delivery._message import MAX_HTML_BYTES
from churnlab.errors import DeliveryError, ParamsError
from churnlab.report import Headline, Renewal
from churnlab.run import RunFolder
from tests.helpers import ROOT, copy_run

USER = "svc-churnlab-Qx7USERNAME"
PASSWORD = "Zt9-pa55-DISTINCT-Secret!"
ENV = {"CHURNLAB_SMTP_USER": USER, "CHURNLAB_SMTP_PASSWORD": PASSWORD}
EVIL_NAME = "<script>alert('x')</script> Corp"
OBRIEN = "O'Brien & Sons"
CLOCK = dt.datetime(2026, 11, 23, 19, 30, tzinfo=dt.UTC)


# ----------------------------------------------------------------------------- fixtures


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    """aiosmtpd handler: answers the first DATA commands with ``replies``, then accepts."""

    def __init__(self, replies: list[str] | None = None) -> None:
        self.replies = list(replies or [])
        self.data_calls = 0
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.data_calls += 1
        if self.replies:
            return self.replies.pop(0)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Message accepted for delivery"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(handler: Recorder, **kwargs) -> Iterator[Controller]:
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def starttls_server(server_tls):
    handler = Recorder()
    with smtp_server(
        handler,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
        auth_require_tls=True,
    ) as controller:
        yield controller, handler


def _hostile(headline: Headline) -> Headline:
    """The real headline with user data that must be escaped: two hostile account names."""
    first, second, *rest = headline.top_renewals
    names = [dataclasses.replace(first, name=EVIL_NAME), dataclasses.replace(second, name=OBRIEN)]
    return headline.replace(top_renewals=[*names, *rest])


@pytest.fixture
def make_run(tmp_path, pipeline_run):
    """A copy of the real run (optionally failed, or with another headline)."""

    def make(status: str = "succeeded", headline: Headline | None = None) -> Path:
        run = copy_run(pipeline_run, tmp_path / "reports", latest=False)
        (headline or _hostile(Headline.read(run.headline))).write(run.headline)
        manifest = run.read_manifest()
        manifest["status"] = status
        if status == "failed":
            manifest["stages"][2] = {
                "name": "02_churn_model",
                "status": "failed",
                "notebook": None,
                "duration_s": 1.0,
                "error": {"cell_index": 7, "ename": "KeyError", "evalue": "'mrr_change_90d'"},
            }
        run.manifest.write_text(json.dumps(manifest))
        return run.path

    return make


def _settings(port: int, ca_file: Path | None, **changes) -> DeliverySettings:
    """The params' delivery defaults, pointed at the test server."""
    values = {
        "recipients": ["vp-cs@example.com", "cfo@example.com"],
        "failure_recipients": ["data-team@example.com"],
        "sender": "churnlab@example.com",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "starttls",
        "ca_file": ca_file,
        "backoff_seconds": 1.0,
        "timeout_seconds": 5.0,
    }
    return DeliverySettings.from_params(**(values | changes))


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def _parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


def _check_report_structure(msg: EmailMessage, run: Path) -> str:
    """Assert the MIME layout of the report email; return its HTML body."""
    assert msg.get_content_type() == "multipart/mixed"
    alternative, *attachments = msg.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, related = alternative.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    headline = Headline.read(RunFolder(run).headline)
    # a sparkline per KPI tile that has one, and the email's charts; the others stay in
    # the attached report
    shown = sum(1 for t in headline.kpis if t.sparkline)
    shown += sum(1 for name in EMAIL_CHARTS if name in headline.charts)
    assert [i.get_content_type() for i in images] == ["image/png"] * shown
    assert "drivers.png" not in [i.get_filename() for i in images]
    html = html_part.get_content()
    assert len(html_part.get_payload(decode=True)) <= MAX_HTML_BYTES
    referenced = re.findall(r"cid:([^\"'\s>]+)", html)
    content_ids = {i["Content-ID"].strip("<>"): i for i in images}
    assert sorted(referenced) == sorted(content_ids)
    for cid, image in content_ids.items():
        chart = run / "charts" / image.get_filename()
        assert image.get_payload(decode=True) == chart.read_bytes()
        assert cid in html
    names = [
        (a.get_filename(), a.get_content_type(), a.get_content_disposition()) for a in attachments
    ]
    folder = RunFolder(run)
    tables = [("renewal_map_top.csv", "text/csv", "attachment")]
    if folder.monthly_at_risk_top.is_file() and headline.top_monthly:
        tables.append(("monthly_at_risk_top.csv", "text/csv", "attachment"))
    assert names == [("report.html", "text/html", "attachment"), *tables]
    # text travels with CRLF line ends (RFC 5321); the report arrives as written
    sent = attachments[0].get_content().replace("\r\n", "\n")
    assert sent == (run / "report.html").read_text()
    assert msg["Message-ID"] and msg["Date"]
    return html


def _assert_no_credentials(run: Path, caplog, capsys) -> None:
    secrets = [USER, PASSWORD, base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()]
    files = [p for p in run.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"credential leaked into {path}"
    captured = capsys.readouterr()
    for secret in secrets:
        assert secret not in captured.out + captured.err
        assert secret not in caplog.text


# ----------------------------------------------------------------------------- tests


def test_starttls_auth_send_structure_record_and_no_leak(
    starttls_server, make_run, ca_file, caplog, capsys
):
    caplog.set_level(logging.DEBUG, logger="churnlab")
    controller, handler = starttls_server
    run = make_run()
    sleeps: list[float] = []
    result = send_run(
        run, _settings(controller.port, ca_file), env=ENV, sleep=sleeps.append, clock=lambda: CLOCK
    )

    assert len(handler.messages) == 1 and sleeps == [] and result.attempts == 1
    mail_from, rcpt_tos, raw = handler.messages[0]
    assert mail_from == "churnlab@example.com"
    assert rcpt_tos == ["vp-cs@example.com", "cfo@example.com"]
    msg = _parse(raw)
    html = _check_report_structure(msg, run)
    headline = Headline.read(RunFolder(run).headline)
    risk = headline.arr_at_risk_display
    assert (
        msg["Subject"] == f"Churn report {headline.as_of}: {risk} ARR at risk in the next 90 days"
    )
    # user data is escaped in HTML, shown as typed in the plain text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "O&#39;Brien &amp; Sons" in html
    plain = msg.get_payload()[0].get_payload()[0].get_content()
    churn = headline.kpi("logo_churn_rate")
    assert EVIL_NAME in plain and risk in plain
    assert f"{churn.display} ({churn.change_display})" in plain

    record = _manifest(run)["delivery"]
    assert record == [
        {
            "kind": "report",
            "status": "sent",
            "message_id": msg["Message-ID"],
            "sent_at": "2026-11-23T19:30:00+00:00",
            "recipients": ["vp-cs@example.com", "cfo@example.com"],
            "forced": False,
        }
    ]
    assert result.message_id == msg["Message-ID"]
    assert "accepted by 127.0.0.1" in caplog.text  # the logs were captured, and are clean
    _assert_no_credentials(run, caplog, capsys)


def test_no_second_send_and_force_sends_again(starttls_server, make_run, ca_file):
    controller, handler = starttls_server
    run = make_run()
    settings = _settings(controller.port, ca_file)
    first = send_run(run, settings, env=ENV, sleep=lambda s: None)
    with pytest.raises(DeliveryError, match="already delivered.*--force"):
        send_run(run, settings, env=ENV, sleep=lambda s: None)
    assert len(handler.messages) == 1
    preview = send_run(run, settings, dry_run=True, env=ENV)  # a preview is always allowed
    assert preview.dry_run and preview.eml_path.is_file() and len(handler.messages) == 1
    again = send_run(run, settings, force=True, env=ENV, sleep=lambda s: None)
    assert len(handler.messages) == 2
    records = _manifest(run)["delivery"]
    assert [r["forced"] for r in records] == [False, True]
    assert [r["message_id"] for r in records] == [first.message_id, again.message_id]
    assert first.message_id != again.message_id


def test_transient_451_is_retried_and_sent_once(server_tls, make_run, ca_file):
    handler = Recorder(replies=["451 4.3.0 Try again later"])
    with smtp_server(handler, tls_context=server_tls, authenticator=_authenticator) as controller:
        sleeps: list[float] = []
        result = send_run(
            make_run(), _settings(controller.port, ca_file), env=ENV, sleep=sleeps.append
        )
    assert handler.data_calls == 2 and len(handler.messages) == 1
    assert result.attempts == 2 and sleeps == [1.0]
    assert _parse(handler.messages[0][2])["Message-ID"] == result.message_id


def test_transient_failures_back_off_exponentially_then_give_up(server_tls, make_run, ca_file):
    handler = Recorder(replies=["421 4.7.0 Busy"] * 10)
    run = make_run()
    with smtp_server(handler, tls_context=server_tls, authenticator=_authenticator) as controller:
        sleeps: list[float] = []
        settings = _settings(controller.port, ca_file, max_retries=2, backoff_seconds=0.5)
        with pytest.raises(DeliveryError, match="after 3 attempt.*421"):
            send_run(run, settings, env=ENV, sleep=sleeps.append)
    assert sleeps == [0.5, 1.0] and handler.data_calls == 3 and handler.messages == []
    assert _manifest(run)["delivery"] == []


def test_permanent_5xx_is_not_retried(server_tls, make_run, ca_file):
    handler = Recorder(replies=["554 5.7.1 Message rejected as spam"])
    with smtp_server(handler, tls_context=server_tls, authenticator=_authenticator) as controller:
        sleeps: list[float] = []
        with pytest.raises(DeliveryError, match="permanent server error.*554"):
            send_run(make_run(), _settings(controller.port, ca_file), env=ENV, sleep=sleeps.append)
    assert sleeps == [] and handler.data_calls == 1


def test_auth_failure_is_clear_and_not_retried(starttls_server, make_run, ca_file):
    controller, handler = starttls_server
    run = make_run()
    sleeps: list[float] = []
    wrong = {"CHURNLAB_SMTP_USER": USER, "CHURNLAB_SMTP_PASSWORD": "wrong-Pw-123"}
    with pytest.raises(DeliveryError) as info:
        send_run(run, _settings(controller.port, ca_file), env=wrong, sleep=sleeps.append)
    message = str(info.value)
    assert "authentication failed" in message
    assert "check CHURNLAB_SMTP_USER / CHURNLAB_SMTP_PASSWORD" in message
    assert "wrong-Pw-123" not in message and USER not in message
    assert sleeps == [] and handler.messages == []
    assert _manifest(run)["delivery"] == []


def test_missing_credentials_against_auth_server_says_what_to_set(
    starttls_server, make_run, ca_file
):
    controller, _ = starttls_server
    with pytest.raises(DeliveryError, match="530.*set CHURNLAB_SMTP_USER"):
        send_run(make_run(), _settings(controller.port, ca_file), env={}, sleep=lambda s: None)


def test_untrusted_certificate_is_a_tls_failure_without_retry(starttls_server, make_run):
    controller, handler = starttls_server
    sleeps: list[float] = []
    untrusted = ssl.create_default_context()  # system store: does not know the test CA
    settings = _settings(controller.port, None, ssl_context=untrusted)
    with pytest.raises(DeliveryError, match="TLS failure.*CERTIFICATE_VERIFY_FAILED"):
        send_run(make_run(), settings, env=ENV, sleep=sleeps.append)
    assert sleeps == [] and handler.messages == []


def test_starttls_not_offered_is_a_tls_failure(make_run, ca_file):
    handler = Recorder()
    with smtp_server(handler) as controller:
        sleeps: list[float] = []
        with pytest.raises(DeliveryError, match="does not support STARTTLS"):
            send_run(make_run(), _settings(controller.port, ca_file), env=ENV, sleep=sleeps.append)
    assert sleeps == [] and handler.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_with_auth(server_tls, make_run, ca_file):
    handler = Recorder()
    with smtp_server(
        handler,
        ssl_context=server_tls,
        authenticator=_authenticator,
        auth_required=True,
        auth_require_tls=False,  # aiosmtpd only sees STARTTLS as TLS; this socket is TLS
    ) as controller:
        send_run(make_run(), _settings(controller.port, ca_file, security="ssl"), env=ENV)
    assert len(handler.messages) == 1


def test_connection_refused_is_retried_then_fails(make_run, ca_file):
    sleeps: list[float] = []
    settings = _settings(_free_port(), ca_file, max_retries=1)
    with pytest.raises(DeliveryError, match="after 2 attempt.*ConnectionRefusedError"):
        send_run(make_run(), settings, env=ENV, sleep=sleeps.append)
    assert sleeps == [1.0]


def test_dry_run_writes_readable_eml_and_sends_nothing(make_run, ca_file, caplog, capsys):
    run = make_run()
    # nothing listens on this port: a dry run that tried to connect would fail
    result = send_run(
        run, _settings(_free_port(), ca_file), dry_run=True, env=ENV, clock=lambda: CLOCK
    )
    assert result.dry_run and result.attempts == 0
    assert result.eml_path == run / "email-20261123T193000Z.eml"
    msg = _parse(result.eml_path.read_bytes())
    _check_report_structure(msg, run)
    assert msg["Message-ID"] == result.message_id
    assert msg["To"] == "vp-cs@example.com, cfo@example.com"
    assert _manifest(run)["delivery"] == []
    second = send_run(run, _settings(1, ca_file), dry_run=True, env=ENV, clock=lambda: CLOCK)
    assert second.eml_path.name == "email-20261123T193000Z-2.eml"
    _assert_no_credentials(run, caplog, capsys)


def test_failed_run_is_refused_and_failure_notice_names_the_cell(
    starttls_server, make_run, ca_file
):
    controller, handler = starttls_server
    run = make_run(status="failed")
    settings = _settings(controller.port, ca_file)
    with pytest.raises(DeliveryError, match="status 'failed'.*failure notice"):
        send_run(run, settings, env=ENV, sleep=lambda s: None)
    assert handler.messages == []

    result = send_failure_notice(run, settings, env=ENV, sleep=lambda s: None)
    assert len(handler.messages) == 1
    _, rcpt_tos, raw = handler.messages[0]
    assert rcpt_tos == ["data-team@example.com"]
    msg = _parse(raw)
    assert msg.get_content_type() == "text/plain"
    assert msg["Subject"] == f"churnlab run FAILED: {Path(run).name}"
    body = msg.get_content()
    assert "Failed stage: 02_churn_model (cell 7)" in body
    assert "KeyError: 'mrr_change_90d'" in body
    assert "01_cohort_comparison" not in body  # only the failed stage is named
    assert _manifest(run)["delivery"][0]["kind"] == "failure_notice"
    assert result.recipients == ("data-team@example.com",)
    with pytest.raises(DeliveryError, match="already sent"):
        send_failure_notice(run, settings, env=ENV, sleep=lambda s: None)


def test_failure_notice_of_a_succeeded_run_is_refused(make_run, ca_file):
    with pytest.raises(DeliveryError, match="succeeded"):
        send_failure_notice(make_run(), _settings(1, ca_file), env=ENV)


def test_html_body_stays_under_100_kb(make_run, pipeline_run, ca_file):
    many = [
        Renewal(
            account_id=f"A{i:05d}",
            name=f"Account {i} <&>",
            arr=1000.0 + i,
            renewal_date="2026-12-01",
            churn_probability=0.5,
            expected_arr_at_risk=500.0,
            health_band="red",
            reasons="x" * 500,
        )
        for i in range(3000)
    ]
    run = make_run(headline=Headline.read(pipeline_run.headline).replace(top_renewals=many))
    msg = build_message(run, _settings(1, ca_file))
    html_part = msg.get_payload()[0].get_payload()[1].get_payload()[0]
    html = html_part.get_content()
    assert len(html_part.get_payload(decode=True)) <= MAX_HTML_BYTES
    assert len(html_part.get_payload()) <= MAX_HTML_BYTES  # as it travels (base64)
    shown = int(re.search(r"Showing (\d+) of 3000;", html).group(1))
    assert 0 < shown < 3000 and html.count("Account ") == shown
    plain = msg.get_payload()[0].get_payload()[0].get_content()
    assert plain.count("Account ") == shown and f"Showing {shown} of 3000;" in plain


def test_missing_or_escaping_chart_is_skipped(make_run, pipeline_run, ca_file):
    real = Headline.read(pipeline_run.headline)
    first, *rest = real.kpis
    tiles = [
        dataclasses.replace(first, sparkline="charts/gone.png"),
        *(dataclasses.replace(t, sparkline=None) for t in rest),
    ]
    charts = {
        "retention_trend": "charts/retention_trend.png",
        "health_by_tier": "../../../../etc/passwd",
        "drivers": "charts/drivers.png",  # not an email chart: in the attached report only
    }
    run = make_run(headline=real.replace(kpis=tiles, charts=charts))
    msg = build_message(run, _settings(1, ca_file, attach_csv=False))
    related = msg.get_payload()[0].get_payload()[1]
    html_part, *images = related.get_payload()
    assert [i.get_filename() for i in images] == ["retention_trend.png"]
    assert re.findall(r"cid:([^\"'\s>]+)", html_part.get_content()) == [
        images[0]["Content-ID"].strip("<>")
    ]
    assert [a.get_filename() for a in msg.get_payload()[1:]] == ["report.html"]


def test_missing_headline_names_the_file(make_run, ca_file):
    run = make_run()
    RunFolder(run).headline.unlink()
    with pytest.raises(DeliveryError, match=r"headline\.json is missing"):
        build_message(run, _settings(1, ca_file))


def test_credentials_must_be_complete_and_never_in_clear(make_run, ca_file):
    run = make_run()
    with pytest.raises(DeliveryError, match="CHURNLAB_SMTP_PASSWORD is not set"):
        send_run(run, _settings(1, ca_file), env={"CHURNLAB_SMTP_USER": USER})
    with pytest.raises(DeliveryError, match="without TLS"):
        send_run(run, _settings(1, ca_file, security="none"), env=ENV)


def test_settings_validation_and_from_params():
    with pytest.raises(ParamsError, match="security"):
        DeliverySettings.from_params(recipients=["a@b.c"], security="tls")
    with pytest.raises(ParamsError, match="arr_at_risk"):
        DeliverySettings.from_params(recipients=["a@b.c"], subject_template="{arr}")
    with pytest.raises(ParamsError, match="list of addresses"):
        DeliverySettings.from_params(recipients="a@b.c")
    params = load_params(ROOT / "params.yaml")
    defaults = DeliverySettings.from_params()  # the params' defaults, no others
    assert defaults.subject_template == params.delivery.subject
    assert defaults.backoff_seconds == params.delivery.backoff_seconds
    settings = DeliverySettings.from_params(params.delivery, recipients=["vp@example.com"])
    assert settings.recipients == ("vp@example.com",)
    assert settings.smtp_port == params.delivery.smtp.port
    assert settings.password_env == "CHURNLAB_SMTP_PASSWORD"


class RefusingRecorder(Recorder):
    """Refuses one recipient address with a 550, accepts the others."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == "gone@example.com":
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"


def test_partly_refused_recipients_are_recorded(server_tls, make_run, ca_file):
    handler = RefusingRecorder()
    run = make_run()
    recipients = ["vp-cs@example.com", "gone@example.com"]
    with smtp_server(handler, tls_context=server_tls, authenticator=_authenticator) as controller:
        settings = _settings(controller.port, ca_file, recipients=recipients)
        result = send_run(run, settings, env=ENV, sleep=lambda s: None)
    assert handler.messages[0][1] == ["vp-cs@example.com"]
    assert result.recipients == ("vp-cs@example.com",)
    assert result.refused == ("gone@example.com",)
    record = _manifest(run)["delivery"][0]
    assert record["recipients"] == ["vp-cs@example.com"]
    assert record["refused"] == ["gone@example.com"]


def test_a_preview_needs_no_recipients_but_a_send_does(make_run, ca_file):
    run = make_run()
    preview = send_run(run, _settings(1, ca_file, recipients=[]), dry_run=True, env=ENV)
    assert _parse(preview.eml_path.read_bytes())["To"] == "undisclosed-recipients:;"
    # a params problem (exit 2): the hint keeps its brackets
    with pytest.raises(ParamsError, match=r"no recipients.*-p 'delivery.recipients=\[vp-cs@"):
        send_run(run, _settings(1, ca_file, recipients=[]), env=ENV)


def test_a_run_without_arr_at_risk_leads_with_its_first_kpi(make_run, pipeline_run, ca_file):
    """No '$0' and no 'n/a' at risk: a snapshot or a run without a model names its churn."""
    real = Headline.read(pipeline_run.headline)
    headline = real.replace(kpis=[t for t in real.kpis if t.key != "arr_at_risk"])
    msg = build_message(make_run(headline=headline), _settings(1, ca_file))
    first = headline.kpis[0]
    assert msg["Subject"] == f"Churn report {headline.as_of}: {first.label} {first.display}"
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert first.display in html and "n/a" not in msg["Subject"]


# ----------------------------------------------------------------------------- at most once


class SlowRecorder(Recorder):
    """Stores the message as soon as its data has arrived, then waits ``delay`` s to answer.

    A server that has the message but is slow to say so. It notes the client's address
    and port at every EHLO: one per connection, to show when a send did not even connect.
    """

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.connections: set[tuple[str, int]] = set()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.connections.add(tuple(session.peer))
        session.host_name = hostname  # what aiosmtpd does when there is no EHLO hook
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.data_calls += 1
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        await asyncio.sleep(self.delay)
        return "250 2.0.0 Message accepted for delivery"


def test_no_reply_after_the_data_is_unknown_recorded_and_never_retried(
    server_tls, starttls_server, make_run, ca_file
):
    slow = SlowRecorder(delay=3.0)
    run = make_run()
    sleeps: list[float] = []
    with smtp_server(slow, tls_context=server_tls, authenticator=_authenticator) as controller:
        settings = _settings(controller.port, ca_file, data_timeout_seconds=1.0)
        with pytest.raises(DeliveryOutcomeUnknown) as info:
            send_run(run, settings, env=ENV, sleep=sleeps.append, clock=lambda: CLOCK)
        assert len(slow.connections) == 1
        # a second send without --force is refused before connecting
        with pytest.raises(DeliveryError) as again:
            send_run(run, settings, env=ENV, sleep=sleeps.append)
        assert len(slow.connections) == 1

    assert slow.data_calls == 1 and len(slow.messages) == 1 and sleeps == []
    message_id = _parse(slow.messages[0][2])["Message-ID"]
    assert info.value.message_id == message_id
    told = str(info.value)
    assert "data_timeout_seconds = 1 s" in told and "may have stored it" in told
    assert f"check the recipients' mailbox for Message-ID {message_id}" in told
    assert f"only if it did not arrive, send it again with `churnlab send {run} --force`" in told
    assert _manifest(run)["delivery"] == [
        {
            "kind": "report",
            "status": "unknown",
            "message_id": message_id,
            "sent_at": "2026-11-23T19:30:00+00:00",
            "recipients": ["vp-cs@example.com", "cfo@example.com"],
            "forced": False,
        }
    ]
    refusal = str(again.value)
    assert "outcome is unknown" in refusal and f"Message-ID {message_id}" in refusal
    assert "--force" in refusal and "already delivered" not in refusal

    # --force sends a new message (fresh Message-ID) and keeps the unknown record
    controller, handler = starttls_server
    forced = send_run(run, _settings(controller.port, ca_file), force=True, env=ENV)
    assert len(handler.messages) == 1 and forced.forced and forced.message_id != message_id
    records = _manifest(run)["delivery"]
    assert [(r["status"], r["forced"]) for r in records] == [("unknown", False), ("sent", True)]
    with pytest.raises(DeliveryError, match="already delivered"):
        send_run(run, _settings(controller.port, ca_file), env=ENV)


def test_a_slow_reply_within_the_data_timeout_is_a_normal_send(server_tls, make_run, ca_file):
    slow = SlowRecorder(delay=2.0)  # longer than timeout_seconds, shorter than the data timeout
    run = make_run()
    sleeps: list[float] = []
    with smtp_server(slow, tls_context=server_tls, authenticator=_authenticator) as controller:
        settings = _settings(
            controller.port, ca_file, timeout_seconds=1.0, data_timeout_seconds=10.0
        )
        result = send_run(run, settings, env=ENV, sleep=sleeps.append)
    assert slow.data_calls == 1 and len(slow.messages) == 1
    assert result.attempts == 1 and sleeps == [] and len(slow.connections) == 1
    assert _parse(slow.messages[0][2])["Message-ID"] == result.message_id
    [record] = _manifest(run)["delivery"]
    assert record["status"] == "sent" and record["message_id"] == result.message_id


class BusyBeforeData(Recorder):
    """Answers the first MAIL with 451 and the next first RCPT with 421 (closing), then accepts."""

    def __init__(self) -> None:
        super().__init__()
        self.mail_replies = ["451 4.3.2 Busy, try again"]
        self.rcpt_replies = ["421 4.7.0 Too many connections, closing"]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if self.mail_replies:
            return self.mail_replies.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_failures_before_the_data_are_still_retried(server_tls, make_run, ca_file):
    handler = BusyBeforeData()
    run = make_run()
    sleeps: list[float] = []
    with smtp_server(handler, tls_context=server_tls, authenticator=_authenticator) as controller:
        result = send_run(run, _settings(controller.port, ca_file), env=ENV, sleep=sleeps.append)
    assert result.attempts == 3 and sleeps == [1.0, 2.0]
    assert handler.data_calls == 1 and len(handler.messages) == 1
    assert handler.messages[0][1] == ["vp-cs@example.com", "cfo@example.com"]
    assert [r["status"] for r in _manifest(run)["delivery"]] == ["sent"]


def test_records_without_status_are_sent_ones(make_run, ca_file):
    run = make_run()
    manifest = _manifest(run)
    old = {
        "kind": "report",
        "message_id": "<old@example.com>",
        "sent_at": "2026-01-05T06:30:00+00:00",
    }
    manifest["delivery"] = [old | {"recipients": ["vp-cs@example.com"], "forced": False}]
    (run / "manifest.json").write_text(json.dumps(manifest))
    # port 1: nothing listens there, a send that tried to connect would fail differently
    with pytest.raises(DeliveryError, match="already delivered.*<old@example.com>"):
        send_run(run, _settings(1, ca_file), env=ENV)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"recipients": ["vp-cs@example.com", "cfo example.com"]}, "delivery.recipients[1]"),
        ({"recipients": ["VP <vp-cs@example.com>"]}, "delivery.recipients[0]"),
        ({"recipients": ["vp-cs@example.com, cfo@example.com"]}, "delivery.recipients[0]"),
        ({"recipients": ["vp-cs@"]}, "delivery.recipients[0]"),
        ({"failure_recipients": ["data-team@@example.com"]}, "delivery.failure_recipients[0]"),
        ({"failure_recipients": [""]}, "delivery.failure_recipients[0]"),
        ({"sender": "churnlab"}, "delivery.sender"),
        ({"sender": "@example.com"}, "delivery.sender"),
        ({"sender": "churnlab@example.com\nBcc: x@evil.example"}, "delivery.sender"),
    ],
)
def test_invalid_addresses_are_refused_before_sending(change, named):
    [(key, value)] = change.items()
    bad = value if isinstance(value, str) else value[-1]
    with pytest.raises(ParamsError) as info:
        DeliverySettings.from_params(**({"recipients": ["vp-cs@example.com"]} | change))
    assert f"{named} = {bad!r} is not a valid email address" in str(info.value)
    assert "How to fix" in str(info.value)


def test_valid_addresses_pass_and_params_overrides_are_checked():
    settings = DeliverySettings.from_params(
        recipients=[" vp-cs@example.com ", "jörg@example.com"], sender="churnlab@localhost"
    )
    assert settings.recipients == ("vp-cs@example.com", "jörg@example.com")
    params = load_params(
        ROOT / "params.yaml", overrides=["delivery.recipients=[vp-cs.example.com]"]
    )
    with pytest.raises(ParamsError, match=r"delivery\.recipients\[0\] = 'vp-cs\.example\.com'"):
        DeliverySettings.from_params(params.delivery)
    assert params.delivery.smtp.data_timeout_seconds == 600
    assert DeliverySettings.from_params(params.delivery, recipients=[]).data_timeout_seconds == 600
    with pytest.raises(ParamsError, match="data_timeout_seconds > 0"):
        DeliverySettings.from_params(data_timeout_seconds=0)


def test_failure_notice_with_unknown_outcome_is_not_sent_again(make_run, ca_file):
    run = make_run(status="failed")
    manifest = _manifest(run)
    unknown = {"kind": "failure_notice", "status": "unknown", "message_id": "<n1@example.com>"}
    manifest["delivery"] = [unknown | {"recipients": ["data-team@example.com"], "forced": False}]
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DeliveryError) as info:
        send_failure_notice(run, _settings(1, ca_file), env=ENV)
    told = str(info.value)
    assert "outcome is unknown" in told and "Message-ID <n1@example.com>" in told
    assert f"`churnlab send {run} --failure-notice --force`" in told
