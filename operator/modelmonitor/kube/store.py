"""API calls the operator makes, grouped by what they are for. Synchronous: kopf runs sync handlers in threads."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import kubernetes
from kubernetes.client.exceptions import ApiException

from modelmonitor import faults
from modelmonitor.kube.errors import translate

GROUP = "modelmonitor.io"
VERSION = "v1alpha1"
PLURAL = "modelmonitors"
FIELD_MANAGER = "modelmonitor-operator"
PROCESSED_ANNOTATION = "modelmonitor.io/processed"

T = TypeVar("T")
log = logging.getLogger("modelmonitor.kube")
# Told (verb, kind) before every API request: how the operator counts its own calls (its metrics set it).
RequestObserver = Callable[[str, str], None]


class KubeStore:
    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self.api_client = api_client
        # Typed as Any: the client's generated annotations disagree with the dict bodies it accepts.
        self.core: Any = kubernetes.client.CoreV1Api(api_client)
        self.batch: Any = kubernetes.client.BatchV1Api(api_client)
        self.custom: Any = kubernetes.client.CustomObjectsApi(api_client)
        self.observe_request: RequestObserver | None = None

    def _count(self, verb: str, kind: str) -> None:
        if self.observe_request is not None:
            self.observe_request(verb, kind)

    def _call(self, verb: str, what: str, call: Callable[[], T]) -> T:
        self._count(verb, what.split(" ", 1)[0])
        try:
            return call()
        except ApiException as error:
            raise translate(error, verb, what) from None

    def _plain(self, obj: Any) -> dict[str, Any]:
        return dict(self.api_client.sanitize_for_serialization(obj))  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------------------------------------ monitors
    def read_monitor(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(
            self._call(
                "get",
                f"modelmonitor {namespace}/{name}",
                lambda: self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name),
            )
        )

    def patch_monitor_status(
        self, namespace: str, name: str, status: Mapping[str, Any], resource_version: str | None = None
    ) -> dict[str, Any]:
        """A JSON merge patch of `status`; with `resource_version`, refused (Conflict) if the monitor changed."""
        body: dict[str, Any] = {"status": dict(status)}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        faults.reached("store.before-status-patch")
        return dict(
            self._call(
                "patch status of",
                f"modelmonitor {namespace}/{name}",
                lambda: self.custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, namespace, PLURAL, name, body
                ),
            )
        )

    def patch_monitor_metadata(self, namespace: str, name: str, metadata: Mapping[str, Any]) -> None:
        self._call(
            "patch",
            f"modelmonitor {namespace}/{name}",
            lambda: self.custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, {"metadata": dict(metadata)}
            ),
        )

    # ------------------------------------------------------------------------------------------ owned objects
    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply of an object the operator owns (created if missing, our fields updated)."""
        kind, namespace, name = obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"]
        patchers = {"ConfigMap": self.core.patch_namespaced_config_map, "CronJob": self.batch.patch_namespaced_cron_job}
        if kind not in patchers:
            raise ValueError(f"cannot apply a {kind}")
        body = json.loads(json.dumps(obj))  # a plain JSON copy: the client must not see tuples or subclasses
        return self._plain(
            self._call(
                "apply",
                f"{kind} {namespace}/{name}",
                lambda: patchers[kind](
                    name, namespace, body, field_manager=FIELD_MANAGER, force=True,
                    _content_type="application/apply-patch+yaml",
                ),
            )
        )

    def read_cron_job(self, namespace: str, name: str) -> dict[str, Any]:
        return self._plain(
            self._call(
                "get", f"CronJob {namespace}/{name}", lambda: self.batch.read_namespaced_cron_job(name, namespace)
            )
        )

    def create_job(self, job: Mapping[str, Any]) -> dict[str, Any]:
        namespace = job["metadata"]["namespace"]
        return self._plain(
            self._call(
                "create",
                f"Job {namespace}/{job['metadata']['name']}",
                lambda: self.batch.create_namespaced_job(namespace, dict(job)),
            )
        )

    def mark_job_processed(self, namespace: str, name: str, evaluation_id: str) -> None:
        self._call(
            "annotate",
            f"Job {namespace}/{name}",
            lambda: self.batch.patch_namespaced_job(
                name, namespace, {"metadata": {"annotations": {PROCESSED_ANNOTATION: evaluation_id}}}
            ),
        )

    def job_termination(self, namespace: str, job_name: str) -> tuple[str | None, int | None, str | None]:
        """(termination message, exit code, reason) of the Job's newest terminated pod, or Nones."""
        pods = self._call(
            "list pods of",
            f"Job {namespace}/{job_name}",
            lambda: self.core.list_namespaced_pod(namespace, label_selector=f"job-name={job_name}"),
        ).items
        terminated = []
        for pod in pods:
            for status in pod.status.container_statuses or []:
                if status.state and status.state.terminated:
                    terminated.append(
                        (
                            status.state.terminated.finished_at or pod.metadata.creation_timestamp,
                            status.state.terminated,
                        )
                    )
        if not terminated:
            return None, None, None
        _, newest = max(terminated, key=lambda item: str(item[0]))
        return newest.message, newest.exit_code, newest.reason

    # ------------------------------------------------------------------------------------------ events
    def post_event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """A core/v1 Event about `obj` (what `kubectl describe` shows). Failures are logged, never raised."""
        metadata = obj["metadata"]
        namespace = metadata["namespace"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = {
            "metadata": {"generateName": f"{metadata['name']}.", "namespace": namespace},
            "involvedObject": {"apiVersion": obj.get("apiVersion", f"{GROUP}/{VERSION}"),
                               "kind": obj.get("kind", "ModelMonitor"), "name": metadata["name"],
                               "namespace": namespace, "uid": metadata.get("uid"),
                               "resourceVersion": metadata.get("resourceVersion")},
            "type": type_, "reason": reason, "message": message[:1024],
            "source": {"component": FIELD_MANAGER}, "reportingComponent": f"{GROUP}/operator",
            "reportingInstance": os.environ.get("POD_NAME", FIELD_MANAGER),
            "firstTimestamp": now, "lastTimestamp": now, "eventTime": now, "action": reason, "count": 1,
        }
        self._count("create", "Event")
        try:
            self.core.create_namespaced_event(namespace, body)
        except ApiException as error:
            log.warning("could not post event %s on %s/%s: %s", reason, namespace, metadata["name"], error.reason)

    def pod_terminations(self, namespace: str, job_name: str) -> list[tuple[dict[str, str], Any]]:
        """(pod annotations, terminated container state) for every terminated container of the Job's pods."""
        pods = self._call("list pods of", f"Job {namespace}/{job_name}", lambda: self.core.list_namespaced_pod(
            namespace, label_selector=f"job-name={job_name}")).items
        found = []
        for pod in pods:
            for status in pod.status.container_statuses or []:
                if status.state and status.state.terminated:
                    found.append((dict(pod.metadata.annotations or {}), status.state.terminated))
        return found

    # ------------------------------------------------------------------------------------------ secrets
    def secret_keys(self, namespace: str, name: str) -> list[str] | None:
        """The key names of a Secret, None when it does not exist; its values are neither decoded nor kept."""
        self._count("get", "Secret")
        try:
            secret = self.core.read_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise translate(error, "get", f"Secret {namespace}/{name}") from None
        return sorted((secret.data or {}).keys())

    def read_secret(self, namespace: str, name: str) -> dict[str, str]:
        """Decoded values of a Secret. Callers must never log or store them."""
        secret = self._call(
            "get", f"Secret {namespace}/{name}", lambda: self.core.read_namespaced_secret(name, namespace)
        )
        return {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()}
