"""E-mail through SMTP: STARTTLS (default), implicit TLS or plain, with login when the Secret has a username.

Secret keys (the Secret named by ``smtpSecret``): ``host`` (required), ``port`` (default 587 for
``starttls``, 465 for ``tls``, 25 for ``none``), ``username`` and ``password`` (login when present),
``from`` (used when the spec has no ``from``), ``caCert`` (PEM bundle to trust instead of the system store:
for relays with a private CA). No retries inside a send: a refused connection is reported and the alert
policy's pending queue tries again on a later reconcile.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from modelmonitor.alerts import render
from modelmonitor.alerts.base import ChannelSettings, DeliveryResult, Redactor
from modelmonitor.alerts.errors import ChannelConfigError
from modelmonitor.alerts.notification import Notification
from modelmonitor.alerts.spec import recipients, required_key, secret_data
from modelmonitor.api import AlertChannel
from modelmonitor.api.model import DEFAULT_EMAIL_TLS

__all__ = ["EmailChannel", "build_email_channel", "build_message"]

_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def build_message(notification: Notification, sender: str, to: list[str]) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML second (clients show the last they can)."""
    message = EmailMessage()
    message["Subject"] = render.subject(notification)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="modelmonitor.io")
    message["X-ModelMonitor-Dedup-Key"] = notification.dedup_key
    message["X-ModelMonitor-Evaluation"] = notification.evaluation_id
    message.set_content(render.plain_text_body(notification))
    message.add_alternative(render.html_body(notification), subtype="html")
    return message


class EmailChannel:
    """Sends one message per notification to every address in ``to``."""

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        tls: str,
        sender: str,
        to: list[str],
        username: str | None,
        password: str | None,
        ssl_context: ssl.SSLContext,
        timeout: float,
        redactor: Redactor,
    ) -> None:
        self._name = name
        self._host = host
        self._port = port
        self._tls = tls
        self._sender = sender
        self._to = to
        self._username = username
        self._password = password
        self._ssl_context = ssl_context
        self._timeout = timeout
        self._redact = redactor

    @property
    def name(self) -> str:
        return self._name

    def _connect(self) -> smtplib.SMTP:
        if self._tls == "tls":
            return smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=self._ssl_context)
        client = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        if self._tls == "starttls":
            client.ehlo()
            client.starttls(context=self._ssl_context)
            client.ehlo()
        return client

    def send(self, notification: Notification) -> DeliveryResult:
        message = build_message(notification, self._sender, self._to)
        where = f"SMTP server {self._host}:{self._port}"
        try:
            with self._connect() as client:
                if self._username:
                    client.login(self._username, self._password or "")
                refused = client.send_message(message, from_addr=self._sender, to_addrs=self._to)
        except smtplib.SMTPAuthenticationError as error:
            return self._failure(f"{where} refused the login ({error.smtp_code})", retryable=False)
        except smtplib.SMTPRecipientsRefused as error:
            return self._failure(f"{where} refused every recipient: {', '.join(error.recipients)}", retryable=False)
        except smtplib.SMTPResponseException as error:
            permanent = 500 <= error.smtp_code < 600
            return self._failure(f"{where} answered {error.smtp_code}", retryable=not permanent)
        except ssl.SSLError as error:
            return self._failure(f"TLS with {where} failed: {error.reason or type(error).__name__}")
        except TimeoutError:
            return self._failure(f"{where} timed out after {self._timeout:g}s")
        except ConnectionRefusedError:
            return self._failure(f"{where} refused the connection")
        except (OSError, smtplib.SMTPException) as error:
            return self._failure(f"{where}: {type(error).__name__}: {error}")
        if refused:
            return self._failure(f"{where} refused recipients: {', '.join(sorted(refused))}", retryable=False)
        return DeliveryResult.success(self._name)

    def _failure(self, error: str, *, retryable: bool = True) -> DeliveryResult:
        return DeliveryResult.failure(self._name, self._redact(f"channel {self._name!r}: {error}"), retryable=retryable)


def build_email_channel(
    channel: AlertChannel, secrets: Mapping[str, Mapping[str, str]], settings: ChannelSettings
) -> EmailChannel:
    name = channel.name
    data = secret_data(channel, "smtpSecret", secrets, required=True)
    assert data is not None  # required=True raises instead
    tls = channel.tls or DEFAULT_EMAIL_TLS
    host = required_key(data, "host", name, "smtpSecret")
    port_text = data.get("port") or str(_DEFAULT_PORTS[tls])
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ChannelConfigError(f"channel {name!r}: Secret key 'port' (from smtpSecret) must be a port number")
    if settings.outbound is not None:
        settings.outbound.check_host("email", host, int(port_text), channel=name)
    sender = channel.from_address or data.get("from") or ""
    if not sender:
        raise ChannelConfigError(
            f"channel {name!r}: set alerts.channels[].from or the key 'from' in the Secret named by smtpSecret"
        )
    if tls == "none" and data.get("password"):
        raise ChannelConfigError(
            f"channel {name!r}: alerts.channels[].tls must be starttls or tls when the Secret named by "
            "smtpSecret has a password (it would cross the network in clear text)"
        )
    ca_certificate = data.get("caCert")
    try:
        context = ssl.create_default_context(cadata=ca_certificate) if ca_certificate else ssl.create_default_context()
    except ssl.SSLError as error:
        raise ChannelConfigError(
            f"channel {name!r}: Secret key 'caCert' (from smtpSecret) is not a PEM certificate bundle"
        ) from error
    return EmailChannel(
        name=name,
        host=host,
        port=int(port_text),
        tls=tls,
        sender=sender,
        to=recipients(channel),
        username=data.get("username") or None,
        password=data.get("password") or None,
        ssl_context=context,
        timeout=settings.smtp_timeout,
        redactor=Redactor([data["password"]] if data.get("password") else []),
    )
