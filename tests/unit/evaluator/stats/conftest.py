"""Fixtures shared by the statistics tests: one binary reference and its profile, built once."""

from __future__ import annotations

import pyarrow as pa
import pytest

from modelmonitor.evaluator.stats import ReferenceProfile, build_reference_profile
from tests.unit.evaluator.stats.generated import BINARY_ROLES, batches_of, binary_table


@pytest.fixture(scope="package")
def binary_reference() -> pa.Table:
    return binary_table(200_000, seed=1)


@pytest.fixture(scope="package")
def binary_profile(binary_reference: pa.Table) -> ReferenceProfile:
    return build_reference_profile(
        batches_of(binary_reference, 50_000), BINARY_ROLES, "binary-classification"
    )
