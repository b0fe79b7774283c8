"""The operator Deployment: the command line the operator CLI expects, probes, restricted pod security."""

from __future__ import annotations

from typing import Any

from tests.unit.chart.rendering import Manifest, only, render

FULLNAME = "mm-modelmonitor-operator"


def operator_container(values: dict[str, Any] | None = None) -> tuple[Manifest, dict[str, Any]]:
    deployment = only(render(values), "Deployment", FULLNAME)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, container


def test_command_watches_all_namespaces_by_default() -> None:
    _, container = operator_container()
    assert container["command"] == ["modelmonitor", "operator"]
    assert container["args"] == [
        "--all-namespaces",
        "--liveness=http://0.0.0.0:8080/healthz",
        "--metrics-port=9090",
        "--evaluator-image=modelmonitor-operator:0.1.0",
        "--evaluator-service-account=modelmonitor-evaluator",
        f"--leader-election-lease={FULLNAME}-leader",
    ]


def test_one_namespace_flag_per_watched_namespace() -> None:
    _, container = operator_container(
        {"watchNamespaces": ["risk", "fraud", "risk"], "operator": {"extraArgs": ["--verbose"]}}
    )
    namespace_args = [arg for arg in container["args"] if arg.startswith("--namespace") or arg == "--all-namespaces"]
    assert namespace_args == ["--namespace=risk", "--namespace=fraud"]
    assert container["args"][-1] == "--verbose"


def test_webhook_host_allow_list_becomes_flags() -> None:
    _, container = operator_container({"operator": {"webhookAllowedHosts": ["hooks.slack.com", "*.example.com"]}})
    hosts = [arg for arg in container["args"] if arg.startswith("--webhook-allowed-host=")]
    assert hosts == ["--webhook-allowed-host=hooks.slack.com", "--webhook-allowed-host=*.example.com"]


def test_outbound_destinations_are_denied_by_default_and_become_flags() -> None:
    _, container = operator_container({})
    assert not [arg for arg in container["args"] if arg.startswith("--allow-outbound=")]  # nothing allowed
    _, container = operator_container({"operator": {"outbound": {
        "webhook": {"hosts": ["hooks.slack.com"], "cidrs": ["10.30.0.0/16"], "schemes": ["https", "http"]},
        "email": {"hosts": ["smtp.example.com"]},
        "s3": {"cidrs": ["10.0.5.0/24"], "schemes": ["http"]},
        "cloudIdentityNamespaces": ["trusted"]}}})
    flags = [arg for arg in container["args"] if arg.startswith(("--allow-outbound=", "--cloud-identity"))]
    assert flags == ["--allow-outbound=webhook:host=hooks.slack.com", "--allow-outbound=webhook:cidr=10.30.0.0/16",
                     "--allow-outbound=webhook:scheme=https", "--allow-outbound=webhook:scheme=http",
                     "--allow-outbound=email:host=smtp.example.com",
                     "--allow-outbound=s3:cidr=10.0.5.0/24", "--allow-outbound=s3:scheme=http",
                     "--cloud-identity-namespace=trusted"]


def test_images_by_tag_or_digest() -> None:
    digest = "sha256:" + "a" * 64
    _, container = operator_container({"image": {"repository": "registry.example/mm", "digest": digest}})
    assert container["image"] == f"registry.example/mm@{digest}"
    assert f"--evaluator-image=registry.example/mm@{digest}" in container["args"]
    _, container = operator_container(
        {"image": {"tag": "dev"}, "evaluator": {"image": {"repository": "ev", "tag": "2"}}}
    )
    assert container["image"] == "modelmonitor-operator:dev"
    assert "--evaluator-image=ev:2" in container["args"]


def test_probes_hit_the_liveness_endpoint() -> None:
    _, container = operator_container({"operator": {"healthPort": 8181}})
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"healthz": 8181, "metrics": 9090}
    assert "--liveness=http://0.0.0.0:8181/healthz" in container["args"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    _, container = operator_container({"operator": {"readinessProbe": {"enabled": False}}})
    assert "readinessProbe" not in container and "livenessProbe" in container


def test_pod_identity_comes_from_the_downward_api() -> None:
    _, container = operator_container()
    env = {item["name"]: item for item in container["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"


def test_restricted_pod_security() -> None:
    deployment, container = operator_container()
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's USER
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    # A read-only root needs a writable /tmp.
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_replicas_and_service_account() -> None:
    deployment, _ = operator_container({"replicaCount": 3, "serviceAccount": {"name": "op"}})
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    assert spec["template"]["spec"]["serviceAccountName"] == "op"
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
