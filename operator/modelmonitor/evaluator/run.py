"""One evaluation from config to written outputs: the orchestration, with the I/O at its two ends.

The order matters for the user: everything that can be checked from schemas (configured columns, their
types, the timestamp column) is checked before any data is streamed, so a typo fails in a second with a
message naming the column, not after an hour of reading. Then the reference is profiled, the current data
streamed once per window through the statistics engine, the verdict decided and the three outputs (result
JSON, HTML report, summary) produced. The pure parts live in ``verdict``, ``result`` and ``report``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from modelmonitor.api.model import DriftSpec
from modelmonitor.api.parsing import dump_value
from modelmonitor.evaluator import engine
from modelmonitor.evaluator.challenger import (
    ChallengerStream,
    challenger_columns,
    challenger_key,
    conclude_comparison,
)
from modelmonitor.evaluator.data import (
    LabelIndex,
    RowCount,
    TableSource,
    TimeWindow,
    load_label_index,
    open_source,
)
from modelmonitor.evaluator.errors import ConfigError, DataError, EvaluatorError
from modelmonitor.evaluator.inputs import EvaluationInput
from modelmonitor.evaluator.parquet_stream import arrow_without_pandas
from modelmonitor.evaluator.report import render_report
from modelmonitor.evaluator.result import RESULT_SCHEMA_VERSION, build_summary, json_safe
from modelmonitor.evaluator.segments.conclude import conclude_segments, merge_verdict
from modelmonitor.evaluator.segments.pipeline import SegmentPlan, SegmentTally, prepare_segments
from modelmonitor.evaluator.served_versions import ServedVersions
from modelmonitor.evaluator.stats.accumulator import EvaluationAccumulator
from modelmonitor.evaluator.stats.profile import PROFILE_VERSION, ReferenceProfile
from modelmonitor.evaluator.stats.roles import ColumnRoles
from modelmonitor.evaluator.storage import (
    ResolvedFiles,
    join_uri,
    parse_location,
    read_bytes_if_exists,
    write_bytes,
)
from modelmonitor.evaluator.verdict import decide_verdict

__all__ = [
    "CurrentTally",
    "EvaluationRun",
    "PreparedRun",
    "RunOptions",
    "accumulate_current",
    "conclude_run",
    "output_location",
    "prepare_run",
    "run_evaluation",
]

logger = logging.getLogger("modelmonitor.evaluator")

MAX_TRACKED_CLASSES = 1000


@dataclass(frozen=True)
class RunOptions:
    run_id: str
    as_of: datetime
    output_uri: str | None = None
    output_is_final: bool = False
    write_outputs: bool = True
    profile_cache_uri: str | None = None
    step_profiles: bool = True  # assemble long windows from stored step profiles (evaluator/step_profiles.py)


@dataclass
class EvaluationRun:
    """What :func:`run_evaluation` produced: the full result document and the compact summary."""

    result: dict[str, Any]
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def output_location(config: EvaluationInput, options: RunOptions) -> str | None:
    """Where run outputs go: ``<output.uri>/<runId>/``, else next to the reference data (contracts §1)."""
    if options.output_uri is not None:
        return options.output_uri if options.output_is_final else join_uri(options.output_uri, options.run_id)
    if config.output_uri is not None:
        return join_uri(config.output_uri, options.run_id)
    reference = parse_location(config.reference_uri)
    if reference.is_s3:
        return f"s3://{reference.bucket}/modelmonitor/{config.namespace}/{config.name}/{options.run_id}"
    return None


class _LabelledStream:
    """Counts rows, labelled rows and classes while batches flow to the engine (one pass, no copies)."""

    def __init__(self, target: str | None, track_classes: bool) -> None:
        self.target = target
        self.track_classes = track_classes
        self.rows = 0
        self.labelled = 0
        self.classes: set[str] = set()

    def watch(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            self.rows += batch.num_rows
            if self.target is not None and self.target in batch.schema.names:
                column = batch.column(self.target)
                self.labelled += batch.num_rows - column.null_count
                if self.track_classes and len(self.classes) < MAX_TRACKED_CLASSES and column.null_count < len(column):
                    self.classes.update(str(value) for value in pc.unique(column.drop_null()).to_pylist())
            yield batch


def _check_schemas(config: EvaluationInput, reference: TableSource, current: TableSource) -> None:
    data = config.spec.data
    columns = data.columns
    required: dict[str, str] = {}
    if columns.prediction:
        required["spec.data.columns.prediction"] = columns.prediction
    if columns.score:
        required["spec.data.columns.score"] = columns.score
    if columns.target and data.labels is None and config.spec.metrics:
        required["spec.data.columns.target"] = columns.target
    timestamp_column = data.current.timestamp_column
    if timestamp_column and (config.window or (data.labels and data.labels.delay)):
        required["spec.data.current.timestampColumn"] = timestamp_column
    if data.labels is not None:
        required["spec.data.labels.joinOn"] = data.labels.join_on
    if columns.version:
        required["spec.data.columns.version"] = columns.version
    current.require_columns(required)
    drift = config.spec.drift
    for index, name in enumerate(drift.features if drift is not None else []):
        reference.require_columns({f"spec.drift.features[{index}]": name})
    numeric_roles: dict[str, str | None] = {"spec.data.columns.score": columns.score}
    if config.task == "regression":
        numeric_roles["spec.data.columns.prediction"] = columns.prediction
        if data.labels is None:
            numeric_roles["spec.data.columns.target"] = columns.target
    for role_path, role_column in numeric_roles.items():
        if role_column is None or role_column not in current.schema.names:
            continue
        kind = current.schema.field(role_column).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
            raise DataError(
                f"{role_path}: column {role_column!r} in {current.uri} has type {kind}, but a number is needed",
                reason="WrongType",
            )


def _needed_columns(config: EvaluationInput, source: TableSource, *, with_target: bool) -> list[str]:
    """Every column the engine reads: features plus roles; excluded and unused columns are never read."""
    data = config.spec.data
    columns_spec = data.columns
    excluded = set(columns_spec.exclude)
    if data.labels is not None:
        excluded.add(data.labels.join_on)
    if data.current.timestamp_column:
        excluded.add(data.current.timestamp_column)
    if columns_spec.version:
        excluded.add(columns_spec.version)  # counted per value, never a feature
    columns = [name for name in source.column_names if name not in excluded]
    drift = config.spec.drift
    if drift is not None and drift.features:
        roles = {columns_spec.target, columns_spec.prediction, columns_spec.score, *challenger_columns(config.spec)}
        columns = [name for name in columns if name in drift.features or name in roles]
    target = columns_spec.target
    if not with_target and target in columns:
        columns.remove(target)
    if with_target and target and target not in columns:
        columns.append(target)
    return columns


def _attach_labels(
    batches: Iterator[pa.RecordBatch], labels: LabelIndex | None, target: str | None, join_on: str | None
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if labels is not None and target is not None:
            batch = labels.attach(batch, target)
            if join_on is not None:
                batch = batch.drop_columns([join_on])
        yield batch


def profile_cache_location(
    config: EvaluationInput,
    options: RunOptions,
    reference: TableSource,
    roles: dict[str, Any],
    columns: list[str],
) -> str | None:
    """``<cache root>/profiles/<digest>.json``: the digest covers the reference files and how they are read.

    The cache root is ``--profile-cache`` if given, else the monitor's output location (``output.uri``, or
    the default next to the reference data); a local ``--output`` folder alone gets no cache.
    """
    root = options.profile_cache_uri
    if root is None and options.output_uri is None:
        if config.output_uri is not None:
            root = config.output_uri
        else:
            location = parse_location(config.reference_uri)
            if location.is_s3:
                root = f"s3://{location.bucket}/modelmonitor/{config.namespace}/{config.name}"
    if root is None:
        return None
    key = json.dumps(
        {
            "files": reference.files.fingerprint,
            "roles": roles,
            "columns": columns,
            "task": config.task,
            "version": PROFILE_VERSION,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
    return join_uri(root, "profiles", f"{digest}.json")


def _cached_profile(uri: str) -> ReferenceProfile | None:
    payload = read_bytes_if_exists(uri)
    if payload is None:
        return None
    try:
        return ReferenceProfile.from_dict(json.loads(payload))
    except (ValueError, KeyError, TypeError, EvaluatorError) as error:
        logger.warning("ignoring the unreadable cached profile %s (%s)", uri, type(error).__name__)
        return None


@dataclass
class PreparedRun:
    """Everything decided before the current data is read: sources, labels, the profile and the windows.

    A single-shard run, each shard of a sharded run and its reduce step all start here, so they agree on
    the profile, the windows and the columns read (``evaluator.sharding`` fixes ``as_of`` and the file
    lists for all of them).
    """

    config: EvaluationInput
    options: RunOptions
    started_at: datetime
    reference: TableSource
    current: TableSource
    labels: LabelIndex | None
    roles: ColumnRoles
    profile: ReferenceProfile
    profile_uri: str | None
    drift_window: TimeWindow | None
    performance_window: TimeWindow | None
    current_columns: list[str]
    target_column: str | None
    join_on: str | None
    segments: SegmentPlan | None = None  # spec.segments: the segments and their reference (issue 16)

    @property
    def delayed_labels(self) -> bool:
        labels = self.config.spec.data.labels
        return labels is not None and labels.delay is not None


@dataclass
class CurrentTally:
    """What one pass over (a slice of) the current data produced; shards' tallies merge into the run's."""

    accumulator: EvaluationAccumulator
    drift_accumulator: EvaluationAccumulator | None  # its own window only when labels are delayed
    rows: int
    labelled: int
    classes: set[str]
    drift_rows: int
    segments: SegmentTally | None = None  # spec.segments: per-segment accumulators of this pass
    null_timestamps: int = 0  # current rows left out of the window because their timestamp is null
    served_versions: ServedVersions | None = None  # spec.data.columns.version: rows per version in the window
    comparison: ChallengerStream | None = None  # spec.challenger's evidence from this pass
    step_profiles: dict[str, Any] | None = None  # how stored step profiles made up a long window (step_profiles.py)


def prepare_run(
    config: EvaluationInput,
    options: RunOptions,
    timings: dict[str, float] | None = None,
    *,
    current_files: ResolvedFiles | None = None,
    label_files: ResolvedFiles | None = None,
    profile_uri: str | None = None,
) -> PreparedRun:
    """Open the sources, check the schemas, load (or build and cache) the reference profile.

    ``current_files`` / ``label_files`` / ``profile_uri`` pin what a sharded run fixed in its plan, instead
    of listing the prefixes again (data may arrive while the shards run).
    """
    timings = timings if timings is not None else {}
    clock = time.perf_counter()
    arrow_without_pandas()
    started_at = datetime.now(UTC)
    data = config.spec.data
    reference = open_source(config.reference_uri, data.reference.format, "spec.data.reference")
    if current_files is not None:
        current = TableSource(current_files, data.current.format, "spec.data.current")
    else:
        current = open_source(config.current_uri, data.current.format, "spec.data.current")
    _check_schemas(config, reference, current)
    labels = None
    if data.labels is not None:
        if config.label_column is None:
            raise ConfigError(
                "spec.data.columns.target: must be set when spec.data.labels is set (the label column)",
            )
        labels = load_label_index(
            config.labels_uri or data.labels.uri, data.labels.format, data.labels.join_on, config.label_column,
            label_files,
        )
    timings["open"] = time.perf_counter() - clock

    roles = engine.roles_for(config, reference.schema)
    reference_columns = _needed_columns(config, reference, with_target=data.columns.target in reference.column_names)
    cache_uri = profile_uri or profile_cache_location(config, options, reference, roles.to_dict(), reference_columns)
    profile = _cached_profile(cache_uri) if cache_uri is not None else None
    if profile is None:
        text_features = engine.dictionary_columns(config, roles, reference.schema)
        profile = engine.build_profile(reference.factory(reference_columns, dictionary_columns=text_features),
                                       roles, config)
        if cache_uri is not None:
            write_bytes(cache_uri, profile.to_json(), "application/json")
    else:
        logger.info("reusing the reference profile cached at %s", cache_uri)
    if engine.profile_rows(profile) == 0:
        raise DataError(f"spec.data.reference.uri: no rows in {config.reference_uri}", reason="EmptyData")
    timings["profile"] = time.perf_counter() - clock - timings["open"]

    drift_window = TimeWindow.ending(options.as_of, config.window) if config.window else None
    delay = data.labels.delay if data.labels is not None else None
    if delay is not None and data.current.timestamp_column is None:
        raise ConfigError(
            "spec.data.current.timestampColumn: is required when spec.data.labels.delay is set",
            reason="TimestampColumnMissing",
        )
    performance_window = (
        TimeWindow.ending(options.as_of - delay, config.window) if delay is not None else drift_window
    )
    target_column = config.label_column
    join_on = data.labels.join_on if data.labels is not None else None
    current_columns = _needed_columns(config, current, with_target=False)
    segment_plan = prepare_segments(config.spec.segments, profile, reference, reference_columns, current_columns,
                                    cache_uri)
    if join_on is not None:
        current_columns.append(join_on)
    elif target_column and target_column in current.column_names:
        current_columns.append(target_column)
    comparison_key = challenger_key(config.spec)  # spec.challenger.data joins the challenger's outputs on it
    if comparison_key is not None and comparison_key not in current_columns:
        current_columns.append(comparison_key)
    timestamp_column = data.current.timestamp_column  # the comparison counts each row once across windows
    if config.spec.challenger is not None and timestamp_column and timestamp_column not in current_columns:
        current_columns.append(timestamp_column)
    version_column = data.columns.version  # counted per value in the evaluated window, then dropped
    if version_column and version_column not in current_columns:
        current_columns.append(version_column)
    return PreparedRun(
        config=config,
        options=options,
        started_at=started_at,
        reference=reference,
        current=current,
        labels=labels,
        roles=roles,
        profile=profile,
        profile_uri=cache_uri,
        drift_window=drift_window,
        performance_window=performance_window,
        current_columns=current_columns,
        target_column=target_column,
        join_on=join_on,
        segments=segment_plan,
    )


def accumulate_current(prepared: PreparedRun, source: TableSource | None = None) -> CurrentTally:
    """Stream the current data (``source``: a shard's slice; default: all of it) through the engine."""
    config = prepared.config
    current = source or prepared.current
    timestamp = config.spec.data.current.timestamp_column
    segments = None if prepared.segments is None else prepared.segments.new_tally(prepared.delayed_labels)

    performance_nulls, drift_nulls = RowCount(), RowCount()
    text_features = engine.dictionary_columns(config, prepared.roles, current.schema)

    def batches(window: TimeWindow | None, with_labels: bool) -> Iterator[pa.RecordBatch]:
        nulls = performance_nulls if with_labels else drift_nulls
        stream = current.batches(
            prepared.current_columns,
            timestamp_column=timestamp,
            window=window,
            null_timestamps=nulls,
            timestamp_unit=config.spec.data.current.timestamp_unit,
            dictionary_columns=text_features,
        )
        if with_labels:
            # an id spec.challenger.data joins on stays until the comparison has used it (it drops it then)
            kept = None if prepared.join_on == challenger_key(config.spec) else prepared.join_on
            labelled = _attach_labels(stream, prepared.labels, prepared.target_column, kept)
            return labelled if segments is None else segments.watch_performance(labelled)
        dropped = _drop(stream, prepared.join_on)
        return dropped if segments is None else segments.watch_drift(dropped)

    performance_stream = _LabelledStream(prepared.target_column, track_classes=config.task != "regression")
    accumulator = engine.new_accumulator(prepared.profile, prepared.roles, config)
    comparison = ChallengerStream.for_run(config.spec, prepared.profile, prepared.target_column)
    if comparison is not None:
        location = output_location(config, prepared.options) if prepared.options.write_outputs else None
        comparison.count_new_rows_only(location, prepared.performance_window)
    version_column = config.spec.data.columns.version
    served = ServedVersions(version_column) if version_column else None
    performance_batches = batches(prepared.performance_window, True)
    labelled_batches = performance_stream.watch(
        performance_batches if served is None else served.watch(performance_batches))
    engine.consume(accumulator, labelled_batches if comparison is None else comparison.watch(labelled_batches))
    drift_rows = performance_stream.rows
    drift_accumulator: EvaluationAccumulator | None = None
    if prepared.delayed_labels:
        drift_stream = _LabelledStream(None, track_classes=False)
        drift_accumulator = engine.new_accumulator(prepared.profile, prepared.roles, config)
        raw_drift = batches(prepared.drift_window, False)
        drift_batches = drift_stream.watch(raw_drift if version_column is None else _without(raw_drift, version_column))
        engine.consume(drift_accumulator, ChallengerStream.without_columns(drift_batches, config.spec))
        drift_rows = drift_stream.rows
    return CurrentTally(
        accumulator=accumulator,
        drift_accumulator=drift_accumulator,
        rows=performance_stream.rows,
        labelled=performance_stream.labelled,
        classes=performance_stream.classes,
        drift_rows=drift_rows,
        segments=segments,
        null_timestamps=drift_nulls.rows if prepared.delayed_labels else performance_nulls.rows,
        served_versions=served,
        comparison=comparison,
    )


def _without(batches: Iterator[pa.RecordBatch], column: str) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        index = batch.schema.get_field_index(column)
        yield batch if index < 0 else batch.remove_column(index)


def run_evaluation(config: EvaluationInput, options: RunOptions) -> EvaluationRun:
    """Evaluate once and, unless ``options.write_outputs`` is false, write result.json and report.html."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    prepared = prepare_run(config, options, timings)
    if options.step_profiles:  # a long window from stored step profiles, raw reads only where none is valid
        from modelmonitor.evaluator.step_profiles import accumulate_with_steps

        tally = accumulate_with_steps(prepared) or accumulate_current(prepared)
    else:
        tally = accumulate_current(prepared)
    timings["current"] = time.perf_counter() - clock - sum(timings.values())
    return conclude_run(prepared, tally, timings)


def conclude_run(prepared: PreparedRun, tally: CurrentTally, timings: dict[str, float] | None = None) -> EvaluationRun:
    """From the (merged) tally to the verdict and the three outputs; the same for one shard or many."""
    timings = timings if timings is not None else {}
    clock = time.perf_counter() - sum(timings.values())
    config, options = prepared.config, prepared.options
    reference, current, labels = prepared.reference, prepared.current, prepared.labels
    drift_window, performance_window = prepared.drift_window, prepared.performance_window
    spec = config.spec
    label_spec = spec.data.labels
    target_column = prepared.target_column
    classification = config.task != "regression"
    started_at = prepared.started_at
    reference_rows = engine.profile_rows(prepared.profile)
    drift_rows = tally.drift_rows
    window_note = "" if drift_window is None else f" in the window {drift_window.to_dict()}"
    if drift_rows == 0:
        raise DataError(f"spec.data.current.uri: no rows in {config.current_uri}{window_note}", reason="EmptyData")

    drift_accumulator = tally.drift_accumulator or tally.accumulator
    stats = engine.finalize(drift_accumulator, config)
    performance_stats = stats if tally.drift_accumulator is None else engine.finalize(tally.accumulator, config)
    timings["finalize"] = time.perf_counter() - clock - sum(timings.values())

    if tally.null_timestamps:
        logger.warning(
            "%s current rows have no %s: they are in no window and were left out",
            tally.null_timestamps,
            config.spec.data.current.timestamp_column,
        )
    rows = tally.rows
    labelled = tally.labelled
    coverage = labelled / rows if rows else 0.0
    needs_labels = bool(spec.metrics)
    # Labels of their own source (spec.data.labels) arrive over time: none matched yet is `pending`, and drift
    # is still judged. A target column in the current data itself that is empty throughout is bad data.
    if needs_labels and target_column and labelled == 0 and label_spec is None:
        raise DataError(
            f"spec.data.columns.target: no labels for any of the {rows} current rows (column {target_column!r} "
            f"in {config.current_uri}); metrics cannot be computed",
            reason="AllLabelsMissing",
        )
    min_coverage = label_spec.min_coverage if label_spec is not None else 0.0
    pending = labelled == 0 or coverage < min_coverage
    pending_reason: str | None = None
    if labelled == 0:
        pending_reason = f"labels have not arrived: none of the {rows} current rows has a label yet"
    elif coverage < min_coverage:
        pending_reason = (
            f"label coverage {coverage:.1%} ({labelled} of {rows} rows) is below spec.data.labels.minCoverage "
            f"{min_coverage:.1%}"
        )
    if needs_labels and classification and not pending and len(tally.classes) == 1:
        only = next(iter(tally.classes))
        raise DataError(
            f"spec.data.columns.target: only one class ({only!r}) is present in the {labelled} labelled rows; "
            "classification metrics need at least two",
            reason="SingleClass",
        )

    view = engine.view(stats, performance_stats, config)
    warnings = engine.data_warnings(config, reference.schema, prepared.profile, view.confusion_matrix, tally.classes)
    for warning in warnings:
        logger.warning("%s", warning)
    metrics = {} if pending else view.metrics
    verdict = decide_verdict(
        metric_rules=spec.metrics,
        metrics=metrics,
        metrics_pending=pending,
        pending_reason=pending_reason,
        drift=spec.drift,
        model_based=view.raw.get("modelBased") or [],
        features=view.features,
        drift_share=view.drift_share,
        drifted_count=view.drifted_count,
        feature_count=len(view.features),
    )
    segment_outcome = None
    if prepared.segments is not None and tally.segments is not None:
        segment_outcome = conclude_segments(prepared.segments, tally.segments, spec,
                                            pending_reason if pending else None)
        verdict = merge_verdict(verdict, segment_outcome.violations, segment_outcome.checks, pending,
                                bool(spec.metrics))
    location = output_location(config, options) if options.write_outputs else None
    comparison = conclude_comparison(tally.comparison, location, datetime.now(UTC), spec.model.version)
    result: dict[str, Any] = {
        "schemaVersion": RESULT_SCHEMA_VERSION,
        "kind": "ModelMonitorEvaluation",
        "runId": options.run_id,
        "outcome": "evaluated",
        "error": None,
        "monitor": {"namespace": config.namespace, "name": config.name},
        "model": {"name": spec.model.name, "version": spec.model.version, "task": config.task},
        "modelVersion": spec.model.version,
        "servedVersions": None if tally.served_versions is None else tally.served_versions.to_dict(),
        "asOf": iso(options.as_of),
        "startedAt": iso(started_at),
        "finishedAt": None,
        "data": {
            "reference": {
                "uri": config.reference_uri,
                "files": len(reference.files.paths),
                "bytes": reference.files.total_bytes,
            },
            "current": {
                "uri": config.current_uri,
                "files": len(current.files.paths),
                "bytes": current.files.total_bytes,
                "window": None if drift_window is None else drift_window.to_dict(),
                "nullTimestamps": tally.null_timestamps,
                "stepProfiles": tally.step_profiles,
            },
            "labels": None
            if label_spec is None
            else {
                "uri": config.labels_uri,
                "rows": labels.rows_read if labels else 0,
                "window": None if performance_window is None else performance_window.to_dict(),
            },
        },
        "rows": {"reference": reference_rows, "current": drift_rows, "labelled": labelled},
        "labels": {
            "coverage": round(coverage, 6),
            "pending": pending,
            "minCoverage": min_coverage,
            "performanceRows": rows,
        },
        "verdict": verdict.verdict,
        "violations": [violation.to_dict() for violation in verdict.violations],
        "rules": {
            "metrics": [
                {"name": rule.name, "min": rule.min, "max": rule.max, "severity": rule.severity}
                for rule in spec.metrics
            ],
            "drift": None if spec.drift is None else _drift_rules(spec.drift),
        },
        "checks": [check.to_dict() for check in verdict.checks],
        "metrics": metrics,
        "metricsPending": pending,
        "estimated": view.estimated,
        "confusionMatrix": None if pending else view.confusion_matrix,
        "drift": {
            "share": view.drift_share,
            "drifted": view.drifted_count,
            "featureCount": len(view.features),
            "datasetDrift": view.dataset_drift,
            "note": view.drift_note,
            "features": view.features,
        },
        "dataQuality": {**view.data_quality, "nullTimestamps": tally.null_timestamps},
        "warnings": warnings,
        "statistics": view.raw,
        "comparison": comparison,
        "segments": None if segment_outcome is None else segment_outcome.section,
        "reportUri": None if location is None else join_uri(location, "report.html"),
        "resultUri": None if location is None else join_uri(location, "result.json"),
    }
    result["finishedAt"] = iso(datetime.now(UTC))
    result = json_safe(result)
    report = render_report(result)
    timings["report"] = time.perf_counter() - clock - sum(timings.values())
    if location is not None:
        write_bytes(join_uri(location, "report.html"), report.encode("utf-8"), "text/html; charset=utf-8")
        write_bytes(
            join_uri(location, "result.json"),
            json.dumps(result, indent=1, allow_nan=False).encode("utf-8"),
            "application/json",
        )
    timings["write"] = time.perf_counter() - clock - sum(timings.values())
    logger.info(
        "evaluated %s rows against %s reference rows: %s (seconds: %s)",
        drift_rows,
        reference_rows,
        verdict.verdict,
        ", ".join(f"{step} {seconds:.2f}" for step, seconds in timings.items()),
    )
    return EvaluationRun(result=result, summary=build_summary(result), timings=timings)


def _drop(batches: Iterator[pa.RecordBatch], column: str | None) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield batch.drop_columns([column]) if column is not None and column in batch.schema.names else batch


def suggest_baseline(config: EvaluationInput) -> dict[str, Any]:
    """Profile the reference data and suggest thresholds for a monitor (``modelmonitor baseline``)."""
    spec = config.spec
    reference = open_source(config.reference_uri, spec.data.reference.format, "spec.data.reference")
    roles = engine.roles_for(config, reference.schema)
    columns = _needed_columns(config, reference, with_target=spec.data.columns.target in reference.column_names)
    profile = engine.build_profile(reference.factory(columns), roles, config)
    if engine.profile_rows(profile) == 0:
        raise DataError(f"spec.data.reference.uri: no rows in {config.reference_uri}", reason="EmptyData")
    suggested = profile.suggested_thresholds()
    metrics = _suggested_rules(suggested.get("metrics", []), "min", "max", "warning")
    critical = _suggested_rules(suggested.get("metrics", []), "criticalMin", "criticalMax", "critical")
    suggestions: dict[str, Any] = json_safe(
        {
            "reference": {"uri": config.reference_uri, "rows": engine.profile_rows(profile)},
            "referenceMetrics": suggested.get("metrics", []),
            "suggestedSpec": {
                "metrics": metrics + critical,
                "drift": _drift_rules(spec.drift or DriftSpec()),
            },
            "features": suggested.get("features", {}),
        }
    )
    return suggestions


def _drift_rules(drift: DriftSpec) -> dict[str, Any]:
    """``spec.drift`` as the result's ``rules.drift`` (and the baseline's suggestion) state it."""
    rules: dict[str, Any] = dump_value(drift)
    rules.pop("features", None)
    return rules


def _suggested_rules(items: list[dict[str, Any]], minimum: str, maximum: str, severity: str) -> list[dict[str, Any]]:
    """`spec.metrics` entries from the profile's suggestions, reading the given bounds, without empty ones."""
    rules = []
    for item in items:
        rule = {"name": item["name"], "min": _round_threshold(item.get(minimum)),
                "max": _round_threshold(item.get(maximum)), "severity": severity}
        rules.append({key: value for key, value in rule.items() if value is not None})
    return rules


def _round_threshold(value: Any) -> float | None:
    return None if value is None else float(f"{float(value):.4g}")
