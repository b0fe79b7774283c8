"""Building the reference profile from the reference data, in two streaming passes.

Pass 1 learns the shape: exact counts, extremes and category counts, and a seeded bottom-k sample of rows
(``quantile_sample_size``) whose quantiles give each numeric column a fine grid of at most ``max_edges``
unique edges, the first and last being the exact minimum and maximum. Pass 2 runs the very accumulator
that current data will run, on those edges, so the reference histograms are exact and built the same way,
and the reference's own metrics and score histograms (for calibration) come for free. Neither pass holds
more than the sample and the per-column states.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa

from modelmonitor.evaluator.stats.accumulator import EvaluationAccumulator
from modelmonitor.evaluator.stats.columns import (
    CategoricalColumnState,
    FloatArray,
    NumericColumnState,
    numeric_values,
)
from modelmonitor.evaluator.stats.errors import StatsConfigError, StatsDataError
from modelmonitor.evaluator.stats.profile import ColumnProfile, ReferenceProfile
from modelmonitor.evaluator.stats.reservoir import RowReservoir
from modelmonitor.evaluator.stats.roles import ColumnKind, ColumnRoles, Task, resolve_feature_kinds

__all__ = ["build_reference_profile", "quantile_edges"]

BatchSource = Callable[[], Iterable[pa.RecordBatch]]


def quantile_edges(sample: FloatArray, minimum: float, maximum: float, max_edges: int) -> FloatArray:
    """At most ``max_edges`` unique edges at the sample's quantiles, pinned to the exact extremes."""
    finite = sample[np.isfinite(sample)]
    if len(finite) == 0:
        return np.unique(np.array([minimum, maximum], dtype=np.float64))
    quantiles = np.quantile(finite, np.linspace(0.0, 1.0, max_edges)[1:-1])
    inner = quantiles[(quantiles > minimum) & (quantiles < maximum)]
    return np.unique(np.concatenate([[minimum], inner, [maximum]]))


def _special_columns(roles: ColumnRoles, task: Task) -> list[tuple[str, str, ColumnKind]]:
    """(name, role, kind) of the prediction, score and target columns that get drift tests too."""
    classification = task != "regression"
    label_kind: ColumnKind = "categorical" if classification else "numeric"
    columns: list[tuple[str, str, ColumnKind]] = []
    if roles.prediction:
        columns.append((roles.prediction, "prediction", label_kind))
    if roles.score:
        columns.append((roles.score, "score", "numeric"))
    for label in sorted(roles.class_scores):
        columns.append((roles.class_scores[label], "score", "numeric"))
    if roles.target:
        columns.append((roles.target, "target", label_kind))
    return columns


def _positive_and_negative(labels: list[str], roles: ColumnRoles) -> tuple[str, str]:
    if roles.positive_class is not None:
        positive = roles.positive_class
    elif "1" in labels:
        positive = "1"
    elif "true" in labels:
        positive = "true"
    elif labels:
        positive = sorted(labels)[-1]
    else:
        positive = "1"
    others = sorted(label for label in labels if label != positive)
    negative = others[0] if others else {"1": "0", "true": "false"}.get(positive, "0")
    if len(others) > 1:
        raise StatsDataError(
            f"a binary task's target column {roles.target!r} has {len(labels)} classes: "
            f"{', '.join(sorted(labels)[:10])}",
            reason="NotBinary",
        )
    return positive, negative


def build_reference_profile(
    batches: BatchSource,
    roles: ColumnRoles,
    task: Task,
    *,
    quantile_sample_size: int = 100_000,
    model_sample_size: int = 5000,
    max_edges: int = 1000,
    max_categories: int = 200,
    decision_threshold: float = 0.5,
    seed: int = 0,
) -> ReferenceProfile:
    """Profile the reference data; ``batches`` returns a fresh iterator of record batches at each call."""
    if task not in ("binary-classification", "multiclass-classification", "regression"):
        raise StatsConfigError(f"model.task must be a known task, got {task!r}", reason="UnknownTask")
    schema: pa.Schema | None = None
    kinds: dict[str, tuple[str, ColumnKind]] = {}
    numeric: dict[str, NumericColumnState] = {}
    categorical: dict[str, CategoricalColumnState] = {}
    reservoir: RowReservoir | None = None
    rows = 0
    for batch in batches():
        if schema is None:
            schema = batch.schema
            for name, kind in resolve_feature_kinds(schema, roles).items():
                kinds[name] = ("feature", kind)
            for name, role, kind in _special_columns(roles, task):
                if name in schema.names:
                    kinds[name] = (role, kind)
                elif role != "target":
                    raise StatsConfigError(
                        f"{role} column {name!r} is absent from the reference data "
                        f"(columns: {', '.join(schema.names)})",
                        reason="ColumnMissing",
                    )
            numeric = {
                name: NumericColumnState(0.0) for name, (_, kind) in kinds.items() if kind == "numeric"
            }
            categorical = {
                name: CategoricalColumnState() for name, (_, kind) in kinds.items() if kind == "categorical"
            }
            reservoir = RowReservoir(
                quantile_sample_size,
                seed,
                list(numeric),
                [name for name, (role, kind) in kinds.items() if kind == "categorical" and role == "feature"],
            )
        rows += batch.num_rows
        values = {name: numeric_values(batch.column(name), name) for name in numeric}
        for name, state in numeric.items():
            state.update(values[name])
        for name, categorical_state in categorical.items():
            categorical_state.update(batch.column(name))
        assert reservoir is not None
        reservoir.update(values, {name: batch.column(name) for name in reservoir.categorical}, batch.num_rows)
    if schema is None or reservoir is None or rows == 0:
        raise StatsDataError("the reference data has no rows", reason="EmptyData")

    columns: dict[str, ColumnProfile] = {}
    for name, (role, kind) in kinds.items():
        arrow_type = str(schema.field(name).type)
        if kind == "numeric":
            state = numeric[name]
            edges = (
                quantile_edges(reservoir.numeric[name], state.minimum, state.maximum, max_edges)
                if state.count
                else np.array([0.0])
            )
            prepared = NumericColumnState(state.mean if state.count else 0.0, edges)
            columns[name] = ColumnProfile(name, role, kind, arrow_type, edges=edges, numeric=prepared)
        else:
            columns[name] = ColumnProfile(name, role, kind, arrow_type, categorical=categorical[name])

    classes: list[str] = []
    positive: str | None = None
    negative: str | None = None
    if task != "regression":
        label_names: set[str] = set()
        for label_column in (roles.target, roles.prediction):
            if label_column and label_column in categorical:
                label_names |= set(categorical[label_column].counts)
        label_names |= set(roles.class_scores)
        classes = sorted(label_names)
        if task == "binary-classification":
            target_labels = (
                sorted(categorical[roles.target].counts) if roles.target in categorical else classes
            )
            positive, negative = _positive_and_negative(target_labels, roles)
            classes = [label for label in (negative, positive) if label] + [
                label for label in classes if label not in (negative, positive)
            ]

    feature_columns = [name for name, (role, _) in kinds.items() if role == "feature"]
    sample = reservoir.head(model_sample_size)
    sample.numeric = {name: values for name, values in sample.numeric.items() if name in feature_columns}
    sample.capacity = model_sample_size
    profile = ReferenceProfile(
        task=task,
        roles=roles,
        columns=columns,
        schema={name: str(data_type) for name, data_type in zip(schema.names, schema.types, strict=True)},
        rows=rows,
        sample=sample,
        positive_class=positive,
        negative_class=negative,
        classes=classes,
        decision_threshold=decision_threshold,
        seed=seed,
    )

    second_pass = EvaluationAccumulator(profile, sample_size=0)
    for batch in batches():
        second_pass.update(batch)
    for name, column in columns.items():
        if column.kind == "numeric":
            column.numeric = second_pass.numeric[name]
        else:
            column.categorical = _top_categories(categorical[name], max_categories)
    metrics, _, _ = second_pass.performance_metrics()
    profile.metrics = metrics
    if (
        second_pass.classification is not None
        and positive is not None
        and second_pass.classification.scored_rows
    ):
        profile.positive_score_histogram = second_pass.classification.positive_histogram.copy()
        profile.negative_score_histogram = second_pass.classification.negative_histogram.copy()
    profile._fingerprint = None
    return profile


def _top_categories(state: CategoricalColumnState, limit: int) -> CategoricalColumnState:
    """The ``limit`` most frequent categories; the others' counts pooled as overflow."""
    ordered = sorted(state.counts, key=lambda category: (-state.counts[category], category))
    kept = CategoricalColumnState(state.tracking_limit)
    kept.counts = {category: state.counts[category] for category in ordered[:limit]}
    kept.overflow = state.overflow + sum(state.counts[category] for category in ordered[limit:])
    kept.missing = state.missing
    return kept
