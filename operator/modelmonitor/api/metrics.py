"""What each declared rule can measure: metric and drift-test names, per task, and which need a score column.

The CRD accepts every ``MetricName`` for every classification task (its CEL rules only keep regression metrics
apart), but not every pair of task and metric can ever be computed: a multiclass model has no single positive
class for ``precision``, and ``spec.data.columns`` names one score column, the positive class's, so no
probability-based metric exists for a multiclass model. ``unmeasurable_rules`` names those pairs, so a monitor
that declares one is refused before it runs rather than silently skipping the rule. The evaluator, the result
JSON, the status, Prometheus labels and the docs all use the names defined here (the ``Literal`` types of
``model.py``), and the same rule ids (``metric:<name>``, ``drift-test:<test>``).

The evaluator also needs a few numbers the spec does not expose; they live here so that every default a rule
depends on stays in ``modelmonitor.api``.
"""

from __future__ import annotations

import fnmatch
import re
from typing import get_args

from modelmonitor.api.errors import SpecError
from modelmonitor.api.model import DriftSpec, DriftTest, DriftThresholds, MetricName, ModelTask, MonitorSpec

__all__ = [
    "CATEGORICAL_TESTS",
    "CLASSIFICATION_AVERAGED_METRICS",
    "DEFAULT_EFFECT_GATE",
    "DRIFT_TESTS",
    "HYPOTHESIS_TESTS",
    "METRICS",
    "METRICS_BY_TASK",
    "MODEL_BASED_TESTS",
    "NUMERIC_TESTS",
    "SCORE_METRICS",
    "TESTS_WITH_SEVERITIES",
    "drift_test_rule",
    "drift_thresholds",
    "metric_rule",
    "rule_matches",
    "unmeasurable_rules",
]

METRICS: tuple[MetricName, ...] = get_args(MetricName)
DRIFT_TESTS: tuple[DriftTest, ...] = get_args(DriftTest)

#: Metrics computed from the positive class's score column rather than from the predicted label.
SCORE_METRICS: tuple[MetricName, ...] = ("roc_auc", "pr_auc", "log_loss", "brier")
#: Precision, recall and F1 averaged over classes (macro: equally; weighted: by each class's true count).
CLASSIFICATION_AVERAGED_METRICS: tuple[MetricName, ...] = tuple(
    name for name in METRICS if name.startswith(("macro_", "weighted_"))
)
METRICS_BY_TASK: dict[ModelTask, tuple[MetricName, ...]] = {
    "binary-classification": (
        "accuracy",
        "precision",
        "recall",
        "f1",
        *SCORE_METRICS,
        *CLASSIFICATION_AVERAGED_METRICS,
    ),
    "multiclass-classification": ("accuracy", *CLASSIFICATION_AVERAGED_METRICS),
    "regression": ("mae", "rmse", "mape", "r2"),
}

#: Tests judged by a p-value (and an effect-size gate); the rest are judged by an effect size alone.
HYPOTHESIS_TESTS: tuple[DriftTest, ...] = ("ks", "chi2", "ttest")
#: Tests over the whole sample of rows rather than one column.
MODEL_BASED_TESTS: tuple[DriftTest, ...] = ("classifier", "isolation_forest")
#: Which univariate test applies to which kind of column.
NUMERIC_TESTS: tuple[DriftTest, ...] = ("ks", "ttest", "psi", "wasserstein", "jensen_shannon")
CATEGORICAL_TESTS: tuple[DriftTest, ...] = ("chi2", "psi", "jensen_shannon")
#: Tests whose schema has a ``{warning, critical}`` pair, by the spec field that holds it.
TESTS_WITH_SEVERITIES: dict[DriftTest, str] = {
    "psi": "psi",
    "wasserstein": "wasserstein",
    "jensen_shannon": "jensenShannon",
}

#: The effect size a hypothesis test's result must also reach to count as drift (normed Wasserstein for
#: numeric columns, Jensen-Shannon distance for categorical ones) when ``spec.drift.wasserstein`` /
#: ``spec.drift.jensenShannon`` is not declared; declared, their ``warning`` is the gate.
DEFAULT_EFFECT_GATE = 0.1


def metric_rule(name: str) -> str:
    """The rule id of a ``spec.metrics`` entry, as violations, checks, silences and rollback rules name it."""
    return f"metric:{name}"


def rule_matches(rule: str, pattern: str) -> bool:
    """Whether a silence's or a rollback rule's glob ``pattern`` (``metric:*``, ``drift:*``) names ``rule``.

    A segment's rule id holds its segment in brackets (``metric:accuracy[region=EU]``), which a glob would
    read as a character class: a bracketed part holding ``=`` is taken literally (its ``*`` and ``?`` still
    match), so ``metric:accuracy[region=EU]`` names that segment and ``metric:accuracy[region=*]`` all.
    """
    literal = re.sub(r"\[([^\]]*=[^\]]*)\]", lambda match: "[[]" + match.group(1) + "]", pattern)
    return rule == pattern or fnmatch.fnmatchcase(rule, literal)


def drift_test_rule(test: str) -> str:
    """The rule id of a declared drift test (features keep ``drift:<feature>``, the dataset ``drift:dataset``)."""
    return f"drift-test:{test}"


def drift_thresholds(drift: DriftSpec, test: str) -> DriftThresholds | None:
    """The declared ``{warning, critical}`` pair of ``test``, ``None`` for tests without one (or undeclared)."""
    if test == "psi":
        return drift.psi
    if test == "wasserstein":
        return drift.wasserstein
    if test == "jensen_shannon":
        return drift.jensen_shannon
    return None


def unmeasurable_rules(spec: MonitorSpec) -> list[SpecError]:
    """Declared rules that no data can ever satisfy: each names its field and says why (empty when none)."""
    problems: list[SpecError] = []
    task = spec.model.task
    declared = [(f"spec.metrics[{index}]", metric) for index, metric in enumerate(spec.metrics)]
    for position, override in enumerate(spec.segments.overrides if spec.segments is not None else []):
        declared += [
            (f"spec.segments.overrides[{position}].metrics[{index}]", metric)
            for index, metric in enumerate(override.metrics)
        ]
    for path, metric in declared:
        if metric.name not in METRICS_BY_TASK[task]:
            why = (
                "spec.data.columns.score names the positive class's score only, so a multiclass model has no "
                "probability-based metric"
                if metric.name in SCORE_METRICS
                else "a multiclass model has no single positive class; use macro_ or weighted_ metrics"
                if task == "multiclass-classification"
                else "it is not a metric of this task"
            )
            problems.append(
                SpecError(
                    f"{path}.name",
                    f"{metric.name} cannot be computed for a {task} model ({why}); metrics of this task: "
                    f"{', '.join(METRICS_BY_TASK[task])}",
                )
            )
        elif metric.name in SCORE_METRICS and spec.data.columns.score is None:  # spec.metrics: a CEL rule
            problems.append(SpecError(f"{path}.name", f"{metric.name} needs spec.data.columns.score to be set"))
    return problems
