"""Long windows from stored step profiles: a 30-day window merges 30 stored days instead of re-reading them.

Why: a monitor with ``window: 30d`` evaluated daily re-reads 29 days it has already read. The statistics
engine's state merges exactly (the very property sharded runs rely on: integer counts, exactly merged sums,
bottom-k samples keyed by row content), so the window's state is the merge of its days' states. Each
evaluation therefore stores, per complete step (a UTC day) of its window, the state of that step's rows in
the same format a shard's partial carries (``sharding.tally_to_state``), next to the cached reference
profile: ``<cache root>/profiles/steps/<settings digest>/<step start>.json``. The next evaluation reads
the stored steps, reads raw data only for steps without a valid stored state and for the partial steps at
the window's ends (the step still open, e.g. today), and merges. Parsing a stored state costs ~10 ms (its
score histograms hold thousands of bins), so the steps are also stored merged in blocks of 2, 4, ... 64
steps aligned to the epoch (``block-<n>-<start>.json``): a 30-day window reads about eight documents,
and a window moved on by a day reuses every block but those at its ends.

A stored step is used only when it provably holds what a raw read would give:

- *settings*: the directory is named by a digest of everything that shapes the state (the reference
  profile's fingerprint, which covers the reference data, its bins and the column roles; the state format
  versions; the task; the current data's columns, format, schema and timestamp settings; the columns read;
  the drift tests and features; the metric names; segments; the label source and its files). Another
  setting reads another directory, so nothing is silently mixed; the step document repeats the digest.
- *data*: a step document lists the files (path and version: S3 size, ETag and last-modified; locally size
  and mtime) whose timestamps reach into the step. The step is rebuilt from raw data when that list differs
  from the current one: a file that arrived late with rows for the step, a rewritten file, a deleted one.
  Which file reaches into which step comes from the file's first and last timestamp (and its null count),
  kept in ``spans-<digest>.json`` per file version: a new or changed file has its timestamp column read
  once; a known version is never read again unless a step it reaches into must be rebuilt. A block lists
  the files of each of its steps and is valid only when every step's list is current; an invalid block is
  rebuilt from its two halves (themselves stored), so late data for one day rewrites one day and the
  blocks above it.

All stored states are looked up before any data is read: a run whose missing steps would read more than
twice the bytes of a raw pass (one file holding the whole window is read once per step) reads raw instead.
Not used (the run reads raw data as before): windows shorter than two days, no timestamp column, delayed
labels (``spec.data.labels.delay``: performance and drift windows differ), ``spec.challenger``, a version
column, sharded runs, and a run without a cache location (a local ``--output`` alone).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from modelmonitor.api.parsing import dump_value
from modelmonitor.evaluator.data import FilePart, TableSource, TimeWindow, _as_utc_timestamps
from modelmonitor.evaluator.errors import EvaluatorError, StorageError
from modelmonitor.evaluator.run import CurrentTally, PreparedRun, accumulate_current
from modelmonitor.evaluator.sharding import merge_tallies, tally_from_state, tally_to_state
from modelmonitor.evaluator.stats.accumulator import STATE_VERSION
from modelmonitor.evaluator.stats.errors import StateMismatchError
from modelmonitor.evaluator.stats.profile import PROFILE_VERSION
from modelmonitor.evaluator.storage import join_uri, list_files, read_bytes_if_exists, write_bytes

__all__ = [
    "STEP_PROFILE_VERSION",
    "FileSpan",
    "Step",
    "StepReport",
    "accumulate_with_steps",
    "ineligible_reason",
    "plan_steps",
    "settings_digest",
    "step_length",
]

logger = logging.getLogger("modelmonitor.evaluator")

STEP_PROFILE_VERSION = 1
STEP_KIND = "ModelMonitorStepProfile"
BLOCK_KIND = "ModelMonitorStepBlock"
#: Merged blocks of up to 2**6 = 64 steps, so a long window reads a handful of documents, not one per day.
MAX_BLOCK_LEVEL = 6
#: A run that would read more than this many times the bytes of a raw pass (files reaching into many steps
#: to be built) reads its window raw instead, storing nothing.
MAX_READ_FACTOR = 2
SPANS_KIND = "ModelMonitorFileSpans"
DAY = timedelta(days=1)
#: Windows at least this long are assembled from daily steps; shorter ones are read raw.
MIN_STEPPED_WINDOW = 2 * DAY
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def step_length(window: timedelta | None) -> timedelta | None:
    """The step of a window: a UTC day for windows of two days or more, else none (read raw)."""
    return DAY if window is not None and window >= MIN_STEPPED_WINDOW else None


@dataclass(frozen=True)
class Step:
    """``[start, end)``; ``complete`` when it is a whole step inside the window (then it is stored)."""

    start: datetime
    end: datetime
    complete: bool

    @property
    def window(self) -> TimeWindow:
        return TimeWindow(self.start, self.end)

    @property
    def name(self) -> str:
        return _name(self.start)


def plan_steps(window: TimeWindow, step: timedelta) -> list[Step]:
    """The window cut at multiples of ``step`` since the epoch: whole steps, and partial ones at the ends."""
    if window.start is None or window.end is None:
        raise ValueError("a stepped window needs both ends")
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    steps: list[Step] = []
    cursor = start
    while cursor < end:
        aligned = _EPOCH + ((cursor - _EPOCH) // step) * step
        boundary = min(aligned + step, end)
        steps.append(Step(cursor, boundary, complete=cursor == aligned and boundary == aligned + step))
        cursor = boundary
    return steps


@dataclass(frozen=True)
class FileSpan:
    """One file version's timestamps: the first and last (epoch microseconds, ``None`` if all null), nulls."""

    version: str
    first: int | None
    last: int | None
    nulls: int
    rows: int

    def reaches(self, step: Step) -> bool:
        if self.first is None or self.last is None:
            return False
        return self.first < _micros(step.end) and self.last >= _micros(step.start)

    def to_list(self) -> list[Any]:
        return [self.version, self.first, self.last, self.nulls, self.rows]

    @staticmethod
    def from_list(item: Sequence[Any]) -> FileSpan:
        version, first, last, nulls, rows = item
        return FileSpan(str(version), None if first is None else int(first), None if last is None else int(last),
                        int(nulls), int(rows))


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass
class StepReport:
    """What the run did with its steps: the result's ``data.current.stepProfiles`` (and the tests' accounting)."""

    step: str
    location: str
    reused: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    read_raw: list[str] = field(default_factory=list)  # partial steps at the window's ends, read every run
    files_read: dict[str, int] = field(default_factory=dict)  # path -> bytes, each file once
    spans_scanned: list[str] = field(default_factory=list)
    documents_read: int = 0  # stored step and block documents looked up
    blocks_written: int = 0

    def read(self, path: str, version: str) -> None:
        self.files_read[path] = _size_of(version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "location": self.location,
            "reused": len(self.reused),
            "built": self.built,
            "documentsRead": self.documents_read,
            "blocksWritten": self.blocks_written,
            "readRaw": self.read_raw,
            "filesRead": len(self.files_read),
            "bytesRead": sum(self.files_read.values()),
        }


def _size_of(version: str) -> int:
    head = version.split(":", 1)[0]
    return int(head) if head.isdigit() else 0


def ineligible_reason(prepared: PreparedRun) -> str | None:
    """Why this run reads its window raw (``None``: stored step profiles apply)."""
    config = prepared.config
    spec = config.spec
    if step_length(config.window) is None:
        return "the window is shorter than two days"
    if prepared.profile_uri is None:
        return "no cache location (set output.uri or --profile-cache)"
    if spec.data.labels is not None and spec.data.labels.delay is not None:
        return "delayed labels evaluate performance on another window"
    if spec.challenger is not None:
        return "spec.challenger counts rows across runs"
    if spec.data.columns.version:
        return "spec.data.columns.version counts served versions per window"
    if prepared.drift_window is None or prepared.drift_window.start is None:
        return "no window"
    return None


def settings_digest(prepared: PreparedRun, step: timedelta) -> str:
    """A digest of everything that shapes a step's accumulated state (see the module docstring)."""
    config = prepared.config
    spec = config.spec
    drift = spec.drift
    labels = spec.data.labels
    key = {
        "versions": [STEP_PROFILE_VERSION, STATE_VERSION, PROFILE_VERSION],
        "profile": prepared.profile.fingerprint,
        "task": config.task,
        "roles": prepared.roles.to_dict(),
        "columns": dump_value(spec.data.columns),
        "current": {
            "uri": config.current_uri,  # monitors sharing a cache root keep apart
            "format": spec.data.current.format,
            "timestampColumn": spec.data.current.timestamp_column,
            "timestampUnit": spec.data.current.timestamp_unit,
            "schema": [[name, str(kind)] for name, kind in zip(prepared.current.schema.names,
                                                               prepared.current.schema.types, strict=True)],
        },
        "read": list(prepared.current_columns),
        "drift": None if drift is None else {"tests": list(drift.tests), "features": list(drift.features)},
        "metrics": sorted(rule.name for rule in spec.metrics),
        "segments": None if spec.segments is None else dump_value(spec.segments),
        "labels": None if labels is None else {
            "spec": dump_value(labels),
            "files": _label_fingerprint(prepared),
        },
        "step": step.total_seconds(),
    }
    text = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _label_fingerprint(prepared: PreparedRun) -> str | None:
    """The label files' names and versions (one listing): labels that arrive change every step's metrics."""
    uri = prepared.config.labels_uri
    return None if uri is None else list_files(uri, "spec.data.labels").fingerprint


def _steps_root(prepared: PreparedRun) -> str:
    """``<cache root>/profiles/steps``: beside the cached reference profile (``<cache root>/profiles/<d>.json``)."""
    profile_uri = prepared.profile_uri or ""
    return join_uri(profile_uri.rsplit("/", 1)[0], "steps")


def _slice(prepared: PreparedRun, paths: Sequence[str]) -> TableSource:
    """The current data restricted to whole files, keeping the dataset's schema (no footer read for it)."""
    source = prepared.current
    parts: list[FilePart] = [(path, None) for path in paths]
    if getattr(source, "_text_dataset", None) is not None:  # CSV / JSON lines: a dataset of these files
        return TableSource(source.files, prepared.config.spec.data.current.format, source.field_path, parts=parts)
    sliced = copy.copy(source)  # Parquet: the same source reading only these files
    sliced._parts = parts
    return sliced


def _scan_span(prepared: PreparedRun, path: str, version: str) -> FileSpan:
    """Read one file's timestamp column only: its first and last time, null and row counts."""
    current = prepared.config.spec.data.current
    column = current.timestamp_column or ""
    source = _slice(prepared, [path])
    first: int | None = None
    last: int | None = None
    nulls = rows = 0
    for batch in source.batches([column]):
        values = batch.column(column)
        rows += batch.num_rows
        nulls += values.null_count
        if values.null_count == len(values):
            continue
        stamps = _as_utc_timestamps(values, column, f"s3://{path}" if source.files.location.is_s3 else path,
                                    current.timestamp_unit)
        micros = pc.cast(pc.cast(stamps, pa.timestamp("us", tz="UTC"), safe=False), pa.int64())
        bounds = pc.min_max(micros)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        first = low if first is None else min(first, low)
        last = high if last is None else max(last, high)
    return FileSpan(version, first, last, nulls, rows)


def _load_json(uri: str) -> dict[str, Any] | None:
    payload = read_bytes_if_exists(uri)
    if payload is None:
        return None
    try:
        document = json.loads(payload)
    except ValueError:
        logger.warning("ignoring the unreadable stored profile %s", uri)
        return None
    return document if isinstance(document, dict) else None


def _spans(prepared: PreparedRun, root: str, report: StepReport) -> dict[str, FileSpan]:
    """Every current file's span: known versions from the stored spans, new or changed files scanned."""
    current = prepared.config.spec.data.current
    key = json.dumps([prepared.config.current_uri, current.timestamp_column, current.timestamp_unit, current.format,
                      STEP_PROFILE_VERSION])
    uri = join_uri(root, f"spans-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json")
    stored: dict[str, FileSpan] = {}
    document = _load_json(uri)
    if document is not None and document.get("kind") == SPANS_KIND and document.get("version") == 1:
        try:
            stored = {str(path): FileSpan.from_list(item) for path, item in document["files"].items()}
        except (KeyError, TypeError, ValueError):
            stored = {}
    files = prepared.current.files
    spans: dict[str, FileSpan] = {}
    for path, version in zip(files.paths, files.versions, strict=True):
        known = stored.get(path)
        if known is not None and known.version == version:
            spans[path] = known
            continue
        spans[path] = _scan_span(prepared, path, version)
        report.spans_scanned.append(path)
        report.read(path, version)
    if report.spans_scanned or set(stored) != set(spans):
        payload: dict[str, Any] = {"version": 1, "kind": SPANS_KIND,
                                   "files": {path: span.to_list() for path, span in spans.items()}}
        _store(uri, payload)
    return spans


def _restored(prepared: PreparedRun, document: dict[str, Any] | None, kind: str, digest: str,
              listed: Any) -> CurrentTally | None:
    """A stored state, if it is of this kind, version and settings and covers exactly ``listed`` files."""
    if document is None:
        return None
    if (document.get("kind") != kind or document.get("version") != STEP_PROFILE_VERSION
            or document.get("settings") != digest or document.get("files") != listed):
        return None
    try:
        return tally_from_state(document["tally"], prepared.profile, prepared.segments, prepared.delayed_labels)
    except (StateMismatchError, EvaluatorError, KeyError, TypeError, ValueError) as error:
        logger.warning("rebuilding a stored step profile that does not restore (%s)", type(error).__name__)
        return None


def aligned_blocks(first: int, end: int, largest: int = MAX_BLOCK_LEVEL) -> list[tuple[int, int]]:
    """Steps ``first .. end - 1`` (numbered since the epoch) as aligned blocks ``(level, first step)``.

    A block of level ``k`` holds ``2**k`` steps and starts at a multiple of ``2**k``; the cover is greedy
    (the largest block that starts here and fits), so a 30-step window needs at most ~2 log2(30) blocks and
    a window moved by one step reuses all but the blocks at its ends.
    """
    blocks: list[tuple[int, int]] = []
    cursor = first
    while cursor < end:
        level = largest
        while level > 0 and (cursor % (1 << level) or cursor + (1 << level) > end):
            level -= 1
        blocks.append((level, cursor))
        cursor += 1 << level
    return blocks


@dataclass
class _Window:
    """One run's complete steps: which files reach into each, where their states are stored."""

    prepared: PreparedRun
    digest: str
    location: str
    step: timedelta
    files_by_step: dict[int, list[list[str]]]
    report: StepReport
    restored: dict[tuple[int, int], CurrentTally] = field(default_factory=dict)

    def moment(self, number: int) -> datetime:
        return _EPOCH + number * self.step

    def _describe(self, level: int, first: int) -> tuple[str, Any, str, str]:
        """A block's name, its per-step file lists (a step: its own list), its kind and where it is stored."""
        size = 1 << level
        name = _name(self.moment(first))
        listed: Any = self.files_by_step[first] if level == 0 else {
            _name(self.moment(number)): self.files_by_step[number] for number in range(first, first + size)}
        kind = STEP_KIND if level == 0 else BLOCK_KIND
        file_name = f"{name}.json" if level == 0 else f"block-{size}-{name}.json"
        return name, listed, kind, join_uri(self.location, file_name)

    def _empty(self, level: int, first: int) -> bool:
        """No file reaches into these steps: no rows, nothing to read or store."""
        return all(not self.files_by_step[number] for number in range(first, first + (1 << level)))

    def resolve(self, level: int, first: int) -> list[int]:
        """Look the block up (then its halves): the steps that must be read raw; valid stored states are kept."""
        if self._empty(level, first):
            return []
        _, listed, kind, uri = self._describe(level, first)
        self.report.documents_read += 1
        stored = _restored(self.prepared, _load_json(uri), kind, self.digest, listed)
        if stored is not None:
            self.restored[(level, first)] = stored
            self.report.reused.extend(_name(self.moment(number)) for number in range(first, first + (1 << level))
                                      if self.files_by_step[number])
            return []
        if level == 0:
            return [first]
        half = 1 << (level - 1)
        return self.resolve(level - 1, first) + self.resolve(level - 1, first + half)

    def assemble(self, level: int, first: int) -> CurrentTally | None:
        """The block's state after :meth:`resolve`: restored, or read / merged from its halves and stored."""
        if self._empty(level, first):
            return None
        if (level, first) in self.restored:
            return self.restored.pop((level, first))
        name, listed, kind, uri = self._describe(level, first)
        start, end = self.moment(first), self.moment(first + (1 << level))
        if level == 0:
            tally = _read_raw(self.prepared, Step(start, end, complete=True), listed, self.report)
            self.report.built.append(name)
        else:
            half = 1 << (level - 1)
            present = [part for part in (self.assemble(level - 1, first), self.assemble(level - 1, first + half))
                       if part is not None]
            tally = merge_tallies(present) if len(present) > 1 else present[0]
            self.report.blocks_written += 1
        _store(uri, {"version": STEP_PROFILE_VERSION, "kind": kind, "settings": self.digest,
                     "step": TimeWindow(start, end).to_dict(), "files": listed, "tally": tally_to_state(tally)})
        return tally


def _name(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")


def _store(uri: str, document: dict[str, Any]) -> None:
    """Store a state for later runs; a store that refuses costs those runs a raw read, not this run its result."""
    try:
        write_bytes(uri, json.dumps(document, allow_nan=False).encode("utf-8"), "application/json")
    except StorageError as error:
        logger.warning("could not store the step profile %s (%s): later runs will read that data again",
                       uri, error.reason)


def _read_raw(prepared: PreparedRun, piece: Step, listed: list[list[str]], report: StepReport) -> CurrentTally:
    """The rows of ``piece`` from the files that reach into it (and only those)."""
    windowed = replace(prepared, drift_window=piece.window, performance_window=piece.window)
    tally = accumulate_current(windowed, _slice(prepared, [path for path, _ in listed]))
    for path, version in listed:
        report.read(path, version)
    return tally


def accumulate_with_steps(prepared: PreparedRun) -> CurrentTally | None:
    """The window's tally from stored step profiles plus raw reads; ``None`` when steps do not apply."""
    reason = ineligible_reason(prepared)
    if reason is not None:
        logger.debug("reading the window raw: %s", reason)
        return None
    step = step_length(prepared.config.window)
    assert step is not None and prepared.drift_window is not None
    root = _steps_root(prepared)
    digest = settings_digest(prepared, step)
    location = join_uri(root, digest)
    report = StepReport(step="1d", location=location)
    spans = _spans(prepared, root, report)
    files = prepared.current.files

    def reaching(piece: Step) -> list[list[str]]:
        return [[path, version] for path, version in zip(files.paths, files.versions, strict=True)
                if spans[path].reaches(piece)]

    pieces = plan_steps(prepared.drift_window, step)
    partial = [(piece, listed) for piece in pieces if not piece.complete and (listed := reaching(piece))]
    complete = [piece for piece in pieces if piece.complete]
    numbers = [(piece.start - _EPOCH) // step for piece in complete]
    window = _Window(prepared, digest, location, step,
                     {number: reaching(piece) for number, piece in zip(numbers, complete, strict=True)}, report)
    blocks = aligned_blocks(numbers[0], numbers[-1] + 1) if numbers else []
    to_read = [window.files_by_step[number] for level, first in blocks for number in window.resolve(level, first)]
    to_read += [listed for _, listed in partial]
    planned = sum(_size_of(version) for listed in to_read for _, version in listed)
    if len(to_read) > 1 and planned > MAX_READ_FACTOR * files.total_bytes:
        # files that reach into many steps to be built (one file holding the whole window, rewritten daily):
        # a step at a time would read them once per step, where one raw pass reads every file once
        logger.info("reading the window raw: building its steps would read %s bytes, a raw pass %s",
                    planned, files.total_bytes)
        return None
    tallies: list[CurrentTally] = []
    for piece, listed in partial:  # the partial steps at the window's ends
        tallies.append(_read_raw(prepared, piece, listed, report))
        report.read_raw.append(piece.name)
    for level, first in blocks:
        block = window.assemble(level, first)
        if block is not None:
            tallies.append(block)
    if not tallies:
        return None  # nothing in the window: the raw pass reports it as usual
    merged = merge_tallies(tallies)
    merged.null_timestamps = sum(spans[path].nulls for path in files.paths)
    merged.step_profiles = report.to_dict()
    logger.info(
        "window from %s stored step profile(s) (%s documents), %s rebuilt, %s partial step(s) read raw; "
        "%s file(s) read", len(report.reused), report.documents_read, len(report.built), len(report.read_raw),
        len(report.files_read),
    )
    return merged
