"""Sharded evaluation: each index of an Indexed Job evaluates a slice, a reduce step merges the slices.

Why it is exact: the statistics engine's accumulators merge exactly (integer counts, compensated sums,
bottom-k samples keyed by row content), so the merged state of N slices finalises to the very result of one
pass over the whole. What this module adds is agreement: every shard and the reduce must see the same
files, the same time windows and the same reference profile, although they start at different moments on a
prefix where data may keep arriving. The first shard to start writes a *run plan* next to the run's outputs
(``<output>/<run id>/partials/plan.json``, created only if absent: S3 ``If-None-Match: *``, ``O_EXCL``
locally); it pins ``asOf``, the current and label files (with their versions), the cached profile and each
shard's slice. Every other shard, a retried shard and the reduce read that plan instead of deciding again.

A shard writes ``partials/partial-<index>.json`` (its accumulators' state and counts) and a summary with
``"outcome": "partial"``; a retried shard overwrites its own partial, so retries never double-count. The
reduce (``modelmonitor reduce``) merges the partials in index order and writes the same result.json,
report.html and summary a single-shard run writes.

Slices are decided by :func:`plan_slices`: the files sorted by key, split into contiguous runs of files;
when there are fewer files than shards, Parquet files are split by row groups instead.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from modelmonitor.evaluator.challenger import ChallengerStream
from modelmonitor.evaluator.data import FilePart, TableSource
from modelmonitor.evaluator.errors import ConfigError, DataError, StorageError
from modelmonitor.evaluator.inputs import EvaluationInput, format_of_path
from modelmonitor.evaluator.run import (
    CurrentTally,
    EvaluationRun,
    PreparedRun,
    RunOptions,
    accumulate_current,
    conclude_run,
    iso,
    output_location,
    prepare_run,
)
from modelmonitor.evaluator.segments.pipeline import SegmentPlan
from modelmonitor.evaluator.stats.accumulator import EvaluationAccumulator
from modelmonitor.evaluator.stats.errors import StateMismatchError
from modelmonitor.evaluator.stats.profile import ReferenceProfile
from modelmonitor.evaluator.storage import (
    ResolvedFiles,
    join_uri,
    list_files,
    parse_location,
    read_bytes_if_exists,
    s3_client,
    s3_filesystem,
    write_bytes,
)

__all__ = [
    "PARTIAL_OUTCOME",
    "SHARD_COUNT_ENV",
    "SHARD_INDEX_ENV",
    "RunPlan",
    "Shard",
    "merge_tallies",
    "partial_uri",
    "plan_slices",
    "run_reduce",
    "run_shard",
    "shard_from_environment",
    "tally_from_state",
    "tally_to_state",
]

logger = logging.getLogger("modelmonitor.evaluator")

SHARD_INDEX_ENV = "MODELMONITOR_SHARD_INDEX"
SHARD_COUNT_ENV = "MODELMONITOR_SHARD_COUNT"
PARTIAL_OUTCOME = "partial"
PLAN_VERSION = 1
PARTIAL_VERSION = 1


@dataclass(frozen=True)
class Shard:
    index: int
    count: int


def shard_from_environment(environment: Mapping[str, str]) -> Shard | None:
    """The shard this process evaluates (an Indexed Job sets both variables), or ``None`` for a whole run."""
    index_text, count_text = environment.get(SHARD_INDEX_ENV), environment.get(SHARD_COUNT_ENV)
    if not index_text and not count_text:
        return None
    try:
        index, count = int(index_text or ""), int(count_text or "")
    except ValueError:
        raise ConfigError(
            f"{SHARD_INDEX_ENV}={index_text!r} and {SHARD_COUNT_ENV}={count_text!r}: must both be whole numbers",
            reason="BadShard",
        ) from None
    if count < 1 or not 0 <= index < count:
        raise ConfigError(
            f"{SHARD_INDEX_ENV}={index}: must be at least 0 and below {SHARD_COUNT_ENV}={count}", reason="BadShard"
        )
    return None if count == 1 else Shard(index, count)


# --------------------------------------------------------------------------------------------- slicing


def _split_evenly(count: int, shards: int) -> list[range]:
    """``shards`` contiguous ranges over ``range(count)`` whose lengths differ by at most one."""
    return [range(index * count // shards, (index + 1) * count // shards) for index in range(shards)]


def plan_slices(paths: Sequence[str], row_groups: Sequence[int] | None, shards: int) -> list[list[FilePart]]:
    """Each shard's files (or Parquet row groups): deterministic, disjoint, and together the whole input.

    ``paths`` must be sorted. With at least as many files as shards, each shard takes a contiguous run of
    whole files. With fewer files, ``row_groups`` (the row-group count of each file, Parquet only) lets the
    row groups be split instead; without it the last shards get nothing to read.
    """
    if shards < 1:
        raise ValueError("shards must be at least 1")
    if len(paths) >= shards or row_groups is None:
        return [[(paths[position], None) for position in positions] for positions in _split_evenly(len(paths), shards)]
    units = [(path, group) for path, groups in zip(paths, row_groups, strict=True) for group in range(groups)]
    slices: list[list[FilePart]] = []
    for positions in _split_evenly(len(units), shards):
        parts: list[FilePart] = []
        for path, group in (units[position] for position in positions):
            if parts and parts[-1][0] == path:
                previous = parts[-1][1] or ()
                parts[-1] = (path, (*previous, group))
            else:
                parts.append((path, (group,)))
        slices.append(parts)
    return slices


# --------------------------------------------------------------------------------------------- the run plan


def _files_to_dict(files: ResolvedFiles) -> dict[str, Any]:
    return {
        "uri": files.location.uri,
        "paths": list(files.paths),
        "versions": list(files.versions),
        "totalBytes": files.total_bytes,
    }


def _files_from_dict(document: Mapping[str, Any]) -> ResolvedFiles:
    location = parse_location(str(document["uri"]))
    filesystem: pafs.FileSystem = s3_filesystem() if location.is_s3 else pafs.LocalFileSystem()
    return ResolvedFiles(
        location=location,
        filesystem=filesystem,
        paths=tuple(str(path) for path in document["paths"]),
        total_bytes=int(document["totalBytes"]),
        versions=tuple(str(version) for version in document["versions"]),
    )


@dataclass
class RunPlan:
    """What every shard and the reduce of one run agree on (see the module docstring)."""

    run_id: str
    shards: int
    as_of: datetime
    started_at: datetime
    current: ResolvedFiles
    labels: ResolvedFiles | None
    profile_uri: str | None
    profile_fingerprint: str
    slices: list[list[FilePart]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "runId": self.run_id,
            "shards": self.shards,
            "asOf": self.as_of.astimezone(UTC).isoformat(),
            "startedAt": iso(self.started_at),
            "current": _files_to_dict(self.current),
            "labels": None if self.labels is None else _files_to_dict(self.labels),
            "profile": {"uri": self.profile_uri, "fingerprint": self.profile_fingerprint},
            "slices": [[[path, None if groups is None else list(groups)] for path, groups in parts]
                       for parts in self.slices],
        }

    @staticmethod
    def from_dict(document: Mapping[str, Any]) -> RunPlan:
        if document.get("version") != PLAN_VERSION:
            raise DataError(f"run plan version {document.get('version')!r} is not supported", reason="BadPlan")
        return RunPlan(
            run_id=str(document["runId"]),
            shards=int(document["shards"]),
            as_of=datetime.fromisoformat(str(document["asOf"])),
            started_at=datetime.fromisoformat(str(document["startedAt"]).replace("Z", "+00:00")),
            current=_files_from_dict(document["current"]),
            labels=None if document.get("labels") is None else _files_from_dict(document["labels"]),
            profile_uri=document["profile"]["uri"],
            profile_fingerprint=str(document["profile"]["fingerprint"]),
            slices=[[(str(path), None if groups is None else tuple(int(g) for g in groups)) for path, groups in parts]
                    for parts in document["slices"]],
        )


def _partials_location(config: EvaluationInput, options: RunOptions) -> str:
    location = output_location(config, options)
    if location is None:
        raise ConfigError(
            "output.uri: a sharded evaluation needs an output location for its partial results "
            "(set output.uri, or use S3 reference data, or pass --output)",
            reason="OutputMissing",
        )
    return join_uri(location, "partials")


def partial_uri(partials: str, index: int) -> str:
    return join_uri(partials, f"partial-{index}.json")


def _create_if_absent(uri: str, payload: bytes) -> bool:
    """Write ``uri`` only if nothing is there yet; ``False`` when another writer was first."""
    location = parse_location(uri)
    if location.is_s3:
        from botocore.exceptions import ClientError

        try:
            s3_client().put_object(
                Bucket=location.bucket or "", Key=location.key, Body=payload,
                ContentType="application/json", IfNoneMatch="*",
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code"))
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                return False
            raise StorageError(f"cannot write {uri}: S3 error {code}", reason=code) from None
        return True
    os.makedirs(os.path.dirname(location.key) or ".", exist_ok=True)
    try:
        descriptor = os.open(location.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(payload)
    return True


def _read_plan(uri: str) -> RunPlan | None:
    payload = read_bytes_if_exists(uri)
    return None if payload is None else RunPlan.from_dict(json.loads(payload))


def _row_group_counts(files: ResolvedFiles, format_name: str | None) -> list[int] | None:
    """Row groups per file when the files are Parquet (read from each footer), else ``None``."""
    name = format_name or next((found for found in map(format_of_path, files.paths) if found), "parquet")
    if name != "parquet":
        return None
    return [pq.read_metadata(path, filesystem=files.filesystem).num_row_groups for path in files.paths]


def _agree_on_plan(
    config: EvaluationInput, options: RunOptions, shards: int, timings: dict[str, float]
) -> tuple[RunPlan, PreparedRun]:
    """Read the run's plan, or make it (listing the data, profiling the reference) if this shard is first."""
    plan_uri = join_uri(_partials_location(config, options), "plan.json")
    plan = _read_plan(plan_uri)
    if plan is None:
        labels = None if config.labels_uri is None else list_files(config.labels_uri, "spec.data.labels")
        prepared = prepare_run(config, options, timings, label_files=labels)
        current = prepared.current.files
        current_format = config.spec.data.current.format
        groups = _row_group_counts(current, current_format) if len(current.paths) < shards else None
        proposal = RunPlan(
            run_id=options.run_id,
            shards=shards,
            as_of=options.as_of,
            started_at=prepared.started_at,
            current=current,
            labels=labels,
            profile_uri=prepared.profile_uri,
            profile_fingerprint=prepared.profile.fingerprint,
            slices=plan_slices(current.paths, groups, shards),
        )
        if _create_if_absent(plan_uri, json.dumps(proposal.to_dict()).encode("utf-8")):
            logger.info("wrote the run plan %s", plan_uri)
            return proposal, prepared
        plan = _read_plan(plan_uri)
        if plan is None:
            raise StorageError(f"the run plan {plan_uri} vanished after another shard wrote it", reason="PlanMissing")
    _check_shard_count(plan, shards, plan_uri)
    return plan, _prepare_from_plan(config, options, plan, timings)


def _check_shard_count(plan: RunPlan, shards: int, plan_uri: str) -> None:
    if plan.shards != shards:
        raise ConfigError(
            f"{SHARD_COUNT_ENV}={shards}, but the run plan {plan_uri} was made for {plan.shards} shards",
            reason="BadShard",
        )


def _prepare_from_plan(
    config: EvaluationInput, options: RunOptions, plan: RunPlan, timings: dict[str, float]
) -> PreparedRun:
    pinned = RunOptions(
        run_id=options.run_id, as_of=plan.as_of, output_uri=options.output_uri,
        output_is_final=options.output_is_final, write_outputs=options.write_outputs,
        profile_cache_uri=options.profile_cache_uri,
    )
    prepared = prepare_run(config, pinned, timings, current_files=plan.current, label_files=plan.labels,
                           profile_uri=plan.profile_uri)
    if prepared.profile.fingerprint != plan.profile_fingerprint:
        raise DataError(
            f"spec.data.reference.uri: the reference data changed during run {plan.run_id} (its profile differs "
            "from the one the run plan pinned); the next run will use the new reference",
            reason="ReferenceChanged",
        )
    prepared.started_at = plan.started_at
    return prepared


# --------------------------------------------------------------------------------------------- partial state


def tally_to_state(tally: CurrentTally) -> dict[str, Any]:
    return {
        "accumulator": tally.accumulator.to_state(),
        "driftAccumulator": None if tally.drift_accumulator is None else tally.drift_accumulator.to_state(),
        "rows": tally.rows,
        "labelled": tally.labelled,
        "classes": sorted(tally.classes),
        "driftRows": tally.drift_rows,
        "segments": None if tally.segments is None else tally.segments.to_state(),
        "nullTimestamps": tally.null_timestamps,
        "comparison": None if tally.comparison is None else tally.comparison.to_state(),
    }


def tally_from_state(
    state: Mapping[str, Any], profile: ReferenceProfile, segments: SegmentPlan | None = None,
    delayed_labels: bool = False, comparison: ChallengerStream | None = None,
) -> CurrentTally:
    """A shard's tally; ``comparison`` is an empty stream for spec.challenger that takes the shard's evidence."""
    drift_state = state.get("driftAccumulator")
    if comparison is not None:
        comparison.restore(state.get("comparison"))
    return CurrentTally(
        accumulator=EvaluationAccumulator.from_state(dict(state["accumulator"]), profile),
        drift_accumulator=None if drift_state is None else EvaluationAccumulator.from_state(dict(drift_state), profile),
        rows=int(state["rows"]),
        labelled=int(state["labelled"]),
        classes={str(name) for name in state["classes"]},
        drift_rows=int(state["driftRows"]),
        segments=None if segments is None else segments.tally_from_state(state.get("segments"), delayed_labels),
        null_timestamps=int(state.get("nullTimestamps", 0)),
        comparison=comparison,
    )


def merge_tallies(tallies: Sequence[CurrentTally]) -> CurrentTally:
    """The tallies of all shards as one, merged in index order (the merge is exact in any order)."""
    first, *rest = tallies
    merged = CurrentTally(
        accumulator=first.accumulator, drift_accumulator=first.drift_accumulator, rows=first.rows,
        labelled=first.labelled, classes=set(first.classes), drift_rows=first.drift_rows, segments=first.segments,
        null_timestamps=first.null_timestamps, comparison=first.comparison,
    )
    for tally in rest:
        merged.accumulator.merge(tally.accumulator)
        if merged.drift_accumulator is not None and tally.drift_accumulator is not None:
            merged.drift_accumulator.merge(tally.drift_accumulator)
        merged.rows += tally.rows
        merged.labelled += tally.labelled
        merged.classes |= tally.classes
        merged.drift_rows += tally.drift_rows
        if merged.segments is not None and tally.segments is not None:
            merged.segments.merge(tally.segments)
        merged.null_timestamps += tally.null_timestamps
        if merged.comparison is not None and tally.comparison is not None:
            merged.comparison.merge(tally.comparison)
    return merged


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


# --------------------------------------------------------------------------------------------- shard and reduce


def run_shard(config: EvaluationInput, options: RunOptions, shard: Shard) -> dict[str, Any]:
    """Evaluate this shard's slice and write its partial; returns the summary for the termination log."""
    clock = time.perf_counter()
    timings: dict[str, float] = {}
    plan, prepared = _agree_on_plan(config, options, shard.count, timings)
    parts = plan.slices[shard.index]
    source = TableSource(plan.current, config.spec.data.current.format, "spec.data.current", parts=parts)
    tally = accumulate_current(prepared, source)
    timings["current"] = time.perf_counter() - clock - sum(timings.values())
    partials = _partials_location(config, options)
    uri = partial_uri(partials, shard.index)
    document = {
        "version": PARTIAL_VERSION,
        "kind": "ModelMonitorPartial",
        "runId": options.run_id,
        "shard": {"index": shard.index, "count": shard.count},
        "parts": [[path, None if groups is None else list(groups)] for path, groups in parts],
        "profile": prepared.profile.fingerprint,
        "tally": tally_to_state(tally),
    }
    write_bytes(uri, json.dumps(document, allow_nan=False).encode("utf-8"), "application/json")
    timings["write"] = time.perf_counter() - clock - sum(timings.values())
    logger.info(
        "shard %s/%s: %s rows from %s file part(s) (seconds: %s)", shard.index, shard.count, tally.rows,
        len(parts), ", ".join(f"{step} {seconds:.2f}" for step, seconds in timings.items()),
    )
    return {
        "schemaVersion": 1,
        "runId": options.run_id,
        "outcome": PARTIAL_OUTCOME,
        "error": None,
        "modelVersion": config.spec.model.version,
        "startedAt": iso(plan.started_at),
        "finishedAt": iso(datetime.now(UTC)),
        "shard": {"index": shard.index, "count": shard.count, "fileParts": len(parts)},
        "rows": {"current": tally.drift_rows, "labelled": tally.labelled},
        "partialUri": uri,
        "peakRssBytes": peak_rss_bytes(),
        "seconds": {step: round(seconds, 3) for step, seconds in timings.items()},
    }


def run_reduce(config: EvaluationInput, options: RunOptions) -> EvaluationRun:
    """Merge the run's partials (all of them must exist) and conclude as a single-shard run would."""
    clock = time.perf_counter()
    timings: dict[str, float] = {}
    partials = _partials_location(config, options)
    plan = _read_plan(join_uri(partials, "plan.json"))
    if plan is None:
        raise StorageError(
            f"run {options.run_id}: no run plan under {partials} (did the shards of this run start?)",
            reason="PlanMissing",
        )
    prepared = _prepare_from_plan(config, options, plan, timings)
    tallies = []
    for index in range(plan.shards):
        payload = read_bytes_if_exists(partial_uri(partials, index))
        if payload is None:
            raise StorageError(
                f"run {options.run_id}: shard {index} of {plan.shards} wrote no partial result "
                f"({partial_uri(partials, index)})",
                reason="PartialMissing",
            )
        document = json.loads(payload)
        try:
            challenger = ChallengerStream.for_run(config.spec, prepared.profile, prepared.target_column)
            if challenger is not None:  # the stored evidence then covers rows up to this run's window end
                challenger.count_new_rows_only(output_location(config, options), prepared.performance_window)
            tallies.append(tally_from_state(document["tally"], prepared.profile, prepared.segments,
                                            prepared.delayed_labels, challenger))
        except StateMismatchError as error:
            raise DataError(f"run {options.run_id}: shard {index}: {error.message}", reason="PartialMismatch") from None
    timings["merge"] = time.perf_counter() - clock - sum(timings.values())
    run = conclude_run(prepared, merge_tallies(tallies), timings)
    run.summary["shards"] = plan.shards
    return run
