"""Fixtures for the examples: the operator tests' world (namespace, bucket, S3 Secret) and CRD, and an operator.

The operator here is package-scoped, not the operator tests' session fixture (that one is only visible under
tests/integration/operator/): it stops when these tests are done, so two operators never watch the same
cluster at once.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import KubeCluster
from tests.integration.operator.conftest import OperatorProcess, monitor_crd, world

__all__ = ["examples_operator", "monitor_crd", "world"]


@pytest.fixture(scope="package")
def examples_operator(kube_cluster: KubeCluster, monitor_crd: None, node_agent: object) -> Iterator[OperatorProcess]:
    workdir = Path(tempfile.mkdtemp(prefix="modelmonitor-examples-operator-"))
    running = OperatorProcess(kube_cluster, workdir)
    running.start()
    try:
        yield running
    finally:
        running.kill()
        shutil.rmtree(workdir, ignore_errors=True)
