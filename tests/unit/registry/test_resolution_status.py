"""What a resolved (or failed) alias adds to an evaluation's status patch: status.registry, the RegistrySynced
condition, the artifact with its version; a failure keeps the last known version and says what happened."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from modelmonitor.api.model import MlflowRegistrySpec
from modelmonitor.reconcile.versions import record_evaluation
from modelmonitor.registry.errors import RegistryUnreachable
from modelmonitor.services.registry import Resolution, proposal_branch, with_resolution

SPEC = MlflowRegistrySpec(tracking_uri="https://mlflow.example.com", name="credit", alias="champion")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_resolved_alias_is_recorded_with_its_artifact_and_a_true_condition() -> None:
    patch: dict[str, Any] = {"conditions": [], "versions": record_evaluation([], "3", "healthy", "e-1", NOW)}
    resolution = Resolution(SPEC, "3", None, NOW, {"source": "s3://m/3", "dvcMd5": "abc"})
    with_resolution(patch, {}, resolution, generation=4)
    assert patch["registry"] == {"mlflow": {"model": "credit", "alias": "champion", "version": "3",
                                            "resolvedAt": "2026-12-01T12:00:00Z"}}
    assert patch["versions"][0]["artifact"] == {"source": "s3://m/3", "dvcMd5": "abc"}
    (condition,) = patch["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == ("RegistrySynced", "True",
                                                                             "AliasResolved")
    assert condition["observedGeneration"] == 4


def test_a_failure_keeps_the_last_known_version_and_says_why() -> None:
    status = {"registry": {"mlflow": {"model": "credit", "alias": "champion", "version": "2",
                                      "resolvedAt": "2026-12-01T11:00:00Z", "lastRunId": "r-9"}}}
    patch: dict[str, Any] = {"conditions": []}
    error = RegistryUnreachable("cannot resolve alias 'champion' of model 'credit': MLflow at mlflow.example.com "
                                "did not answer (ConnectTimeout)")
    with_resolution(patch, status, Resolution(SPEC, None, error, NOW), generation=4)
    assert patch["registry"] == {"mlflow": {"model": "credit", "alias": "champion", "version": "2",
                                            "resolvedAt": "2026-12-01T11:00:00Z", "lastRunId": "r-9",
                                            "error": error.message}}
    (condition,) = patch["conditions"]
    assert (condition["status"], condition["reason"]) == ("False", "RegistryUnreachable")
    assert "recorded with the version the spec names" in condition["message"]


def test_proposal_branches_are_valid_ref_names() -> None:
    assert proposal_branch("risk", "credit", "2", "1") == "modelmonitor/risk/credit/rollback-2-to-1"
    assert proposal_branch("risk", "credit", "v2:rc 1", "..1") == "modelmonitor/risk/credit/rollback-v2-rc-1-to-1"
