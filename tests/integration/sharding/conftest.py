"""Sharded runs use the operator tests' fixtures: the operator process and a namespace with data in MinIO."""

from tests.integration.operator.conftest import monitor_crd, operator, world

__all__ = ["monitor_crd", "operator", "world"]
