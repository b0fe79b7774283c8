"""A registry webhook starts an evaluation at once: a real MLflow server, configured with a webhook on alias moves
pointed at the running operator's endpoint and the monitor's secret, delivers a signed event when @champion moves;
the operator verifies it and evaluates the new version without waiting for the schedule. A delivery whose
signature does not verify starts nothing."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from modelmonitor.registry.mlflow import MlflowClient
from modelmonitor.registry.webhook import sign
from tests.harness.mlflow import MlflowServer
from tests.harness.processes import free_port
from tests.integration.conftest import MonitorWorld, OperatorProcess
from tests.integration.registry.conftest import register_versions
from tests.integration.registry.test_operator_registry import registry_monitor

pytestmark = [pytest.mark.cluster, pytest.mark.s3]


def _stop(operator: OperatorProcess) -> None:
    """Stop the session's operator with time to exit (its own kill waits 0.1 s, too short on a loaded machine)."""
    if operator.process is not None:
        operator.process.stop(timeout=15)
        operator.process = None


@pytest.fixture
def webhook_port(operator: OperatorProcess) -> Iterator[int]:
    port = free_port()
    _stop(operator)
    operator.restart_with(args=[f"--registry-webhook-port={port}"])
    try:
        yield port
    finally:
        _stop(operator)
        operator.restart_with()  # the session's operator as it was


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return int(error.code)


def test_an_alias_move_announced_by_mlflow_starts_an_evaluation_of_the_new_version(
    world: MonitorWorld, webhook_port: int, mlflow_server: MlflowServer, mlflow: MlflowClient,
    model_name: str,
) -> None:
    register_versions(mlflow, model_name, 2)
    mlflow.set_alias(model_name, "champion", "1")
    world.upload_credit_data("reference/", 5_000, seed=60, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=61, drift=0.0)
    world.core.create_namespaced_secret(world.namespace, {"metadata": {"name": "mlflow-hook"}, "data": {
        "secret": base64.b64encode(b"hook-secret-1").decode()}})
    world.apply(registry_monitor(world, "hooked", mlflow_server, model_name, webhookSecret="mlflow-hook"))
    endpoint = f"http://127.0.0.1:{webhook_port}/mlflow/{world.namespace}/hooked"

    # A forged delivery (wrong secret) is refused and starts nothing.
    forged = json.dumps({"entity": "model_version_alias", "action": "created",
                         "data": {"name": model_name, "alias": "champion", "version": "2"}}).encode()
    stamp = str(int(time.time()))
    assert post(endpoint, forged, {"X-MLflow-Delivery-Id": "f-1", "X-MLflow-Timestamp": stamp,
                                   "X-MLflow-Signature": sign("guessed", "f-1", stamp, forged),
                                   "Content-Type": "application/json"}) == 401

    assert mlflow.create_webhook(f"modelmonitor-{model_name}", endpoint, "hook-secret-1")
    time.sleep(1.5)  # past the test server's webhook cache (MLFLOW_WEBHOOK_CACHE_TTL=1)
    mlflow.set_alias(model_name, "champion", "2")  # MLflow delivers the signed event
    monitor = world.wait_for_evaluations("hooked", 1, timeout=120)
    assert monitor["status"]["lastEvaluation"]["modelVersion"] == "2"
    assert len(monitor["status"]["history"]) == 1  # the forged delivery started none
