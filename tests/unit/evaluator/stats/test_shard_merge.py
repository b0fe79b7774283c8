"""Four shards, each passed through JSON state and merged, give exactly the result of one pass."""

from __future__ import annotations

import json

from modelmonitor.evaluator.stats import DriftSettings, EvaluationAccumulator, ReferenceProfile
from tests.unit.evaluator.stats.generated import BINARY_ROLES, binary_table

EVERY_TEST = ("ks", "chi2", "psi", "ttest", "wasserstein", "jensen_shannon", "classifier", "isolation_forest")


def test_four_merged_shards_equal_the_whole(binary_profile: ReferenceProfile) -> None:
    current = binary_table(160_000, seed=21, shift=0.25, label_share=0.6)
    batches = current.to_batches(max_chunksize=10_000)
    settings = DriftSettings(tests=EVERY_TEST, model_sample_size=1500, correction="benjamini_hochberg")

    whole = EvaluationAccumulator(binary_profile, BINARY_ROLES, "binary-classification", sample_size=1500)
    for batch in batches:
        whole.update(batch)

    # the reduce step sees only the cached profile and the shards' JSON states
    profile = ReferenceProfile.from_dict(json.loads(json.dumps(binary_profile.to_dict(), allow_nan=False)))
    states = []
    for shard in range(4):
        accumulator = EvaluationAccumulator(profile, BINARY_ROLES, "binary-classification", sample_size=1500)
        for batch in batches[shard::4]:  # interleaved: shards need not be contiguous
            accumulator.update(batch)
        states.append(json.dumps(accumulator.to_state(), allow_nan=False))
    merged = EvaluationAccumulator.from_state(json.loads(states[0]), profile)
    for state in states[1:]:
        merged.merge(EvaluationAccumulator.from_state(json.loads(state), profile))

    whole_result = whole.finalize(settings).to_dict()
    merged_result = merged.finalize(settings).to_dict()
    assert json.dumps(merged_result, sort_keys=True) == json.dumps(whole_result, sort_keys=True)
    assert whole_result["rows"]["current"] == 160_000
    assert {item["test"] for item in whole_result["drift"]["modelBased"]} == {
        "classifier",
        "isolation_forest",
    }
    json.dumps(whole_result, allow_nan=False)  # plain JSON: no NaN, no numpy types
