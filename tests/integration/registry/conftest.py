"""A real `mlflow server` for the registry tests (one per session: SQLite, loopback, a free port).

Every test makes its own registered model (a unique name), so tests share the server without seeing each
other's versions, aliases or runs.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelmonitor.registry.mlflow import MlflowClient
from tests.harness.mlflow import MlflowServer, find_mlflow


def _running_mlflow(prefix: str, *, auth: bool) -> Iterator[MlflowServer]:
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    server = MlflowServer(workdir, find_mlflow(), auth=auth)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server() -> Iterator[MlflowServer]:
    yield from _running_mlflow("modelmonitor-mlflow-", auth=False)


@pytest.fixture(scope="session")
def mlflow_auth_server() -> Iterator[MlflowServer]:
    """MLflow's basic-auth app: anonymous requests refused, users read-only unless granted."""
    yield from _running_mlflow("modelmonitor-mlflow-auth-", auth=True)


@pytest.fixture
def mlflow(mlflow_server: MlflowServer) -> Iterator[MlflowClient]:
    with MlflowClient(mlflow_server.url) as client:
        yield client


@pytest.fixture
def model_name() -> str:
    return f"credit-{uuid.uuid4().hex[:8]}"


def register_versions(client: MlflowClient, name: str, count: int) -> list[str]:
    """A registered model with ``count`` versions (sources are placeholders: nothing is served from them)."""
    client.create_registered_model(name)
    return [client.create_model_version(name, f"s3://models/{name}/{index}").version for index in range(1, count + 1)]
