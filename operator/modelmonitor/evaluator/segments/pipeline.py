"""How segments ride along an evaluation: a plan made from the reference, a tally fed by the current stream.

:func:`prepare_segments` runs after the reference profile exists (a single run, each shard and the reduce
all call it, and all get the same plan from the same reference): it checks the segment columns, picks each
dimension's segments from the reference's counts, streams the reference once through the per-segment
accumulators (each segment's reference, for its drift and reference metrics) and the discovery counts.
:class:`SegmentTally` watches the current batches on their way to the engine, so the current data is still
read once; it serialises and merges like the engine's accumulators (``evaluator.sharding``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from modelmonitor.api.model import SegmentsSpec
from modelmonitor.api.parsing import dump_value
from modelmonitor.evaluator.data import TableSource
from modelmonitor.evaluator.errors import ConfigError, EvaluatorError
from modelmonitor.evaluator.segments.declared import (
    Dimension,
    SegmentAccumulators,
    count_reference_values,
    plan_dimensions,
)
from modelmonitor.evaluator.segments.discovery import DiscoveryCounts
from modelmonitor.evaluator.segments.keys import Slicer
from modelmonitor.evaluator.stats.drift import coarse_bin_boundaries
from modelmonitor.evaluator.stats.profile import ReferenceProfile
from modelmonitor.evaluator.storage import read_bytes_if_exists, write_bytes

__all__ = ["CACHE_VERSION", "SegmentPlan", "SegmentTally", "discovery_slicers", "prepare_segments"]

logger = logging.getLogger("modelmonitor.evaluator")
CACHE_VERSION = 1


@dataclass
class SegmentPlan:
    spec: SegmentsSpec
    profile: ReferenceProfile
    dimensions: list[Dimension]
    reference: SegmentAccumulators
    discovery: DiscoveryCounts | None
    discovery_pending: str | None  # why discovery cannot run (it was asked for)
    target: str | None
    prediction: str | None
    columns: list[str]  # segment and discovery columns the current stream must carry
    segment_only: tuple[str, ...] = ()  # of those, the ones only the segments read

    def new_tally(self, delayed_labels: bool) -> SegmentTally:
        return SegmentTally(
            performance=SegmentAccumulators(self.profile, self.dimensions),
            drift=SegmentAccumulators(self.profile, self.dimensions) if delayed_labels else None,
            discovery=None if self.discovery is None else self._empty_discovery(),
            target=self.target,
            prediction=self.prediction,
            segment_only=self.segment_only,
        )

    def _empty_discovery(self) -> DiscoveryCounts:
        assert self.discovery is not None
        return DiscoveryCounts(self.discovery.slicers, self.discovery.classification, bool(self.discovery.pairs))

    def tally_from_state(self, state: dict[str, Any] | None, delayed_labels: bool) -> SegmentTally | None:
        if state is None:
            return None
        tally = self.new_tally(delayed_labels)
        tally.performance.load_state(state["performance"])
        if tally.drift is not None and state.get("drift") is not None:
            tally.drift.load_state(state["drift"])
        if tally.discovery is not None and state.get("discovery") is not None:
            tally.discovery.load_state(state["discovery"])
        return tally


@dataclass
class SegmentTally:
    """The current data's per-segment accumulators (performance window; drift window when labels are
    delayed) and discovery counts."""

    performance: SegmentAccumulators
    drift: SegmentAccumulators | None
    discovery: DiscoveryCounts | None
    target: str | None
    prediction: str | None
    #: Columns read for the segments only (excluded from the engine): dropped before the engine sees a batch.
    segment_only: tuple[str, ...] = ()

    def watch_performance(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            self.performance.update(batch)
            if self.discovery is not None:
                self.discovery.update(batch, self.target, self.prediction)
            yield self._engine_part(batch)

    def watch_drift(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if self.drift is not None:
                self.drift.update(batch)
            yield self._engine_part(batch)

    def _engine_part(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        extra = [name for name in self.segment_only if name in batch.schema.names]
        return batch.drop_columns(extra) if extra else batch

    def merge(self, other: SegmentTally) -> None:
        self.performance.merge(other.performance)
        if self.drift is not None and other.drift is not None:
            self.drift.merge(other.drift)
        if self.discovery is not None and other.discovery is not None:
            self.discovery.merge(other.discovery)

    def to_state(self) -> dict[str, Any]:
        return {
            "performance": self.performance.to_state(),
            "drift": None if self.drift is None else self.drift.to_state(),
            "discovery": None if self.discovery is None else self.discovery.to_state(),
        }


def discovery_slicers(profile: ReferenceProfile, spec: SegmentsSpec) -> list[Slicer]:
    """One slicer per candidate column: categorical features by their most frequent reference values,
    numeric features in ``discover.bins`` quantile bins of the reference (from the profile's histogram)."""
    discover = spec.discover
    assert discover is not None
    names = list(discover.columns) or profile.feature_names
    slicers = []
    for position, name in enumerate(names):
        column = profile.columns.get(name)
        if column is None:
            raise ConfigError(
                f"spec.segments.discover.columns[{position}]: column {name!r} is not a profiled column of the "
                f"reference data (profiled: {', '.join(sorted(profile.columns)) or 'none'})",
                reason="ColumnMissing",
            )
        if column.kind == "categorical":
            slicers.append(Slicer.categorical(name, profile.category_order(name)[: spec.max_segments]))
            continue
        if column.edges is None or column.numeric is None or column.numeric.histogram is None:
            continue
        boundaries = coarse_bin_boundaries(column.numeric.histogram, discover.bins)
        inner = [boundary for boundary in boundaries[1:-1] if 0 < boundary <= len(column.edges)]
        edges = [float(column.edges[boundary - 1]) for boundary in inner]
        slicers.append(Slicer.numeric(name, edges))
    return slicers


def _check_columns(spec: SegmentsSpec, reference: TableSource) -> None:
    schema = reference.schema
    for position, column in enumerate(spec.columns):
        field_path = f"spec.segments.columns[{position}].column"
        if column.column not in schema.names:
            raise ConfigError(
                f"{field_path}: column {column.column!r} is not in the reference data {reference.uri}",
                reason="ColumnMissing",
            )
        kind = schema.field(column.column).type
        if column.bins and not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
            raise ConfigError(
                f"spec.segments.columns[{position}].bins: column {column.column!r} has type {kind}; bins need a "
                "number (leave bins out to segment by its values)",
                reason="WrongType",
            )


def _cache_location(profile_uri: str | None, profile: ReferenceProfile, spec: SegmentsSpec) -> str | None:
    """Next to the cached profile: the digest covers the profile (so the reference files) and the spec."""
    if profile_uri is None:
        return None
    key = json.dumps({"profile": profile.fingerprint, "segments": dump_value(spec), "version": CACHE_VERSION},
                     sort_keys=True)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
    stem = profile_uri[: -len(".json")] if profile_uri.endswith(".json") else profile_uri
    return f"{stem}.segments-{digest}.json"


def _dimension_from_dict(document: dict[str, Any]) -> Dimension:
    slicers = tuple(
        Slicer(item["column"], tuple(item["labels"]), None if item["edges"] is None else tuple(item["edges"]))
        for item in document["slicers"]
    )
    lookup = document["pairLookup"]
    return Dimension(document["name"], slicers, tuple(document["names"]), None if lookup is None else tuple(lookup))


def _dimension_to_dict(dimension: Dimension) -> dict[str, Any]:
    return {
        "name": dimension.name,
        "slicers": [{"column": slicer.column, "labels": list(slicer.labels),
                     "edges": None if slicer.edges is None else list(slicer.edges)} for slicer in dimension.slicers],
        "names": list(dimension.names),
        "pairLookup": None if dimension.pair_lookup is None else list(dimension.pair_lookup),
    }


def _cached_reference(
    uri: str, profile: ReferenceProfile, discovery: DiscoveryCounts | None
) -> tuple[list[Dimension], SegmentAccumulators] | None:
    payload = read_bytes_if_exists(uri)
    if payload is None:
        return None
    try:
        document = json.loads(payload)
        dimensions = [_dimension_from_dict(item) for item in document["dimensions"]]
        accumulators = SegmentAccumulators(profile, dimensions)
        accumulators.load_state(document["reference"])
        if discovery is not None:
            discovery.load_state(document["discovery"])
    except (ValueError, KeyError, TypeError, EvaluatorError) as error:
        logger.warning("ignoring the unreadable cached segment reference %s (%s)", uri, type(error).__name__)
        return None
    return dimensions, accumulators


def prepare_segments(
    spec: SegmentsSpec | None,
    profile: ReferenceProfile,
    reference: TableSource,
    reference_columns: list[str],
    current_columns: list[str],
    profile_uri: str | None = None,
) -> SegmentPlan | None:
    """The segments of a run (``None`` without ``spec.segments``), from the reference data.

    The segment columns the engine does not read are appended to ``current_columns`` (the current stream
    carries them to the segments, which drop them before the engine sees a batch). With a profile cache
    (``profile_uri``), the segments' reference states are cached beside the profile, so a scheduled monitor
    (and every shard of a run) reads the reference for its segments once.
    """
    if spec is None:
        return None
    _check_columns(spec, reference)
    target, prediction = profile.roles.target, profile.roles.prediction
    discovery, pending = _discovery_counts(spec, profile, reference)
    cache_uri = _cache_location(profile_uri, profile, spec)
    cached = None if cache_uri is None else _cached_reference(cache_uri, profile, discovery)
    if cached is not None:
        dimensions, accumulators = cached
        logger.info("reusing the segments' reference states cached at %s", cache_uri)
    else:
        dimensions, accumulators = _reference_states(spec, profile, reference, reference_columns, discovery)
        if cache_uri is not None:
            document = {"dimensions": [_dimension_to_dict(item) for item in dimensions],
                        "reference": accumulators.to_state(),
                        "discovery": None if discovery is None else discovery.to_state()}
            write_bytes(cache_uri, json.dumps(document, allow_nan=False).encode("utf-8"), "application/json")
    segment_columns = sorted({*(column.column for column in spec.columns),
                              *([] if discovery is None else [slicer.column for slicer in discovery.slicers])})
    segment_only = [name for name in segment_columns if name not in current_columns]
    current_columns.extend(segment_only)
    return SegmentPlan(
        spec=spec, profile=profile, dimensions=dimensions, reference=accumulators, discovery=discovery,
        discovery_pending=pending, target=target, prediction=prediction, columns=segment_columns,
        segment_only=tuple(segment_only),
    )


def _discovery_counts(
    spec: SegmentsSpec, profile: ReferenceProfile, reference: TableSource
) -> tuple[DiscoveryCounts | None, str | None]:
    """Empty discovery counts (``None`` without discovery), or why discovery cannot run."""
    if spec.discover is None or not spec.discover.enabled:
        return None, None
    target, prediction = profile.roles.target, profile.roles.prediction
    if target is None or prediction is None or prediction not in reference.schema.names:
        return None, (
            "weak-slice discovery compares each slice with the same slice of the reference, which needs the "
            "target and prediction columns in the reference data"
        )
    return DiscoveryCounts(discovery_slicers(profile, spec), profile.task != "regression", spec.discover.pairs), None


def _reference_states(
    spec: SegmentsSpec, profile: ReferenceProfile, reference: TableSource, reference_columns: list[str],
    discovery: DiscoveryCounts | None,
) -> tuple[list[Dimension], SegmentAccumulators]:
    """The dimensions (from the reference's counts) and each segment's reference state (one more pass)."""
    categorical = [column.column for column in spec.columns if not column.bins]
    counts = count_reference_values(reference.batches(categorical), spec) if categorical else {}
    pair_columns = sorted({name for combination in spec.combinations for name in combination.columns})
    pair_batches = reference.batches(pair_columns) if pair_columns else None
    dimensions = plan_dimensions(spec, counts, pair_batches)
    accumulators = SegmentAccumulators(profile, dimensions)
    discovery_columns = [] if discovery is None else [slicer.column for slicer in discovery.slicers]
    columns = list(dict.fromkeys([*reference_columns, *(column.column for column in spec.columns),
                                  *discovery_columns]))
    target, prediction = profile.roles.target, profile.roles.prediction
    for batch in reference.batches(columns):
        accumulators.update(batch)
        if discovery is not None:
            discovery.update(batch, target, prediction)
    return dimensions, accumulators
