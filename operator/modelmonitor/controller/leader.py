"""Leader election through a coordination.k8s.io Lease, so several replicas never work twice.

The holder renews the Lease every `renew_seconds`; a standby takes it over once it has not been renewed for
`lease_seconds`. Updates carry the Lease's resourceVersion, so two replicas can never both win a takeover.
A leader that fails to renew before its lease runs out calls `on_lost` (the operator then exits and restarts
as a standby) rather than risk two leaders.
"""

from __future__ import annotations

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
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class LeaderElector:
    def __init__(self, api_client: kubernetes.client.ApiClient, namespace: str, name: str, identity: str,
                 on_lost: Callable[[], None], lease_seconds: int = 15, renew_seconds: float = 5) -> None:
        self.api: Any = kubernetes.client.CoordinationV1Api(api_client)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.on_lost = on_lost
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds
        self._stop = threading.Event()

    def try_acquire(self) -> bool:
        """One attempt: create the Lease, renew ours, or take over an expired one."""
        now = _now()
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
        holder = lease.spec.holder_identity
        renewed = lease.spec.renew_time
        duration = lease.spec.lease_duration_seconds or self.lease_seconds
        expired = renewed is None or renewed + timedelta(seconds=duration) < now
        if holder != self.identity and not expired:
            return False
        body: dict[str, Any] = {"metadata": {"name": self.name, "resourceVersion": lease.metadata.resource_version},
                                "spec": dict(spec)}
        if holder != self.identity:
            body["spec"]["acquireTime"] = _format(now)
            body["spec"]["leaseTransitions"] = (lease.spec.lease_transitions or 0) + 1
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

    def acquire(self) -> None:
        """Block until this replica holds the Lease."""
        log.info("waiting for the leader Lease %s/%s as %s", self.namespace, self.name, self.identity)
        while not self._stop.is_set():
            try:
                if self.try_acquire():
                    log.info("acquired the leader Lease %s/%s", self.namespace, self.name)
                    return
            except ApiException as error:
                log.warning("leader election failed: %s", error.reason)
            self._stop.wait(self.renew_seconds)

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
                self.on_lost()
                return

        thread = threading.Thread(target=renew, name="leader-election", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
