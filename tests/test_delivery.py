"""Delivery through a real SMTP server (aiosmtpd on localhost) with STARTTLS + AUTH."""

from __future__ import annotations

import base64
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

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import trustme  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

from churnlab.config import load_params  # noqa: E402
from churnlab.csvsafe import write_csv  # noqa: E402
from churnlab.delivery import (  # noqa: E402
    DeliverySettings,
    build_message,
    send_failure_notice,
    send_run,
)
from churnlab.delivery_message import MAX_HTML_BYTES  # noqa: E402
from churnlab.errors import DeliveryError, ParamsError  # noqa: E402

USER = "svc-churnlab-Qx7USERNAME"
PASSWORD = "Zt9-pa55-DISTINCT-Secret!"
ENV = {"CHURNLAB_SMTP_USER": USER, "CHURNLAB_SMTP_PASSWORD": PASSWORD}
RUN_ID = "2026-10-31_20261123T190000Z"
EVIL_NAME = "<script>alert('x')</script> Corp"
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


@pytest.fixture(scope="module")
def png_bytes(tmp_path_factory) -> dict[str, bytes]:
    out = {}
    for name, values in {"kpi_trend": [3, 1, 2, 4], "risk_mix": [1, 4, 2, 3]}.items():
        fig, ax = plt.subplots(figsize=(7, 3), dpi=100)
        ax.plot(values)
        path = tmp_path_factory.mktemp("png") / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        out[name] = path.read_bytes()
    return out


def _headline(renewals: list[dict] | None = None) -> dict:
    return {
        "as_of": "2026-10-31",
        "run_id": RUN_ID,
        "company": "churnlab demo",
        "kpis": [
            {
                "key": "logo_churn_rate",
                "label": "Logo churn (monthly)",
                "value": 0.021,
                "display": "2.1%",
                "change_display": "+0.3 pp",
                "good": False,
            },
            {
                "key": "net_revenue_retention",
                "label": "NRR (monthly)",
                "value": 1.004,
                "display": "100.4%",
                "change_display": "+0.2 pp",
                "good": True,
            },
        ],
        "arr_at_risk_90d": 123456.0,
        "top_renewals": renewals
        if renewals is not None
        else [
            {
                "account_id": "A00001",
                "name": EVIL_NAME,
                "arr": 24000.0,
                "renewal_date": "2026-12-01",
                "churn_probability": 0.42,
                "expected_arr_at_risk": 10080.0,
                "health_band": "red",
                "reasons": "Logins in the last 28 days: 3",
            },
            {
                "account_id": "A00002",
                "name": "O'Brien & Sons",
                "arr": 60000.0,
                "renewal_date": "2026-12-15",
                "churn_probability": 0.2,
                "expected_arr_at_risk": 12000.0,
                "health_band": "yellow",
                "reasons": "Open ticket backlog: 4",
            },
        ],
        "charts": {"kpi_trend": "charts/kpi_trend.png", "risk_mix": "charts/risk_mix.png"},
    }


@pytest.fixture
def make_run(tmp_path, png_bytes):
    def make(status: str = "succeeded", headline: dict | None = None) -> Path:
        run = tmp_path / "reports" / "runs" / RUN_ID
        (run / "charts").mkdir(parents=True)
        for name, data in png_bytes.items():
            (run / "charts" / f"{name}.png").write_bytes(data)
        (run / "headline.json").write_text(json.dumps(headline or _headline()))
        (run / "report.html").write_text("<html><body><h1>Full report</h1></body></html>")
        write_csv(
            pd.DataFrame({"account_id": ["A00001"], "name": [EVIL_NAME], "arr": [24000.0]}),
            run / "renewal_map.csv",
        )
        notebooks = [{"name": "01_data.ipynb", "status": "succeeded", "duration_s": 3.2}]
        if status == "failed":
            notebooks.append(
                {
                    "name": "03_model.ipynb",
                    "status": "failed",
                    "duration_s": 1.0,
                    "error": {"cell_index": 7, "ename": "KeyError", "evalue": "'mrr_change_90d'"},
                }
            )
        manifest = {
            "status": status,
            "as_of": "2026-10-31",
            "run_id": RUN_ID,
            "started_at": "2026-11-23T19:00:00+00:00",
            "finished_at": "2026-11-23T19:04:00+00:00",
            "notebooks": notebooks,
            "delivery": [],
        }
        (run / "manifest.json").write_text(json.dumps(manifest))
        return run

    return make


def _settings(port: int, ca_file: Path | None, **changes) -> DeliverySettings:
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
    return DeliverySettings(**(values | changes))


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
    assert [i.get_content_type() for i in images] == ["image/png", "image/png"]
    html = html_part.get_content()
    assert len(html_part.get_payload(decode=True)) <= MAX_HTML_BYTES
    referenced = re.findall(r"cid:([^\"'\s>]+)", html)
    content_ids = {i["Content-ID"].strip("<>"): i for i in images}
    assert sorted(referenced) == sorted(content_ids)
    for cid, image in content_ids.items():
        chart = Path(image.get_filename()).stem
        assert image.get_payload(decode=True) == (run / "charts" / f"{chart}.png").read_bytes()
        assert cid in html
    names = [
        (a.get_filename(), a.get_content_type(), a.get_content_disposition()) for a in attachments
    ]
    assert names == [
        ("report.html", "text/html", "attachment"),
        ("renewal_map.csv", "text/csv", "attachment"),
    ]
    assert attachments[0].get_content() == (run / "report.html").read_text()
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
    assert msg["Subject"] == "Churn report 2026-10-31: ARR at risk 123,456"
    # user data is escaped in HTML, shown as typed in the plain text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "O&#39;Brien &amp; Sons" in html
    plain = msg.get_payload()[0].get_payload()[0].get_content()
    assert EVIL_NAME in plain and "123,456" in plain and "2.1% (+0.3 pp)" in plain

    record = _manifest(run)["delivery"]
    assert record == [
        {
            "kind": "report",
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
    assert msg["Subject"] == f"churnlab run FAILED: {RUN_ID}"
    body = msg.get_content()
    assert "Failed notebook: 03_model.ipynb (cell 7)" in body
    assert "KeyError: 'mrr_change_90d'" in body
    assert "01_data.ipynb" not in body  # only the failed notebook is named
    assert _manifest(run)["delivery"][0]["kind"] == "failure_notice"
    assert result.recipients == ("data-team@example.com",)
    with pytest.raises(DeliveryError, match="already sent"):
        send_failure_notice(run, settings, env=ENV, sleep=lambda s: None)


def test_failure_notice_of_a_succeeded_run_is_refused(make_run, ca_file):
    with pytest.raises(DeliveryError, match="succeeded"):
        send_failure_notice(make_run(), _settings(1, ca_file), env=ENV)


def test_html_body_stays_under_100_kb(make_run, ca_file):
    many = [
        {
            "account_id": f"A{i:05d}",
            "name": f"Account {i} <&>",
            "arr": 1000.0 + i,
            "renewal_date": "2026-12-01",
            "churn_probability": 0.5,
            "expected_arr_at_risk": 500.0,
            "health_band": "red",
            "reasons": "x" * 500,
        }
        for i in range(3000)
    ]
    run = make_run(headline=_headline(many))
    msg = build_message(run, _settings(1, ca_file))
    html_part = msg.get_payload()[0].get_payload()[1].get_payload()[0]
    html = html_part.get_content()
    assert len(html_part.get_payload(decode=True)) <= MAX_HTML_BYTES
    shown = int(re.search(r"Showing (\d+) of 3000 renewals", html).group(1))
    assert 0 < shown < 3000 and html.count("Account ") == shown
    plain = msg.get_payload()[0].get_payload()[0].get_content()
    assert plain.count("Account ") == shown and f"showing {shown} of 3000" in plain


def test_missing_or_escaping_chart_is_skipped(make_run, ca_file):
    headline = _headline()
    headline["charts"] = {
        "kpi_trend": "charts/kpi_trend.png",
        "gone": "charts/gone.png",
        "escape": "../../../../etc/passwd",
    }
    run = make_run(headline=headline)
    msg = build_message(run, _settings(1, ca_file, attach_csv=False))
    related = msg.get_payload()[0].get_payload()[1]
    html_part, *images = related.get_payload()
    assert len(images) == 1
    assert re.findall(r"cid:([^\"'\s>]+)", html_part.get_content()) == [
        images[0]["Content-ID"].strip("<>")
    ]
    assert [a.get_filename() for a in msg.get_payload()[1:]] == ["report.html"]


def test_missing_headline_names_the_file(make_run, ca_file):
    run = make_run()
    (run / "headline.json").unlink()
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
        DeliverySettings(recipients=["a@b.c"], sender="x@y.z", security="tls")
    with pytest.raises(ParamsError, match="arr_at_risk"):
        DeliverySettings(recipients=["a@b.c"], sender="x@y.z", subject_template="{arr}")
    with pytest.raises(ParamsError, match="list of addresses"):
        DeliverySettings(recipients="a@b.c", sender="x@y.z")
    params = load_params(Path(__file__).parents[1] / "params.yaml")
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
