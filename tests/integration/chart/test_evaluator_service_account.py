"""A cluster-wide install needs the evaluator's ServiceAccount in every monitor namespace (README, "Install").

The README's two commands are run verbatim in a fresh namespace; then the evaluation Job the operator builds
(its pod template from ``manifests``, defaults from ``parse_spec``) is created there and in a namespace without
the ServiceAccount. With it the Job controller creates the pod; without it the API server refuses the pod and
the Job's Events say the ServiceAccount was not found, as the README states.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from modelmonitor.api import parse_spec
from modelmonitor.manifests.evaluation import build_pod_template
from tests.conftest import KubeCluster
from tests.unit.api.rule_cases import DRIFT_ONLY, load_monitor
from tests.unit.chart.rendering import tool

pytestmark = pytest.mark.cluster

README = Path(__file__).resolve().parents[3] / "README.md"
SERVICE_ACCOUNT = "modelmonitor-evaluator"


def readme_service_account_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    commands = re.findall(r"^kubectl -n <namespace> (?:create|patch) serviceaccount .*$", text, re.MULTILINE)
    assert len(commands) == 2, commands
    return commands


def evaluation_job(namespace: str) -> dict[str, Any]:
    monitor = load_monitor(DRIFT_ONLY)
    monitor["metadata"].update(namespace=namespace, uid=str(uuid.uuid4()))
    spec = parse_spec(monitor["spec"])
    assert spec.evaluation.service_account_name is None  # unset: the operator's --evaluator-service-account
    template = build_pod_template(monitor, spec, "registry.invalid/modelmonitor:test", service_account=SERVICE_ACCOUNT)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "eval", "namespace": namespace},
        "spec": {"backoffLimit": 0, "template": template},
    }


def wait_for(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_readme_commands_let_evaluation_jobs_start_and_without_them_the_job_says_why(
    kube_cluster: KubeCluster,
) -> None:
    prepared, bare = kube_cluster.create_namespace("sa"), kube_cluster.create_namespace("nosa")
    for command in readme_service_account_commands():
        argv = shlex.split(command.replace("<namespace>", prepared))  # as a shell reads it
        argv[0] = str(tool("kubectl"))
        result = subprocess.run(argv, capture_output=True, text=True, env=kube_cluster.env, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
    with kube_cluster.api_client() as client:
        core, batch = kubernetes.client.CoreV1Api(client), kubernetes.client.BatchV1Api(client)
        account: Any = core.read_namespaced_service_account(SERVICE_ACCOUNT, prepared)
        assert account.automount_service_account_token is False
        for namespace in (prepared, bare):
            batch.create_namespaced_job(namespace, evaluation_job(namespace))

        pods: Any = wait_for(lambda: core.list_namespaced_pod(prepared, label_selector="job-name=eval").items,
                             "the Job's pod in the prepared namespace")
        assert pods[0].spec.service_account_name == SERVICE_ACCOUNT

        def refusal() -> str | None:
            events: Any = core.list_namespaced_event(bare, field_selector="involvedObject.name=eval")
            return next((event.message for event in events.items if event.reason == "FailedCreate"), None)

        message = wait_for(refusal, "a FailedCreate event on the Job in the namespace without the ServiceAccount")
        assert f'serviceaccount "{SERVICE_ACCOUNT}" not found' in message
        assert core.list_namespaced_pod(bare, label_selector="job-name=eval").items == []
