"""Evidence carried from run to run: merged while the two versions stay, started afresh when either changes."""

from __future__ import annotations

import json

import numpy as np

from modelmonitor.evaluator.comparison import ModelOutputs, PairedComparison, SplitComparison, accumulate


def _run(seed: int) -> PairedComparison:
    generator = np.random.default_rng(seed)
    truth = generator.integers(0, 2, 400).astype(str)
    champion = np.where(generator.random(400) < 0.85, truth, np.where(truth == "1", "0", "1"))
    challenger = np.where(generator.random(400) < 0.85, truth, np.where(truth == "1", "0", "1"))
    comparison = PairedComparison("binary-classification", ["accuracy", "f1"], positive_class="1")
    comparison.add_labelled(truth, ModelOutputs(champion), ModelOutputs(challenger))
    return comparison


def _stored(state: dict[str, object]) -> dict[str, object]:
    return json.loads(json.dumps(state))  # type: ignore[no-any-return]


def test_evidence_accumulates_over_runs_with_the_same_versions() -> None:
    first = accumulate(None, _run(1), "7", "8", "2026-01-01T00:00:00Z")
    second = accumulate(_stored(first.to_state()), _run(2), "7", "8", "2026-01-01T01:00:00Z")
    third = accumulate(_stored(second.to_state()), _run(3), "7", "8", "2026-01-01T02:00:00Z")
    assert third.runs == 3
    assert third.since == "2026-01-01T00:00:00Z"
    assert third.reset_reason is None
    assert third.comparison.labelled_rows == 1200
    one_pass = _run(1)
    one_pass.merge(_run(2))
    one_pass.merge(_run(3))
    assert third.comparison.to_state() == one_pass.to_state()


def test_a_new_challenger_version_starts_the_evidence_afresh_and_says_why() -> None:
    first = accumulate(None, _run(1), "7", "8", "2026-01-01T00:00:00Z")
    second = accumulate(_stored(first.to_state()), _run(2), "7", "9", "2026-01-01T01:00:00Z")
    assert second.runs == 1
    assert second.since == "2026-01-01T01:00:00Z"
    assert second.comparison.labelled_rows == 400
    assert second.reset_reason is not None and "'8'" in second.reset_reason and "'9'" in second.reset_reason


def test_evidence_for_other_settings_is_not_merged() -> None:
    first = accumulate(None, _run(1), "7", "8", "2026-01-01T00:00:00Z")
    split = SplitComparison("binary-classification", ["accuracy", "f1"], "a", "b", positive_class="1")
    second = accumulate(_stored(first.to_state()), split, "7", "8", "2026-01-01T01:00:00Z")
    assert second.runs == 1
    assert second.reset_reason is not None and "other settings" in second.reset_reason
