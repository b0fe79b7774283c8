"""Installs the generated ModelMonitor CRD into the test cluster, once per session, and waits until it serves."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from modelmonitor.api.crd import CRD_NAME, GROUP, PLURAL, VERSION

REPO_ROOT = Path(__file__).resolve().parents[3]
CRD_PATH = REPO_ROOT / "crds" / "modelmonitors.yaml"
FIXTURES = REPO_ROOT / "tests" / "unit" / "api" / "fixtures"


def install_crd(api_client: Any, timeout: float = 60.0) -> None:
    """Creates (or replaces) the committed CRD and waits until the API server has it Established."""
    body = yaml.safe_load(CRD_PATH.read_text(encoding="utf-8"))
    extensions = kubernetes.client.ApiextensionsV1Api(api_client)
    try:
        extensions.create_custom_resource_definition(body)
    except kubernetes.client.ApiException as error:
        if error.status != 409:
            raise
        current: Any = extensions.read_custom_resource_definition(CRD_NAME)
        body["metadata"]["resourceVersion"] = current.metadata.resource_version
        extensions.replace_custom_resource_definition(CRD_NAME, body)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd: Any = extensions.read_custom_resource_definition(CRD_NAME)
        conditions = crd.status.conditions or []
        if any(condition.type == "Established" and condition.status == "True" for condition in conditions):
            return
        time.sleep(0.2)
    raise TimeoutError(f"CRD {CRD_NAME} not Established after {timeout}s")


def load_fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="session")
def monitor_crd(kube_cluster: Any) -> None:
    with kube_cluster.api_client() as client:
        install_crd(client)


@pytest.fixture(scope="session")
def monitor_namespace(kube_cluster: Any, monitor_crd: None) -> Iterator[str]:
    """A namespace in which a valid monitor can be created (the CRD is served there: discovery caught up)."""
    namespace: str = kube_cluster.create_namespace("api")
    probe = load_fixture("valid-drift-only.yaml")
    probe["metadata"]["name"] = f"probe-{uuid.uuid4().hex[:6]}"
    with kube_cluster.api_client() as client:
        objects = kubernetes.client.CustomObjectsApi(client)
        deadline = time.monotonic() + 30
        while True:
            try:
                objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, probe, dry_run="All")
                break
            except kubernetes.client.ApiException as error:
                if error.status != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    yield namespace
    with kube_cluster.api_client() as client:
        kubernetes.client.CoreV1Api(client).delete_namespace(namespace)
