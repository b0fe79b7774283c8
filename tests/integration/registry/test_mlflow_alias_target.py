"""The mlflowAlias rollback target against a real `mlflow server`: read, move (rollback or promotion), refuse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelmonitor.registry.mlflow import MlflowClient, MlflowCredentials
from modelmonitor.rollback.errors import RollbackConflict, RollbackForbidden, RollbackVersionUnknown
from modelmonitor.rollback.external import VersionPointer
from modelmonitor.rollback.mlflow_alias import ROLLED_BACK_TAG, MlflowAliasTarget
from tests.harness.mlflow import MlflowServer
from tests.harness.processes import free_port
from tests.integration.registry.conftest import register_versions


def target(server: MlflowServer, model: str, alias: str = "champion") -> MlflowAliasTarget:
    return MlflowAliasTarget(lambda: MlflowClient(server.url), model, alias)


def test_the_target_reads_the_alias_and_moves_it_back_tagging_the_version_left(
    mlflow_server: MlflowServer, mlflow: MlflowClient, model_name: str
) -> None:
    register_versions(mlflow, model_name, 3)
    mlflow.set_alias(model_name, "champion", "3")
    alias = target(mlflow_server, model_name)
    assert isinstance(alias, VersionPointer)
    state = alias.inspect()
    assert (state.current_version, state.problem) == ("3", None)
    assert state.description == f"alias @champion of MLflow model {model_name}"

    moved = alias.move_to("2", expected_from="3", now=datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    assert mlflow.version_by_alias(model_name, "champion").version == "2"
    assert (moved.from_version, moved.to_version) == ("3", "2")
    assert moved.to_dict()["type"] == "mlflowAlias"
    assert moved.details["artifact"] == {"source": f"s3://models/{model_name}/2"}  # what was put back
    assert mlflow.model_version(model_name, "3").tags[ROLLED_BACK_TAG] == \
        "@champion moved to version 2 at 2026-12-01T12:00:00Z"
    assert ROLLED_BACK_TAG not in mlflow.model_version(model_name, "2").tags


def test_a_dry_run_checks_and_reports_but_moves_nothing(
    mlflow_server: MlflowServer, mlflow: MlflowClient, model_name: str
) -> None:
    register_versions(mlflow, model_name, 2)
    mlflow.set_alias(model_name, "champion", "2")
    planned = target(mlflow_server, model_name).move_to("1", dry_run=True, expected_from="2")
    assert planned.description == f"would move alias @champion of MLflow model {model_name} from version 2 to 1"
    assert mlflow.version_by_alias(model_name, "champion").version == "2"
    assert ROLLED_BACK_TAG not in mlflow.model_version(model_name, "2").tags


def test_an_alias_moved_meanwhile_is_a_conflict_and_is_left_alone(
    mlflow_server: MlflowServer, mlflow: MlflowClient, model_name: str
) -> None:
    register_versions(mlflow, model_name, 3)
    mlflow.set_alias(model_name, "champion", "3")  # the policy decided on 2 -> 1, but someone promoted 3
    with pytest.raises(RollbackConflict, match="now points at version 3, not 2"):
        target(mlflow_server, model_name).move_to("1", expected_from="2")
    assert mlflow.version_by_alias(model_name, "champion").version == "3"


def test_a_version_missing_from_the_registry_is_refused(
    mlflow_server: MlflowServer, mlflow: MlflowClient, model_name: str
) -> None:
    register_versions(mlflow, model_name, 2)
    mlflow.set_alias(model_name, "champion", "2")
    with pytest.raises(RollbackVersionUnknown, match="version 5 of MLflow model"):
        target(mlflow_server, model_name).move_to("5", expected_from="2")
    assert mlflow.version_by_alias(model_name, "champion").version == "2"


def test_a_missing_alias_or_server_is_a_problem_for_the_policy_not_an_exception(
    mlflow_server: MlflowServer, mlflow: MlflowClient, model_name: str
) -> None:
    register_versions(mlflow, model_name, 1)
    missing = target(mlflow_server, model_name, alias="staging").inspect()
    assert missing.current_version is None and missing.problem is not None and "'staging'" in missing.problem
    gone = MlflowAliasTarget(lambda: MlflowClient(f"http://127.0.0.1:{free_port()}", timeout=2), model_name,
                             "champion").inspect()
    assert gone.current_version is None and gone.problem is not None and "did not answer" in gone.problem


def test_a_promotion_is_the_same_one_call(mlflow_server: MlflowServer, mlflow: MlflowClient, model_name: str) -> None:
    register_versions(mlflow, model_name, 2)
    mlflow.set_alias(model_name, "champion", "1")
    target(mlflow_server, model_name).move_to("2", expected_from="1")
    assert mlflow.version_by_alias(model_name, "champion").version == "2"


def test_credentials_that_may_read_but_not_write_make_the_move_forbidden(
    mlflow_auth_server: MlflowServer, model_name: str
) -> None:
    server = mlflow_auth_server
    admin = MlflowClient(server.url, MlflowCredentials(username=server.admin_user, password=server.admin_password))
    register_versions(admin, model_name, 2)
    admin.set_alias(model_name, "champion", "2")
    server.add_user("reader", "Reader-pa55word-1")
    reader = MlflowAliasTarget(
        lambda: MlflowClient(server.url, MlflowCredentials(username="reader", password="Reader-pa55word-1")),
        model_name, "champion")
    assert reader.inspect().current_version == "2"  # READ is enough to see the alias
    with pytest.raises(RollbackForbidden, match="refused the credentials") as refused:
        reader.move_to("1", expected_from="2")
    assert "Reader-pa55word-1" not in str(refused.value)
    assert admin.version_by_alias(model_name, "champion").version == "2"
    anonymous = MlflowAliasTarget(lambda: MlflowClient(server.url), model_name, "champion").inspect()
    assert anonymous.current_version is None and "refused the credentials" in str(anonymous.problem)
