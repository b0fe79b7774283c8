"""Rollback against a real API server: the patches the adapters plan must be accepted and must restore the
old version; permissions, missing objects and stale plans must surface as the rollback package's errors.

No kubelet or scheduler runs, so pods never become available: a Deployment with replicas > 0 stays
mid-rollout (which the mid-rollout test relies on) and the others use ``replicas: 0``, which the deployment
controller reports as settled once it has observed the latest generation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import kubernetes
import pytest
import yaml

from modelmonitor.api import RollbackSpec, parse_part
from modelmonitor.api import RollbackTarget as RollbackTargetSpec
from modelmonitor.reconcile.rollback_policy import RollbackAction, TargetState, decide_rollback
from modelmonitor.reconcile.versions import VersionRecord, record_evaluation
from modelmonitor.rollback import (
    RollbackConflict,
    RollbackForbidden,
    RollbackTargetNotFound,
)
from modelmonitor.rollback.apply import (
    TargetReference,
    inspect_target,
    read_target,
    roll_back,
)
from tests.conftest import KubeCluster

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("model_server_images")]

HERE = Path(__file__).parent
Value = TypeVar("Value")
IMAGE_FIELDS = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scorer", "container": "server"}
ENV_FIELDS = {**IMAGE_FIELDS, "versionFrom": "env", "env": "MODEL_VERSION"}


def typed_target(fields: dict[str, Any]) -> RollbackTargetSpec:
    """``spec.rollback.target`` as a manifest writes it, read by the spec's parser (with the CRD's defaults)."""
    return parse_part(RollbackTargetSpec, fields, "spec.rollback.target")


IMAGE_TARGET = typed_target(IMAGE_FIELDS)
ISVC_TARGET = typed_target(
    {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "name": "credit",
        "valueTemplate": "s3://models/credit/v{version}/",
    }
)


def apps(client: kubernetes.client.ApiClient) -> Any:
    """The typed clients want model objects; these tests speak manifests (dicts), which the server takes."""
    return kubernetes.client.AppsV1Api(client)


def core(client: kubernetes.client.ApiClient) -> Any:
    return kubernetes.client.CoreV1Api(client)


def rbac(client: kubernetes.client.ApiClient) -> Any:
    return kubernetes.client.RbacAuthorizationV1Api(client)


def extensions_api(client: kubernetes.client.ApiClient) -> Any:
    return kubernetes.client.ApiextensionsV1Api(client)


def wait_for(probe: Callable[[], Value | None], what: str, timeout: float = 30.0) -> Value:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def api_client(kube_cluster: KubeCluster) -> Iterator[kubernetes.client.ApiClient]:
    with kube_cluster.api_client() as client:
        yield client


@pytest.fixture
def namespace(kube_cluster: KubeCluster) -> str:
    return kube_cluster.create_namespace("rollback")


def deployment_manifest(version: str, replicas: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "scorer"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "scorer"}},
            "template": {
                "metadata": {"labels": {"app": "scorer"}},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": f"registry.local/model:{version}",
                            "env": [{"name": "MODEL_VERSION", "value": version}],
                        }
                    ]
                },
            },
        },
    }


def deploy(api_client: kubernetes.client.ApiClient, namespace: str, version: str) -> None:
    """What a person or CI does: roll the Deployment forward to ``version`` (image and env together)."""
    apps(api_client).patch_namespaced_deployment("scorer", namespace, deployment_manifest(version))


def server_container(api_client: kubernetes.client.ApiClient, namespace: str) -> Any:
    deployment = apps(api_client).read_namespaced_deployment("scorer", namespace)
    return deployment.spec.template.spec.containers[0]


def settled_state(
    api_client: kubernetes.client.ApiClient, target: RollbackTargetSpec, namespace: str
) -> TargetState:
    def probe() -> TargetState | None:
        state, _ = inspect_target(api_client, target, namespace)
        return state if state.mid_rollout_reason is None else None

    return wait_for(probe, "the deployment controller to observe the latest generation")


@pytest.mark.parametrize("fields", [IMAGE_FIELDS, ENV_FIELDS], ids=["image", "env"])
def test_deployment_is_rolled_back_to_the_last_healthy_version(
    api_client: kubernetes.client.ApiClient, namespace: str, fields: dict[str, Any]
) -> None:
    target = typed_target(fields)
    apps(api_client).create_namespaced_deployment(namespace, deployment_manifest("1"))
    now = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    versions: list[VersionRecord] = record_evaluation([], "1", "healthy", "run-1", now)
    assert settled_state(api_client, target, namespace).current_version == "1"

    deploy(api_client, namespace, "2")
    raw = {"enabled": True, "mode": "Automatic", "consecutiveViolations": 2, "target": fields}
    spec = parse_part(RollbackSpec, raw, "spec.rollback")
    decision = None
    for run in (2, 3):
        now += timedelta(hours=1)
        versions = record_evaluation(versions, "2", "critical", f"run-{run}", now)
        state = settled_state(api_client, target, namespace)
        summary = {"runId": f"run-{run}", "outcome": "evaluated", "modelVersion": "2", "verdict": "critical"}
        decision = decide_rollback(spec, {"versions": versions}, summary, state, {}, now)
    assert decision is not None
    assert (decision.action, decision.to_version) == (RollbackAction.EXECUTE, "1")

    state, observed = inspect_target(api_client, target, namespace)
    result = roll_back(api_client, target, namespace, "1", observed=observed)

    assert result.applied
    assert result.patch.from_version == "2"
    container = server_container(api_client, namespace)
    env = {item.name: item.value for item in container.env}
    if fields is IMAGE_FIELDS:
        assert (container.image, env["MODEL_VERSION"]) == ("registry.local/model:1", "2")
    else:
        assert (container.image, env["MODEL_VERSION"]) == ("registry.local/model:2", "1")
    assert settled_state(api_client, target, namespace).current_version == "1"


def test_a_deployment_whose_pods_are_not_available_is_mid_rollout(
    api_client: kubernetes.client.ApiClient, namespace: str
) -> None:
    manifest = deployment_manifest("1", replicas=1)
    # No node matches: the pod stays Pending whether or not a node agent runs in this session.
    manifest["spec"]["template"]["spec"]["nodeSelector"] = {"modelmonitor.io/no-such-node": "true"}
    apps(api_client).create_namespaced_deployment(namespace, manifest)

    def reason() -> str | None:
        state, _ = inspect_target(api_client, IMAGE_TARGET, namespace)
        return (
            state.mid_rollout_reason if state.mid_rollout_reason and "available" in state.mid_rollout_reason else None
        )

    assert wait_for(reason, "the controller to report unavailable replicas").endswith("0 of 1 replicas are available")
    apps(api_client).patch_namespaced_deployment_scale("scorer", namespace, {"spec": {"replicas": 0}})
    assert settled_state(api_client, IMAGE_TARGET, namespace).current_version == "1"


def test_a_plan_made_before_someone_else_deployed_is_not_applied(
    api_client: kubernetes.client.ApiClient, namespace: str
) -> None:
    apps(api_client).create_namespaced_deployment(namespace, deployment_manifest("2"))
    _, observed = inspect_target(api_client, IMAGE_TARGET, namespace)
    deploy(api_client, namespace, "3")

    with pytest.raises(RollbackConflict, match="changed after it was read"):
        roll_back(api_client, IMAGE_TARGET, namespace, "1", observed=observed)
    assert server_container(api_client, namespace).image == "registry.local/model:3"


def test_server_side_dry_run_changes_nothing(api_client: kubernetes.client.ApiClient, namespace: str) -> None:
    apps(api_client).create_namespaced_deployment(namespace, deployment_manifest("2"))

    result = roll_back(api_client, IMAGE_TARGET, namespace, "1", dry_run=True)

    assert not result.applied
    assert result.object["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/model:1"
    assert server_container(api_client, namespace).image == "registry.local/model:2"


@pytest.fixture(scope="module")
def inference_service_crd(kube_cluster: KubeCluster) -> str:
    manifest = yaml.safe_load((HERE / "inferenceservice-crd.yaml").read_text())
    with kube_cluster.api_client() as client:
        extensions = extensions_api(client)
        try:
            extensions.create_custom_resource_definition(manifest)
        except kubernetes.client.ApiException as error:
            if error.status != 409:
                raise

        def established() -> bool:
            crd = extensions.read_custom_resource_definition(manifest["metadata"]["name"])
            conditions = crd.status.conditions or []
            return any(item.type == "Established" and item.status == "True" for item in conditions)

        wait_for(established, "the InferenceService CRD to be established")
    return str(manifest["metadata"]["name"])


def create_inference_service(api_client: kubernetes.client.ApiClient, namespace: str, ready: str) -> None:
    custom = kubernetes.client.CustomObjectsApi(api_client)
    body = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "credit"},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://models/credit/v2/"}}},
    }
    custom.create_namespaced_custom_object("serving.kserve.io", "v1beta1", namespace, "inferenceservices", body)
    custom.patch_namespaced_custom_object_status(
        "serving.kserve.io",
        "v1beta1",
        namespace,
        "inferenceservices",
        "credit",
        {"status": {"conditions": [{"type": "Ready", "status": ready, "reason": "PredictorReady"}]}},
    )


def test_inference_service_storage_uri_is_rolled_back(
    api_client: kubernetes.client.ApiClient, namespace: str, inference_service_crd: str
) -> None:
    create_inference_service(api_client, namespace, ready="True")

    state, observed = inspect_target(api_client, ISVC_TARGET, namespace)
    assert (state.current_version, state.mid_rollout_reason) == ("2", None)
    result = roll_back(api_client, ISVC_TARGET, namespace, "1", observed=observed)

    assert result.patch.operations[-1]["path"] == "/spec/predictor/model/storageUri"
    stored = read_target(
        api_client, TargetReference("serving.kserve.io/v1beta1", "InferenceService", "credit", namespace)
    )
    assert stored["spec"]["predictor"]["model"]["storageUri"] == "s3://models/credit/v1/"
    assert inspect_target(api_client, ISVC_TARGET, namespace)[0].current_version == "1"


def test_an_inference_service_that_is_not_ready_is_mid_rollout(
    api_client: kubernetes.client.ApiClient, namespace: str, inference_service_crd: str
) -> None:
    create_inference_service(api_client, namespace, ready="False")

    state, _ = inspect_target(api_client, ISVC_TARGET, namespace)
    assert state.mid_rollout_reason is not None
    assert "is not Ready (PredictorReady)" in state.mid_rollout_reason


def impersonating(kube_cluster: KubeCluster, namespace: str, service_account: str) -> kubernetes.client.ApiClient:
    """A client acting as a ServiceAccount: the fixture's admin is system:masters, which RBAC never limits."""
    client: kubernetes.client.ApiClient = kube_cluster.api_client()
    headers: Any = client
    headers.set_default_header("Impersonate-User", f"system:serviceaccount:{namespace}:{service_account}")
    return client


def grant(api_client: kubernetes.client.ApiClient, namespace: str, name: str, verbs: list[str]) -> None:
    core(api_client).create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    rbac(api_client).create_namespaced_role(
        namespace,
        {
            "metadata": {"name": name},
            "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": verbs}],
        },
    )
    rbac(api_client).create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    )


def test_missing_patch_permission_is_rollback_forbidden(
    kube_cluster: KubeCluster, api_client: kubernetes.client.ApiClient, namespace: str
) -> None:
    apps(api_client).create_namespaced_deployment(namespace, deployment_manifest("2"))
    grant(api_client, namespace, "reader", ["get", "list", "watch"])

    with impersonating(kube_cluster, namespace, "reader") as restricted:

        def readable() -> tuple[TargetState, dict[str, Any]] | None:
            state, observed = inspect_target(restricted, IMAGE_TARGET, namespace)
            return (state, observed) if observed is not None else None

        state, observed = wait_for(readable, "the reader's Role to take effect")
        assert state.current_version == "2"
        with pytest.raises(RollbackForbidden) as raised:
            roll_back(restricted, IMAGE_TARGET, namespace, "1", observed=observed)

    assert raised.value.reason == "RollbackForbidden"
    assert f"may not patch Deployment {namespace}/scorer" in raised.value.message
    assert server_container(api_client, namespace).image == "registry.local/model:2"


def test_missing_read_permission_becomes_a_problem_not_a_crash(kube_cluster: KubeCluster, namespace: str) -> None:
    with kube_cluster.api_client() as admin:
        apps(admin).create_namespaced_deployment(namespace, deployment_manifest("2"))
        core(admin).create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})

    with impersonating(kube_cluster, namespace, "nobody") as restricted:
        state, observed = inspect_target(restricted, IMAGE_TARGET, namespace)

    assert observed is None
    assert state.current_version is None
    assert state.problem is not None and "may not read (get)" in state.problem


def test_missing_object_and_missing_kind_are_not_found(api_client: kubernetes.client.ApiClient, namespace: str) -> None:
    with pytest.raises(RollbackTargetNotFound, match=f"Deployment {namespace}/scorer.*does not exist"):
        read_target(api_client, TargetReference("apps/v1", "Deployment", "scorer", namespace))
    with pytest.raises(RollbackTargetNotFound, match="is its CRD installed"):
        read_target(api_client, TargetReference("example.com/v1", "ModelServer", "scorer", namespace))
