"""Least-privilege RBAC: exactly the verbs the operator needs, in the scope it watches, and nothing for evaluators.

The expected grants are spelt out in full: adding a verb to the chart must fail here until it is added below,
with the reason.
"""

from __future__ import annotations

from typing import Any

from tests.unit.chart.rendering import Manifest, find, grants, only, render

FULLNAME = "mm-modelmonitor-operator"
OPERATOR_SUBJECT = {"kind": "ServiceAccount", "name": FULLNAME, "namespace": "modelmonitor-system"}

NAMESPACED_GRANTS = {
    *{("modelmonitor.io", "modelmonitors", v) for v in ("get", "list", "watch", "patch", "update")},
    *{("modelmonitor.io", "modelmonitors/status", v) for v in ("patch", "update")},
    *{(g, "events", v) for g in ("", "events.k8s.io") for v in ("create", "patch")},
    *{("batch", r, v) for r in ("cronjobs", "jobs") for v in ("create", "get", "list", "watch", "patch", "delete")},
    *{("", "configmaps", v) for v in ("create", "get", "list", "watch", "patch")},
    *{("", "pods", v) for v in ("get", "list", "watch")},
    ("", "secrets", "get"),
}
CRD_GRANTS = {("apiextensions.k8s.io", "customresourcedefinitions", v) for v in ("get", "list", "watch")}
NAMESPACE_GRANTS = {("", "namespaces", v) for v in ("list", "watch")}
ROLLBACK = {"targets": [{"apiGroup": "apps", "resources": ["deployments"]}, {"apiGroup": "", "resources": ["pods"]}]}


def no_wildcards(manifests: list[Manifest]) -> None:
    for manifest in manifests:
        for rule in manifest.get("rules", []):
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], (manifest["metadata"]["name"], rule)


def test_cluster_wide_by_default() -> None:
    manifests = render()
    role = only(manifests, "ClusterRole", FULLNAME)
    assert grants(role["rules"]) == NAMESPACED_GRANTS | CRD_GRANTS | NAMESPACE_GRANTS
    binding = only(manifests, "ClusterRoleBinding", FULLNAME)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": FULLNAME}
    assert binding["subjects"] == [OPERATOR_SUBJECT]
    assert find(manifests, "Role", FULLNAME) == []
    no_wildcards(manifests)


def test_watch_namespaces_get_roles_and_only_crd_reading_stays_cluster_wide() -> None:
    manifests = render({"watchNamespaces": ["risk", "fraud"]})
    assert grants(only(manifests, "ClusterRole", FULLNAME)["rules"]) == CRD_GRANTS
    roles = find(manifests, "Role", FULLNAME)
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["fraud", "risk"]
    for role in roles:
        assert grants(role["rules"]) == NAMESPACED_GRANTS
    bindings = find(manifests, "RoleBinding", FULLNAME)
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["fraud", "risk"]
    for binding in bindings:
        assert binding["roleRef"]["kind"] == "Role" and binding["subjects"] == [OPERATOR_SUBJECT]
    no_wildcards(manifests)


def test_rollback_kinds_only_when_listed() -> None:
    rollback_grants = {("apps", "deployments", "get"), ("apps", "deployments", "patch"), ("", "pods", "patch")}
    assert not rollback_grants & grants(only(render(), "ClusterRole", FULLNAME)["rules"])
    cluster_role = only(render({"rollback": ROLLBACK}), "ClusterRole", FULLNAME)
    assert grants(cluster_role["rules"]) - NAMESPACED_GRANTS - CRD_GRANTS - NAMESPACE_GRANTS == rollback_grants
    for role in find(render({"rollback": ROLLBACK, "watchNamespaces": ["risk"]}), "Role", FULLNAME):
        assert grants(role["rules"]) - NAMESPACED_GRANTS == rollback_grants


def test_leader_election_lease_is_limited_to_its_name() -> None:
    manifests = render()
    role = only(manifests, "Role", f"{FULLNAME}-leader-election")
    assert role["metadata"]["namespace"] == "modelmonitor-system"
    assert grants(role["rules"]) == {("coordination.k8s.io", "leases", "create")}
    (named,) = [rule for rule in role["rules"] if rule.get("resourceNames")]
    assert named["resourceNames"] == [f"{FULLNAME}-leader"] and sorted(named["verbs"]) == ["get", "update"]
    args = only(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--leader-election-lease={FULLNAME}-leader" in args
    binding = only(manifests, "RoleBinding", f"{FULLNAME}-leader-election")
    assert binding["subjects"] == [OPERATOR_SUBJECT]


def evaluator_accounts(values: dict[str, Any] | None = None) -> tuple[list[Manifest], list[Manifest]]:
    manifests = render(values)
    return manifests, find(manifests, "ServiceAccount", "modelmonitor-evaluator")


def test_evaluator_account_has_no_token_and_no_binding() -> None:
    manifests, accounts = evaluator_accounts()
    assert [a["metadata"]["namespace"] for a in accounts] == ["modelmonitor-system"]
    for manifest in manifests:
        for subject in manifest.get("subjects", []):
            assert subject["name"] != "modelmonitor-evaluator", manifest["metadata"]["name"]
    assert all(account["automountServiceAccountToken"] is False for account in accounts)
    operator_account = only(manifests, "ServiceAccount", FULLNAME)
    assert operator_account["automountServiceAccountToken"] is True


def test_evaluator_account_in_each_watched_or_listed_namespace() -> None:
    _, accounts = evaluator_accounts({"watchNamespaces": ["risk", "fraud"]})
    assert [a["metadata"]["namespace"] for a in accounts] == ["risk", "fraud"]
    _, accounts = evaluator_accounts({"evaluator": {"serviceAccount": {"name": "eval", "namespaces": ["a", "b"]}}})
    assert accounts == []
    _, accounts = evaluator_accounts(
        {"evaluator": {"serviceAccount": {"name": "modelmonitor-evaluator", "namespaces": ["a", "b"]}}}
    )
    assert [a["metadata"]["namespace"] for a in accounts] == ["a", "b"]


def test_user_roles_aggregate_into_view_and_edit() -> None:
    manifests = render()
    view = only(manifests, "ClusterRole", f"{FULLNAME}-view")
    edit = only(manifests, "ClusterRole", f"{FULLNAME}-edit")
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    assert {k for k, v in view["metadata"]["labels"].items() if k.startswith(aggregate) and v == "true"} == {
        f"{aggregate}view",
        f"{aggregate}edit",
        f"{aggregate}admin",
    }
    assert {k for k, v in edit["metadata"]["labels"].items() if k.startswith(aggregate) and v == "true"} == {
        f"{aggregate}edit",
        f"{aggregate}admin",
    }
    assert {verb for _, _, verb in grants(view["rules"])} == {"get", "list", "watch"}
    assert {verb for _, _, verb in grants(edit["rules"])} == {"create", "update", "patch", "delete", "deletecollection"}
    assert (
        find(render({"rbac": {"create": True, "aggregateClusterRoles": False}}), "ClusterRole", f"{FULLNAME}-view")
        == []
    )


def test_rbac_can_be_left_to_the_cluster_admin() -> None:
    manifests = render({"rbac": {"create": False, "aggregateClusterRoles": False}})
    kinds = {manifest["kind"] for manifest in manifests}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
