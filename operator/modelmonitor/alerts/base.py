"""The one interface every channel implements, and the pieces they share: results, settings, redaction, retry.

Channels never raise on a failed send: they return a ``DeliveryResult`` whose ``error`` has been passed
through a ``Redactor`` holding every secret value the channel knows, so a password echoed by a server or a
webhook URL quoted by an HTTP library cannot leak into status, Events or logs. Retries use exponential
backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"); ``sleep`` and
``random`` are injected so tests run fast without patching.
"""

from __future__ import annotations

import random as random_module
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from modelmonitor.alerts.notification import Notification
from modelmonitor.alerts.outbound import OutboundPolicy

__all__ = [
    "Channel",
    "ChannelSettings",
    "DeliveryResult",
    "Redactor",
    "RetryPolicy",
    "backoff_delay",
]

REDACTED = "***"


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one ``send``: ``retryable`` says whether trying again later could help."""

    channel: str
    ok: bool
    attempts: int = 1
    error: str | None = None
    retryable: bool = True
    status_code: int | None = None

    @classmethod
    def success(cls, channel: str, *, attempts: int = 1, status_code: int | None = None) -> DeliveryResult:
        return cls(channel=channel, ok=True, attempts=attempts, status_code=status_code)

    @classmethod
    def failure(
        cls,
        channel: str,
        error: str,
        *,
        attempts: int = 1,
        retryable: bool = True,
        status_code: int | None = None,
    ) -> DeliveryResult:
        return cls(
            channel=channel,
            ok=False,
            attempts=attempts,
            error=error,
            retryable=retryable,
            status_code=status_code,
        )


class Channel(Protocol):
    """A way to reach people. ``send`` never raises for delivery problems; it reports them."""

    @property
    def name(self) -> str: ...

    def send(self, notification: Notification) -> DeliveryResult: ...


@dataclass(frozen=True)
class RetryPolicy:
    """In-call retries of one send (the alert policy's pending queue handles retries across reconciles)."""

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0


def backoff_delay(attempt: int, policy: RetryPolicy, random: Callable[[], float]) -> float:
    """Full-jitter backoff before retry number ``attempt`` (1-based): uniform in [0, min(max, base*2^(a-1))]."""
    ceiling: float = min(policy.max_delay, policy.base_delay * 2.0 ** max(attempt - 1, 0))
    return ceiling * random()


@dataclass(frozen=True)
class ChannelSettings:
    """Operator-wide channel settings (from the operator's configuration, not from any monitor's spec).

    ``allowed_webhook_hosts``: when set, webhook URLs must point at one of these hosts (``*.example.com``
    patterns allowed). ``sns_endpoint_url`` / ``sns_region`` are defaults a channel's Secret may override.
    """

    allowed_webhook_hosts: frozenset[str] | None = None
    # The operator's destination allow-list (alerts/outbound.py); None (a library caller's default) checks
    # nothing. The operator always sets one, empty (deny everything) unless its flags allow destinations.
    outbound: OutboundPolicy | None = None
    namespace: str = ""  # the tenant whose channel this is (cloud identity opt-in is per namespace)
    http_timeout: float = 10.0
    smtp_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sns_endpoint_url: str | None = None
    sns_region: str | None = None
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random_module.random
    clock: Callable[[], float] = time.time


class Redactor:
    """Replaces every known secret value (and its URL-encoded and URL-path forms) in a text with ``***``."""

    _MINIMUM_LENGTH = 4  # shorter values ("25", "true") would mangle ordinary words

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        needles: set[str] = set()
        for secret in secrets:
            needles.update(self._forms(secret))
        # longest first, so a URL is replaced whole before its path is
        self._needles = sorted((n for n in needles if len(n) >= self._MINIMUM_LENGTH), key=len, reverse=True)

    @staticmethod
    def _forms(secret: str) -> set[str]:
        forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
        if "://" in secret:
            parsed = urllib.parse.urlsplit(secret)
            path_and_query = parsed.path + (f"?{parsed.query}" if parsed.query else "")
            if len(path_and_query) > 1:
                forms.add(path_and_query)
            if parsed.password:
                forms.add(parsed.password)
        return forms

    def __call__(self, text: str) -> str:
        for needle in self._needles:
            text = text.replace(needle, REDACTED)
        return text
