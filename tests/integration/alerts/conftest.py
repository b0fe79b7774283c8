"""Fixtures starting the real alert servers of ``servers.py`` on loopback (importable by the lead's e2e tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from tests.integration.alerts.servers import HttpRecorder, SelfSignedCertificate, SmtpSink, self_signed_certificate

SMTP_USERNAME = "alerts@example.com"
SMTP_PASSWORD = "s3cret-smtp-pass-Xy7"


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCertificate:
    return self_signed_certificate(Path(tmp_path_factory.mktemp("smtp-tls")))


@pytest.fixture
def smtp_sink(smtp_certificate: SelfSignedCertificate) -> Iterator[SmtpSink]:
    sink = SmtpSink(smtp_certificate, SMTP_USERNAME, SMTP_PASSWORD)
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def http_recorder() -> Iterator[HttpRecorder]:
    recorder = HttpRecorder()
    recorder.start()
    yield recorder
    recorder.stop()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's standalone server (SNS and friends) on a free loopback port; yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
