"""spec.challenger through the running operator (real API server, MinIO, evaluation Jobs): as labelled rows
accumulate over run-now evaluations the decision moves from inconclusive to challenger-worse, and that is read
back from the API server in status.comparison, the ChallengerDecision condition, the printer column and an
Event; removing the challenger from the spec removes status.comparison (the merge patch's explicit null)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from tests.harness.datasets import credit_scoring, parquet_bytes
from tests.harness.processes import wait_until
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess, condition

pytestmark = [pytest.mark.cluster, pytest.mark.s3, pytest.mark.usefixtures("model_server_images")]

CHALLENGER = {"version": "2", "prediction": "pred_v2", "score": "proba_v2", "metrics": ["accuracy", "roc_auc"]}


def upload_shadow_traffic(world: MonitorWorld, rows: int, seed: int, after: datetime | None = None) -> None:
    """Current data with a shadow challenger whose scores carry extra noise (a worse model).

    ``after``: the rows are new traffic since then (the comparison counts each row once across runs, by time).
    """
    table = credit_scoring(rows, seed)
    if after is not None:
        now = datetime.now(UTC)
        offsets = np.random.default_rng(seed).uniform(0, (now - after).total_seconds(), rows)
        stamps = pa.array(
            [after + timedelta(seconds=float(offset)) for offset in offsets], pa.timestamp("us", tz="UTC")
        )
        table = table.set_column(table.schema.get_field_index("ts"), "ts", stamps)
    rng = np.random.default_rng(seed + 20)
    score = np.clip(table.column("proba").to_numpy(), 1e-9, 1 - 1e-9)
    challenger = 1 / (1 + np.exp(-(np.log(score / (1 - score)) + rng.normal(0, 1.0, rows))))
    table = table.append_column("proba_v2", pa.array(challenger))
    table = table.append_column("pred_v2", pa.array((challenger >= 0.5).astype(np.int64)))
    s3 = world.s3.client()
    for item in s3.list_objects_v2(Bucket=world.bucket, Prefix="current/").get("Contents", []):
        s3.delete_object(Bucket=world.bucket, Key=item["Key"])
    world.upload("current/part-0.parquet", parquet_bytes(table))


def events(world: MonitorWorld, name: str) -> list[dict[str, Any]]:
    listed = world.core.list_namespaced_event(world.namespace, field_selector=f"involvedObject.name={name}")
    return [{"reason": item.reason, "type": item.type, "message": item.message} for item in listed.items]


def test_decision_changes_as_labels_accumulate_and_is_read_back(world: MonitorWorld, operator: OperatorProcess) -> None:
    world.upload_credit_data("reference/", 4_000, seed=40, drift=0.0)
    upload_shadow_traffic(world, 600, seed=50)
    world.apply(world.monitor("shadowed", challenger=CHALLENGER))
    world.run_now("shadowed")
    monitor = world.wait_for_evaluations("shadowed", 1, timeout=240)
    assert monitor["status"]["lastEvaluation"]["outcome"] == "evaluated", monitor["status"]["lastEvaluation"]
    first = monitor["status"]["comparison"]
    assert first["decision"] == "inconclusive"
    assert (first["championVersion"], first["challengerVersion"], first["labelledRows"], first["runs"]) == (
        "1",
        "2",
        600,
        1,
    )
    assert first["rowsNeeded"] > 0
    assert {item["metric"] for item in first["metrics"]} == {"accuracy", "roc_auc"}
    decided = condition(monitor, "ChallengerDecision")
    assert (decided["status"], decided["reason"]) == ("False", "Inconclusive")

    time.sleep(1.0)  # new traffic after the first run's window: timestamps in (first run, now)
    upload_shadow_traffic(world, 3_000, seed=51, after=datetime.now(UTC) - timedelta(seconds=1))
    world.run_now("shadowed")
    monitor = world.wait_for_evaluations("shadowed", 2, timeout=240)
    second = monitor["status"]["comparison"]
    assert second["decision"] == "challenger-worse"
    assert (second["labelledRows"], second["runs"], second["evidenceSince"]) == (3_600, 2, first["evidenceSince"])
    assert second["decisionSince"] >= first["decisionSince"]
    roc_auc = {item["metric"]: item for item in second["metrics"]}["roc_auc"]
    assert roc_auc["difference"] < 0 and roc_auc["interval"][1] < 0
    decided = condition(monitor, "ChallengerDecision")
    assert (decided["status"], decided["reason"]) == ("True", "ChallengerWorse")
    wait_until(
        lambda: any(
            event["reason"] == "ChallengerWorse" and event["type"] == "Warning" for event in events(world, "shadowed")
        ),
        30,
        what="the ChallengerWorse event",
    )
    assert "challenger-worse" in world.kubectl("get", "mm", "shadowed", "-o", "wide")

    world.apply(world.monitor("shadowed"))  # the challenger leaves the spec
    world.run_now("shadowed")
    monitor = world.wait_for_evaluations("shadowed", 3, timeout=240)
    assert "comparison" not in monitor["status"]
    assert all(item["type"] != "ChallengerDecision" for item in monitor["status"]["conditions"])


def upload_better_challenger(world: MonitorWorld, rows: int, seed: int) -> None:
    """Current data where the champion's scores carry extra noise and the challenger is the clean model."""
    table = credit_scoring(rows, seed)
    rng = np.random.default_rng(seed + 1)
    clean = np.clip(table.column("proba").to_numpy(), 1e-9, 1 - 1e-9)
    noisy = 1 / (1 + np.exp(-(np.log(clean / (1 - clean)) + rng.normal(0, 1.0, rows))))
    table = table.drop_columns(["proba", "pred"])
    table = table.append_column("proba", pa.array(noisy))
    table = table.append_column("pred", pa.array((noisy >= 0.5).astype(np.int64)))
    table = table.append_column("proba_v2", pa.array(clean))
    table = table.append_column("pred_v2", pa.array((clean >= 0.5).astype(np.int64)))
    world.upload("current/part-0.parquet", parquet_bytes(table))


def _deployment(name: str, version: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "server", "image": f"registry.local/credit-model:{version}"}]},
            },
        },
    }


def _served(world: MonitorWorld, name: str) -> str:
    import kubernetes

    deployment = kubernetes.client.AppsV1Api(world.client).read_namespaced_deployment(name, world.namespace)
    return str(deployment.spec.template.spec.containers[0].image.rsplit(":", 1)[1])


def test_a_better_challenger_is_proposed_announced_and_promoted_once_approved(
    world: MonitorWorld, operator: OperatorProcess
) -> None:
    import kubernetes

    from tests.integration.alerts.servers import HttpRecorder
    from tests.integration.operator.test_alerting import _secret

    kubernetes.client.AppsV1Api(world.client).create_namespaced_deployment(
        world.namespace, _deployment("credit-model", "1")
    )
    recorder = HttpRecorder()
    recorder.start()
    try:
        _secret(world, "hook", {"url": recorder.url("/alerts")})
        world.upload_credit_data("reference/", 4_000, seed=40, drift=0.0)
        upload_better_challenger(world, 4_000, seed=60)
        body = world.monitor(
            "promoting",
            challenger={
                "version": "2",
                "prediction": "pred_v2",
                "score": "proba_v2",
                "metrics": ["roc_auc"],
                "action": {"promote": {"mode": "Manual"}},
            },
        )
        body["spec"]["metrics"] = [{"name": "roc_auc", "min": 0.5}]
        body["spec"]["rollback"] = {
            "enabled": False,
            "target": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "credit-model", "container": "server"},
        }
        body["spec"]["alerts"] = {"channels": [{"name": "hook", "type": "webhook", "urlSecret": "hook"}]}
        world.apply(body)
        world.run_now("promoting")
        monitor = world.wait_for_evaluations("promoting", 1, timeout=240)
        assert monitor["status"]["comparison"]["decision"] == "challenger-better", monitor["status"]["comparison"]

        # Manual: proposed (status, Event, alert), the target untouched
        wait_until(
            lambda: (
                ((world.read("promoting")["status"].get("promotion") or {}).get("lastDecision") or {}).get("action")
                == "Propose"
            ),
            30,
            interval=0.5,
            what="the proposal",
        )
        proposal = world.read("promoting")["status"]["promotion"]["lastDecision"]
        assert (proposal["fromVersion"], proposal["toVersion"]) == ("1", "2")
        assert _served(world, "credit-model") == "1"
        wait_until(
            lambda: {"comparison", "promotion"} <= {r.json().get("kind") for r in recorder.requests_to("/alerts")},
            30,
            interval=0.5,
            what="the comparison and promotion alerts",
        )
        assert any(event["reason"] == "PromotionProposed" for event in events(world, "promoting"))

        # approved by naming the version: the Deployment serves 2, status says so, the annotation is gone
        world.custom.patch_namespaced_custom_object(
            "modelmonitor.io",
            "v1alpha1",
            world.namespace,
            "modelmonitors",
            "promoting",
            {"metadata": {"annotations": {"modelmonitor.io/approve-promotion": "2"}}},
        )
        wait_until(lambda: _served(world, "credit-model") == "2", 60, interval=0.5, what="the promotion to 2")
        wait_until(
            lambda: any(c["type"] == "Promoted" for c in world.read("promoting")["status"]["conditions"]),
            30,
            interval=0.5,
            what="the Promoted condition",
        )
        monitor = world.read("promoting")
        promoted = condition(monitor, "Promoted")
        assert promoted["status"] == "True", promoted
        assert monitor["status"]["promotion"]["lastDecision"]["action"] == "Promote"
        wait_until(
            lambda: (
                "modelmonitor.io/approve-promotion"
                not in (world.read("promoting")["metadata"].get("annotations") or {})
            ),
            30,
            interval=0.5,
            what="the approval annotation removed",
        )
        assert any(event["reason"] == "Promoted" for event in events(world, "promoting"))
    finally:
        recorder.stop()


def upload_split_traffic(world: MonitorWorld, rows: int, seed: int) -> None:
    """A/B traffic: each row served by v1 (noisier scores) or v2 (the clean model), named in `variant`."""
    table = credit_scoring(rows, seed)
    rng = np.random.default_rng(seed + 1)
    clean = np.clip(table.column("proba").to_numpy(), 1e-9, 1 - 1e-9)
    noisy = 1 / (1 + np.exp(-(np.log(clean / (1 - clean)) + rng.normal(0, 1.5, rows))))
    variant = np.where(rng.random(rows) < 0.5, "v1", "v2")
    served = np.where(variant == "v2", clean, noisy)
    table = table.drop_columns(["proba", "pred"])
    table = table.append_column("proba", pa.array(served))
    table = table.append_column("pred", pa.array((served >= 0.5).astype(np.int64)))
    table = table.append_column("variant", pa.array(variant.tolist()))
    world.upload("current/part-0.parquet", parquet_bytes(table))


def test_ab_traffic_split_by_a_column_promotes_automatically(world: MonitorWorld, operator: OperatorProcess) -> None:
    import kubernetes

    kubernetes.client.AppsV1Api(world.client).create_namespaced_deployment(
        world.namespace, _deployment("ab-model", "1")
    )
    world.upload_credit_data("reference/", 4_000, seed=40, drift=0.0)
    upload_split_traffic(world, 10_000, seed=80)
    body = world.monitor(
        "split",
        challenger={
            "version": "2",
            "mode": "ab",
            "variantColumn": "variant",
            "championVariant": "v1",
            "challengerVariant": "v2",
            "metrics": ["roc_auc"],
            "action": {"promote": {"mode": "Automatic"}},
        },
    )
    body["spec"]["metrics"] = [{"name": "roc_auc", "min": 0.5}]
    body["spec"]["rollback"] = {
        "enabled": False,
        "target": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ab-model", "container": "server"},
    }
    world.apply(body)
    world.run_now("split")
    monitor = world.wait_for_evaluations("split", 1, timeout=240)
    comparison = monitor["status"]["comparison"]
    assert (comparison["mode"], comparison["decision"], comparison["labelledRows"]) == (
        "ab",
        "challenger-better",
        10_000,
    )
    wait_until(lambda: _served(world, "ab-model") == "2", 60, interval=0.5, what="the automatic promotion to 2")
    wait_until(
        lambda: any(c["type"] == "Promoted" for c in world.read("split")["status"]["conditions"]),
        30,
        interval=0.5,
        what="the Promoted condition",
    )
    assert condition(world.read("split"), "Promoted")["status"] == "True"
    assert any(event["reason"] == "ChallengerBetter" for event in events(world, "split"))
