"""Declared segments (``spec.segments.columns`` and ``combinations``): one engine accumulator per segment.

Each segment gets the engine's own :class:`EvaluationAccumulator` (the confusion counts, loss sums, score
histograms and per-feature histograms a whole evaluation keeps), fed the segment's rows of each batch. So a
segment's metrics and drift are computed by the same code as the monitor's, and its state merges across
shards exactly as theirs does.

Bounds: a *dimension* (one column or a pair) keeps at most ``maxSegments`` segments, the most frequent in
the reference data (every shard reads the same reference, so all shards track the same segments); every
other value, and values never seen in the reference, go to ``__other__``. Memory is therefore bounded by
dimensions x (maxSegments + 1) accumulators, whatever the cardinality of the columns; the accumulators of a
segment keep no row sample (model-based drift tests run on the whole data only) and classification score
histograms at ``SEGMENT_SCORE_BINS`` bins (the AUC bound the result states is computed for those bins).

Drift of a segment is judged against the *same segment of the reference*: the reference is streamed through
the same accumulators once, and each segment's reference states stand in for the profile's columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelmonitor.api.model import SegmentsSpec
from modelmonitor.evaluator.segments.keys import OTHER, Codes, Slicer, pair_name
from modelmonitor.evaluator.stats.accumulator import EvaluationAccumulator
from modelmonitor.evaluator.stats.columns import BinLocator, CategoricalColumnState, NumericColumnState
from modelmonitor.evaluator.stats.performance import ClassificationState
from modelmonitor.evaluator.stats.profile import ReferenceProfile

__all__ = [
    "SEGMENT_SCORE_BINS",
    "Dimension",
    "SegmentAccumulators",
    "count_reference_values",
    "plan_dimensions",
    "segment_profile",
]

SEGMENT_SCORE_BINS = 1000


@dataclass(frozen=True)
class Dimension:
    """One column or pair of columns, with the segments it tracks (``names``) and how rows map to them."""

    name: str
    slicers: tuple[Slicer, ...]
    names: tuple[str, ...]
    #: For pairs: combined slicer code (first * second.size + second) -> index into names, or len(names).
    pair_lookup: tuple[int, ...] | None = None

    @property
    def other(self) -> int:
        return len(self.names)

    @property
    def columns(self) -> list[str]:
        return [slicer.column for slicer in self.slicers]

    def codes(self, batch: pa.RecordBatch) -> Codes:
        """Each row's segment index (``other`` for ``__other__``)."""
        first = self.slicers[0]
        codes = first.codes(batch)
        if self.pair_lookup is None:
            return codes
        second = self.slicers[1].codes(batch)
        lookup: Codes = np.asarray(self.pair_lookup, dtype=np.int64)
        return np.asarray(lookup[codes * self.slicers[1].size + second], dtype=np.int64)

    def segment_name(self, index: int) -> str:
        if index < len(self.names):
            return self.names[index]
        return f"{'&'.join(self.columns)}={OTHER}"


def count_reference_values(batches: Iterable[pa.RecordBatch], spec: SegmentsSpec) -> dict[str, CategoricalColumnState]:
    """Rows per value of every categorical segment column (the reference, segment columns only)."""
    counts = {column.column: CategoricalColumnState() for column in spec.columns if not column.bins}
    for batch in batches:
        for name, state in counts.items():
            if name in batch.schema.names:
                state.update(batch.column(name))
            else:
                state.missing += batch.num_rows
    return counts


def _column_slicers(spec: SegmentsSpec, counts: dict[str, CategoricalColumnState]) -> dict[str, Slicer]:
    slicers: dict[str, Slicer] = {}
    for column in spec.columns:
        if column.bins:
            slicers[column.column] = Slicer.numeric(column.column, column.bins)
            continue
        state = counts[column.column]
        ranked = sorted(state.counts, key=lambda value: (-state.counts[value], value))
        if state.missing:
            ranked = sorted([*ranked, "__missing__"],
                            key=lambda value: (-(state.missing if value == "__missing__" else state.counts[value]),
                                               value))
        slicers[column.column] = Slicer.categorical(column.column, ranked[: spec.max_segments])
    return slicers


def plan_dimensions(
    spec: SegmentsSpec, counts: dict[str, CategoricalColumnState], pair_batches: Iterable[pa.RecordBatch] | None
) -> list[Dimension]:
    """The dimensions of ``spec.segments``: each column's top values; each pair's top value pairs, counted on
    ``pair_batches`` (the reference again, segment columns only) when there are pairs."""
    slicers = _column_slicers(spec, counts)
    dimensions = []
    for column in spec.columns:
        slicer = slicers[column.column]
        names = tuple(slicer.name_of(code) for code in range(len(slicer.labels)))
        dimensions.append(Dimension(column.column, (slicer,), names))
    pairs = [tuple(combination.columns) for combination in spec.combinations]
    if not pairs:
        return dimensions
    pair_counts = [np.zeros(slicers[a].size * slicers[b].size, dtype=np.int64) for a, b in pairs]
    for batch in pair_batches or []:
        for position, (a, b) in enumerate(pairs):
            combined = slicers[a].codes(batch) * slicers[b].size + slicers[b].codes(batch)
            pair_counts[position] += np.bincount(combined, minlength=len(pair_counts[position]))
    for position, (a, b) in enumerate(pairs):
        first, second = slicers[a], slicers[b]
        counted = pair_counts[position]
        candidates = [code for code in np.flatnonzero(counted)
                      if code // second.size != first.other and code % second.size != second.other]
        candidates.sort(key=lambda code: (-int(counted[code]), int(code)))
        kept = candidates[: spec.max_segments]
        lookup = np.full(len(counted), len(kept), dtype=np.int64)
        lookup[np.asarray(kept, dtype=np.int64)] = np.arange(len(kept))
        names = tuple(pair_name(first.name_of(int(code) // second.size), second.name_of(int(code) % second.size))
                      for code in kept)
        dimensions.append(Dimension(f"{a}&{b}", (first, second), names, tuple(int(v) for v in lookup)))
    return dimensions


def _new_accumulator(profile: ReferenceProfile, locators: dict[str, BinLocator]) -> EvaluationAccumulator:
    """An engine accumulator for one segment: no row sample, ``SEGMENT_SCORE_BINS`` score bins, and the bin
    lookup tables of its numeric columns shared with the other segments (each table is ~256 KiB and ~1 ms
    to build per column: per segment, they were most of the segments' memory and a fifth of their time)."""
    accumulator = EvaluationAccumulator(profile, sample_size=0)
    if accumulator.classification is not None:
        accumulator.classification = ClassificationState(accumulator.classification.positive_class,
                                                         SEGMENT_SCORE_BINS)
    for name, state in accumulator.numeric.items():
        if state.edges is not None:
            if name not in locators:
                locators[name] = BinLocator(state.edges)
            state._locator = locators[name]  # the state builds the same table itself when it has none
    return accumulator


def _dictionary_encoded(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = [
        pc.dictionary_encode(column) if pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


class SegmentAccumulators:
    """For each dimension, an accumulator per tracked segment and one for ``__other__`` (made when needed)."""

    def __init__(self, profile: ReferenceProfile, dimensions: Sequence[Dimension]) -> None:
        self.profile = profile
        self.dimensions = list(dimensions)
        self.accumulators: list[dict[int, EvaluationAccumulator]] = [{} for _ in self.dimensions]
        self.locators: dict[str, BinLocator] = {}

    def update(self, batch: pa.RecordBatch) -> None:
        """Each dimension's segments get their rows: the batch is sorted by segment once (one ``take``) and
        cut into zero-copy slices. Text columns are dictionary-encoded first: taking integer codes is ~10x
        cheaper than taking strings, and the engine counts categories and labels from the codes."""
        if batch.num_rows == 0:
            return
        encoded = _dictionary_encoded(batch)
        for dimension, accumulators in zip(self.dimensions, self.accumulators, strict=True):
            codes = dimension.codes(batch)
            order = np.argsort(codes, kind="stable")
            counts = np.bincount(codes, minlength=dimension.other + 1)
            ordered = encoded if len(np.flatnonzero(counts)) == 1 else encoded.take(pa.array(order))
            start = 0
            for index in np.flatnonzero(counts):
                accumulator = accumulators.get(int(index))
                if accumulator is None:
                    accumulator = accumulators[int(index)] = _new_accumulator(self.profile, self.locators)
                length = int(counts[index])
                accumulator.update(ordered.slice(start, length))
                start += length

    def merge(self, other: SegmentAccumulators) -> None:
        for mine, theirs in zip(self.accumulators, other.accumulators, strict=True):
            for index in sorted(theirs):
                if index in mine:
                    mine[index].merge(theirs[index])
                else:
                    mine[index] = theirs[index]

    def to_state(self) -> list[dict[str, Any]]:
        return [{str(index): accumulator.to_state() for index, accumulator in sorted(accumulators.items())}
                for accumulators in self.accumulators]

    def load_state(self, state: list[dict[str, Any]]) -> None:
        loaded: list[dict[int, EvaluationAccumulator]] = []
        for accumulators in state:
            restored: dict[int, EvaluationAccumulator] = {}
            for index, item in accumulators.items():
                accumulator = EvaluationAccumulator.from_state(item, self.profile)
                restored[int(index)] = accumulator
            loaded.append(restored)
        self.accumulators = loaded


def segment_profile(profile: ReferenceProfile, reference: EvaluationAccumulator | None) -> ReferenceProfile:
    """The profile with one segment's reference states in place of the whole reference's columns.

    ``None`` (the segment has no reference rows): every column empty, so every drift test is inconclusive.
    """
    columns = {}
    for name, column in profile.columns.items():
        if reference is None:
            numeric = None if column.numeric is None else NumericColumnState(column.numeric.shift, column.edges)
            categorical = None if column.categorical is None else CategoricalColumnState()
        else:
            numeric = reference.numeric.get(name) if column.numeric is not None else None
            categorical = reference.categorical.get(name) if column.categorical is not None else None
        columns[name] = dataclasses.replace(column, numeric=numeric, categorical=categorical)
    metrics: dict[str, float] = {}
    if reference is not None:
        metrics, _, _ = reference.performance_metrics()
    # No score calibration of the whole reference: its histograms have another number of bins.
    return dataclasses.replace(profile, columns=columns, rows=0 if reference is None else reference.rows,
                               metrics=metrics, positive_score_histogram=None, negative_score_histogram=None,
                               _fingerprint=None)
