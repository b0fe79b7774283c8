"""A categorical column with more categories than the profile keeps: new categories are never hidden (issue 17).

The profile keeps the 200 most frequent reference categories and pools the rest as ``__other__``. Before,
current categories the reference never had were pooled into ``__other__`` too, where a brand-new category
could stand in for the reference's rare ones and go unnoticed. Now the pooled names are kept: a new category
is ``__unseen__`` (reported with its share, named in data quality) and drifts.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
from scipy import stats as scipy_stats

from modelmonitor.evaluator.stats import DriftSettings, EvaluationAccumulator, ReferenceProfile, build_reference_profile
from modelmonitor.evaluator.stats.roles import ColumnRoles
from tests.unit.evaluator.stats.generated import batches_of

CATEGORIES = [f"shop-{index:04d}" for index in range(1000)]
SETTINGS = DriftSettings(tests=("chi2",))


def _table(rows: int, seed: int, new_share: float = 0.0, rare_only: bool = False) -> pa.Table:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(CATEGORIES) + 1)  # Zipf-like: a long tail of rare shops
    weights /= weights.sum()
    values = rng.choice(CATEGORIES, size=rows, p=weights).astype(object)
    if rare_only:
        values = rng.choice(CATEGORIES[500:], size=rows).astype(object)
    new = rng.random(rows) < new_share
    values[new] = [f"new-shop-{index % 50}" for index in range(int(new.sum()))]
    return pa.table({"shop": pa.array(values.tolist(), type=pa.string()), "amount": rng.normal(0, 1, rows)})


def _profile() -> ReferenceProfile:
    roles = ColumnRoles(categorical=("shop",))
    profile = build_reference_profile(batches_of(_table(40_000, seed=1), 10_000), roles, "regression")
    return ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))  # as cached and reloaded


def _evaluate(profile: ReferenceProfile, table: pa.Table) -> tuple[dict[str, object], dict[str, object]]:
    accumulator = EvaluationAccumulator(profile, sample_size=0)
    accumulator.update(table.to_batches()[0])
    document = accumulator.finalize(SETTINGS).to_dict()
    feature = next(item for item in document["drift"]["features"] if item["feature"] == "shop")
    quality = next(item for item in document["dataQuality"]["columns"] if item["column"] == "shop")
    return feature, quality


def test_new_categories_are_unseen_and_drift_instead_of_hiding_among_the_rare_ones() -> None:
    profile = _profile()
    state = profile.columns["shop"].categorical
    assert state is not None and len(state.counts) == 200 and state.overflow > 0 and len(state.pooled) > 500
    feature, quality = _evaluate(profile, _table(20_000, seed=2, new_share=0.05))
    bins = feature["distribution"]["bins"]  # type: ignore[index]
    assert bins[-2:] == ["__other__", "__unseen__"]
    current = feature["distribution"]["current"]  # type: ignore[index]
    assert abs(current[-1] - 0.05) < 0.005
    assert feature["status"] == "drifted"
    assert 0.045 < quality["unseenShare"] < 0.055  # type: ignore[operator]
    assert "new-shop-0" in quality["unseenCategories"]  # type: ignore[operator]


def test_the_chi_square_statistic_is_scipys_on_the_aligned_table() -> None:
    profile = _profile()
    feature, _ = _evaluate(profile, _table(20_000, seed=2, new_share=0.05))
    distribution = feature["distribution"]
    reference = np.array(distribution["reference"]) * profile.columns["shop"].categorical.count  # type: ignore[index, union-attr]
    current = np.array(distribution["current"]) * 20_000  # type: ignore[index]
    present = (reference + current) > 0
    expected = scipy_stats.chi2_contingency(np.vstack([reference, current])[:, present], correction=False)
    chi2 = next(test for test in feature["tests"] if test["test"] == "chi2")  # type: ignore[union-attr]
    assert abs(chi2["statistic"] - expected.statistic) < 1e-6 * expected.statistic


def test_rare_reference_categories_are_not_unseen() -> None:
    feature, quality = _evaluate(_profile(), _table(5_000, seed=3, rare_only=True))
    assert "__unseen__" not in feature["distribution"]["bins"]  # type: ignore[index]
    assert quality["unseenCategories"] == [] and not quality["unseenShare"]


def test_the_same_distribution_without_new_categories_is_stable() -> None:
    feature, _ = _evaluate(_profile(), _table(20_000, seed=4))
    assert feature["status"] == "stable"
    assert "__unseen__" not in feature["distribution"]["bins"]  # type: ignore[index]
