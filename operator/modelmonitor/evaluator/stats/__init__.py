"""The evaluator's statistics engine: mergeable accumulators for metrics, drift and data quality.

Public surface (everything else is private to the package):

- ``build_reference_profile(batches, roles, task)`` -> ``ReferenceProfile`` (two passes over the
  reference; ``to_dict()`` / ``ReferenceProfile.from_dict()`` to cache it; ``suggested_thresholds()``).
- ``EvaluationAccumulator(profile, roles, task)``: ``update(batch)``, ``merge(other)``, ``to_state()`` /
  ``EvaluationAccumulator.from_state(state, profile)``, ``finalize(DriftSettings)`` -> ``EvaluationStats``
  (``to_dict()`` is JSON).
- ``ColumnRoles``, ``Task``, ``DriftSettings`` (``DriftSettings.from_drift_spec(spec.drift)``).
"""

from modelmonitor.evaluator.stats.accumulator import EvaluationAccumulator
from modelmonitor.evaluator.stats.baseline import build_reference_profile
from modelmonitor.evaluator.stats.drift import DRIFT_TESTS, Correction, DriftSettings
from modelmonitor.evaluator.stats.errors import (
    StateMismatchError,
    StatsConfigError,
    StatsDataError,
    StatsError,
)
from modelmonitor.evaluator.stats.profile import ReferenceProfile
from modelmonitor.evaluator.stats.results import (
    ColumnQuality,
    ConfusionMatrix,
    DataQuality,
    Distribution,
    DriftResult,
    DriftTestResult,
    EstimatedMetric,
    EvaluationStats,
    FeatureDrift,
)
from modelmonitor.evaluator.stats.roles import TASKS, ColumnRoles, Task

__all__ = [
    "DRIFT_TESTS",
    "TASKS",
    "ColumnQuality",
    "ColumnRoles",
    "ConfusionMatrix",
    "Correction",
    "DataQuality",
    "Distribution",
    "DriftResult",
    "DriftSettings",
    "DriftTestResult",
    "EstimatedMetric",
    "EvaluationAccumulator",
    "EvaluationStats",
    "FeatureDrift",
    "ReferenceProfile",
    "StateMismatchError",
    "StatsConfigError",
    "StatsDataError",
    "StatsError",
    "Task",
    "build_reference_profile",
]
