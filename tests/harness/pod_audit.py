"""Every pod the test session runs, seen from the API server: in which runtime and from which image it ran.

Issue 11's promise is that every integration and e2e pod on the real node runs in a container of the project's
image. Asserting that in each test that starts a pod would repeat the same lines in dozens of places and miss the
pods a test does not look at (the Jobs the operator creates, the reduce Jobs, the Deployments of the chart), so
the session watches all pods of the cluster instead and, when it ends, checks every container that started:

- its `containerID` is a containerd one (`containerd://...`): a real container on the real node, not a process
  of the node agent (which leaves it empty);
- its `imageID` is the project's image podman built for this session, or one of the images the session itself
  names as allowed (the stand-in model servers of the rollback tests are the pause image under their tags: they
  play a user's model, not a pod of ours).

The watch is read-only and runs in a daemon thread; a broken watch is re-listed, so pods are not missed when the
API server closes a stream.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RanContainer:
    pod: str  # namespace/name
    container: str
    image: str
    image_id: str
    container_id: str


@dataclass
class PodAudit:
    """Collects every started container of every pod until `stop()`; `problems()` names the ones that break
    the promise."""

    api_client: Any
    allowed_image_ids: dict[str, str]  # image id (hex, no algorithm) -> what it is, e.g. "project image"
    seen: dict[tuple[str, str], RanContainer] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pod-audit", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching after one last full list (pods still present are counted as they are now)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._list_once()

    def _run(self) -> None:
        import kubernetes

        core = kubernetes.client.CoreV1Api(self.api_client)
        while not self._stop.is_set():
            try:
                version = self._list_once()
                watch = kubernetes.watch.Watch()
                for event in watch.stream(core.list_pod_for_all_namespaces, resource_version=version,
                                          timeout_seconds=5, _request_timeout=15):
                    self._record(event["object"])
                    if self._stop.is_set():
                        watch.stop()
                        break
            except Exception as error:  # a closed stream, a 410 Gone, the API server stopping: list again
                if self._stop.is_set():
                    return
                self.errors.append(f"{type(error).__name__}: {error}")
                time.sleep(0.5)

    def _list_once(self) -> str:
        import kubernetes

        listed = kubernetes.client.CoreV1Api(self.api_client).list_pod_for_all_namespaces(_request_timeout=15)
        for pod in listed.items:
            self._record(pod)
        return str(listed.metadata.resource_version)

    def _record(self, pod: Any) -> None:
        statuses = [*(pod.status.init_container_statuses or []), *(pod.status.container_statuses or [])]
        for status in statuses:
            if not status.container_id and not status.image_id:
                continue  # not started yet (waiting for its image or its sandbox)
            key = (f"{pod.metadata.namespace}/{pod.metadata.name}", status.name)
            self.seen[key] = RanContainer(key[0], status.name, status.image, status.image_id or "",
                                          status.container_id or "")

    def problems(self) -> list[str]:
        found = []
        for ran in self.seen.values():
            if not ran.container_id.startswith("containerd://"):
                found.append(f"{ran.pod} ({ran.container}): containerID {ran.container_id!r} is not containerd's")
            if self._image_kind(ran.image_id) is None:
                found.append(f"{ran.pod} ({ran.container}): image {ran.image} ({ran.image_id}) is neither of "
                             f"{sorted(self.allowed_image_ids.values())}")
        return found

    def summary(self) -> str:
        kinds = Counter(self._image_kind(ran.image_id) or "other" for ran in self.seen.values())
        pods = len({ran.pod for ran in self.seen.values()})
        by_kind = ", ".join(f"{count} from the {kind}" for kind, count in sorted(kinds.items()))
        return f"{pods} pods, {len(self.seen)} containers ran on the real node: {by_kind}"

    def _image_kind(self, image_id: str) -> str | None:
        digest = image_id.rpartition(":")[2]
        return self.allowed_image_ids.get(digest)
