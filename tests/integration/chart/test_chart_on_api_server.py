"""The rendered chart against the real API server.

1. Server-side dry-run of everything `helm template --include-crds` renders (the CRD included), in both RBAC
   modes: the API server's own validation, defaulting and admission (Pod Security "restricted" enforced on the
   release namespace) accept it.
2. The rendered RBAC and ServiceAccounts applied for real, then asked through SubjectAccessReviews: the operator
   may do what it needs, a forbidden verb stays forbidden, the evaluator may do nothing at all.
3. `helm install`, `helm upgrade` (switching RBAC mode) and `helm uninstall` of the chart.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from tests.conftest import KubeCluster
from tests.unit.chart.rendering import CHART_DIR, render_text, tool

pytestmark = pytest.mark.cluster

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}


def kubectl(cluster: KubeCluster, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("kubectl")), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=cluster.env,
        timeout=120,
        check=False,
    )


def restricted_namespace(cluster: KubeCluster, prefix: str) -> str:
    name = cluster.create_namespace(prefix)
    with cluster.api_client() as client:
        kubernetes.client.CoreV1Api(client).patch_namespace(name, {"metadata": {"labels": RESTRICTED}})
    return name


@pytest.mark.parametrize("mode", ["all-namespaces", "watch-namespaces"])
def test_server_side_dry_run_accepts_the_rendered_chart(kube_cluster: KubeCluster, mode: str) -> None:
    release_namespace = restricted_namespace(kube_cluster, "mm-system")
    values: dict[str, Any] = {
        "rollback": {"targets": [{"apiGroup": "apps", "resources": ["deployments"]}]},
        "replicaCount": 2,
    }
    if mode == "watch-namespaces":
        values["watchNamespaces"] = [
            restricted_namespace(kube_cluster, "risk"),
            restricted_namespace(kube_cluster, "fraud"),
        ]
    else:
        values["evaluator"] = {
            "serviceAccount": {
                "name": "modelmonitor-evaluator",
                "namespaces": [restricted_namespace(kube_cluster, "ml")],
            }
        }
    release = f"mm-{uuid.uuid4().hex[:6]}"
    manifests = render_text(values, release=release, namespace=release_namespace, extra=["--include-crds"])
    result = kubectl(
        kube_cluster,
        "apply",
        "--server-side",
        "--dry-run=server",
        "--force-conflicts",
        "--field-manager=chart-dry-run",
        "--filename=-",
        stdin=manifests,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr  # e.g. "would violate PodSecurity"
    applied = [line for line in result.stdout.splitlines() if line.endswith("(server dry run)")]
    assert any(line.startswith("customresourcedefinition.apiextensions.k8s.io/modelmonitors") for line in applied)
    assert any(line.startswith(f"deployment.apps/{release}-modelmonitor-operator") for line in applied)
    documents = [d for d in manifests.split("\n---") if "\nkind:" in d or d.lstrip().startswith("kind:")]
    assert len(applied) == len(documents), result.stdout


# -- the RBAC, for real ------------------------------------------------------------------------------------


class Access:
    """Asks the API server whether a ServiceAccount may do something (a SubjectAccessReview, as `can-i`)."""

    def __init__(self, cluster: KubeCluster, namespace: str, name: str) -> None:
        self.cluster = cluster
        self.user = f"system:serviceaccount:{namespace}:{name}"
        self.groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]

    def allowed(self, verb: str, resource: str, namespace: str = "", group: str = "", name: str = "") -> bool:
        resource, _, subresource = resource.partition("/")
        attributes = kubernetes.client.V1ResourceAttributes(
            verb=verb, group=group, resource=resource, subresource=subresource, namespace=namespace, name=name
        )
        review = kubernetes.client.V1SubjectAccessReview(
            spec=kubernetes.client.V1SubjectAccessReviewSpec(
                user=self.user, groups=self.groups, resource_attributes=attributes
            )
        )
        with self.cluster.api_client() as client:
            answer = kubernetes.client.AuthorizationV1Api(client).create_subject_access_review(review)
        assert answer.status is not None
        return bool(answer.status.allowed)


@pytest.fixture
def installed_rbac(kube_cluster: KubeCluster) -> Iterator[dict[str, str]]:
    """The chart's ServiceAccounts and RBAC applied in watch-namespaces mode, removed afterwards."""
    release_namespace = kube_cluster.create_namespace("mm-system")
    watched = kube_cluster.create_namespace("risk")
    unwatched = kube_cluster.create_namespace("other")
    release = f"mm-{uuid.uuid4().hex[:6]}"
    values = {
        "watchNamespaces": [watched],
        "rollback": {"targets": [{"apiGroup": "apps", "resources": ["deployments"]}]},
    }
    manifests = render_text(values, release=release, namespace=release_namespace)
    rbac_only = "\n---\n".join(
        document
        for document in manifests.split("\n---\n")
        if any(
            f"kind: {kind}\n" in document
            for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
        )
    )
    result = kubectl(
        kube_cluster, "apply", "--server-side", "--field-manager=chart-test", "--filename=-", stdin=rbac_only
    )
    assert result.returncode == 0, result.stderr
    try:
        yield {"release": release, "release_namespace": release_namespace, "watched": watched, "unwatched": unwatched}
    finally:
        kubectl(kube_cluster, "delete", "--ignore-not-found", "--wait=false", "--filename=-", stdin=rbac_only)


def test_operator_may_do_its_work_in_watched_namespaces_only(
    kube_cluster: KubeCluster, installed_rbac: dict[str, str]
) -> None:
    release, watched, unwatched = installed_rbac["release"], installed_rbac["watched"], installed_rbac["unwatched"]
    operator = Access(kube_cluster, installed_rbac["release_namespace"], f"{release}-modelmonitor-operator")
    needed = [
        ("watch", "modelmonitors", "modelmonitor.io"),
        ("patch", "modelmonitors/status", "modelmonitor.io"),
        ("create", "jobs", "batch"),
        ("delete", "cronjobs", "batch"),
        ("patch", "configmaps", ""),
        ("list", "pods", ""),
        ("get", "secrets", ""),
        ("create", "events", ""),
        ("patch", "deployments", "apps"),  # listed in rollback.targets
    ]
    for verb, resource, group in needed:
        assert operator.allowed(verb, resource, watched, group), (verb, resource)
        assert not operator.allowed(verb, resource, unwatched, group), (verb, resource, "unwatched")
    forbidden = [
        ("list", "secrets", ""),
        ("delete", "secrets", ""),
        ("create", "pods", ""),
        ("delete", "modelmonitors", "modelmonitor.io"),
        ("patch", "statefulsets", "apps"),  # not in rollback.targets
        ("create", "rolebindings", "rbac.authorization.k8s.io"),
    ]
    for verb, resource, group in forbidden:
        assert not operator.allowed(verb, resource, watched, group), (verb, resource)
    assert operator.allowed("list", "customresourcedefinitions", group="apiextensions.k8s.io")
    assert not operator.allowed("list", "namespaces")  # only cluster-wide mode needs it


def test_operator_lease_is_its_own_only(kube_cluster: KubeCluster, installed_rbac: dict[str, str]) -> None:
    release, namespace = installed_rbac["release"], installed_rbac["release_namespace"]
    operator = Access(kube_cluster, namespace, f"{release}-modelmonitor-operator")
    lease = f"{release}-modelmonitor-operator-leader"
    assert operator.allowed("create", "leases", namespace, "coordination.k8s.io")
    assert operator.allowed("update", "leases", namespace, "coordination.k8s.io", name=lease)
    assert not operator.allowed("update", "leases", namespace, "coordination.k8s.io", name="kube-scheduler")
    assert not operator.allowed("update", "leases", "kube-system", "coordination.k8s.io", name=lease)


def test_evaluator_may_do_nothing(kube_cluster: KubeCluster, installed_rbac: dict[str, str]) -> None:
    watched = installed_rbac["watched"]
    evaluator = Access(kube_cluster, watched, "modelmonitor-evaluator")
    for verb, resource, group in [
        ("get", "configmaps", ""),
        ("get", "secrets", ""),
        ("list", "pods", ""),
        ("get", "modelmonitors", "modelmonitor.io"),
        ("create", "events", ""),
    ]:
        assert not evaluator.allowed(verb, resource, watched, group), (verb, resource)
    with kube_cluster.api_client() as client:
        account = kubernetes.client.CoreV1Api(client).read_namespaced_service_account("modelmonitor-evaluator", watched)
    assert account.automount_service_account_token is False


# -- helm's own lifecycle ----------------------------------------------------------------------------------


def helm_in_cluster(cluster: KubeCluster, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cluster.env | {f"HELM_{kind}_HOME": str(tmp_path / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}
    return subprocess.run([str(tool("helm")), *args], capture_output=True, text=True, env=env, timeout=180, check=False)


def test_install_upgrade_uninstall(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    # replicaCount 0: no operator Pod (a node agent of this session would otherwise run it); --skip-crds: the
    # CRD is shared with other tests of the session and is covered by the dry-run above.
    namespace = kube_cluster.create_namespace("mm-helm")
    watched = kube_cluster.create_namespace("risk")
    release = f"mm-{uuid.uuid4().hex[:6]}"
    fullname = f"{release}-modelmonitor-operator"
    common = ["--namespace", namespace, "--skip-crds", "--set", "replicaCount=0"]
    installed = helm_in_cluster(kube_cluster, tmp_path, "install", release, str(CHART_DIR), *common)
    assert installed.returncode == 0, installed.stderr
    assert "kubectl --namespace" in installed.stdout  # NOTES.txt
    with kube_cluster.api_client() as client:
        rbac = kubernetes.client.RbacAuthorizationV1Api(client)
        subjects = rbac.read_cluster_role_binding(fullname).subjects or []
        assert [subject.namespace for subject in subjects] == [namespace]
        assert kubernetes.client.AppsV1Api(client).read_namespaced_deployment(fullname, namespace).spec.replicas == 0

    # Switching to watchNamespaces replaces the cluster-wide grants with a Role in the watched namespace.
    upgraded = helm_in_cluster(
        kube_cluster, tmp_path, "upgrade", release, str(CHART_DIR), *common, "--set", f"watchNamespaces={{{watched}}}"
    )
    assert upgraded.returncode == 0, upgraded.stderr
    with kube_cluster.api_client() as client:
        rbac = kubernetes.client.RbacAuthorizationV1Api(client)
        assert rbac.read_namespaced_role(fullname, watched).rules
        cluster_role = rbac.read_cluster_role(fullname)
        assert {resource for rule in cluster_role.rules or [] for resource in rule.resources or []} == {
            "customresourcedefinitions"
        }

    uninstalled = helm_in_cluster(kube_cluster, tmp_path, "uninstall", release, "--namespace", namespace)
    assert uninstalled.returncode == 0, uninstalled.stderr
    with kube_cluster.api_client() as client, pytest.raises(kubernetes.client.ApiException) as gone:
        kubernetes.client.RbacAuthorizationV1Api(client).read_cluster_role(fullname)
    assert gone.value.status == 404
