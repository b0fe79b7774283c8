"""The examples run against the session operator of tests/integration/conftest.py (one operator per session)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import OperatorProcess

__all__ = ["examples_operator"]


@pytest.fixture
def examples_operator(operator: OperatorProcess) -> OperatorProcess:
    return operator
