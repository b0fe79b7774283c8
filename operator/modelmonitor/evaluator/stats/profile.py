"""The reference profile: everything later evaluations need to know about the reference data, in JSON.

It is computed once per reference dataset (``baseline.build_reference_profile``) and cached next to it, so
shards and reruns reuse it: per column its role, kind and Arrow type; for numeric columns the fine grid of
bin edges (reference quantiles), the exact histogram on it and exact moments; for categorical columns the
most frequent categories with their counts (the rest pooled); a small seeded sample of rows for the
model-based drift tests; the reference's own metrics and score histograms (for calibrating the label-free
performance estimate); and thresholds it suggests for a monitor.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelmonitor.evaluator.stats.columns import CategoricalColumnState, FloatArray, NumericColumnState
from modelmonitor.evaluator.stats.errors import StateMismatchError
from modelmonitor.evaluator.stats.performance import SCORE_BINS, IntArray
from modelmonitor.evaluator.stats.reservoir import RowReservoir
from modelmonitor.evaluator.stats.roles import ColumnKind, ColumnRoles, Task

__all__ = ["PROFILE_VERSION", "ColumnProfile", "ReferenceProfile"]

PROFILE_VERSION = 2  # 2: categorical columns keep the names of their pooled rare categories
_HIGHER_IS_BETTER = {"accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "r2"}


@dataclass
class ColumnProfile:
    """One profiled column. ``role`` is feature, prediction, score or target."""

    name: str
    role: str
    kind: ColumnKind
    arrow_type: str
    edges: FloatArray | None = None
    numeric: NumericColumnState | None = None
    categorical: CategoricalColumnState | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "kind": self.kind,
            "arrowType": self.arrow_type,
            "edges": None if self.edges is None else self.edges.tolist(),
            "numeric": None if self.numeric is None else self.numeric.to_state(),
            "categorical": None if self.categorical is None else self.categorical.to_state(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnProfile:
        edges = None if data["edges"] is None else np.asarray(data["edges"], dtype=np.float64)
        return cls(
            name=data["name"],
            role=data["role"],
            kind=data["kind"],
            arrow_type=data["arrowType"],
            edges=edges,
            numeric=None
            if data["numeric"] is None
            else NumericColumnState.from_state(data["numeric"], edges),
            categorical=None
            if data["categorical"] is None
            else CategoricalColumnState.from_state(data["categorical"]),
        )


@dataclass
class ReferenceProfile:
    """Baseline statistics of the reference data (see the module docstring)."""

    task: Task
    roles: ColumnRoles
    columns: dict[str, ColumnProfile]
    schema: dict[str, str]
    rows: int
    sample: RowReservoir
    positive_class: str | None = None
    negative_class: str | None = None
    classes: list[str] = field(default_factory=list)
    decision_threshold: float = 0.5
    metrics: dict[str, float] = field(default_factory=dict)
    positive_score_histogram: IntArray | None = None
    negative_score_histogram: IntArray | None = None
    seed: int = 0
    _fingerprint: str | None = field(default=None, repr=False, compare=False)

    def columns_with_role(self, *roles: str) -> list[ColumnProfile]:
        return [column for column in self.columns.values() if column.role in roles]

    @property
    def feature_names(self) -> list[str]:
        return [column.name for column in self.columns_with_role("feature")]

    def category_order(self, name: str) -> list[str]:
        """A categorical column's reference categories, most frequent first."""
        state = self.columns[name].categorical
        if state is None:
            return []
        return sorted(state.counts, key=lambda category: (-state.counts[category], category))

    @property
    def fingerprint(self) -> str:
        """A digest of the profile's content: accumulator states carry it so that mismatches are caught.

        The cached document carries it (``to_dict``), so a run that reads the profile does not serialise
        its 2-3 MB again to compute it (~0.1 CPU s); the value is the digest of the content alone, as before
        it was stored, so caches and states written earlier stay valid.
        """
        if self._fingerprint is None:
            self._fingerprint = _content_digest(self._content())
        return self._fingerprint

    def suggested_thresholds(self) -> dict[str, Any]:
        """Thresholds a monitor could start from, like SageMaker's suggested constraints.

        Metrics (when the reference has labels): warning at 5% and critical at 10% worse than the
        reference value. Features: missing share up to twice the reference's plus one point; the
        reference's range for numeric features and its categories for categorical ones.
        """
        metrics = []
        for name, value in sorted(self.metrics.items()):
            if not math.isfinite(value):
                continue
            if name in _HIGHER_IS_BETTER:
                metrics.append(
                    {"name": name, "reference": value, "min": value * 0.95, "criticalMin": value * 0.9}
                )
            else:
                metrics.append(
                    {"name": name, "reference": value, "max": value * 1.05, "criticalMax": value * 1.1}
                )
        features: dict[str, Any] = {}
        for column in self.columns_with_role("feature"):
            state = column.numeric if column.numeric is not None else column.categorical
            assert state is not None
            total = state.count + state.missing
            missing_share = state.missing / total if total else 0.0
            suggestion: dict[str, Any] = {
                "kind": column.kind,
                "missingShare": {"max": min(2 * missing_share + 0.01, 1.0)},
            }
            if column.numeric is not None and column.numeric.count:
                suggestion["range"] = {"min": column.numeric.minimum, "max": column.numeric.maximum}
            if column.categorical is not None:
                suggestion["categories"] = self.category_order(column.name)
            features[column.name] = suggestion
        return {"metrics": metrics, "features": features}

    def to_dict(self) -> dict[str, Any]:
        """The cached document: the content and its fingerprint."""
        document = self._content()
        if self._fingerprint is None:
            self._fingerprint = _content_digest(document)
        document["fingerprint"] = self._fingerprint
        return document

    def to_json(self) -> bytes:
        """``to_dict()`` as JSON, encoded once: the canonical text of the content (whose digest is the
        fingerprint) with the fingerprint added as its last member. A NaN or infinity is refused."""
        canonical = json.dumps(self._content(), sort_keys=True, allow_nan=False)
        if self._fingerprint is None:
            self._fingerprint = _text_digest(canonical)
        return f"{canonical[:-1]}, {json.dumps('fingerprint')}: {json.dumps(self._fingerprint)}}}".encode()

    def _content(self) -> dict[str, Any]:
        return {
            "version": PROFILE_VERSION,
            "task": self.task,
            "roles": self.roles.to_dict(),
            "columns": [column.to_dict() for column in self.columns.values()],
            "schema": dict(self.schema),
            "rows": self.rows,
            "sample": self.sample.to_state(),
            "positiveClass": self.positive_class,
            "negativeClass": self.negative_class,
            "classes": list(self.classes),
            "decisionThreshold": self.decision_threshold,
            "metrics": {
                name: (value if math.isfinite(value) else None) for name, value in self.metrics.items()
            },
            "scoreHistograms": None
            if self.positive_score_histogram is None or self.negative_score_histogram is None
            else {
                "positive": self.positive_score_histogram.tolist(),
                "negative": self.negative_score_histogram.tolist(),
            },
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceProfile:
        if data.get("version") != PROFILE_VERSION:
            raise StateMismatchError(
                f"reference profile version {data.get('version')!r} is not supported (expected {PROFILE_VERSION})"
            )
        histograms = data.get("scoreHistograms")
        return cls(
            task=data["task"],
            roles=ColumnRoles.from_dict(data["roles"]),
            columns={column["name"]: ColumnProfile.from_dict(column) for column in data["columns"]},
            schema=dict(data["schema"]),
            rows=int(data["rows"]),
            sample=RowReservoir.from_state(data["sample"]),
            positive_class=data.get("positiveClass"),
            negative_class=data.get("negativeClass"),
            classes=list(data.get("classes") or []),
            decision_threshold=float(data.get("decisionThreshold", 0.5)),
            metrics={
                name: (math.nan if value is None else float(value)) for name, value in data["metrics"].items()
            },
            positive_score_histogram=None
            if histograms is None
            else np.asarray(histograms["positive"], dtype=np.int64),
            negative_score_histogram=None
            if histograms is None
            else np.asarray(histograms["negative"], dtype=np.int64),
            seed=int(data.get("seed", 0)),
            _fingerprint=_stored_fingerprint(data.get("fingerprint")),
        )

    @property
    def score_bins(self) -> int:
        return SCORE_BINS if self.positive_score_histogram is None else len(self.positive_score_histogram)


def _content_digest(content: dict[str, Any]) -> str:
    return _text_digest(json.dumps(content, sort_keys=True))


def _text_digest(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _stored_fingerprint(value: object) -> str | None:
    """A cached document's fingerprint; ``None`` (computed again) for documents written before it was stored."""
    if isinstance(value, str) and len(value) == 16 and all(c in "0123456789abcdef" for c in value):
        return value
    return None
