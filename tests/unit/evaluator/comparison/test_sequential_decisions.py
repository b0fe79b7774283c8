"""Decisions under repeated looks, by seeded simulation: false decisions stay within alpha, real effects are found.

Rows are drawn from a paired 2x2 model of correctness: P(both right) = 0.80, P(only the champion) = p10,
P(only the challenger) = p01, P(both wrong) = the rest — two highly agreeing models (90% agreement) with
accuracy 0.85. A/A: p10 = p01 = 0.05. A real 2-point drop: p10 = 0.06, p01 = 0.04. Every look runs the real
accumulator (rows added, outcome computed), as each scheduled evaluation would.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from modelmonitor.evaluator.comparison import ComparisonSettings, ModelOutputs, PairedComparison, SplitComparison
from modelmonitor.evaluator.comparison.fixed import exact_mcnemar
from modelmonitor.evaluator.comparison.sequential import confidence_sequence_multiplier

ALPHA = 0.05
REPETITIONS = 200
LOOKS = 10


def _paired_rows(
    generator: np.random.Generator, rows: int, only_champion: float, only_challenger: float
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.str_], npt.NDArray[np.str_]]:
    """Labels and both models' predictions with the given discordance (both right with probability 0.80)."""
    draw = generator.random(rows)
    champion_right = (draw < 0.80) | ((draw >= 0.80) & (draw < 0.80 + only_champion))
    challenger_right = (draw < 0.80) | (
        (draw >= 0.80 + only_champion) & (draw < 0.80 + only_champion + only_challenger)
    )
    truth = generator.integers(0, 2, rows)
    champion = np.where(champion_right, truth, 1 - truth)
    challenger = np.where(challenger_right, truth, 1 - truth)
    return truth.astype(str), champion.astype(str), challenger.astype(str)


def _decisions_over_looks(
    seed: int, rows_per_look: int, looks: int, only_champion: float, only_challenger: float, min_effect: float = 0.0
) -> list[tuple[str, bool]]:
    """The decision at each look and whether a naive fixed-sample McNemar at that look would have rejected."""
    generator = np.random.default_rng(seed)
    comparison = PairedComparison("binary-classification", ["accuracy"], positive_class="1")
    settings = ComparisonSettings(alpha=ALPHA, min_effect=min_effect)
    history = []
    for _ in range(looks):
        truth, champion, challenger = _paired_rows(generator, rows_per_look, only_champion, only_challenger)
        comparison.add_labelled(truth, ModelOutputs(champion), ModelOutputs(challenger))
        outcome = comparison.outcome(settings)
        naive = outcome.metrics[0].p_value < ALPHA
        history.append((outcome.decision, naive))
    return history


def test_a_a_false_decisions_stay_within_alpha_over_ten_looks_while_a_naive_test_exceeds_it() -> None:
    false_decisions = naive_rejections = 0
    for repetition in range(REPETITIONS):
        history = _decisions_over_looks(1000 + repetition, 300, LOOKS, 0.05, 0.05)
        false_decisions += any(decision in ("challenger-better", "challenger-worse") for decision, _ in history)
        naive_rejections += any(naive for _, naive in history)
    false_share, naive_share = false_decisions / REPETITIONS, naive_rejections / REPETITIONS
    print(
        f"A/A paired, {REPETITIONS} x {LOOKS} looks: false decisions {false_share:.3f} (bound {ALPHA}), "
        f"naive {naive_share:.3f}"
    )
    assert false_share <= ALPHA
    assert naive_share > ALPHA  # the reason for the confidence sequence: a fixed-sample test repeated inflates


def test_a_two_point_accuracy_drop_is_found_worse_and_never_better() -> None:
    worse = 0
    for repetition in range(100):
        history = _decisions_over_looks(5000 + repetition, 600, LOOKS, 0.06, 0.04, min_effect=0.005)
        decisions = [decision for decision, _ in history]
        assert "challenger-better" not in decisions
        assert "no-meaningful-difference" not in decisions
        worse += decisions[-1] == "challenger-worse"
    print(f"2-point drop, 6000 paired rows: challenger-worse in {worse} of 100")
    assert worse >= 80


def test_equal_models_end_with_no_meaningful_difference_when_min_effect_allows() -> None:
    history = _decisions_over_looks(77, 2000, LOOKS, 0.02, 0.02, min_effect=0.01)
    decisions = [decision for decision, _ in history]
    assert decisions[0] == "inconclusive"
    assert decisions[-1] == "no-meaningful-difference"


def _rows_until_decision_paired(seed: int, step: int, limit: int) -> int:
    generator = np.random.default_rng(seed)
    comparison = PairedComparison("binary-classification", ["accuracy"], positive_class="1")
    for rows in range(step, limit + 1, step):
        truth, champion, challenger = _paired_rows(generator, step, 0.06, 0.04)
        comparison.add_labelled(truth, ModelOutputs(champion), ModelOutputs(challenger))
        if comparison.outcome(ComparisonSettings()).decision == "challenger-worse":
            return rows
    return limit * 2


def _rows_until_decision_split(seed: int, step: int, limit: int) -> int:
    generator = np.random.default_rng(seed)
    comparison = SplitComparison("binary-classification", ["accuracy"], "a", "b", positive_class="1")
    for rows in range(step, limit + 1, step):
        truth, champion, challenger = _paired_rows(generator, step, 0.06, 0.04)
        variant = np.where(generator.random(step) < 0.5, "a", "b")
        served = np.where(variant == "a", champion, challenger)
        comparison.add_labelled(variant, truth, served, None)
        if comparison.outcome(ComparisonSettings()).decision == "challenger-worse":
            return rows
    return limit * 2


def test_paired_needs_far_fewer_rows_than_unpaired_on_highly_agreeing_models() -> None:
    paired = [_rows_until_decision_paired(300 + seed, 250, 40_000) for seed in range(20)]
    split = [_rows_until_decision_split(300 + seed, 1000, 80_000) for seed in range(20)]
    median_paired, median_split = float(np.median(paired)), float(np.median(split))
    print(
        f"rows to decide a 2-point drop: paired median {median_paired:.0f}, unpaired (50/50 split) {median_split:.0f}"
    )
    assert median_paired * 2.5 < median_split


def test_a_a_split_traffic_false_decisions_stay_within_alpha() -> None:
    false_decisions = 0
    for repetition in range(REPETITIONS):
        generator = np.random.default_rng(9000 + repetition)
        comparison = SplitComparison("regression", ["mae", "rmse"], "a", "b")
        for _ in range(LOOKS):
            rows = 200
            variant = np.where(generator.random(rows) < 0.3, "b", "a")
            target = generator.normal(size=rows)
            prediction = target + generator.standard_t(4, size=rows)  # heavy-tailed errors, same for both arms
            comparison.add_labelled(variant, target, prediction, None)
            if comparison.outcome(ComparisonSettings(alpha=ALPHA)).decision in (
                "challenger-better",
                "challenger-worse",
            ):
                false_decisions += 1
                break
    print(f"A/A split regression, {REPETITIONS} x {LOOKS} looks: false decisions {false_decisions / REPETITIONS:.3f}")
    assert false_decisions / REPETITIONS <= ALPHA


def test_a_a_paired_roc_auc_false_decisions_stay_within_alpha() -> None:
    false_decisions = 0
    for repetition in range(100):
        generator = np.random.default_rng(20_000 + repetition)
        comparison = PairedComparison("binary-classification", ["roc_auc"], positive_class="1")
        for _ in range(LOOKS):
            rows = 300
            truth = generator.integers(0, 2, rows)
            shared = generator.normal(size=rows) + truth
            # exchangeable models: each adds its own noise to a shared signal
            first = 1 / (1 + np.exp(-(shared + 0.5 * generator.normal(size=rows))))
            second = 1 / (1 + np.exp(-(shared + 0.5 * generator.normal(size=rows))))
            comparison.add_labelled(truth.astype(str), ModelOutputs(score=first), ModelOutputs(score=second))
            if comparison.outcome(ComparisonSettings(alpha=ALPHA)).decision in (
                "challenger-better",
                "challenger-worse",
            ):
                false_decisions += 1
                break
    print(f"A/A paired ROC AUC, 100 x {LOOKS} looks: false decisions {false_decisions / 100:.3f}")
    assert false_decisions / 100 <= ALPHA


def test_inconclusive_says_how_many_more_rows_and_the_estimate_is_in_the_right_range() -> None:
    generator = np.random.default_rng(11)
    comparison = PairedComparison("binary-classification", ["accuracy"], positive_class="1")
    truth, champion, challenger = _paired_rows(generator, 500, 0.06, 0.04)
    comparison.add_labelled(truth, ModelOutputs(champion), ModelOutputs(challenger))
    settings = ComparisonSettings(power=0.8, min_effect=0.005)
    outcome = comparison.outcome(settings)
    assert outcome.decision == "inconclusive"
    assert outcome.rows_needed is not None and outcome.rows_needed > 0
    print(f"after 500 rows of a 2-point drop: {outcome.rows_needed} more rows estimated")
    # adding that many rows from the same process decides in most repetitions
    decided = 0
    for seed in range(10):
        more = PairedComparison.from_state(comparison.to_state())
        extra = np.random.default_rng(seed)
        truth, champion, challenger = _paired_rows(extra, outcome.rows_needed, 0.06, 0.04)
        more.add_labelled(truth, ModelOutputs(champion), ModelOutputs(challenger))
        decided += more.outcome(settings).decision != "inconclusive"
    assert decided >= 4  # the estimate assumes the current estimate is the truth; it must not be wildly low


def test_no_labels_compares_cbpe_estimates_and_never_decides() -> None:
    generator = np.random.default_rng(5)
    comparison = PairedComparison("binary-classification", ["accuracy"], positive_class="1")
    scores = generator.random(1000)
    better = np.clip(scores + np.where(scores > 0.5, 0.2, -0.2), 0, 1)
    comparison.add_unlabelled(
        ModelOutputs(np.where(scores >= 0.5, "1", "0"), scores), ModelOutputs(np.where(better >= 0.5, "1", "0"), better)
    )
    outcome = comparison.outcome(ComparisonSettings())
    assert outcome.decision == "inconclusive"
    assert "CBPE" in outcome.reason
    (estimate,) = outcome.estimated
    assert estimate.champion == pytest.approx(np.mean(np.maximum(scores, 1 - scores)))
    assert estimate.difference > 0.1


def test_multiplier_of_the_confidence_sequence() -> None:
    # at the planned rows (t* = 10,000) the interval spans 3.03 standard errors instead of 1.96 for one look;
    # later the multiplier grows (like sqrt(log t)) but slower than 1/SE shrinks, so the interval narrows
    at_planned = confidence_sequence_multiplier(10_000, 0.05)
    assert at_planned == pytest.approx(3.03, abs=0.01)
    later = confidence_sequence_multiplier(1_000_000, 0.05)
    assert at_planned < later < at_planned * 10
    assert confidence_sequence_multiplier(100, 0.05) > at_planned


def test_exact_mcnemar_of_no_discordance_is_one() -> None:
    assert exact_mcnemar(0, 0, 100).p_value == 1.0
