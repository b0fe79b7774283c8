"""The seam between the evaluator's edges and the statistics engine (``evaluator.stats``).

Everything the CLI and the report need from the engine passes through here: building the column roles and
drift settings from the parsed config, profiling the reference, feeding batches, and turning the engine's
``EvaluationStats`` into the flat per-feature records the verdict, the summary and the report read. Keeping
the translation in one module means a change in the engine's result shape is one edit, not five.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from modelmonitor.api.metrics import MODEL_BASED_TESTS
from modelmonitor.evaluator.errors import DataError
from modelmonitor.evaluator.inputs import EvaluationInput
from modelmonitor.evaluator.stats.accumulator import EvaluationAccumulator
from modelmonitor.evaluator.stats.baseline import build_reference_profile
from modelmonitor.evaluator.stats.drift import DriftSettings
from modelmonitor.evaluator.stats.profile import ReferenceProfile
from modelmonitor.evaluator.stats.results import EvaluationStats
from modelmonitor.evaluator.stats.roles import ColumnRoles

__all__ = [
    "StatsView",
    "build_profile",
    "consume",
    "data_warnings",
    "dictionary_columns",
    "drift_settings",
    "finalize",
    "new_accumulator",
    "profile_rows",
    "roles_for",
    "view",
]

BatchFactory = Callable[[], Iterator[pa.RecordBatch]]


def roles_for(config: EvaluationInput, reference_schema: pa.Schema) -> ColumnRoles:
    data = config.spec.data
    columns = data.columns
    drift = config.spec.drift
    return ColumnRoles(
        target=columns.target if columns.target in reference_schema.names else None,
        prediction=columns.prediction,
        score=columns.score,
        categorical=tuple(columns.categorical),
        features=tuple(drift.features) if drift is not None else (),
        exclude=tuple(columns.exclude),
        id_columns=(data.labels.join_on,) if data.labels is not None else (),
        timestamp_column=data.current.timestamp_column,
    )


def dictionary_columns(config: EvaluationInput, roles: ColumnRoles, schema: pa.Schema) -> frozenset[str]:
    """Text features only the statistics engine reads: Parquet decodes them as dictionaries (codes, ~4x cheaper).

    Not the roles (labels, predictions: compared as text), nor the columns a join, a window, a served
    version or a challenger reads, and none at all when ``spec.segments`` is set (segment keys and the
    discovery read features as text).
    """
    spec = config.spec
    if spec.segments is not None:
        from_text: set[str] = set(schema.names)
    else:
        from modelmonitor.evaluator.challenger import challenger_columns

        data = spec.data
        from_text = roles.non_feature_columns() | set(challenger_columns(spec))
        from_text |= {name for name in (data.columns.version, data.labels.join_on if data.labels else None) if name}
    return frozenset(
        field.name
        for field in schema
        if field.name not in from_text and (pa.types.is_string(field.type) or pa.types.is_large_string(field.type))
    )


def drift_settings(config: EvaluationInput) -> DriftSettings:
    """The engine's settings from ``spec.drift``; a monitor without it runs no drift test (``tests`` empty)."""
    return DriftSettings.from_drift_spec(config.spec.drift)


def build_profile(factory: BatchFactory, roles: ColumnRoles, config: EvaluationInput) -> ReferenceProfile:
    return build_reference_profile(factory, roles, config.spec.model.task)


def profile_rows(profile: ReferenceProfile) -> int:
    return profile.rows


def new_accumulator(profile: ReferenceProfile, roles: ColumnRoles, config: EvaluationInput) -> EvaluationAccumulator:
    """An accumulator for the current data; it keeps a row sample only when a model-based test will use it.

    Sampling hashes every row's content (a fifth of the streaming time), so it is skipped unless the
    monitor asks for the domain classifier or the isolation forest. Shards get the same choice from the
    same config, so their states still merge.
    """
    del roles  # the profile carries them
    drift = config.spec.drift
    wanted = drift is not None and any(test in drift.tests for test in MODEL_BASED_TESTS)
    return EvaluationAccumulator(profile, sample_size=drift_settings(config).model_sample_size if wanted else 0)


def consume(accumulator: EvaluationAccumulator, batches: Iterable[pa.RecordBatch]) -> None:
    for batch in batches:
        accumulator.update(batch)


def finalize(accumulator: EvaluationAccumulator, config: EvaluationInput) -> EvaluationStats:
    return accumulator.finalize(drift_settings(config))


@dataclass
class StatsView:
    """The engine's result, flattened for the verdict, the summary and the report."""

    metrics: dict[str, float | None]
    estimated: dict[str, dict[str, float | None]]
    confusion_matrix: dict[str, Any] | None
    features: list[dict[str, Any]]
    drift_share: float
    drifted_count: int
    dataset_drift: bool
    drift_note: str
    data_quality: dict[str, Any]
    raw: dict[str, Any]


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _bin_label(edge: Any) -> str:
    number = float(edge)
    return f"{number:.3g}"


def flatten_feature(feature: dict[str, Any]) -> dict[str, Any]:
    """One feature's drift as a flat record: the gate test, PSI, effect and a plot-ready distribution."""
    tests = feature.get("tests") or []
    gate = tests[0] if tests else {}
    psi = next((test for test in tests if test.get("test") == "psi"), None)
    record: dict[str, Any] = {
        "feature": feature.get("feature"),
        "role": feature.get("role"),
        "kind": feature.get("kind"),
        "status": feature.get("status"),
        "test": gate.get("test"),
        "statistic": _finite(gate.get("statistic")),
        "pValue": _finite(gate.get("adjustedPValue") if gate.get("adjustedPValue") is not None else gate.get("pValue")),
        "effect": _finite(gate.get("effect")),
        "effectThreshold": _finite(gate.get("threshold")),
        "psi": None if psi is None else _finite(psi.get("statistic")),
        "referenceCount": feature.get("referenceCount"),
        "currentCount": feature.get("currentCount"),
        "reason": feature.get("reason"),
        "tests": tests,
    }
    distribution = feature.get("distribution")
    if isinstance(distribution, dict) and distribution.get("bins"):
        bins = distribution["bins"]
        if distribution.get("kind") == "numeric":
            labels = [_bin_label(edge) for edge in bins[:-1]]
        else:
            labels = [str(name) for name in bins]
        record["distribution"] = {
            "bins": labels,
            "edges": bins if distribution.get("kind") == "numeric" else None,
            "reference": distribution.get("reference"),
            "current": distribution.get("current"),
        }
    return record


def _quality(data_quality: dict[str, Any]) -> dict[str, Any]:
    columns = data_quality.get("columns") or []
    summary: dict[str, Any] = {
        "missingColumns": data_quality.get("missingColumns") or [],
        "addedColumns": data_quality.get("addedColumns") or [],
        "changedTypes": data_quality.get("changedTypes") or {},
        "missingShare": {},
        "outOfRangeShare": {},
        "unseenCategories": {},
    }
    for column in columns:
        name = column.get("column")
        missing, reference_missing = column.get("missingShare"), column.get("referenceMissingShare")
        if missing is not None and missing > (reference_missing or 0.0) + 0.01:
            summary["missingShare"][name] = missing
        if column.get("outOfRangeShare"):
            summary["outOfRangeShare"][name] = column["outOfRangeShare"]
        if column.get("unseenShare"):
            summary["unseenCategories"][name] = column.get("unseenCategories") or []
    return summary


def view(stats: EvaluationStats, performance: EvaluationStats, config: EvaluationInput) -> StatsView:
    """Drift and data quality from ``stats``; metrics from ``performance`` (the label-delayed window)."""
    del config
    drift_document = stats.to_dict()
    performance_document = drift_document if performance is stats else performance.to_dict()
    drift = drift_document["drift"]
    features = [flatten_feature(feature) for feature in drift.get("features") or []]
    notes = list(drift_document.get("notes") or [])
    if drift.get("inconclusive"):
        notes.append(
            f"{drift['inconclusive']} feature(s) inconclusive: too few values, or no declared test for their kind"
        )
    raw = {
        "task": drift_document.get("task"),
        "metricBounds": performance_document.get("metricBounds"),
        "referenceMetrics": performance_document.get("referenceMetrics"),
        "predictionDrift": [flatten_feature(feature) for feature in drift.get("prediction") or []],
        "targetDrift": None if drift.get("target") is None else flatten_feature(drift["target"]),
        "modelBased": drift.get("modelBased") or [],
        "correction": drift.get("correction"),
        "dataQuality": drift_document.get("dataQuality"),
    }
    estimated = {
        name: {key: _finite(value) for key, value in estimate.items()}
        for name, estimate in (performance_document.get("estimated") or {}).items()
    }
    return StatsView(
        metrics={name: _finite(value) for name, value in (performance_document.get("metrics") or {}).items()},
        estimated=estimated,
        confusion_matrix=performance_document.get("confusionMatrix"),
        features=features,
        drift_share=float(drift.get("share") or 0.0),
        drifted_count=int(drift.get("drifted") or 0),
        dataset_drift=bool(drift.get("datasetDrift")),
        drift_note="; ".join(notes),
        data_quality=_quality(drift_document.get("dataQuality") or {}),
        raw=raw,
    )


def _numeric_type(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind))


def data_warnings(
    config: EvaluationInput,
    reference_schema: pa.Schema,
    profile: ReferenceProfile,
    confusion: dict[str, Any] | None,
    label_values: set[str],
) -> list[str]:
    """What the user should know about how the data was read; a binary task with a third class is refused.

    - a numeric column declared categorical is tested as categories (each distinct number one category);
    - binary-classification labels or predictions outside the two classes cannot be scored as binary: a
      ``DataError`` names the column and the values (often a type mismatch, ``1.0`` against ``1``);
    - multiclass labels or predictions the reference never had are reported (the metrics include them).
    """
    warnings: list[str] = []
    for index, name in enumerate(config.spec.data.columns.categorical):
        if name in reference_schema.names and _numeric_type(reference_schema.field(name).type):
            warnings.append(
                f"spec.data.columns.categorical[{index}]: column {name!r} is numeric "
                f"({reference_schema.field(name).type}) in {config.reference_uri}; it is tested as categories "
                "(chi2, each distinct value one category), not as numbers (ks)"
            )
    if config.task == "regression":
        return warnings
    labels = [str(label) for label in (confusion or {}).get("labels") or []]
    matrix = (confusion or {}).get("matrix") or []
    actual = {labels[row] for row, counts in enumerate(matrix) if sum(counts)} | set(label_values)
    predicted = {labels[column] for column in range(len(labels)) if any(row[column] for row in matrix)}
    classes = set(profile.classes)
    if not classes:  # the reference holds neither labels nor predictions: nothing to compare with
        return warnings
    columns = config.spec.data.columns
    for role, values in (("target", actual), ("prediction", predicted)):
        extra = sorted(values - classes)
        if not extra:
            continue
        column = columns.target if role == "target" else columns.prediction
        shown = ", ".join(repr(value) for value in extra[:10])
        if config.task == "binary-classification":
            raise DataError(
                f"spec.data.columns.{role}: column {column!r} holds {shown}, outside the two classes of the "
                f"reference ({', '.join(repr(name) for name in profile.classes)}); a binary-classification monitor "
                "needs the same two values in labels and predictions (a type mismatch such as 1.0 against 1?)",
                reason="UnknownClass",
            )
        warnings.append(
            f"spec.data.columns.{role}: column {column!r} holds classes the reference never had: {shown}; "
            "the metrics include them"
        )
    return warnings
