"""Real servers on loopback for alert deliveries: an SMTP sink with STARTTLS and AUTH, and an HTTP recorder.

Kept out of ``conftest.py`` so the operator's end-to-end tests can import them
(``from tests.integration.alerts.servers import SmtpSink, HttpRecorder, self_signed_certificate``); the
fixtures in ``conftest.py`` only start and stop them.
"""

from __future__ import annotations

import base64
import datetime
import email
import email.policy
import ipaddress
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = [
    "HttpRecorder",
    "ReceivedMail",
    "RecordedRequest",
    "SelfSignedCertificate",
    "SmtpSink",
    "free_port",
    "self_signed_certificate",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class SelfSignedCertificate:
    """A serving certificate for ``localhost`` and ``127.0.0.1``; ``pem`` is what a client trusts."""

    pem: str
    certificate_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate_file, self.key_file)
        return context


def self_signed_certificate(directory: Path) -> SelfSignedCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    certificate_file = directory / "smtp.crt"
    key_file = directory / "smtp.key"
    certificate_file.write_text(pem)
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return SelfSignedCertificate(pem=pem, certificate_file=certificate_file, key_file=key_file)


@dataclass(frozen=True)
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage
    tls: bool
    authenticated_as: str | None


def _transport_encrypted(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self._sink.received.append(
            ReceivedMail(
                sender=str(envelope.mail_from),
                recipients=list(envelope.rcpt_tos),
                message=message,
                tls=session.ssl is not None or _transport_encrypted(server),
                authenticated_as=login,
            )
        )
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd on loopback: STARTTLS required before AUTH (LOGIN or PLAIN) with one username/password.

    ``stop()`` then ``start()`` keeps the port, to test a relay that is down and comes back.
    """

    def __init__(
        self,
        certificate: SelfSignedCertificate,
        username: str,
        password: str,
        *,
        mechanisms: tuple[str, ...] = ("LOGIN", "PLAIN"),
        implicit_tls: bool = False,
    ) -> None:
        self.certificate = certificate
        self.mechanisms = mechanisms
        self.implicit_tls = implicit_tls
        self.mechanisms_used: list[str] = []
        self.username = username
        self.password = password
        self.host = "127.0.0.1"
        self.port = free_port()
        self.received: list[ReceivedMail] = []
        self.failed_logins = 0
        self._controller: Controller | None = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.mechanisms_used.append(mechanism)
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        ):
            return AuthResult(success=True, auth_data=auth_data)
        self.failed_logins += 1
        return AuthResult(success=False, handled=False)

    def start(self) -> None:
        excluded = [mechanism for mechanism in ("CRAM-MD5", "LOGIN", "PLAIN") if mechanism not in self.mechanisms]
        tls: dict[str, Any] = (
            {"ssl_context": self.certificate.server_context()}
            if self.implicit_tls
            else {"tls_context": self.certificate.server_context(), "require_starttls": True}
        )
        controller = Controller(
            _SinkHandler(self),
            hostname=self.host,
            port=self.port,
            # aiosmtpd only counts STARTTLS as TLS; an implicit-TLS connection is encrypted from the first byte
            auth_require_tls=not self.implicit_tls,
            authenticator=self._authenticate,
            auth_exclude_mechanism=excluded,
            **tls,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def secret_data(self) -> dict[str, str]:
        """The Secret data an email channel needs to reach this sink."""
        return {
            "host": "localhost",
            "port": str(self.port),
            "username": self.username,
            "password": self.password,
            "from": "modelmonitor@example.com",
            "caCert": self.certificate.pem,
        }


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def basic_auth(self) -> tuple[str, str] | None:
        value = self.headers.get("authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password


@dataclass
class _Script:
    """Status codes to answer, in order; the last repeats. ``delay`` seconds before answering (timeouts)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    body: bytes = b'{"ok": true}'
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers (e.g. Location)


class HttpRecorder:
    """A threaded HTTP server on loopback that records every request and answers from a per-path script."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[RecordedRequest] = []
        self._scripts: dict[str, _Script] = {}
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with recorder._lock:
                    recorder.requests.append(
                        RecordedRequest(
                            method="POST",
                            path=self.path,
                            headers={key.lower(): value for key, value in self.headers.items()},
                            body=body,
                        )
                    )
                    script = recorder._scripts.get(self.path.split("?")[0], _Script())
                    status = script.statuses.pop(0) if len(script.statuses) > 1 else script.statuses[0]
                if script.delay:
                    threading.Event().wait(script.delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(script.body)))
                for name, value in script.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(script.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, statuses: list[int], *, body: bytes = b'{"ok": true}', delay: float = 0.0,
               headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._scripts[path] = _Script(statuses=list(statuses), body=body, delay=delay, headers=dict(headers or {}))

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path.split("?")[0] == path]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
