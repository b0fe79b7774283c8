"""The profile survives JSON and suggests thresholds; data quality names missing, added and retyped columns."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from modelmonitor.evaluator.stats import (
    EvaluationAccumulator,
    ReferenceProfile,
    StatsDataError,
)
from tests.unit.evaluator.stats.generated import BINARY_ROLES, binary_table


def test_profile_round_trips_through_json_and_bounds_its_size(binary_profile: ReferenceProfile) -> None:
    text = json.dumps(binary_profile.to_dict(), allow_nan=False)
    restored = ReferenceProfile.from_dict(json.loads(text))
    assert restored.fingerprint == binary_profile.fingerprint
    assert restored.to_dict() == binary_profile.to_dict()
    assert len(text) < 2_000_000  # edges, histograms and a 5000-row sample, not the 200k rows
    age = binary_profile.columns["age"]
    assert age.edges is not None and 900 <= len(age.edges) <= 1000
    assert age.numeric is not None and age.numeric.count == 200_000
    assert binary_profile.columns["region"].kind == "categorical"
    assert "request_id" not in binary_profile.columns
    assert binary_profile.positive_class == "1"


def test_suggested_thresholds_follow_the_reference(binary_profile: ReferenceProfile) -> None:
    suggestions = binary_profile.suggested_thresholds()
    accuracy = next(item for item in suggestions["metrics"] if item["name"] == "accuracy")
    assert accuracy["min"] == pytest.approx(0.95 * binary_profile.metrics["accuracy"])
    log_loss = next(item for item in suggestions["metrics"] if item["name"] == "log_loss")
    assert log_loss["max"] > log_loss["reference"]
    income = suggestions["features"]["income"]
    assert 0.1 < income["missingShare"]["max"] < 0.12  # 5% missing in the reference, doubled plus a point
    assert suggestions["features"]["region"]["categories"] == ["north", "south", "east", "west"]


def test_data_quality_against_the_reference(binary_profile: ReferenceProfile) -> None:
    table = binary_table(20_000, seed=61)
    age = table["age"].to_numpy().copy()
    age[:50] = -100.0  # below the reference minimum
    age[50:80] = 1000.0  # above its maximum
    age[80:280] = np.nan
    region = table["region"].to_numpy(zero_copy_only=False).copy()
    region[:400] = "mars"
    current = (
        table.drop_columns(["income"])
        .set_column(1, "age", pa.array(age))
        .set_column(2, "region", pa.array(region))
        .append_column("channel", pa.array(["web"] * table.num_rows))
        .set_column(0, "request_id", pa.array(table["request_id"].to_numpy().astype(str)))
    )
    accumulator = EvaluationAccumulator(binary_profile, BINARY_ROLES, "binary-classification")
    for batch in current.to_batches(max_chunksize=7_000):
        accumulator.update(batch)
    quality = accumulator.finalize().data_quality
    columns = {item.column: item for item in quality.columns}
    assert quality.missing_columns == ["income"]
    assert quality.added_columns == ["channel"]
    assert quality.changed_types == {"request_id": {"reference": "int64", "current": "string"}}
    assert columns["age"].missing_share == pytest.approx(200 / 20_000)
    reference_age = binary_profile.columns["age"].numeric
    assert reference_age is not None
    below = int(np.sum(age < reference_age.minimum))
    above = int(np.sum(age > reference_age.maximum))
    assert below >= 50 and above >= 30  # the injected ones, plus any genuine tail values
    assert (columns["age"].below_range, columns["age"].above_range) == (below, above)
    assert columns["age"].out_of_range_share == pytest.approx((below + above) / 19_800)
    assert columns["income"].missing_share == 1.0
    assert columns["region"].unseen_share == pytest.approx(400 / 20_000)
    assert columns["region"].unseen_categories == ["mars"]
    assert columns["region"].reference_missing_share == 0.0


def test_a_feature_of_the_wrong_type_is_a_data_error_naming_it(binary_profile: ReferenceProfile) -> None:
    table = binary_table(1_000, seed=62)
    wrong = table.set_column(1, "age", pa.array(["forty"] * table.num_rows))
    accumulator = EvaluationAccumulator(binary_profile, BINARY_ROLES, "binary-classification")
    with pytest.raises(StatsDataError, match="'age'"):
        accumulator.update(wrong.to_batches()[0])
