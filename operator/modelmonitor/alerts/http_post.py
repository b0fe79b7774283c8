"""POSTing to HTTP endpoints with retries, shared by the webhook and Twilio channels.

Retries on connection errors, timeouts, 5xx and 429 (a rate limit is the server asking to come back later),
never on other 4xx (the request itself is wrong and would fail again). Exponential backoff with full jitter;
``sleep`` and ``random`` come from ``ChannelSettings`` so tests inject them. Error texts name the host and
the status, never the URL (webhook URLs carry tokens) and pass through the channel's ``Redactor``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

import requests

from modelmonitor.alerts.base import ChannelSettings, DeliveryResult, Redactor, backoff_delay

__all__ = ["post_with_retries", "response_is_retryable"]


def response_is_retryable(status_code: int) -> bool:
    return status_code >= 500 or status_code == 429


def post_with_retries(
    *,
    channel: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    settings: ChannelSettings,
    timeout: float,
    redactor: Redactor,
    auth: tuple[str, str] | None = None,
    session: requests.Session | None = None,
) -> DeliveryResult:
    """POST ``body`` until a 2xx, a non-retryable answer, or ``settings.retry.max_attempts`` attempts."""
    host = urllib.parse.urlsplit(url).hostname or "?"
    policy = settings.retry
    owned_session = session is None
    http = session or requests.Session()
    last_error = ""
    last_status: int | None = None
    try:
        for attempt in range(1, policy.max_attempts + 1):
            if attempt > 1:
                settings.sleep(backoff_delay(attempt - 1, policy, settings.random))
            try:
                response = http.post(
                    url, data=body, headers=dict(headers), timeout=timeout, auth=auth, allow_redirects=False
                )
            except requests.Timeout:
                last_error = f"POST to {host} timed out after {timeout:g}s"
                last_status = None
                continue
            except requests.ConnectionError:
                last_error = f"POST to {host} failed: could not connect"
                last_status = None
                continue
            except requests.RequestException as error:
                return DeliveryResult.failure(
                    channel,
                    redactor(f"channel {channel!r}: POST to {host} failed: {type(error).__name__}"),
                    attempts=attempt,
                    retryable=False,
                )
            last_status = response.status_code
            response.close()
            if 200 <= response.status_code < 300:
                return DeliveryResult.success(channel, attempts=attempt, status_code=response.status_code)
            last_error = f"POST to {host} answered HTTP {response.status_code}"
            if not response_is_retryable(response.status_code):
                return DeliveryResult.failure(
                    channel,
                    redactor(f"channel {channel!r}: {last_error}"),
                    attempts=attempt,
                    retryable=False,
                    status_code=response.status_code,
                )
        return DeliveryResult.failure(
            channel,
            redactor(f"channel {channel!r}: {last_error} (after {policy.max_attempts} attempts)"),
            attempts=policy.max_attempts,
            retryable=True,
            status_code=last_status,
        )
    finally:
        if owned_session:
            http.close()
