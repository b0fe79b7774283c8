"""Each fixed-sample test of one look against an independent implementation on real data.

Real data: scikit-learn's breast cancer set scored out-of-fold by two different models (a scaled logistic
regression and Gaussian naive Bayes) as champion and challenger, and the wine set for multiclass F1.
References: scipy.stats (binomtest, ttest_rel, ttest_ind, chi2_contingency, t, binom), scikit-learn
(roc_auc_score, f1_score) and a direct O(n²) DeLong written here from the 1988 paper's definitions.
"""

from __future__ import annotations

import json
import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelmonitor.evaluator.comparison import ComparisonSettings, ModelOutputs, PairedComparison, SplitComparison
from modelmonitor.evaluator.comparison.fixed import (
    binomial_lower_tail,
    exact_mcnemar,
    student_t_quantile,
    two_proportions,
    welch,
)
from modelmonitor.evaluator.comparison.paired import JOINT_BINS

FloatArray = npt.NDArray[np.float64]


@pytest.fixture(scope="module")
def cancer() -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
    features, target = load_breast_cancer(return_X_y=True)
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    champion = cross_val_predict(logistic, features, target, cv=5, method="predict_proba")[:, 1]
    challenger = cross_val_predict(GaussianNB(), features, target, cv=5, method="predict_proba")[:, 1]
    return target, champion, challenger


def _labels(scores: FloatArray) -> npt.NDArray[np.str_]:
    return np.where(scores >= 0.5, "1", "0")


def _paired(data: tuple[npt.NDArray[np.int64], FloatArray, FloatArray], metrics: list[str]) -> PairedComparison:
    target, champion, challenger = data
    comparison = PairedComparison("binary-classification", metrics, positive_class="1")
    comparison.add_labelled(
        target.astype(str),
        ModelOutputs(_labels(champion), champion),
        ModelOutputs(_labels(challenger), challenger),
    )
    return comparison


def _by_metric(comparison: PairedComparison | SplitComparison) -> dict[str, object]:
    return {item.metric: item for item in comparison.outcome(ComparisonSettings()).metrics}


def test_exact_mcnemar_matches_scipy_binomtest_on_two_real_models(cancer) -> None:
    target, champion, challenger = cancer
    champion_right = _labels(champion) == target.astype(str)
    challenger_right = _labels(challenger) == target.astype(str)
    champion_only = int(np.sum(champion_right & ~challenger_right))
    challenger_only = int(np.sum(~champion_right & challenger_right))
    assert champion_only + challenger_only > 10  # the two models really disagree
    result = exact_mcnemar(champion_only, challenger_only, len(target))
    reference = stats.binomtest(champion_only, champion_only + challenger_only, 0.5).pvalue
    assert result.p_value == pytest.approx(reference, rel=1e-10)
    assert result.difference == pytest.approx(challenger_right.mean() - champion_right.mean(), abs=1e-15)
    accuracy = _by_metric(_paired(cancer, ["accuracy"]))["accuracy"]
    assert accuracy.p_value == pytest.approx(reference, rel=1e-10)  # type: ignore[attr-defined]
    assert accuracy.champion == pytest.approx(champion_right.mean())  # type: ignore[attr-defined]


@pytest.mark.parametrize(("successes", "trials"), [(0, 7), (3, 10), (480, 1000), (49_700, 100_000), (10, 2_000_000)])
def test_binomial_tail_matches_scipy(successes: int, trials: int) -> None:
    assert binomial_lower_tail(successes, trials, 0.5) == pytest.approx(
        stats.binom.cdf(successes, trials, 0.5), rel=1e-9, abs=1e-300
    )


def test_paired_log_loss_matches_scipy_ttest_rel(cancer) -> None:
    target, champion, challenger = cancer
    eps = np.finfo(np.float64).eps

    def losses(scores: FloatArray) -> FloatArray:
        p = np.clip(scores, eps, 1 - eps)
        return np.asarray(-(target * np.log(p) + (1 - target) * np.log1p(-p)))

    reference = stats.ttest_rel(losses(challenger), losses(champion))
    interval = reference.confidence_interval()
    log_loss = _by_metric(_paired(cancer, ["log_loss"]))["log_loss"]
    assert log_loss.p_value == pytest.approx(reference.pvalue, rel=1e-8)  # type: ignore[attr-defined]
    assert log_loss.fixed_interval == pytest.approx([interval.low, interval.high], rel=1e-8)  # type: ignore[attr-defined]
    assert log_loss.difference == pytest.approx(losses(challenger).mean() - losses(champion).mean(), rel=1e-12)  # type: ignore[attr-defined]


def _delong_quadratic(
    target: npt.NDArray[np.int64], first: FloatArray, second: FloatArray
) -> tuple[float, float, float]:
    """DeLong, DeLong & Clarke-Pearson (1988) straight from the definitions: psi over every (pos, neg) pair."""
    positives, negatives = target == 1, target == 0
    components10, components01, aucs = [], [], []
    for scores in (first, second):
        x, y = scores[positives][:, None], scores[negatives][None, :]
        psi = (x > y).astype(float) + 0.5 * (x == y)
        components10.append(psi.mean(axis=1))
        components01.append(psi.mean(axis=0))
        aucs.append(psi.mean())
    s10 = np.cov(np.vstack(components10))
    s01 = np.cov(np.vstack(components01))
    contrast = np.array([-1.0, 1.0])
    variance = contrast @ s10 @ contrast / positives.sum() + contrast @ s01 @ contrast / negatives.sum()
    return aucs[0], aucs[1], float(variance)


def test_delong_on_the_joint_grid_matches_a_direct_quadratic_delong(cancer) -> None:
    target, champion, challenger = cancer
    binned_champion = np.clip(np.floor(champion * JOINT_BINS), 0, JOINT_BINS - 1)
    binned_challenger = np.clip(np.floor(challenger * JOINT_BINS), 0, JOINT_BINS - 1)
    auc_champion, auc_challenger, variance = _delong_quadratic(target, binned_champion, binned_challenger)
    roc_auc = _by_metric(_paired(cancer, ["roc_auc"]))["roc_auc"]
    assert roc_auc.champion == pytest.approx(auc_champion, rel=1e-12)  # type: ignore[attr-defined]
    assert roc_auc.champion == pytest.approx(roc_auc_score(target, binned_champion), rel=1e-12)  # type: ignore[attr-defined]
    assert roc_auc.challenger == pytest.approx(auc_challenger, rel=1e-12)  # type: ignore[attr-defined]
    expected_p = 2 * stats.norm.sf(abs(auc_challenger - auc_champion) / math.sqrt(variance))
    assert roc_auc.p_value == pytest.approx(expected_p, rel=1e-8)  # type: ignore[attr-defined]
    # the grid costs little against the exact AUC of the raw scores
    assert abs(roc_auc.champion - roc_auc_score(target, champion)) < 0.005  # type: ignore[attr-defined]


def test_f1_values_match_sklearn_and_the_multinomial_bootstrap_matches_a_row_bootstrap(cancer) -> None:
    target, champion, challenger = cancer
    truth = target.astype(str)
    f1 = _by_metric(_paired(cancer, ["f1"]))["f1"]
    assert f1.champion == pytest.approx(f1_score(truth, _labels(champion), pos_label="1"), rel=1e-12)  # type: ignore[attr-defined]
    assert f1.challenger == pytest.approx(f1_score(truth, _labels(challenger), pos_label="1"), rel=1e-12)  # type: ignore[attr-defined]
    generator = np.random.default_rng(7)
    differences = []
    actual, first, second = truth == "1", _labels(champion) == "1", _labels(challenger) == "1"

    def row_f1(predicted: npt.NDArray[np.bool_], rows: npt.NDArray[np.int64]) -> float:
        true_positive = np.sum(actual[rows] & predicted[rows])
        return float(2 * true_positive / (np.sum(actual[rows]) + np.sum(predicted[rows])))

    for _ in range(2000):
        rows = generator.integers(0, len(truth), len(truth))
        differences.append(row_f1(second, rows) - row_f1(first, rows))
    row_error = float(np.std(differences, ddof=1))
    cell_error = (f1.fixed_interval[1] - f1.fixed_interval[0]) / (2 * 1.96)  # type: ignore[attr-defined]
    assert cell_error == pytest.approx(row_error, rel=0.15)


def test_macro_f1_for_multiclass_matches_sklearn() -> None:
    features, target = load_wine(return_X_y=True)
    champion = cross_val_predict(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), features, target, cv=5
    )
    challenger = cross_val_predict(GaussianNB(), features, target, cv=5)
    comparison = PairedComparison("multiclass-classification", ["f1", "accuracy"])
    comparison.add_labelled(
        target.astype(str), ModelOutputs(champion.astype(str)), ModelOutputs(challenger.astype(str))
    )
    f1 = _by_metric(comparison)["f1"]
    assert f1.champion == pytest.approx(f1_score(target, champion, average="macro"), rel=1e-12)  # type: ignore[attr-defined]
    assert f1.challenger == pytest.approx(f1_score(target, challenger, average="macro"), rel=1e-12)  # type: ignore[attr-defined]


def test_welch_matches_scipy_ttest_ind_unequal_variances(cancer) -> None:
    target, champion, challenger = cancer
    generator = np.random.default_rng(3)
    variant = np.where(generator.random(len(target)) < 0.4, "b", "a")
    served = np.where(variant == "b", challenger, champion)
    squared = (served - target) ** 2
    reference = stats.ttest_ind(squared[variant == "b"], squared[variant == "a"], equal_var=False)
    interval = reference.confidence_interval()
    comparison = SplitComparison(
        "binary-classification", ["brier", "accuracy", "roc_auc"], "a", "b", positive_class="1"
    )
    comparison.add_labelled(variant, target.astype(str), _labels(served), served)
    metrics = _by_metric(comparison)
    brier = metrics["brier"]
    assert brier.p_value == pytest.approx(reference.pvalue, rel=1e-8)  # type: ignore[attr-defined]
    assert brier.fixed_interval == pytest.approx([interval.low, interval.high], rel=1e-6)  # type: ignore[attr-defined]
    first, second = squared[variant == "a"], squared[variant == "b"]
    _, statistic, freedom = welch(
        (len(first), first.mean(), first.var(ddof=1)), (len(second), second.mean(), second.var(ddof=1))
    )
    assert statistic == pytest.approx(reference.statistic, rel=1e-10)
    assert freedom == pytest.approx(reference.df, rel=1e-10)
    # two proportions: the pooled z-test is the uncorrected chi-square test of the 2x2 table
    right = _labels(served) == target.astype(str)
    table = [[int(right[variant == v].sum()), int((~right[variant == v]).sum())] for v in ("a", "b")]
    chi2_p = stats.chi2_contingency(table, correction=False).pvalue
    assert metrics["accuracy"].p_value == pytest.approx(chi2_p, rel=1e-9)  # type: ignore[attr-defined]
    assert two_proportions((table[0][0], sum(table[0])), (table[1][0], sum(table[1]))).p_value == pytest.approx(
        chi2_p, rel=1e-9
    )
    # independent arms: the AUC variance per arm is DeLong's single-model variance
    binned = np.clip(np.floor(served * 1000), 0, 999)
    arms = [_delong_quadratic(target[variant == v], binned[variant == v], binned[variant == v]) for v in ("a", "b")]
    arm_aucs = [roc_auc_score(target[variant == v], binned[variant == v]) for v in ("a", "b")]
    assert arms[0][0] == pytest.approx(arm_aucs[0], rel=1e-12)
    roc_auc = metrics["roc_auc"]
    assert roc_auc.difference == pytest.approx(arm_aucs[1] - arm_aucs[0], rel=1e-10)  # type: ignore[attr-defined]
    single_variances = [_delong_single_variance(target[variant == v], binned[variant == v]) for v in ("a", "b")]
    expected_p = 2 * stats.norm.sf(abs(arm_aucs[1] - arm_aucs[0]) / math.sqrt(sum(single_variances)))
    assert roc_auc.p_value == pytest.approx(expected_p, rel=1e-8)  # type: ignore[attr-defined]


def _delong_single_variance(target: npt.NDArray[np.int64], scores: FloatArray) -> float:
    positives, negatives = target == 1, target == 0
    x, y = scores[positives][:, None], scores[negatives][None, :]
    psi = (x > y).astype(float) + 0.5 * (x == y)
    return float(
        np.var(psi.mean(axis=1), ddof=1) / positives.sum() + np.var(psi.mean(axis=0), ddof=1) / negatives.sum()
    )


@pytest.mark.parametrize("freedom", [1.5, 3.0, 17.5, 250.0, 1e6])
def test_student_t_quantile_matches_scipy(freedom: float) -> None:
    assert student_t_quantile(0.975, freedom) == pytest.approx(stats.t.ppf(0.975, freedom), rel=1e-9)


def test_state_survives_json_and_shards_merge_to_one_pass(cancer) -> None:
    target, champion, challenger = cancer
    metrics = ["accuracy", "f1", "roc_auc", "log_loss", "brier"]
    whole = _paired(cancer, metrics)
    parts = []
    for rows in np.array_split(np.arange(len(target)), 3):
        part = PairedComparison("binary-classification", metrics, positive_class="1")
        part.add_labelled(
            target[rows].astype(str),
            ModelOutputs(_labels(champion[rows]), champion[rows]),
            ModelOutputs(_labels(challenger[rows]), challenger[rows]),
        )
        parts.append(PairedComparison.from_state(json.loads(json.dumps(part.to_state()))))
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    settings = ComparisonSettings()
    expected, actual = whole.outcome(settings).to_dict(), merged.outcome(settings).to_dict()
    for left, right in zip(expected["metrics"], actual["metrics"], strict=True):
        for key, value in left.items():
            assert right[key] == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value), key
