"""The delivery queue in ``status.alerts``: what is waiting to be sent, its retries, and each channel's record.

The alert policy (``alert_policy``) decides *what* to tell *whom* and queues it here; this module holds the
shape of the state and its transitions once a notification is queued: enqueue (idempotent per delivery id),
the deliveries due now, recording one send's outcome (removed, rescheduled with exponential back-off, or given
up), and the channels whose deliveries keep failing. All pure functions over the JSON-able state, which the
operator persists in the monitor's status.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from modelmonitor.alerts import render
from modelmonitor.alerts.base import DeliveryResult
from modelmonitor.alerts.notification import Notification
from modelmonitor.reconcile.versions import format_timestamp, parse_timestamp

__all__ = [
    "Delivery",
    "RetrySchedule",
    "channel_failing",
    "check_now",
    "describe_delivery",
    "due_retries",
    "enqueue",
    "next_retry_at",
    "normalised",
    "read_time",
    "record_delivery",
    "timestamp",
]

_PENDING_LIMIT = 100


@dataclass(frozen=True)
class RetrySchedule:
    """Retries across reconciles: exponential from ``base`` to ``maximum``, given up after ``max_attempts``."""

    base: timedelta = timedelta(minutes=1)
    maximum: timedelta = timedelta(hours=1)
    max_attempts: int = 12

    def delay(self, attempts: int) -> timedelta:
        delay: timedelta = min(self.maximum, self.base * 2 ** max(attempts - 1, 0))
        return delay


@dataclass(frozen=True)
class Delivery:
    """One notification to one channel; ``id`` is stable, so recording it twice is harmless."""

    id: str
    channel: str
    notification: Notification
    attempts: int = 0


def timestamp(moment: datetime) -> str:
    """A time in the state: RFC 3339 in UTC, as in the rest of the status (``versions.format_timestamp``)."""
    return format_timestamp(moment)


def read_time(value: Any) -> datetime | None:
    """A time read back from the state; ``None`` for a missing or unreadable one (a hand-edited status)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_timestamp(value).astimezone(UTC)
    except ValueError:
        return None


def normalised(state: Mapping[str, Any] | None) -> dict[str, Any]:
    """A deep copy with every section present, so callers never mutate the status they were given."""
    result: dict[str, Any] = copy.deepcopy(dict(state or {}))
    result.setdefault("lastEvaluationId", None)
    result.setdefault("processedEvaluations", [])
    result.setdefault("history", [])
    result.setdefault("problems", {})
    result.setdefault("channels", {})
    result.setdefault("pending", [])
    return result


def check_now(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    return now.astimezone(UTC)


def enqueue(state: dict[str, Any], notification: Notification, channels: Sequence[str], now: datetime) -> None:
    pending: list[dict[str, Any]] = state["pending"]
    known = {entry.get("id") for entry in pending}
    for channel in channels:
        delivery_id = f"{notification.evaluation_id}/{notification.dedup_key}/{notification.kind}/{channel}"
        if delivery_id in known:
            continue
        pending.append(
            {
                "id": delivery_id,
                "channel": channel,
                "notification": notification.to_dict(),
                "attempts": 0,
                "createdAt": timestamp(now),
                "nextAttemptAt": timestamp(now),
                "lastError": None,
            }
        )
        known.add(delivery_id)
    del pending[: max(len(pending) - _PENDING_LIMIT, 0)]


def due_retries(state: Mapping[str, Any] | None, now: datetime) -> list[Delivery]:
    """Queued deliveries whose next attempt is due, oldest first (never-attempted ones included)."""
    now = check_now(now)
    deliveries: list[Delivery] = []
    for entry in (state or {}).get("pending") or []:
        next_attempt = read_time(entry.get("nextAttemptAt"))
        if next_attempt is not None and next_attempt > now:
            continue
        deliveries.append(
            Delivery(
                id=str(entry["id"]),
                channel=str(entry["channel"]),
                notification=Notification.from_dict(entry["notification"]),
                attempts=int(entry.get("attempts") or 0),
            )
        )
    return deliveries


def next_retry_at(state: Mapping[str, Any] | None) -> datetime | None:
    """When the earliest queued delivery is due (for the operator's requeue delay), or None."""
    times = [read_time(entry.get("nextAttemptAt")) for entry in (state or {}).get("pending") or []]
    present = [moment for moment in times if moment is not None]
    return min(present) if present else None


def record_delivery(
    state: Mapping[str, Any] | None,
    delivery: Delivery,
    result: DeliveryResult,
    now: datetime,
    schedule: RetrySchedule | None = None,
) -> dict[str, Any]:
    """Record one send's outcome: channel statistics, and the queue (removed, rescheduled or given up)."""
    now = check_now(now)
    schedule = schedule or RetrySchedule()
    new_state = normalised(state)
    stats: dict[str, Any] = new_state["channels"].setdefault(
        delivery.channel, {"consecutiveFailures": 0, "sent": 0, "failed": 0}
    )
    stats["lastAttemptAt"] = timestamp(now)
    pending: list[dict[str, Any]] = new_state["pending"]
    index = next((i for i, entry in enumerate(pending) if entry.get("id") == delivery.id), None)
    if result.ok:
        stats["lastSuccessAt"] = timestamp(now)
        stats["consecutiveFailures"] = 0
        stats["sent"] = int(stats.get("sent") or 0) + 1
        if index is not None:
            del pending[index]
        return new_state
    stats["lastError"] = result.error or "delivery failed"
    stats["consecutiveFailures"] = int(stats.get("consecutiveFailures") or 0) + 1
    stats["failed"] = int(stats.get("failed") or 0) + 1
    if index is None:
        return new_state
    entry = pending[index]
    attempts = int(entry.get("attempts") or 0) + 1
    if not result.retryable or attempts >= schedule.max_attempts:
        del pending[index]
        stats["dropped"] = int(stats.get("dropped") or 0) + 1
        stats["lastDropped"] = {"id": delivery.id, "at": timestamp(now), "attempts": attempts}
        return new_state
    entry["attempts"] = attempts
    entry["lastError"] = result.error
    entry["nextAttemptAt"] = timestamp(now + schedule.delay(attempts))
    return new_state


def channel_failing(state: Mapping[str, Any] | None, threshold: int = 1) -> list[str]:
    """Channels whose last ``threshold`` or more deliveries failed: the ``AlertDeliveryFailed`` condition."""
    channels: Mapping[str, Any] = (state or {}).get("channels") or {}
    return sorted(name for name, stats in channels.items() if int(stats.get("consecutiveFailures") or 0) >= threshold)


def describe_delivery(delivery: Delivery, result: DeliveryResult) -> tuple[str, str]:
    """An Event's ``(reason, message)`` for one send (the words: ``alerts.render.describe_delivery``)."""
    return render.describe_delivery(delivery.channel, delivery.notification, result)
