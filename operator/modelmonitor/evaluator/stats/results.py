"""The engine's output: plain dataclasses whose ``to_dict()`` is JSON as the result schema wants it.

Keys are camelCase (the contract's style), floats that are not numbers become null, numpy scalars become
Python numbers, and nothing else leaks out: the report, the verdict and the summary read these dicts.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np

__all__ = [
    "ColumnQuality",
    "ConfusionMatrix",
    "DataQuality",
    "Distribution",
    "DriftResult",
    "DriftStatus",
    "DriftTestResult",
    "EstimatedMetric",
    "EvaluationStats",
    "FeatureDrift",
    "to_jsonable",
]

DriftStatus = Literal["drifted", "stable", "inconclusive"]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def to_jsonable(value: Any) -> Any:
    """Dataclasses, mappings and sequences as JSON: camelCase keys, NaN / infinity as null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            _camel(field.name): to_jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(item) for item in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


@dataclasses.dataclass
class DriftTestResult:
    """One drift test on one column (or, for model-based tests, on the whole feature set).

    ``effect`` is the effect size that gates the decision and ``threshold`` its limit; ``bound`` is the
    largest error the binned computation of ``statistic`` can have (0 when exact, None when not stated).
    """

    test: str
    statistic: float
    p_value: float | None
    effect: float | None
    threshold: float | None
    drifted: bool
    adjusted_p_value: float | None = None
    bound: float | None = None
    severity: str | None = None


@dataclasses.dataclass
class Distribution:
    """Reference and current shares on a few bins, for the report's plots.

    Numeric: ``bins`` are the bin edges (len(shares) + 1; the first and last are the observed extremes of
    both sides). Categorical: ``bins`` are the category names.
    """

    kind: str
    bins: list[Any]
    reference: list[float]
    current: list[float]


@dataclasses.dataclass
class FeatureDrift:
    """Drift of one column: every test run on it and the resulting status."""

    feature: str
    role: str
    kind: str
    status: DriftStatus
    tests: list[DriftTestResult]
    reference_count: int
    current_count: int
    distribution: Distribution | None = None
    reason: str | None = None

    @property
    def drifted(self) -> bool:
        return self.status == "drifted"


@dataclasses.dataclass
class DriftResult:
    features: list[FeatureDrift]
    drifted: int
    inconclusive: int
    feature_count: int
    share: float
    dataset_drift: bool
    correction: str
    prediction: list[FeatureDrift] = dataclasses.field(default_factory=list)
    target: FeatureDrift | None = None
    model_based: list[DriftTestResult] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ColumnQuality:
    column: str
    kind: str
    rows: int
    missing_share: float
    reference_missing_share: float
    out_of_range_share: float | None = None
    below_range: int | None = None
    above_range: int | None = None
    reference_minimum: float | None = None
    reference_maximum: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    unseen_share: float | None = None
    unseen_categories: list[str] | None = None


@dataclasses.dataclass
class DataQuality:
    columns: list[ColumnQuality]
    missing_columns: list[str]
    added_columns: list[str]
    changed_types: dict[str, dict[str, str]]


@dataclasses.dataclass
class EstimatedMetric:
    """A metric estimated without labels; ``low`` / ``high`` bound a 95% interval under calibration."""

    value: float
    standard_error: float
    low: float
    high: float


@dataclasses.dataclass
class ConfusionMatrix:
    labels: list[str]
    matrix: list[list[int]]


@dataclasses.dataclass
class EvaluationStats:
    """Everything the engine computed for one evaluation; ``metrics`` are realised (labelled rows only)."""

    task: str
    rows: dict[str, int]
    metrics: dict[str, float]
    metric_bounds: dict[str, float]
    confusion_matrix: ConfusionMatrix | None
    estimated: dict[str, EstimatedMetric]
    reference_metrics: dict[str, float]
    drift: DriftResult
    data_quality: DataQuality
    notes: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = to_jsonable(self)
        return result
