"""Per-column accumulators: what one pass over record batches remembers about a numeric or categorical column.

Memory is bounded by the number of bins (numeric) or of distinct categories tracked (categorical), never by
the number of rows. Numeric histograms use the reference profile's bin edges and the left-open bins of
``np.searchsorted(edges, values, side="left")``: bin 0 holds values <= edges[0], bin i holds
edges[i-1] < v <= edges[i], the last bin values > edges[-1]. Cumulative counts are then the empirical CDF
exactly at every edge, which is what the grid KS statistic and the binned Wasserstein distance need.
Moments are kept as sums of (v - shift) and (v - shift)**2 with a shift taken from the reference (its
mean), which avoids the cancellation of the textbook formula; sums merge exactly (see ``exact``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from modelmonitor.evaluator.stats.errors import StateMismatchError, StatsDataError
from modelmonitor.evaluator.stats.exact import CompensatedSum, float_from_json, float_to_json

__all__ = [
    "DEFAULT_CATEGORY_TRACKING_LIMIT",
    "READ_AS_DICTIONARY",
    "BinLocator",
    "CategoricalColumnState",
    "FloatArray",
    "NumericColumnState",
    "numeric_values",
    "text_values",
    "type_name",
]

FloatArray = npt.NDArray[np.float64]
DEFAULT_CATEGORY_TRACKING_LIMIT = 10_000
#: Field metadata of a text column the reader decoded as a dictionary by its own choice (Parquet stores
#: categories dictionary-encoded: decoding codes, not strings, is ~4x cheaper, and counting them needs no
#: hashing). The column's type is still reported as the file's text type.
READ_AS_DICTIONARY = b"modelmonitor.readAsDictionary"


def type_name(field: pa.Field) -> str:
    """A column's type as results report it: the file's, also when the reader chose to decode a dictionary."""
    data_type = field.type
    if field.metadata and READ_AS_DICTIONARY in field.metadata and pa.types.is_dictionary(data_type):
        return str(data_type.value_type)
    return str(data_type)


def numeric_values(array: pa.Array | pa.ChunkedArray, column: str) -> FloatArray:
    """The column as float64, nulls as NaN; zero-copy for float64 columns without nulls.

    Nulls are filled by Arrow before the conversion: ``to_numpy`` of an array with nulls imports pandas
    (0.25-0.4 s of CPU, once per process) only to fill them, the same NaN.
    """
    try:
        if array.type != pa.float64():
            array = pc.cast(array, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise StatsDataError(
            f"column {column!r} must be numeric, but its type is {array.type}", reason="WrongType"
        ) from error
    if array.null_count:
        array = pc.fill_null(array, math.nan)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    values = array.to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64)


def text_values(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The column as strings: categories and class labels are compared as text (1 -> "1", True -> "true")."""
    if pa.types.is_string(array.type):
        return array
    return pc.cast(array, pa.string())


_MAXIMUM_LOOKUP_STEPS = 4
_CELLS_PER_EDGE = 32


class BinLocator:
    """``np.searchsorted(edges, values, side="left")``, several times faster for many values.

    Binary search over ~1000 edges costs ~10 unpredictable branches per value. Instead a uniform table of
    cells over [edges[0], edges[-1]] gives, per cell, a starting index no larger than the answer (taken one
    cell early, so rounding in the cell computation cannot overshoot), and a few vectorised steps
    ``index += edges[index] < value`` finish the job; the number of steps is the most edges any three
    adjacent cells hold. When that is large (heavily skewed columns) it falls back to ``searchsorted``.
    The result is identical to ``searchsorted`` in every case (ties, out-of-range values).
    With 32 cells per edge (a 256 KiB table per 1000-edge column) one step suffices for most columns.
    """

    def __init__(self, edges: FloatArray) -> None:
        self.edges = edges
        self.padded = np.append(edges, np.inf)
        self.steps = _MAXIMUM_LOOKUP_STEPS + 1
        self.lowest = float(edges[0])
        span = float(edges[-1]) - self.lowest
        if len(edges) < 16 or not np.isfinite(span) or span <= 0:
            return
        cells = _CELLS_PER_EDGE * len(edges)
        self.scale = cells / span
        self.cells = cells
        boundaries = self.lowest + np.arange(-1, cells + 2) / self.scale
        positions = np.searchsorted(edges, boundaries, side="left")
        self.start = positions[:cells].astype(np.intp)  # edges below the boundary of cell c - 1
        end = positions[3:].copy()  # edges below the boundary of cell c + 2
        end[-1] = len(edges)  # the last cell also takes every value above the range
        self.steps = int(np.max(end - self.start))

    def locate(self, values: FloatArray) -> npt.NDArray[np.intp]:
        if self.steps > _MAXIMUM_LOOKUP_STEPS:
            return np.searchsorted(self.edges, values, side="left")
        cell = values - self.lowest
        cell *= self.scale
        np.clip(cell, 0, self.cells - 1, out=cell)
        index = self.start[cell.astype(np.intp)]
        for _ in range(self.steps):
            index += self.padded[index] < values
        return index


class NumericColumnState:
    """Counts, exact extremes, shifted sums and (when edges are given) a histogram of one numeric column."""

    def __init__(self, shift: float, edges: FloatArray | None = None) -> None:
        self.shift = float(shift)
        self.edges = edges
        self.count = 0
        self.missing = 0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.sum = CompensatedSum()
        self.sum_squares = CompensatedSum()
        self.histogram: npt.NDArray[np.int64] | None = (
            None if edges is None else np.zeros(len(edges) + 1, dtype=np.int64)
        )
        self.below = 0
        self.below_distance = CompensatedSum()
        self.above_distance = CompensatedSum()
        self._locator: BinLocator | None = None

    def update(self, values: FloatArray) -> None:
        finite_mask = np.isfinite(values)
        finite_count = int(np.count_nonzero(finite_mask))
        if finite_count < len(values):
            self.missing += len(values) - finite_count
            values = values[finite_mask]
        if finite_count == 0:
            return
        self.count += finite_count
        batch_minimum, batch_maximum = float(values.min()), float(values.max())
        self.minimum = min(self.minimum, batch_minimum)
        self.maximum = max(self.maximum, batch_maximum)
        deviations = values - self.shift
        self.sum.add(float(deviations.sum()))
        self.sum_squares.add(float((deviations * deviations).sum()))
        if self.edges is not None and self.histogram is not None:
            if self._locator is None:
                self._locator = BinLocator(self.edges)
            self.histogram += np.bincount(self._locator.locate(values), minlength=len(self.edges) + 1)
            lowest, highest = float(self.edges[0]), float(self.edges[-1])
            if batch_minimum < lowest:  # this batch's, not the running extreme: no scan when nothing is out
                below = values[values < lowest]
                self.below += len(below)
                self.below_distance.add(float((lowest - below).sum()))
            if batch_maximum > highest:
                above = values[values > highest]
                self.above_distance.add(float((above - highest).sum()))

    def merge(self, other: NumericColumnState) -> None:
        if other.shift != self.shift or (self.edges is None) != (other.edges is None):
            raise StateMismatchError("numeric column states were built with different shifts or bin edges")
        self.count += other.count
        self.missing += other.missing
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.sum.merge(other.sum)
        self.sum_squares.merge(other.sum_squares)
        if self.histogram is not None and other.histogram is not None:
            if len(self.histogram) != len(other.histogram):
                raise StateMismatchError("numeric column states have histograms of different lengths")
            self.histogram += other.histogram
        self.below += other.below
        self.below_distance.merge(other.below_distance)
        self.above_distance.merge(other.above_distance)

    @property
    def above(self) -> int:
        return 0 if self.histogram is None else int(self.histogram[-1])

    @property
    def mean(self) -> float:
        return self.shift + self.sum.value / self.count if self.count else math.nan

    def variance(self, degrees_of_freedom: int = 1) -> float:
        """Variance with ``ddof`` as numpy counts it; NaN when there are too few values."""
        if self.count <= degrees_of_freedom:
            return math.nan
        shifted_sum = self.sum.value
        squares = self.sum_squares.value - shifted_sum * shifted_sum / self.count
        return max(squares, 0.0) / (self.count - degrees_of_freedom)

    def to_state(self) -> dict[str, Any]:
        return {
            "shift": self.shift,
            "count": self.count,
            "missing": self.missing,
            "minimum": float_to_json(self.minimum),
            "maximum": float_to_json(self.maximum),
            "sum": self.sum.to_state(),
            "sumSquares": self.sum_squares.to_state(),
            "histogram": None if self.histogram is None else self.histogram.tolist(),
            "below": self.below,
            "belowDistance": self.below_distance.to_state(),
            "aboveDistance": self.above_distance.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], edges: FloatArray | None) -> NumericColumnState:
        column = cls(float(state["shift"]), edges)
        column.count = int(state["count"])
        column.missing = int(state["missing"])
        column.minimum = math.inf if state["minimum"] is None else float_from_json(state["minimum"])
        column.maximum = -math.inf if state["maximum"] is None else float_from_json(state["maximum"])
        column.sum = CompensatedSum.from_state(state["sum"])
        column.sum_squares = CompensatedSum.from_state(state["sumSquares"])
        if state["histogram"] is not None:
            if edges is None or len(state["histogram"]) != len(edges) + 1:
                raise StateMismatchError("a numeric column state does not fit the profile's bin edges")
            column.histogram = np.asarray(state["histogram"], dtype=np.int64)
        column.below = int(state["below"])
        column.below_distance = CompensatedSum.from_state(state["belowDistance"])
        column.above_distance = CompensatedSum.from_state(state["aboveDistance"])
        return column


class CategoricalColumnState:
    """Exact counts per category (as text) up to a tracking limit; values past it are counted as overflow."""

    def __init__(self, tracking_limit: int = DEFAULT_CATEGORY_TRACKING_LIMIT) -> None:
        self.tracking_limit = tracking_limit
        self.counts: dict[str, int] = {}
        self.missing = 0
        self.overflow = 0
        # A reference profile's rare categories, pooled into ``overflow`` but still known by name, so that a
        # category the reference never had is told apart from a rare one (never hidden in the pool).
        self.pooled: frozenset[str] = frozenset()

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        self.missing += array.null_count
        if isinstance(array, pa.DictionaryArray):
            # Count the codes, not the strings: a dictionary-encoded column (Parquet's usual encoding of
            # categories, when read as such) needs no hashing at all.
            codes = array.indices.to_numpy(zero_copy_only=False)
            if array.null_count:
                codes = codes[np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)]
            code_counts = np.bincount(np.asarray(codes, dtype=np.intp), minlength=len(array.dictionary))
            texts = text_values(array.dictionary).to_pylist()
            for code in np.flatnonzero(code_counts):
                if texts[code] is not None:
                    self.add(texts[code], int(code_counts[code]))
            return
        if pa.types.is_integer(array.type) or pa.types.is_boolean(array.type):
            # Distinct integers (booleans) are distinct texts, met in the same order: count the raw values and
            # convert only the distinct ones, not every value (labels and predictions are often integers).
            value_counts = pc.value_counts(array)
            categories = text_values(value_counts.field("values")).to_pylist()
        else:
            value_counts = pc.value_counts(text_values(array))
            categories = value_counts.field("values").to_pylist()
        counts = value_counts.field("counts").to_pylist()
        for category, count in zip(categories, counts, strict=True):
            if category is None:
                continue
            self.add(category, int(count))

    def add(self, category: str, count: int) -> None:
        if category in self.counts:
            self.counts[category] += count
        elif len(self.counts) < self.tracking_limit:
            self.counts[category] = count
        else:
            self.overflow += count

    @property
    def count(self) -> int:
        """Values that are not missing."""
        return sum(self.counts.values()) + self.overflow

    def merge(self, other: CategoricalColumnState) -> None:
        for category in sorted(other.counts):
            self.add(category, other.counts[category])
        self.missing += other.missing
        self.overflow += other.overflow

    def to_state(self) -> dict[str, Any]:
        return {
            "counts": {category: self.counts[category] for category in sorted(self.counts)},
            "missing": self.missing,
            "overflow": self.overflow,
            "trackingLimit": self.tracking_limit,
            **({"pooled": sorted(self.pooled)} if self.pooled else {}),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CategoricalColumnState:
        column = cls(int(state["trackingLimit"]))
        column.counts = {str(key): int(value) for key, value in state["counts"].items()}
        column.missing = int(state["missing"])
        column.overflow = int(state["overflow"])
        column.pooled = frozenset(str(name) for name in state.get("pooled", []))
        return column
