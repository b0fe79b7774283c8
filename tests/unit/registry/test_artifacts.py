"""What a version is (source, run, DVC content hash) is remembered in status.versions across evaluations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelmonitor.reconcile.versions import record_evaluation, with_artifact
from modelmonitor.registry.mlflow import ModelVersion

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_the_registry_says_what_a_version_is() -> None:
    tagged = ModelVersion("credit", "3", run_id="abc", source="s3://models/credit/3",
                          tags={"dvc.md5": "d41d8cd98f00b204e9800998ecf8427e", "dvc.path": "model.pkl"})
    assert tagged.artifact() == {"source": "s3://models/credit/3", "runId": "abc",
                                 "dvcMd5": "d41d8cd98f00b204e9800998ecf8427e", "dvcPath": "model.pkl"}
    assert ModelVersion("credit", "4").artifact() == {}


def test_the_artifact_stays_with_its_version_through_later_evaluations() -> None:
    versions = record_evaluation([], "3", "healthy", "e-1", NOW)
    versions = with_artifact(versions, "3", {"source": "s3://models/credit/3", "dvcMd5": "d41d8"})
    versions = record_evaluation(versions, "4", "critical", "e-2", NOW + timedelta(hours=1))
    versions = record_evaluation(versions, "3", "healthy", "e-3", NOW + timedelta(hours=2))
    by_version = {record["version"]: record for record in versions}
    assert by_version["3"].get("artifact") == {"source": "s3://models/credit/3", "dvcMd5": "d41d8"}
    assert "artifact" not in by_version["4"]
    assert by_version["3"]["evaluations"] == 2
