"""Which segment each row belongs to, as small integer codes computed per batch without per-row Python.

A *slicer* turns one column of a batch into codes ``0 .. len(labels)``: code ``i < len(labels)`` is the
tracked value ``labels[i]`` and code ``len(labels)`` is ``__other__`` (every value not tracked). A numeric
column is cut by bin edges (``[30,50)``; below the first edge ``(-inf,30)``, from the last ``[50,inf)``); a
categorical one is compared as text, as the engine compares categories. A missing value is the value
``__missing__`` (a categorical slicer may track it like any other value, a numeric one always has it).

Segment names are what results, rules and Prometheus labels show: ``region=EU`` for one column,
``region=EU&channel=web`` for a pair, in the order the pair was declared.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from modelmonitor.evaluator.stats.columns import numeric_values, text_values

__all__ = [
    "MISSING",
    "OTHER",
    "Codes",
    "Slicer",
    "bin_labels",
    "pair_name",
    "segment_name",
]

OTHER = "__other__"
MISSING = "__missing__"
Codes = npt.NDArray[np.int64]


def _edge(value: float) -> str:
    return f"{value:g}"


def bin_labels(edges: Sequence[float]) -> list[str]:
    """``(-inf,e0)``, ``[e0,e1)``, ..., ``[ek,inf)``: the bins of sorted inner edges."""
    if not edges:
        return ["(-inf,inf)"]
    labels = [f"(-inf,{_edge(edges[0])})"]
    labels += [f"[{_edge(low)},{_edge(high)})" for low, high in itertools.pairwise(edges)]
    labels.append(f"[{_edge(edges[-1])},inf)")
    return labels


def segment_name(column: str, value: str) -> str:
    return f"{column}={value}"


def pair_name(first: str, second: str) -> str:
    """The name of a segment of a pair of columns, from the names of its two one-column segments."""
    return f"{first}&{second}"


@dataclass(frozen=True)
class Slicer:
    """Codes of one column: ``edges`` (numeric bins; ``labels`` are then the bins and ``__missing__``) or the
    tracked categorical ``labels``; everything else is ``other`` (code ``len(labels)``)."""

    column: str
    labels: tuple[str, ...]
    edges: tuple[float, ...] | None = None

    @staticmethod
    def numeric(column: str, edges: Sequence[float]) -> Slicer:
        inner = tuple(sorted({float(edge) for edge in edges if math.isfinite(float(edge))}))
        return Slicer(column, (*bin_labels(inner), MISSING), inner)

    @staticmethod
    def categorical(column: str, labels: Sequence[str]) -> Slicer:
        return Slicer(column, tuple(labels))

    @property
    def other(self) -> int:
        return len(self.labels)

    @property
    def size(self) -> int:
        """Codes this slicer produces (the tracked labels and ``__other__``)."""
        return len(self.labels) + 1

    def name_of(self, code: int) -> str:
        return segment_name(self.column, self.labels[code] if code < len(self.labels) else OTHER)

    def codes(self, batch: pa.RecordBatch) -> Codes:
        """Each row's code; a column absent from the batch puts every row in ``__missing__`` (or other)."""
        rows = batch.num_rows
        if self.column not in batch.schema.names:
            return np.full(rows, self._missing_code(), dtype=np.int64)
        array = batch.column(self.column)
        if self.edges is not None:
            values = numeric_values(array, self.column)
            codes = np.searchsorted(np.asarray(self.edges, dtype=np.float64), values, side="right").astype(np.int64)
            codes[~np.isfinite(values)] = self._missing_code()
            return codes
        encoded = pc.dictionary_encode(text_values(array))
        dictionary = encoded.dictionary.to_pylist()
        position = {label: code for code, label in enumerate(self.labels)}
        lookup = np.array([position.get(text, self.other) for text in dictionary] + [self._missing_code()],
                          dtype=np.int64)
        indices = np.asarray(pc.fill_null(encoded.indices, len(dictionary)).to_numpy(zero_copy_only=False),
                             dtype=np.int64)
        return lookup[indices]

    def _missing_code(self) -> int:
        try:
            return self.labels.index(MISSING)
        except ValueError:
            return self.other

