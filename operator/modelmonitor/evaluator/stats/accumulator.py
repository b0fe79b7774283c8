"""One evaluation's state: fed batch by batch, merged across shards, finalised into ``EvaluationStats``.

``update`` does vectorised work per column and batch (no per-row Python); the state is bounded by
columns x bins plus a fixed-size row sample, whatever the number of rows. ``to_state`` / ``from_state``
carry it between a shard and the reduce step as JSON; ``merge`` is exact (integer counts, exactly merged
sums, bottom-k samples), so four shards merged give the very same ``finalize`` result as one pass.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from modelmonitor.evaluator.stats.columns import (
    CategoricalColumnState,
    FloatArray,
    NumericColumnState,
    numeric_values,
)
from modelmonitor.evaluator.stats.columns import type_name as column_type_name
from modelmonitor.evaluator.stats.drift import (
    DriftSettings,
    categorical_tables,
    decide_features,
    evaluate_categorical_column,
    evaluate_numeric_column,
)
from modelmonitor.evaluator.stats.errors import StateMismatchError, StatsDataError
from modelmonitor.evaluator.stats.estimation import calibration_from_histograms, estimate_binary_performance
from modelmonitor.evaluator.stats.model_based import (
    domain_classifier_test,
    encode_sample,
    isolation_forest_test,
)
from modelmonitor.evaluator.stats.performance import (
    ClassificationState,
    RegressionState,
    binned_average_precision,
    binned_roc_auc,
    classification_metrics_from_confusion,
)
from modelmonitor.evaluator.stats.profile import ColumnProfile, ReferenceProfile
from modelmonitor.evaluator.stats.reservoir import RowReservoir
from modelmonitor.evaluator.stats.results import (
    ColumnQuality,
    ConfusionMatrix,
    DataQuality,
    DriftResult,
    DriftTestResult,
    EvaluationStats,
    FeatureDrift,
)
from modelmonitor.evaluator.stats.roles import ColumnRoles, Task

__all__ = ["STATE_VERSION", "EvaluationAccumulator"]

STATE_VERSION = 1
DEFAULT_SAMPLE_SIZE = 5000


class EvaluationAccumulator:
    """Accumulates current data against a reference profile."""

    def __init__(
        self,
        profile: ReferenceProfile,
        roles: ColumnRoles | None = None,
        task: Task | None = None,
        *,
        sample_size: int = DEFAULT_SAMPLE_SIZE,
    ) -> None:
        if roles is not None and roles != profile.roles:
            raise StateMismatchError(
                "the column roles differ from those the reference profile was built with"
            )
        if task is not None and task != profile.task:
            raise StateMismatchError(
                f"task {task!r} differs from the reference profile's task {profile.task!r}"
            )
        self.profile = profile
        self.roles = profile.roles
        self.task: Task = profile.task
        self.rows = 0
        self.numeric: dict[str, NumericColumnState] = {}
        self.categorical: dict[str, CategoricalColumnState] = {}
        for column in profile.columns.values():
            if column.kind == "numeric":
                assert column.numeric is not None
                shift = column.numeric.mean if column.numeric.count else column.numeric.shift
                self.numeric[column.name] = NumericColumnState(shift, column.edges)
            else:
                self.categorical[column.name] = CategoricalColumnState()
        self.classification: ClassificationState | None = None
        self.regression: RegressionState | None = None
        if self.task == "regression":
            target = profile.columns.get(self.roles.target or "")
            shift = 0.0
            if target is not None and target.numeric is not None:
                shift = target.numeric.mean if target.numeric.count else target.numeric.shift
            self.regression = RegressionState(shift)
        else:
            positive = profile.positive_class if self.task == "binary-classification" else None
            self.classification = ClassificationState(positive, profile.score_bins)
        features = profile.columns_with_role("feature")
        self.reservoir = RowReservoir(
            sample_size,
            profile.seed,
            [column.name for column in features if column.kind == "numeric"],
            [column.name for column in features if column.kind == "categorical"],
        )
        self.current_types: dict[str, str] = {}
        self.changed_types: dict[str, list[str]] = {}
        self.absent_rows: dict[str, int] = {}

    # --- feeding ------------------------------------------------------------------------------------------

    def update(self, batch: pa.RecordBatch) -> None:
        """Add one batch of current data (labels null where they have not arrived)."""
        rows = batch.num_rows
        if rows == 0:
            return
        self.rows += rows
        schema = batch.schema
        for field in schema:
            name, type_name = field.name, column_type_name(field)
            known = self.current_types.setdefault(name, type_name)
            if known != type_name:
                seen = self.changed_types.setdefault(name, [known])
                if type_name not in seen:
                    seen.append(type_name)
        numeric_cache: dict[str, FloatArray] = {}
        present = set(schema.names)
        for name, state in self.numeric.items():
            if name not in present:
                self.absent_rows[name] = self.absent_rows.get(name, 0) + rows
                continue
            values = numeric_values(batch.column(name), name)
            numeric_cache[name] = values
            state.update(values)
        for name, categorical_state in self.categorical.items():
            if name not in present:
                self.absent_rows[name] = self.absent_rows.get(name, 0) + rows
                continue
            categorical_state.update(batch.column(name))
        self._update_performance(batch, numeric_cache)
        if self.reservoir.capacity:
            sample_numeric = {
                name: numeric_cache.get(name, np.full(rows, np.nan)) for name in self.reservoir.numeric_columns
            }
            sample_categorical = {
                name: batch.column(name) if name in present else pa.nulls(rows, pa.string())
                for name in self.reservoir.categorical_columns
            }
            self.reservoir.update(sample_numeric, sample_categorical, rows)

    def _column_or_none(self, batch: pa.RecordBatch, name: str | None) -> pa.Array | None:
        if name is None or name not in batch.schema.names:
            return None
        return batch.column(name)

    def _numeric_or_none(
        self, batch: pa.RecordBatch, name: str | None, cache: dict[str, FloatArray]
    ) -> FloatArray | None:
        if name is None or name not in batch.schema.names:
            return None
        if name not in cache:
            cache[name] = numeric_values(batch.column(name), name)
        return cache[name]

    def _update_performance(self, batch: pa.RecordBatch, cache: dict[str, FloatArray]) -> None:
        roles, rows = self.roles, batch.num_rows
        target = self._column_or_none(batch, roles.target)
        if roles.prediction is None and roles.score is None and not roles.class_scores:
            return  # a drift-only monitor: no model output to measure
        if self.regression is not None:
            prediction_values = self._numeric_or_none(batch, roles.prediction, cache)
            if prediction_values is None:
                raise StatsDataError(
                    f"prediction column {roles.prediction!r} is absent from the current data",
                    reason="ColumnMissing",
                )
            target_values = self._numeric_or_none(batch, roles.target, cache)
            if target_values is None:
                target_values = np.full(rows, np.nan)
            self.regression.update(target_values, prediction_values)
            return
        assert self.classification is not None
        score = self._numeric_or_none(batch, roles.score, cache)
        class_scores = {
            label: values
            for label, column in roles.class_scores.items()
            if (values := self._numeric_or_none(batch, column, cache)) is not None
        }
        prediction = self._column_or_none(batch, roles.prediction)
        if prediction is None:
            prediction = self._derive_prediction(score, class_scores, rows)
        self.classification.update(target, prediction, score, class_scores or None)

    def _derive_prediction(
        self, score: FloatArray | None, class_scores: dict[str, FloatArray], rows: int
    ) -> pa.Array:
        profile = self.profile
        if self.task == "binary-classification" and score is not None:
            positive = np.asarray(score >= profile.decision_threshold)
            labels = np.where(positive, profile.positive_class or "1", profile.negative_class or "0")
            return pa.array(labels, type=pa.string(), mask=~np.isfinite(score))
        if class_scores:
            names = sorted(class_scores)
            matrix = np.column_stack([class_scores[name] for name in names])
            missing = ~np.isfinite(matrix).all(axis=1)
            best = np.argmax(np.where(np.isfinite(matrix), matrix, -np.inf), axis=1)
            return pa.array(np.asarray(names, dtype=object)[best], type=pa.string(), mask=missing)
        raise StatsDataError(
            f"the current data has neither the prediction column {self.roles.prediction!r} "
            "nor scores to derive it from",
            reason="ColumnMissing",
        )

    # --- merging and state --------------------------------------------------------------------------------

    def merge(self, other: EvaluationAccumulator) -> None:
        """Add another accumulator's data (a shard) to this one."""
        if other.profile.fingerprint != self.profile.fingerprint:
            raise StateMismatchError("accumulators built on different reference profiles cannot merge")
        self.rows += other.rows
        for name, state in self.numeric.items():
            state.merge(other.numeric[name])
        for name, categorical_state in self.categorical.items():
            categorical_state.merge(other.categorical[name])
        if self.classification is not None and other.classification is not None:
            self.classification.merge(other.classification)
        if self.regression is not None and other.regression is not None:
            self.regression.merge(other.regression)
        self.reservoir.merge(other.reservoir)
        for name in sorted(other.current_types):
            type_name = other.current_types[name]
            known = self.current_types.setdefault(name, type_name)
            types = [known, *[t for t in other.changed_types.get(name, []) if t != known]]
            if type_name not in types:
                types.append(type_name)
            mine = self.changed_types.get(name, [known])
            merged = mine + [t for t in types if t not in mine]
            if len(merged) > 1:
                self.changed_types[name] = merged
        for name, count in sorted(other.absent_rows.items()):
            self.absent_rows[name] = self.absent_rows.get(name, 0) + count

    def to_state(self) -> dict[str, Any]:
        """JSON-able state for the reduce step; restore with ``from_state(state, profile)``."""
        return {
            "version": STATE_VERSION,
            "profile": self.profile.fingerprint,
            "rows": self.rows,
            "numeric": {name: state.to_state() for name, state in self.numeric.items()},
            "categorical": {name: state.to_state() for name, state in self.categorical.items()},
            "classification": None if self.classification is None else self.classification.to_state(),
            "regression": None if self.regression is None else self.regression.to_state(),
            "reservoir": self.reservoir.to_state(),
            "currentTypes": dict(self.current_types),
            "changedTypes": {name: list(types) for name, types in self.changed_types.items()},
            "absentRows": dict(self.absent_rows),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], profile: ReferenceProfile) -> EvaluationAccumulator:
        if state.get("version") != STATE_VERSION:
            raise StateMismatchError(f"accumulator state version {state.get('version')!r} is not supported")
        if state.get("profile") != profile.fingerprint:
            raise StateMismatchError("the accumulator state was built on a different reference profile")
        accumulator = cls(profile, sample_size=int(state["reservoir"]["capacity"]))
        accumulator.rows = int(state["rows"])
        accumulator.numeric = {
            name: NumericColumnState.from_state(item, profile.columns[name].edges)
            for name, item in state["numeric"].items()
        }
        accumulator.categorical = {
            name: CategoricalColumnState.from_state(item) for name, item in state["categorical"].items()
        }
        if state["classification"] is not None:
            accumulator.classification = ClassificationState.from_state(state["classification"])
        if state["regression"] is not None:
            accumulator.regression = RegressionState.from_state(state["regression"])
        accumulator.reservoir = RowReservoir.from_state(state["reservoir"])
        accumulator.current_types = dict(state["currentTypes"])
        accumulator.changed_types = {name: list(types) for name, types in state["changedTypes"].items()}
        accumulator.absent_rows = {name: int(count) for name, count in state["absentRows"].items()}
        return accumulator

    # --- results ------------------------------------------------------------------------------------------

    def performance_metrics(self) -> tuple[dict[str, float], dict[str, float], ConfusionMatrix | None]:
        """Realised metrics on labelled rows, the bounds of binned ones, and the confusion matrix."""
        if self.regression is not None:
            return self.regression.metrics(), {}, None
        assert self.classification is not None
        classification = self.classification
        labels, matrix = classification.confusion_matrix(self.profile.classes)
        positive = self.profile.positive_class if self.task == "binary-classification" else None
        metrics = classification_metrics_from_confusion(labels, matrix, positive)
        bounds: dict[str, float] = {}
        if positive is not None and classification.scored_rows:
            metrics["roc_auc"], bounds["roc_auc"] = binned_roc_auc(
                classification.positive_histogram, classification.negative_histogram
            )
            metrics["pr_auc"], bounds["pr_auc"] = binned_average_precision(
                classification.positive_histogram, classification.negative_histogram
            )
            metrics["brier"] = classification.brier_sum.value / classification.scored_rows
        if classification.log_loss_rows:
            metrics["log_loss"] = classification.log_loss_sum.value / classification.log_loss_rows
        confusion = ConfusionMatrix(labels, matrix.tolist()) if matrix.size else None
        return metrics, bounds, confusion

    def finalize(self, settings: DriftSettings | None = None) -> EvaluationStats:
        settings = settings or DriftSettings()
        metrics, bounds, confusion = self.performance_metrics()
        estimated = {}
        if (
            self.classification is not None
            and self.task == "binary-classification"
            and self.roles.score is not None
            and int(
                self.classification.predicted_positive_histogram.sum()
                + self.classification.predicted_negative_histogram.sum()
            )
        ):
            profile = self.profile
            if profile.positive_score_histogram is not None and profile.negative_score_histogram is not None:
                calibrated = calibration_from_histograms(
                    profile.positive_score_histogram, profile.negative_score_histogram
                )
            else:
                calibrated = (np.arange(self.classification.bins) + 0.5) / self.classification.bins
            estimated = estimate_binary_performance(
                calibrated,
                self.classification.predicted_positive_histogram,
                self.classification.predicted_negative_histogram,
            )
        labelled = (
            self.regression.labelled if self.regression is not None else self.classification.labelled  # type: ignore[union-attr]
        )
        notes = []
        if labelled == 0:
            notes.append("no labels have arrived: realised metrics are empty; see the estimated ones")
        if self.classification is not None and self.classification.out_of_range_scores:
            notes.append(
                f"{self.classification.out_of_range_scores} score(s) of {self.roles.score!r} outside [0, 1] are not "
                "probabilities: left out of roc_auc, pr_auc, log_loss, brier and the estimated performance"
            )
        return EvaluationStats(
            task=self.task,
            rows={"reference": self.profile.rows, "current": self.rows, "labelled": labelled},
            metrics=metrics,
            metric_bounds=bounds,
            confusion_matrix=confusion,
            estimated=estimated,
            reference_metrics=dict(self.profile.metrics),
            drift=self._drift(settings),
            data_quality=self._data_quality(),
            notes=notes,
        )

    def _column_drift(self, column: ColumnProfile, settings: DriftSettings) -> FeatureDrift:
        if column.kind == "numeric":
            assert column.numeric is not None and column.edges is not None
            return evaluate_numeric_column(
                column.name, column.role, column.edges, column.numeric, self.numeric[column.name], settings
            )
        assert column.categorical is not None
        return evaluate_categorical_column(
            column.name, column.role, column.categorical, self.categorical[column.name], settings
        )

    def _drift(self, settings: DriftSettings) -> DriftResult:
        if not settings.tests:  # no spec.drift: no drift test runs, not even the gate tests
            return DriftResult(
                features=[], drifted=0, inconclusive=0, feature_count=0, share=0.0, dataset_drift=False,
                correction=settings.correction,
            )
        profile = self.profile
        features = [self._column_drift(column, settings) for column in profile.columns_with_role("feature")]
        decide_features(features, settings)
        predictions = [
            self._column_drift(column, settings)
            for column in profile.columns_with_role("prediction", "score")
        ]
        decide_features(predictions, DriftSettings(**{**settings.__dict__, "correction": "none"}))
        target_columns = profile.columns_with_role("target")
        target = None
        if target_columns:
            target = self._column_drift(target_columns[0], settings)
            decide_features([target], DriftSettings(**{**settings.__dict__, "correction": "none"}))
        conclusive = [feature for feature in features if feature.status != "inconclusive"]
        drifted = sum(1 for feature in conclusive if feature.status == "drifted")
        share = drifted / len(conclusive) if conclusive else 0.0
        return DriftResult(
            features=features,
            drifted=drifted,
            inconclusive=len(features) - len(conclusive),
            feature_count=len(features),
            share=share,
            dataset_drift=bool(conclusive) and share >= settings.dataset_drift_share,
            correction=settings.correction,
            prediction=predictions,
            target=target,
            model_based=self._model_based(settings),
        )

    def _model_based(self, settings: DriftSettings) -> list[DriftTestResult]:
        wanted = [test for test in ("classifier", "isolation_forest") if test in settings.tests]
        if not wanted:
            return []
        numeric = list(self.reservoir.numeric_columns)
        categorical = {name: self.profile.category_order(name) for name in self.reservoir.categorical_columns}
        reference = encode_sample(self.profile.sample.head(settings.model_sample_size), numeric, categorical)
        current = encode_sample(self.reservoir.head(settings.model_sample_size), numeric, categorical)
        results = []
        for test in wanted:
            if test == "classifier":
                result = domain_classifier_test(
                    reference, current, settings.classifier_auc_threshold, settings.p_value, settings.seed
                )
            else:
                result = isolation_forest_test(
                    reference, current, settings.isolation_forest_threshold, settings.p_value, settings.seed
                )
            if result is not None:
                results.append(result)
        return results

    def _data_quality(self) -> DataQuality:
        profile = self.profile
        columns = []
        for column in profile.columns.values():
            absent = self.absent_rows.get(column.name, 0)
            if column.kind == "numeric":
                reference_numeric = column.numeric
                state = self.numeric[column.name]
                assert reference_numeric is not None
                total = state.count + state.missing + absent
                reference_total = reference_numeric.count + reference_numeric.missing
                outside = state.below + state.above
                columns.append(
                    ColumnQuality(
                        column=column.name,
                        kind="numeric",
                        rows=total,
                        missing_share=(state.missing + absent) / total if total else math.nan,
                        reference_missing_share=reference_numeric.missing / reference_total
                        if reference_total
                        else math.nan,
                        out_of_range_share=outside / state.count if state.count else math.nan,
                        below_range=state.below,
                        above_range=state.above,
                        reference_minimum=reference_numeric.minimum,
                        reference_maximum=reference_numeric.maximum,
                        minimum=state.minimum,
                        maximum=state.maximum,
                    )
                )
            else:
                reference_categorical = column.categorical
                current = self.categorical[column.name]
                assert reference_categorical is not None
                total = current.count + current.missing + absent
                reference_total = reference_categorical.count + reference_categorical.missing
                names, _, current_counts = categorical_tables(reference_categorical, current)
                unseen = int(current_counts[-1]) if names and names[-1] == "__unseen__" else 0
                unseen_names = sorted(
                    (
                        name
                        for name in current.counts
                        if name not in reference_categorical.counts and name not in reference_categorical.pooled
                    ),
                    key=lambda name: (-current.counts[name], name),
                )
                columns.append(
                    ColumnQuality(
                        column=column.name,
                        kind="categorical",
                        rows=total,
                        missing_share=(current.missing + absent) / total if total else math.nan,
                        reference_missing_share=reference_categorical.missing / reference_total
                        if reference_total
                        else math.nan,
                        unseen_share=unseen / current.count if current.count else math.nan,
                        unseen_categories=unseen_names[:20],
                    )
                )
        reference_names = set(profile.schema)
        current_names = set(self.current_types)
        changed = {
            name: {
                "reference": profile.schema[name],
                "current": ", ".join(
                    t
                    for t in [self.current_types[name], *self.changed_types.get(name, [])]
                    if t != profile.schema[name]
                )
                or self.current_types[name],
            }
            for name in sorted(reference_names & current_names)
            if self.current_types[name] != profile.schema[name] or name in self.changed_types
        }
        return DataQuality(
            columns=columns,
            missing_columns=sorted(reference_names - current_names) if self.rows else [],
            added_columns=sorted(current_names - reference_names),
            changed_types=changed,
        )
