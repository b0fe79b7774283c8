"""Delivering the alerts that the alert policy planned, and remembering how each delivery went.

The plan (which notifications, to which channels) is written into `status.alerts.pending` together with the
evaluation it is about, in one status update. Each delivery is then *claimed* before it is sent: a
resourceVersion-guarded status patch writes a claim (a random token and its time) into the pending entry, so
of two senders racing for it (the Job-finished path and the retry timer, or two operator processes) exactly
one wins the patch and sends; the other sees the claim and leaves the delivery alone. The outcome is written
back (delivered entries leave the queue, failed ones are rescheduled) and the claim released.

Guarantee: a planned alert is never lost (it is in status before anything is sent, and a claim whose sender
died expires after `claim_seconds`, after which the retry timer takes it over) and is sent at most once,
except in one window: a crash after a successful send and before its outcome is written. That one delivery is
sent again once its claim expires (at-least-once); it carries the same `X-ModelMonitor-Delivery-Id` header
(webhooks), PagerDuty `dedup_key` and e-mail `X-ModelMonitor-Dedup-Key`, so receivers can drop the copy.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from modelmonitor import faults
from modelmonitor.alerts import ChannelSettings, DeliveryResult, build_channel, required_secrets
from modelmonitor.alerts.errors import AlertError, HostNotAllowedError
from modelmonitor.api import AlertChannel, SpecError, parse_spec
from modelmonitor.kube.errors import Conflict, KubeError, NotFound
from modelmonitor.kube.store import KubeStore
from modelmonitor.reconcile.alert_queue import (
    Delivery,
    channel_failing,
    describe_delivery,
    due_retries,
    record_delivery,
)
from modelmonitor.reconcile.delivery_claims import claim, claimable, release
from modelmonitor.reconcile.status import replacing_patch, set_condition

log = logging.getLogger("modelmonitor.alerts")

# (monitor, event type, reason, message) -> None
EventPoster = Callable[[Mapping[str, Any], str, str, str], None]
# (namespace, monitor, channel, outcome) -> None
DeliveryCounter = Callable[[str, str, str, str], None]
MAX_CONFLICT_RETRIES = 8
# Longer than any one send can take (in-call retries included: 3 attempts of at most 10 s plus backoff), so a
# live sender's claim never expires under it; also how long a crashed sender's delivery waits to be retried.
DEFAULT_CLAIM_SECONDS = 300.0


def _channels(monitor: Mapping[str, Any]) -> dict[str, AlertChannel]:
    """The monitor's channels as the spec parser reads them (the CRD's rules hold for them)."""
    return {channel.name: channel for channel in parse_spec(monitor.get("spec") or {}).alerts.channels}


def send(store: KubeStore, monitor: Mapping[str, Any], delivery: Delivery, settings: ChannelSettings) -> DeliveryResult:
    """One delivery: read the channel's Secrets, build it, send. Never raises; secrets stay out of errors."""
    namespace = monitor["metadata"]["namespace"]
    try:
        channel_spec = _channels(monitor).get(delivery.channel)
    except SpecError as error:  # stored before a newer CRD's rules; the monitor's Ready condition says so too
        return DeliveryResult.failure(delivery.channel, f"the monitor's spec is invalid: {error}", retryable=False)
    if channel_spec is None:
        return DeliveryResult.failure(delivery.channel, f"channel {delivery.channel!r} is no longer in spec.alerts")
    try:
        secrets = {name: store.read_secret(namespace, name) for name in required_secrets(channel_spec)}
        channel = build_channel(channel_spec, secrets, dataclasses.replace(settings, namespace=namespace))
    except NotFound as error:
        return DeliveryResult.failure(delivery.channel, str(error))
    except HostNotAllowedError as error:  # a refused destination stays refused: no retries, a condition
        return DeliveryResult.failure(delivery.channel, error.message, retryable=False)
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
            post_event: EventPoster, count: DeliveryCounter, now: Callable[[], datetime] | None = None,
            claim_seconds: float = DEFAULT_CLAIM_SECONDS) -> int:
    """Claim, send and record each of `deliveries` (skipping those already delivered or claimed by another
    sender); returns how many this call sent (successfully or not)."""
    clock = now or (lambda: datetime.now(UTC))
    lease = timedelta(seconds=claim_seconds)
    attempted = 0
    for delivery in deliveries:
        claimed = _claim(store, namespace, name, delivery, clock, lease)
        if claimed is None:
            continue  # delivered already, or another sender holds it
        monitor, token = claimed
        faults.reached("alerting.after-claim")
        result = send(store, monitor, delivery, settings)
        faults.reached("alerting.after-send")
        attempted += 1
        reason, message = describe_delivery(delivery, result)
        post_event(monitor, "Normal" if result.ok else "Warning", reason, message)
        count(namespace, name, delivery.channel, "sent" if result.ok else "failed")
        log.info("%s", message)
        _record(store, namespace, name, monitor, delivery, result, token, clock)
    return attempted


def _claim(store: KubeStore, namespace: str, name: str, delivery: Delivery, clock: Callable[[], datetime],
           lease: timedelta) -> tuple[dict[str, Any], str] | None:
    """Write a claim on `delivery` into status (guarded by resourceVersion); the monitor as written and the
    claim's token, or None when the delivery is gone or claimed by someone else."""
    token = uuid.uuid4().hex
    for _ in range(MAX_CONFLICT_RETRIES):
        monitor = store.read_monitor(namespace, name)
        status = monitor.get("status") or {}
        if not claimable(status.get("alerts"), delivery.id, clock(), lease):
            return None
        faults.reached("alerting.before-claim")
        state = claim(status.get("alerts"), delivery.id, token, clock())
        try:
            written = store.patch_monitor_status(namespace, name, replacing_patch(status, {"alerts": state}),
                                                 monitor["metadata"]["resourceVersion"])
        except Conflict:
            continue  # someone wrote first: read again, and see whether it was a claim on this delivery
        return written, token
    log.warning("could not claim delivery %s of %s/%s: the monitor kept changing", delivery.id, namespace, name)
    return None


def _record(store: KubeStore, namespace: str, name: str, monitor: Mapping[str, Any], delivery: Delivery,
            result: DeliveryResult, token: str, clock: Callable[[], datetime]) -> None:
    for _ in range(MAX_CONFLICT_RETRIES):
        status = monitor.get("status") or {}
        state = release(record_delivery(status.get("alerts"), delivery, result, clock()), delivery.id, token)
        patch = {"alerts": state,
                 "conditions": delivery_condition(status, state, monitor["metadata"].get("generation"), clock())}
        try:
            store.patch_monitor_status(namespace, name, replacing_patch(status, patch),
                                       monitor["metadata"]["resourceVersion"])
            return
        except Conflict:
            monitor = store.read_monitor(namespace, name)
    log.warning("could not record delivery %s of %s/%s: the monitor kept changing", delivery.id, namespace, name)


def retry_due(store: KubeStore, monitor: Mapping[str, Any], settings: ChannelSettings, post_event: EventPoster,
              count: DeliveryCounter, now: datetime | None = None,
              claim_seconds: float = DEFAULT_CLAIM_SECONDS) -> int:
    """Send the queued deliveries whose time has come and nobody holds; returns how many were attempted."""
    moment = now or datetime.now(UTC)
    state = (monitor.get("status") or {}).get("alerts")
    lease = timedelta(seconds=claim_seconds)
    due = [delivery for delivery in due_retries(state, moment) if claimable(state, delivery.id, moment, lease)]
    if not due:
        return 0
    return deliver(store, monitor["metadata"]["namespace"], monitor["metadata"]["name"], due, settings, post_event,
                   count, now=(lambda: moment) if now else None, claim_seconds=claim_seconds)


def has_pending(status: Mapping[str, Any] | None) -> bool:
    return bool(((status or {}).get("alerts") or {}).get("pending"))
