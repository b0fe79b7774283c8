"""Version attribution through the running operator (issue 14): with spec.data.columns.version, a window that
two versions served is labelled mixed in status and counts neither for nor against either version — read back
from the API server: status.versions, lastEvaluation, history and the rollback policy's decision."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from tests.harness.datasets import credit_scoring, parquet_bytes
from tests.harness.processes import wait_until
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess
from tests.integration.operator.test_rollback import _deployment, _rolled_out, _served

pytestmark = [pytest.mark.cluster, pytest.mark.s3, pytest.mark.usefixtures("model_server_images")]


def _upload_served_by(world: MonitorWorld, seed: int, drift: float, versions: dict[str, float]) -> dict[str, int]:
    """Current data whose `served_by` column names the version of each row; returns the rows per version."""
    world.upload_credit_data("current/", 3_000, seed=seed, drift=drift)  # clears the prefix
    table = credit_scoring(3_000, seed, drift)
    rng = np.random.default_rng(seed)
    served = rng.choice(list(versions), size=table.num_rows, p=list(versions.values()))
    table = table.append_column("served_by", pa.array(served.tolist(), pa.string()))
    world.upload("current/part-0.parquet", parquet_bytes(table))
    names, counts = np.unique(served, return_counts=True)
    return {str(name): int(count) for name, count in zip(names, counts, strict=True)}


def test_a_window_of_two_versions_is_mixed_and_counts_for_neither(
    world: MonitorWorld, operator: OperatorProcess
) -> None:
    import kubernetes

    apps = kubernetes.client.AppsV1Api(world.client)
    apps.create_namespaced_deployment(world.namespace, _deployment("split-model", "1", "image"))
    wait_until(lambda: _rolled_out(world, "split-model"), 60, interval=0.5, what="version 1 rolled out")
    world.upload_credit_data("reference/", 10_000, seed=80, drift=0.0)
    _upload_served_by(world, 81, 0.0, {"1": 1.0})
    body = world.monitor("split")
    body["spec"]["data"]["columns"]["version"] = "served_by"
    body["spec"]["rollback"] = {"enabled": True, "mode": "Automatic", "consecutiveViolations": 2,
                                "target": {"kind": "Deployment", "name": "split-model", "container": "server"}}
    world.apply(body)
    world.run_now("split")
    status = world.wait_for_evaluations("split", 1)["status"]
    assert status["lastEvaluation"]["verdict"] == "healthy"
    assert status["lastEvaluation"]["attribution"] == "single"
    assert status["lastEvaluation"]["servedVersions"] == {"1": 3_000}
    assert [(v["version"], v["evaluations"]) for v in status["versions"]] == [("1", 1)]

    # Version 2 takes over part of the traffic and the window holds both: bad quality, but whose?
    apps.patch_namespaced_deployment("split-model", world.namespace,
                                     {"spec": _deployment("split-model", "2", "image")["spec"]})
    wait_until(lambda: _served(world, "split-model", "image") == "2" and _rolled_out(world, "split-model"), 60,
               interval=0.5, what="version 2 rolled out")
    rows = _upload_served_by(world, 82, 1.0, {"1": 0.6, "2": 0.4})
    world.run_now("split")
    monitor = world.wait_for_evaluations("split", 2)
    status = monitor["status"]
    last = status["lastEvaluation"]
    assert last["verdict"] == "critical"  # the quality is still measured and reported
    assert last["attribution"] == "mixed" and last["versionsSeen"] == ["1", "2"], last
    assert last["servedVersions"] == rows
    assert status["history"][0]["attribution"] == "mixed" and status["history"][0]["versionsSeen"] == ["1", "2"]
    assert status["phase"] == "Degraded"
    # neither version gained a verdict: 1 keeps its one healthy evaluation, 2 is not in the memory at all
    assert [(v["version"], v["evaluations"]) for v in status["versions"]] == [("1", 1)]
    assert [d["verdict"] for d in status["versions"][0]["recentVerdicts"]] == ["healthy"]
    wait_until(lambda: ((world.read("split")["status"].get("rollback") or {}).get("lastDecision") or {})
               .get("evaluationId") == last["id"], 30, interval=0.5, what="the rollback decision on the mixed window")
    decision = world.read("split")["status"]["rollback"]["lastDecision"]
    assert decision["reason"] == "MixedVersionWindow" and "1, 2" in decision["message"], decision

    # A window version 2 served alone is version 2's: one critical evaluation, the mixed one not counted.
    _upload_served_by(world, 83, 1.0, {"2": 1.0})
    world.run_now("split")
    status = world.wait_for_evaluations("split", 3)["status"]
    assert status["lastEvaluation"]["attribution"] == "single"
    assert status["lastEvaluation"]["modelVersion"] == "2"
    assert {v["version"]: v["evaluations"] for v in status["versions"]} == {"1": 1, "2": 1}
    wait_until(lambda: ((world.read("split")["status"].get("rollback") or {}).get("lastDecision") or {})
               .get("evaluationId") == status["lastEvaluation"]["id"], 30, interval=0.5,
               what="the rollback decision on version 2's window")
    decision = world.read("split")["status"]["rollback"]["lastDecision"]
    assert decision["reason"] == "BelowConsecutiveViolations" and "1 of 2" in decision["message"], decision
    assert _served(world, "split-model", "image") == "2"
