"""Which column plays which part, and which kind each feature is (numeric or categorical).

The roles come from the monitor's spec (``spec.data.columns``); kinds are decided once, from the reference
schema, so that every shard and the reduce step agree on them without looking at the data again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from modelmonitor.evaluator.stats.errors import StatsConfigError

__all__ = ["TASKS", "ColumnKind", "ColumnRoles", "Task", "column_kind_of_type", "resolve_feature_kinds"]

Task = Literal["binary-classification", "multiclass-classification", "regression"]
TASKS: tuple[Task, ...] = ("binary-classification", "multiclass-classification", "regression")
ColumnKind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class ColumnRoles:
    """The part each column plays.

    ``features`` empty means "every column not given another role"; a feature's kind is categorical when it
    is listed in ``categorical`` or its Arrow type is a string, boolean or dictionary, numeric when its type
    is an integer, floating point or decimal. ``positive_class`` names the positive label of a binary task
    (as text: ``"1"``, ``"true"``, ``"fraud"``); unset, it is ``"1"`` or ``"true"`` when the labels are those.
    """

    target: str | None = None
    prediction: str | None = None
    score: str | None = None
    class_scores: Mapping[str, str] = field(default_factory=dict)
    categorical: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    id_columns: tuple[str, ...] = ()
    timestamp_column: str | None = None
    positive_class: str | None = None

    def non_feature_columns(self) -> set[str]:
        """Columns that are never treated as features."""
        named = {self.target, self.prediction, self.score, self.timestamp_column}
        return (
            {name for name in named if name}
            | set(self.class_scores.values())
            | set(self.exclude)
            | set(self.id_columns)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "prediction": self.prediction,
            "score": self.score,
            "classScores": dict(self.class_scores),
            "categorical": list(self.categorical),
            "features": list(self.features),
            "exclude": list(self.exclude),
            "idColumns": list(self.id_columns),
            "timestampColumn": self.timestamp_column,
            "positiveClass": self.positive_class,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnRoles:
        return cls(
            target=data.get("target"),
            prediction=data.get("prediction"),
            score=data.get("score"),
            class_scores=dict(data.get("classScores") or {}),
            categorical=tuple(data.get("categorical") or ()),
            features=tuple(data.get("features") or ()),
            exclude=tuple(data.get("exclude") or ()),
            id_columns=tuple(data.get("idColumns") or ()),
            timestamp_column=data.get("timestampColumn"),
            positive_class=data.get("positiveClass"),
        )


def column_kind_of_type(data_type: pa.DataType) -> ColumnKind | None:
    """The kind an Arrow type implies, or None when it is neither (timestamps, lists, structs)."""
    if pa.types.is_dictionary(data_type):
        return "categorical"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type) or pa.types.is_boolean(data_type):
        return "categorical"
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return "numeric"
    return None


def resolve_feature_kinds(schema: pa.Schema, roles: ColumnRoles) -> dict[str, ColumnKind]:
    """Map each feature to its kind, in schema order; listed features absent from the schema are an error.

    Columns whose type is neither numeric nor categorical are left out unless listed as categorical (then
    their values are compared as text).
    """
    names = list(schema.names)
    excluded = roles.non_feature_columns()
    if roles.features:
        missing = [name for name in roles.features if name not in names]
        if missing:
            raise StatsConfigError(
                f"feature column(s) {', '.join(repr(name) for name in missing)} listed in columns.features "
                f"are absent from the reference data (columns: {', '.join(names)})",
                reason="ColumnMissing",
            )
        candidates = [name for name in roles.features if name not in excluded]
    else:
        candidates = [name for name in names if name not in excluded]
    kinds: dict[str, ColumnKind] = {}
    for name in candidates:
        if name in roles.categorical:
            kinds[name] = "categorical"
            continue
        kind = column_kind_of_type(schema.field(name).type)
        if kind is not None:
            kinds[name] = kind
    return kinds
