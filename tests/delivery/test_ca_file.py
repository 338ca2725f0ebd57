"""#22 item 5: the TLS advice names a setting that exists, delivery.smtp.ca_file, and it works."""

# ruff: noqa: F811  (the tests take the fixtures imported from test_delivery as arguments)
from __future__ import annotations

import pytest

from churnlab.config import load_params
from churnlab.delivery import DeliverySettings, send_run
from churnlab.errors import DeliveryError, ParamsError
from tests.delivery.test_delivery import (  # noqa: F401  (fixtures: a real STARTTLS server)
    ENV,
    ca,
    ca_file,
    make_run,
    server_tls,
    starttls_server,
)
from tests.helpers import ROOT


def _settings(tmp_path, port: int, *sets: str) -> DeliverySettings:
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    overrides = [
        "delivery.recipients=[vp-cs@example.com]",
        "delivery.smtp.host=127.0.0.1",
        f"delivery.smtp.port={port}",
        "delivery.backoff_seconds=0",
        *sets,
    ]
    cfg = load_params(tmp_path / "params.yaml", overrides=overrides)
    return DeliverySettings.from_params(cfg.delivery, root=cfg.root)


def test_the_ca_file_of_the_params_verifies_the_server(
    starttls_server, make_run, ca_file, tmp_path
):
    controller, handler = starttls_server
    # without it the system's CAs do not know the company CA: the advice names the param
    run = make_run()
    with pytest.raises(DeliveryError, match="set delivery.smtp.ca_file to its PEM file"):
        send_run(run, _settings(tmp_path, controller.port), env=ENV)
    # a path relative to the params file's folder
    (tmp_path / "company-ca.pem").write_bytes(ca_file.read_bytes())
    settings = _settings(tmp_path, controller.port, "delivery.smtp.ca_file=company-ca.pem")
    result = send_run(run, settings, env=ENV)
    assert list(result.recipients) == ["vp-cs@example.com"] and len(handler.messages) == 1


def test_a_missing_ca_file_is_a_params_error(tmp_path):
    with pytest.raises(ParamsError, match="delivery.smtp.ca_file.*no such file"):
        _settings(tmp_path, 2525, "delivery.smtp.ca_file=missing.pem")
