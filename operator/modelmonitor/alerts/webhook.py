"""Webhooks: a documented generic JSON payload, Slack, Microsoft Teams and PagerDuty Events v2.

Secret keys:
- the Secret named by ``urlSecret``: ``url`` (required, except for ``pagerduty`` where it defaults to
  ``https://events.pagerduty.com/v2/enqueue``), ``token`` (optional: sent as ``Authorization: Bearer``),
  ``routingKey`` (required for ``pagerduty``: the integration key).
- the Secret named by ``signingSecret``: ``key``. The request then carries
  ``X-ModelMonitor-Timestamp: <unix seconds>`` and ``X-ModelMonitor-Signature: sha256=<hex>``, the
  HMAC-SHA256 with that key of ``<timestamp>.`` followed by the exact body bytes (the timestamp is signed so
  a captured request cannot be replayed later; receivers should refuse old timestamps).
- the Secret named by ``headersSecret``: every key is a header name, its value the header value.

URLs and tokens come only from Secrets, so they never appear in a spec; error texts name the host only.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, get_args

from modelmonitor.alerts import render
from modelmonitor.alerts.base import ChannelSettings, DeliveryResult, Redactor
from modelmonitor.alerts.errors import ChannelConfigError, HostNotAllowedError
from modelmonitor.alerts.http_post import post_with_retries
from modelmonitor.alerts.notification import Notification
from modelmonitor.alerts.spec import optional_key, required_key, secret_data
from modelmonitor.api import AlertChannel
from modelmonitor.api.model import DEFAULT_WEBHOOK_FORMAT, WebhookFormat

__all__ = [
    "DELIVERY_ID_HEADER",
    "PAGERDUTY_EVENTS_URL",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WEBHOOK_FORMATS",
    "WebhookChannel",
    "build_webhook_channel",
    "delivery_id",
    "host_allowed",
    "sign_body",
    "verify_signature",
]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
DELIVERY_ID_HEADER = "X-ModelMonitor-Delivery-Id"
SIGNATURE_HEADER = "X-ModelMonitor-Signature"
TIMESTAMP_HEADER = "X-ModelMonitor-Timestamp"
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

PayloadBuilder = Callable[[Notification], dict[str, Any]]
WEBHOOK_FORMATS: tuple[WebhookFormat, ...] = get_args(WebhookFormat)


def sign_body(body: bytes, key: str, timestamp: int) -> str:
    """The ``X-ModelMonitor-Signature`` value: ``sha256=`` + hex HMAC of ``b"<timestamp>." + body``."""
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def delivery_id(notification: Notification, channel: str) -> str:
    """The ``X-ModelMonitor-Delivery-Id`` value: the same for every attempt to deliver one notification to one
    channel (retries, and a resend after a crash between sending and recording), different for any other, so a
    receiver can drop copies (an idempotency key). Derived from the queued delivery's identity."""
    identity = f"{notification.evaluation_id}/{notification.dedup_key}/{notification.kind}/{channel}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def verify_signature(body: bytes, key: str, timestamp: str, signature: str) -> bool:
    """For receivers (and tests): constant-time check of a signature header against the body."""
    if not timestamp.isdigit():
        return False
    return hmac.compare_digest(sign_body(body, key, int(timestamp)), signature)


def host_allowed(host: str, allowed: frozenset[str] | None) -> bool:
    """True when there is no allow-list, or ``host`` matches one of its names or ``*.domain`` patterns."""
    if allowed is None:
        return True
    host = host.lower()
    return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in allowed)


class WebhookChannel:
    """POSTs the rendered JSON payload, signed when a signing key is configured."""

    def __init__(
        self,
        *,
        name: str,
        url: str,
        payload: PayloadBuilder,
        headers: Mapping[str, str],
        signing_key: str | None,
        timeout: float,
        settings: ChannelSettings,
        redactor: Redactor,
    ) -> None:
        self._name = name
        self._url = url
        self._payload = payload
        self._headers = dict(headers)
        self._signing_key = signing_key
        self._timeout = timeout
        self._settings = settings
        self._redact = redactor

    @property
    def name(self) -> str:
        return self._name

    def send(self, notification: Notification) -> DeliveryResult:
        body = json.dumps(self._payload(notification), separators=(",", ":"), sort_keys=True).encode()
        headers = dict(self._headers)
        headers.update(
            {
                "Content-Type": "application/json",
                "User-Agent": "modelmonitor-operator",
                "X-ModelMonitor-Dedup-Key": notification.dedup_key,
                DELIVERY_ID_HEADER: delivery_id(notification, self._name),
                "X-ModelMonitor-Event": str(notification.kind),
            }
        )
        if self._signing_key:
            timestamp = int(self._settings.clock())
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign_body(body, self._signing_key, timestamp)
        return post_with_retries(
            channel=self._name,
            url=self._url,
            body=body,
            headers=headers,
            settings=self._settings,
            timeout=self._timeout,
            redactor=self._redact,
        )


def _payload_builder(format_name: str, routing_key: str | None) -> PayloadBuilder:
    if format_name == "generic":
        return render.generic_payload
    if format_name == "slack":
        return render.slack_payload
    if format_name == "teams":
        return render.teams_payload
    key = routing_key or ""
    return lambda notification: render.pagerduty_payload(notification, key)


def build_webhook_channel(
    channel: AlertChannel, secrets: Mapping[str, Mapping[str, str]], settings: ChannelSettings
) -> WebhookChannel:
    name = channel.name
    format_name = channel.format or DEFAULT_WEBHOOK_FORMAT
    url_data = secret_data(channel, "urlSecret", secrets, required=True)
    assert url_data is not None  # required=True raises instead
    routing_key: str | None = None
    if format_name == "pagerduty":
        url = optional_key(url_data, "url") or PAGERDUTY_EVENTS_URL
        routing_key = required_key(url_data, "routingKey", name, "urlSecret")
    else:
        url = required_key(url_data, "url", name, "urlSecret")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise ChannelConfigError(
            f"channel {name!r}: the key 'url' in the Secret named by urlSecret must be an http(s) URL"
        )
    if settings.outbound is not None:
        settings.outbound.check_url("webhook", url, channel=name)
    if not host_allowed(parsed.hostname, settings.allowed_webhook_hosts):
        raise HostNotAllowedError(
            f"channel {name!r}: webhook host {parsed.hostname!r} is not in the operator's allowed webhook hosts",
            reason="WebhookHostNotAllowed",
        )
    headers: dict[str, str] = {}
    secret_values = [url]
    headers_data = secret_data(channel, "headersSecret", secrets, required=False)
    for header, value in (headers_data or {}).items():
        if not _HEADER_NAME.match(header) or "\r" in value or "\n" in value:
            raise ChannelConfigError(
                f"channel {name!r}: key {header!r} in the Secret named by headersSecret is not a valid header"
            )
        headers[header] = value
        secret_values.append(value)
    token = optional_key(url_data, "token")
    if token:
        headers["Authorization"] = f"Bearer {token}"
        secret_values.append(token)
    if routing_key:
        secret_values.append(routing_key)
    signing_data = secret_data(channel, "signingSecret", secrets, required=False)
    signing_key = required_key(signing_data, "key", name, "signingSecret") if signing_data is not None else None
    if signing_key:
        secret_values.append(signing_key)
    timeout = channel.timeout.total_seconds() if channel.timeout is not None else settings.http_timeout
    if timeout <= 0:
        raise ChannelConfigError(f"channel {name!r}: alerts.channels[].timeout must be positive")
    return WebhookChannel(
        name=name,
        url=url,
        payload=_payload_builder(format_name, routing_key),
        headers=headers,
        signing_key=signing_key,
        timeout=timeout,
        settings=settings,
        redactor=Redactor(secret_values),
    )
