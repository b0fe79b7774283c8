"""Leader election through a coordination.k8s.io Lease, so several replicas never work twice.

The holder renews the Lease every `renew_seconds`; a standby takes it over once it has not been renewed for
`lease_seconds`. Updates carry the Lease's resourceVersion, so two replicas can never both win a takeover.
A leader that fails to renew before its lease runs out calls `on_lost` (the operator then exits and restarts
as a standby) rather than risk two leaders.

A standby looks again when the holder's lease runs out (at the latest every `renew_seconds`), so a leader that
dies is replaced within `lease_seconds` of its last renewal. A leader that exits normally (SIGTERM: a rolling
update, a drained node) hands the Lease back on the way out, so the standby need not wait for it to expire.
Expiry is judged from the Lease's `renewTime` on this replica's clock, as kube-controller-manager's Lease
lock does; the replicas' clocks must agree to well within `lease_seconds` (NTP on every node does that).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

log = logging.getLogger("modelmonitor.leader")


def _now() -> datetime:
    return datetime.now(UTC)


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, api_client: kubernetes.client.ApiClient, namespace: str, name: str, identity: str,
                 on_lost: Callable[[], None], lease_seconds: int = 15, renew_seconds: float = 5) -> None:
        if renew_seconds >= lease_seconds:
            raise ValueError("renew_seconds must be shorter than lease_seconds")
        self.api: Any = kubernetes.client.CoordinationV1Api(api_client)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.on_lost = on_lost
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds
        self._stop = threading.Event()
        self._expires_at: datetime | None = None  # when the other holder's lease runs out, as last read
        self._held_until: float | None = None  # monotonic time until which our lease is surely ours
        self._holder_seen: str | None = None

    def holds(self) -> bool:
        """Whether the Lease is surely still ours: renewed less than `lease_seconds - renew_seconds` ago (the
        monotonic clock runs on while the process is frozen, so a woken leader knows it may have been replaced)."""
        return self._held_until is not None and time.monotonic() < self._held_until

    def _renewed(self, attempt_started: float) -> None:
        self._held_until = attempt_started + self.lease_seconds - self.renew_seconds

    def try_acquire(self) -> bool:
        """One attempt: create the Lease, renew ours, or take over an expired or released one."""
        attempt_started = time.monotonic()
        acquired = self._try_acquire()
        if acquired:
            self._renewed(attempt_started)
        return acquired

    def _try_acquire(self) -> bool:
        now = _now()
        self._expires_at = None
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": self.lease_seconds,
                "renewTime": _format(now)}
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as error:
            if error.status != 404:
                raise
            try:
                self.api.create_namespaced_lease(self.namespace, {
                    "metadata": {"name": self.name}, "spec": {**spec, "acquireTime": _format(now),
                                                              "leaseTransitions": 0}})
                return True
            except ApiException as create_error:
                if create_error.status == 409:
                    return False
                raise
        holder = lease.spec.holder_identity or None
        renewed = lease.spec.renew_time
        duration = lease.spec.lease_duration_seconds or self.lease_seconds
        expires_at = renewed + timedelta(seconds=duration) if renewed is not None else None
        if holder is not None and holder != self.identity and expires_at is not None and expires_at >= now:
            self._expires_at = expires_at
            if holder != self._holder_seen:
                log.info("the leader Lease %s/%s is held by %s; standing by", self.namespace, self.name, holder)
                self._holder_seen = holder
            return False
        body: dict[str, Any] = {"metadata": {"name": self.name, "resourceVersion": lease.metadata.resource_version},
                                "spec": dict(spec)}
        if holder != self.identity:
            body["spec"]["acquireTime"] = _format(now)
            body["spec"]["leaseTransitions"] = (lease.spec.lease_transitions or 0) + 1
            if holder is not None:
                log.warning("taking over the leader Lease %s/%s from %s (not renewed since %s)",
                            self.namespace, self.name, holder, _format(renewed) if renewed else "ever")
        else:
            body["spec"]["acquireTime"] = _format(lease.spec.acquire_time) if lease.spec.acquire_time else None
            body["spec"]["leaseTransitions"] = lease.spec.lease_transitions or 0
        try:
            self.api.replace_namespaced_lease(self.name, self.namespace, body)
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        return True

    def _next_attempt_in(self) -> float:
        """Seconds until the holder's lease runs out (a little after), at most `renew_seconds`."""
        if self._expires_at is None:
            return self.renew_seconds
        until_expiry = (self._expires_at - _now()).total_seconds() + 0.05
        return min(self.renew_seconds, max(until_expiry, 0.05))

    def acquire(self) -> bool:
        """Block until this replica holds the Lease (True), or until `stop()` (False)."""
        log.info("waiting for the leader Lease %s/%s as %s", self.namespace, self.name, self.identity)
        while not self._stop.is_set():
            try:
                if self.try_acquire():
                    log.info("acquired the leader Lease %s/%s as %s", self.namespace, self.name, self.identity)
                    atexit.register(self.release)
                    return True
            except ApiException as error:
                log.warning("leader election failed: %s", error.reason)
                self._expires_at = None
            self._stop.wait(self._next_attempt_in())
        return False

    def keep_renewing(self) -> threading.Thread:
        def renew() -> None:
            last_renewal = time.monotonic()
            while not self._stop.wait(self.renew_seconds):
                try:
                    if self.try_acquire():
                        last_renewal = time.monotonic()
                        continue
                    log.error("another replica took the leader Lease")
                except ApiException as error:
                    log.warning("renewing the leader Lease failed: %s", error.reason)
                    if time.monotonic() - last_renewal < self.lease_seconds - self.renew_seconds:
                        continue
                if self._stop.is_set():
                    return
                self.on_lost()
                return

        thread = threading.Thread(target=renew, name="leader-election", daemon=True)
        thread.start()
        return thread

    def release(self) -> None:
        """Stop renewing and, if this replica still holds the Lease, hand it back so a standby takes over now."""
        self._stop.set()
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
            if lease.spec.holder_identity != self.identity:
                return
            self.api.replace_namespaced_lease(self.name, self.namespace, {
                "metadata": {"name": self.name, "resourceVersion": lease.metadata.resource_version},
                "spec": {"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": _format(_now()),
                         "acquireTime": None, "leaseTransitions": lease.spec.lease_transitions or 0}})
            log.info("released the leader Lease %s/%s", self.namespace, self.name)
        except (ApiException, OSError) as error:  # the Lease then simply expires
            log.warning("could not release the leader Lease: %s", error)

    def stop(self) -> None:
        self._stop.set()
