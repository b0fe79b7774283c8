"""Delivering the alerts that the alert policy planned, and remembering how each delivery went.

The plan (which notifications, to which channels) is written into `status.alerts` together with the
evaluation it is about, in one status update. Sending happens after that update, and each outcome is written
back. So an operator restart after planning loses nothing (the queued deliveries are in status and are retried)
and never alerts twice for the same evaluation (the policy dedups by evaluation id). The one window left is a
crash between a successful send and writing its outcome: that message may be sent again (at least once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from modelmonitor.alerts import ChannelSettings, DeliveryResult, build_channel, required_secrets
from modelmonitor.alerts.errors import AlertError
from modelmonitor.kube.errors import Conflict, KubeError, NotFound
from modelmonitor.kube.store import KubeStore
from modelmonitor.reconcile.alert_policy import (
    Delivery,
    channel_failing,
    describe_delivery,
    due_retries,
    record_delivery,
)
from modelmonitor.reconcile.status import set_condition

log = logging.getLogger("modelmonitor.alerts")

# (monitor, event type, reason, message) -> None
EventPoster = Callable[[Mapping[str, Any], str, str, str], None]
# (namespace, monitor, channel, outcome) -> None
DeliveryCounter = Callable[[str, str, str, str], None]
MAX_CONFLICT_RETRIES = 8


def _channel_specs(monitor: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    channels = ((monitor.get("spec") or {}).get("alerts") or {}).get("channels") or []
    return {str(channel.get("name")): channel for channel in channels}


def send(store: KubeStore, monitor: Mapping[str, Any], delivery: Delivery, settings: ChannelSettings) -> DeliveryResult:
    """One delivery: read the channel's Secrets, build it, send. Never raises; secrets stay out of errors."""
    namespace = monitor["metadata"]["namespace"]
    channel_spec = _channel_specs(monitor).get(delivery.channel)
    if channel_spec is None:
        return DeliveryResult.failure(delivery.channel, f"channel {delivery.channel!r} is no longer in spec.alerts")
    try:
        secrets = {name: store.read_secret(namespace, name) for name in required_secrets(channel_spec)}
        channel = build_channel(channel_spec, secrets, settings)
    except NotFound as error:
        return DeliveryResult.failure(delivery.channel, str(error))
    except (AlertError, KubeError) as error:
        return DeliveryResult.failure(delivery.channel, str(error))
    return channel.send(delivery.notification)


def delivery_condition(status: Mapping[str, Any], alerts_state: Mapping[str, Any], generation: int | None,
                       now: datetime) -> list[dict[str, Any]]:
    failing = channel_failing(alerts_state)
    channels = (alerts_state or {}).get("channels") or {}
    if failing:
        message = "; ".join(f"{name}: {channels[name].get('lastError', 'failed')}" for name in failing)
        return set_condition(status.get("conditions") or [], "AlertDeliveryFailed", True, "ChannelFailing",
                             message, generation, now)
    return set_condition(status.get("conditions") or [], "AlertDeliveryFailed", False, "Delivered",
                         "every channel's last delivery succeeded", generation, now)


def deliver(store: KubeStore, namespace: str, name: str, deliveries: list[Delivery], settings: ChannelSettings,
            post_event: EventPoster, count: DeliveryCounter, now: Callable[[], datetime] | None = None) -> None:
    """Send `deliveries` and write each outcome into `status.alerts` (re-reading the monitor on conflicts)."""
    clock = now or (lambda: datetime.now(UTC))
    for delivery in deliveries:
        monitor = store.read_monitor(namespace, name)
        pending_ids = {entry.get("id") for entry in ((monitor.get("status") or {}).get("alerts") or {})
                       .get("pending") or []}
        if delivery.id not in pending_ids:
            continue  # already delivered (by a previous run of this loop before a restart)
        result = send(store, monitor, delivery, settings)
        reason, message = describe_delivery(delivery, result)
        post_event(monitor, "Normal" if result.ok else "Warning", reason, message)
        count(namespace, name, delivery.channel, "sent" if result.ok else "failed")
        log.info("%s", message)
        for _ in range(MAX_CONFLICT_RETRIES):
            status = monitor.get("status") or {}
            state = record_delivery(status.get("alerts"), delivery, result, clock())
            patch = {"alerts": state,
                     "conditions": delivery_condition(status, state, monitor["metadata"].get("generation"), clock())}
            try:
                store.patch_monitor_status(namespace, name, patch, monitor["metadata"]["resourceVersion"])
                break
            except Conflict:
                monitor = store.read_monitor(namespace, name)


def retry_due(store: KubeStore, monitor: Mapping[str, Any], settings: ChannelSettings, post_event: EventPoster,
              count: DeliveryCounter, now: datetime | None = None) -> int:
    """Send the queued deliveries whose time has come; returns how many were attempted."""
    state = (monitor.get("status") or {}).get("alerts")
    due = due_retries(state, now or datetime.now(UTC))
    if due:
        deliver(store, monitor["metadata"]["namespace"], monitor["metadata"]["name"], due, settings, post_event,
                count)
    return len(due)


def has_pending(status: Mapping[str, Any] | None) -> bool:
    return bool(((status or {}).get("alerts") or {}).get("pending"))
