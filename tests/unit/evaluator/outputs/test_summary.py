"""The summary follows docs/contracts.md §2 and always fits the 4096-byte termination message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelmonitor.evaluator.result import SUMMARY_LIMIT_BYTES, build_summary, encode_summary, error_summary


def result_document(features: int = 3, violations: int = 1, name_length: int = 8) -> dict[str, Any]:
    return {
        "runId": "credit-scoring-29012345",
        "outcome": "evaluated",
        "error": None,
        "modelVersion": "7",
        "startedAt": "2026-11-23T17:00:00Z",
        "finishedAt": "2026-11-23T17:00:05Z",
        "rows": {"reference": 100000, "current": 24000, "labelled": 20000},
        "labels": {"coverage": 0.8333333333, "pending": False},
        "verdict": "warning",
        "metrics": {"accuracy": 0.9123456789, "f1": 0.78, "roc_auc": float("nan")},
        "estimated": {"accuracy": {"value": 0.9, "low": 0.88, "high": 0.92}},
        "drift": {
            "share": 0.4,
            "drifted": features,
            "featureCount": 10,
            "datasetDrift": True,
            "features": [
                {
                    "feature": f"f{index}-" + "x" * name_length,
                    "status": "drifted",
                    "test": "ks",
                    "statistic": 0.1 * index,
                    "pValue": 1e-12,
                    "effect": 0.05 * index,
                    "psi": 0.05 * index,
                }
                for index in range(features)
            ]
            + [{"feature": "calm", "status": "stable", "effect": 9.0}],
        },
        "violations": [
            {
                "rule": f"metric:f1-{index}",
                "value": 0.78,
                "threshold": 0.8,
                "op": "min",
                "severity": "warning",
                "reason": "f1 0.780 is below the minimum 0.800 " + "y" * name_length,
            }
            for index in range(violations)
        ],
        "reportUri": "s3://bucket/prefix/run/report.html",
        "resultUri": "s3://bucket/prefix/run/result.json",
    }


def test_summary_has_the_contract_fields() -> None:
    summary = build_summary(result_document())
    assert set(summary) >= {
        "schemaVersion",
        "runId",
        "outcome",
        "error",
        "modelVersion",
        "startedAt",
        "finishedAt",
        "rows",
        "labels",
        "verdict",
        "metrics",
        "estimated",
        "drift",
        "violations",
        "reportUri",
        "resultUri",
    }
    assert summary["schemaVersion"] == 1
    assert summary["metrics"] == {"accuracy": 0.912346, "f1": 0.78, "roc_auc": None}
    assert summary["drift"]["features"] == 10
    assert summary["drift"]["top"][0]["feature"].startswith("f2-")
    assert all(feature["feature"] != "calm" for feature in summary["drift"]["top"])
    encoded = encode_summary(summary)
    assert json.loads(encoded)["verdict"] == "warning"


@pytest.mark.parametrize(("features", "violations", "name_length"), [(5, 200, 100), (5, 5, 3000), (50, 50, 50)])
def test_big_summaries_shed_detail_to_fit(features: int, violations: int, name_length: int) -> None:
    summary = build_summary(result_document(features, violations, name_length), top_features=features)
    assert len(json.dumps(summary)) > SUMMARY_LIMIT_BYTES
    encoded = encode_summary(summary)
    assert len(encoded) <= SUMMARY_LIMIT_BYTES
    decoded = json.loads(encoded)
    assert decoded["verdict"] == "warning" and decoded["runId"] == "credit-scoring-29012345"


def test_error_summary_fits_even_with_a_huge_message() -> None:
    summary = error_summary(
        run_id="r",
        outcome="storage_error",
        reason="NoSuchBucket",
        message="bucket 'ml' does not exist " * 500,
        started_at=None,
        finished_at="2026-11-23T17:00:00Z",
        model_version="7",
    )
    decoded = json.loads(encode_summary(summary))
    assert decoded["verdict"] == "error" and decoded["outcome"] == "storage_error"
    assert decoded["error"]["reason"] == "NoSuchBucket"
    assert decoded["error"]["message"].startswith("bucket 'ml' does not exist")


def test_every_declared_rule_keeps_its_check_state_in_the_smallest_summary() -> None:
    from modelmonitor.api.metrics import DRIFT_TESTS, METRICS_BY_TASK, drift_test_rule, metric_rule

    document = result_document(features=50, violations=40, name_length=60)
    rules = [metric_rule(name) for name in METRICS_BY_TASK["binary-classification"]]
    rules += [drift_test_rule(test) for test in DRIFT_TESTS]
    document["checks"] = [
        {"rule": rule, "state": "pending", "value": None, "severity": None, "reason": "labels have not arrived " * 8}
        for rule in rules
    ]
    encoded = encode_summary(build_summary(document))
    assert len(encoded) <= SUMMARY_LIMIT_BYTES
    checks = json.loads(encoded)["checks"]
    assert list(checks) == rules and all(entry["state"] == "pending" for entry in checks.values())
