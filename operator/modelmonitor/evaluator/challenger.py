"""The evaluator's edge of ``spec.challenger``: feed the comparison while the current data streams, keep its evidence.

The statistics (``evaluator.comparison``) are pure; this module does the two things around them that touch
the run: it watches the labelled stream the engine already reads (one pass, no second read of the data) and
turns each Arrow batch into the arrays the comparison adds, and at the end of the run it merges the evidence
with what earlier runs stored beside the results (``<monitor output>/comparison/state.json``), decides, and
writes the merged evidence back. Rows without a label yet feed the CBPE estimates only; rows where either
model's output is missing are counted and left out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from modelmonitor.api.model import ChallengerData, ChallengerSpec, MonitorSpec
from modelmonitor.evaluator.comparison import (
    ComparisonSettings,
    ModelOutputs,
    PairedComparison,
    SplitComparison,
    accumulate,
    comparison_from_state,
)
from modelmonitor.evaluator.data import LabelIndex, TimeWindow, open_source, window_mask
from modelmonitor.evaluator.errors import DataError
from modelmonitor.evaluator.stats.columns import text_values
from modelmonitor.evaluator.stats.errors import StateMismatchError
from modelmonitor.evaluator.stats.profile import ReferenceProfile
from modelmonitor.evaluator.storage import join_uri, read_bytes_if_exists, write_bytes

__all__ = ["ChallengerStream", "challenger_columns", "comparison_state_uri", "conclude_comparison"]

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]


def challenger_columns(spec: MonitorSpec) -> list[str]:
    """Columns of the current data that belong to the comparison, not to the features."""
    challenger = spec.challenger
    if challenger is None:
        return []
    names = [
        challenger.prediction,
        challenger.score,
        challenger.variant_column,
        challenger_key(spec),
        spec.data.current.timestamp_column,  # read for counting each row once across overlapping windows
    ]
    return [name for name in names if name]


def challenger_key(spec: MonitorSpec) -> str | None:
    """The id column ``spec.challenger.data`` joins on (it must reach the comparison, then leaves the batch)."""
    challenger = spec.challenger
    return None if challenger is None or challenger.data is None else challenger.data.join_on


def _load_joined(data: ChallengerData, columns: dict[str, str]) -> list[tuple[str, LabelIndex]]:
    """The challenger's logged outputs by id (``columns``: field path -> column), one hash index per column."""
    source = open_source(data.uri, data.format, "spec.challenger.data")
    source.require_columns({"spec.challenger.data.joinOn": data.join_on, **columns})
    names = list(columns.values())
    ids: list[pa.Array] = []
    values: dict[str, list[pa.Array]] = {name: [] for name in names}
    rows = 0
    for batch in source.batches([data.join_on, *names]):
        batch = batch.filter(pc.is_valid(batch.column(data.join_on)))
        ids.append(batch.column(data.join_on))
        for name in names:
            values[name].append(batch.column(name))
        rows += batch.num_rows
    schema = source.schema
    id_array = pa.concat_arrays(ids) if ids else pa.array([], type=schema.field(data.join_on).type)
    return [
        (
            name,
            LabelIndex(
                data.join_on,
                id_array,
                pa.concat_arrays(values[name]) if values[name] else pa.array([], type=schema.field(name).type),
                rows,
            ),
        )
        for name in names
    ]


def comparison_state_uri(run_location: str) -> str:
    """The comparison's evidence lives beside the runs: ``<parent of the run's output>/comparison/state.json``."""
    parent = run_location.rstrip("/").rsplit("/", 1)[0]
    return join_uri(parent, "comparison", "state.json")


@dataclass
class ChallengerStream:
    """Adds each labelled-stream batch to the comparison on its way to the engine."""

    spec: MonitorSpec
    challenger: ChallengerSpec
    profile: ReferenceProfile
    target: str | None
    comparison: PairedComparison | SplitComparison
    missing_outputs: int = 0
    pending: str | None = None
    notes: list[str] = field(default_factory=list)
    joined: list[tuple[str, LabelIndex]] = field(default_factory=list)  # spec.challenger.data, by id
    counted_from: datetime | None = None  # rows before this are in the stored evidence already
    counted_until: datetime | None = None  # this run's window end: the next run counts from there

    @classmethod
    def for_run(cls, spec: MonitorSpec, profile: ReferenceProfile, target: str | None) -> ChallengerStream | None:
        challenger = spec.challenger
        if challenger is None:
            return None
        task = spec.model.task
        positive = profile.positive_class if task == "binary-classification" else None
        comparison: PairedComparison | SplitComparison
        if challenger.mode == "ab":
            assert challenger.champion_variant is not None and challenger.challenger_variant is not None
            comparison = SplitComparison(
                task, list(challenger.metrics), challenger.champion_variant, challenger.challenger_variant, positive
            )
        else:
            comparison = PairedComparison(task, list(challenger.metrics), positive)
        stream = cls(spec, challenger, profile, target, comparison)
        if challenger.data is not None:
            columns = {"spec.challenger.prediction": challenger.prediction, "spec.challenger.score": challenger.score}
            stream.joined = _load_joined(challenger.data, {path: name for path, name in columns.items() if name})
        return stream

    def count_new_rows_only(self, run_location: str | None, window: TimeWindow | None) -> None:
        """Count only rows after those the stored evidence holds, so overlapping windows add each row once.

        A monitor typically evaluates a 24h window every hour: without this, every row would be added to the
        evidence 24 times. The stored state records the end of the window it has counted up to
        (``coveredUntil``); this run counts rows from there to its own window's end. Without a timestamp
        column there is no window, and each run's data is taken to be new.
        """
        if window is None or window.end is None or self.spec.data.current.timestamp_column is None:
            return
        self.counted_until = window.end
        if run_location is None:
            return
        payload = read_bytes_if_exists(comparison_state_uri(run_location))
        try:
            state = None if payload is None else json.loads(payload)
        except ValueError:
            return
        if not isinstance(state, dict) or not state.get("coveredUntil"):
            return
        same = (state.get("championVersion"), state.get("challengerVersion")) == (
            str(self.spec.model.version),
            self.challenger.version,
        )
        if same:
            self.counted_from = datetime.fromisoformat(str(state["coveredUntil"]).replace("Z", "+00:00"))

    def _new_rows(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        column = self.spec.data.current.timestamp_column
        if self.counted_from is None or column is None or column not in batch.schema.names:
            return batch
        mask = window_mask(
            batch.column(column),
            TimeWindow(start=self.counted_from, end=None),
            column,
            self.spec.data.current.uri,
            self.spec.data.current.timestamp_unit,
        )
        return batch.filter(mask)

    def _join(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch with the challenger's logged outputs of each row (null where none was logged)."""
        key = challenger_key(self.spec)
        if key is None:
            return batch
        if key not in batch.schema.names:
            raise DataError(
                f"spec.challenger.data.joinOn: column {key!r} is not in the current data", reason="ColumnMissing"
            )
        for column, index in self.joined:
            try:
                batch = index.attach(batch, column)
            except DataError as error:
                raise DataError(f"spec.challenger.data.joinOn: {error.message}", reason=error.reason) from None
        return batch

    def _label_text(self, batch: pa.RecordBatch, column: str | None, score: str | None) -> pa.Array | None:
        """Predicted labels as Arrow text; derived from the score at the reference's threshold without a column."""
        if column is not None:
            return text_values(batch.column(column))
        if score is None or self.spec.model.task != "binary-classification":
            return None
        scores = self._numbers(batch, score)
        positive = self.profile.positive_class or "1"
        negative = self.profile.negative_class or "0"
        labels = np.where(scores >= self.profile.decision_threshold, positive, negative).astype(object)
        labels[np.isnan(scores)] = None
        return pa.array(labels, type=pa.string())

    @staticmethod
    def _numbers(batch: pa.RecordBatch, column: str) -> FloatArray:
        values = pc.cast(batch.column(column), pa.float64())
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)

    def _model(self, batch: pa.RecordBatch, prediction: str | None, score: str | None) -> _ModelColumns:
        """One model's outputs for the batch, and the rows where all of them are there."""
        present = np.ones(batch.num_rows, dtype=bool)
        if self.spec.model.task == "regression":
            values = None if prediction is None else self._numbers(batch, prediction)
            if values is not None:
                present &= ~np.isnan(values)
            return _ModelColumns(None, values, None, present)
        text = self._label_text(batch, prediction, score)
        scores = None if score is None else self._numbers(batch, score)
        if text is not None:
            present &= np.asarray(text.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        if scores is not None:
            present &= ~np.isnan(scores)
        return _ModelColumns(text, None, scores, present)

    def _require(self, batch: pa.RecordBatch, names: dict[str, str | None]) -> None:
        for path, name in names.items():
            if name is not None and name not in batch.schema.names:
                raise DataError(f"{path}: column {name!r} is not in the current data", reason="ColumnMissing")

    def add(self, batch: pa.RecordBatch) -> None:
        if self.pending is not None or batch.num_rows == 0:
            return
        batch = self._join(self._new_rows(batch))
        if batch.num_rows == 0:
            return
        columns = self.spec.data.columns
        challenger = self.challenger
        self._require(
            batch,
            {
                "spec.challenger.prediction": challenger.prediction,
                "spec.challenger.score": challenger.score,
                "spec.challenger.variantColumn": challenger.variant_column,
            },
        )
        regression = self.spec.model.task == "regression"
        label_metrics = any(rule.kind == "labels" for rule in self.comparison.rules.values())
        champion = self._model(batch, columns.prediction, columns.score)
        target_text: pa.Array | None = None
        if self.target is not None and self.target in batch.schema.names:
            target_array = batch.column(self.target)
            labelled = np.asarray(target_array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
            if regression:
                target: npt.NDArray[Any] = self._numbers(batch, self.target)
                labelled &= ~np.isnan(target)
            else:
                target_text = text_values(target_array)
                target = np.asarray(target_text.to_numpy(zero_copy_only=False), dtype=object)
        else:
            labelled = np.zeros(batch.num_rows, dtype=bool)
            target = np.full(batch.num_rows, None, dtype=object)
        if isinstance(self.comparison, SplitComparison):
            assert challenger.variant_column is not None
            variant_text = text_values(batch.column(challenger.variant_column))
            variant = np.asarray(variant_text.to_numpy(zero_copy_only=False), dtype=object)
            complete = champion.present
            self.missing_outputs += int(np.sum(~complete))
            chosen, open_rows = labelled & complete, ~labelled & complete
            cells = None
            if label_metrics and target_text is not None and champion.text is not None:
                cells = _cell_counts([variant_text, target_text, champion.text], chosen)
            self.comparison.add_labelled(
                variant[chosen],
                target[chosen],
                champion.prediction(chosen),
                _take(champion.scores, chosen),
                cells=cells,
            )
            self.comparison.add_unlabelled(
                variant[open_rows], champion.prediction(open_rows), _take(champion.scores, open_rows)
            )
            return
        shadow = self._model(batch, challenger.prediction, challenger.score)
        complete = champion.present & shadow.present
        self.missing_outputs += int(np.sum(~complete))
        chosen, open_rows = labelled & complete, ~labelled & complete
        cells = None
        if label_metrics and target_text is not None and champion.text is not None and shadow.text is not None:
            cells = _cell_counts([target_text, champion.text, shadow.text], chosen)
        self.comparison.add_labelled(target[chosen], champion.outputs(chosen), shadow.outputs(chosen), cells=cells)
        self.comparison.add_unlabelled(champion.outputs(open_rows), shadow.outputs(open_rows))

    def to_state(self) -> dict[str, Any]:
        """This pass's evidence for a shard's partial result (the reduce step merges the shards')."""
        return {"evidence": self.comparison.to_state(), "missingOutputs": self.missing_outputs}

    def restore(self, state: dict[str, Any] | None) -> None:
        """Take a shard's evidence in place of this (empty) stream's."""
        if state is None or self.pending is not None:
            return
        stored = comparison_from_state(state["evidence"])
        fresh = type(self.comparison)
        if not isinstance(stored, fresh):
            raise StateMismatchError(f"a shard's comparison is {type(stored).__name__}, expected {fresh.__name__}")
        self.comparison = stored
        self.missing_outputs = int(state.get("missingOutputs", 0))

    def merge(self, other: ChallengerStream) -> None:
        if self.pending is not None:
            return
        if isinstance(self.comparison, PairedComparison) and isinstance(other.comparison, PairedComparison):  # noqa: SIM114 (mypy narrows each)
            self.comparison.merge(other.comparison)
        elif isinstance(self.comparison, SplitComparison) and isinstance(other.comparison, SplitComparison):
            self.comparison.merge(other.comparison)
        else:
            raise StateMismatchError("shards compared in different modes")
        self.missing_outputs += other.missing_outputs

    def watch(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Each batch added to the comparison, then passed on without the challenger's columns."""
        names = challenger_columns(self.spec)
        for batch in batches:
            self.add(batch)
            yield _without(batch, names)

    @staticmethod
    def without_columns(batches: Iterator[pa.RecordBatch], spec: MonitorSpec) -> Iterator[pa.RecordBatch]:
        """The batches without the challenger's columns: they are the comparison's, not features to drift-test."""
        names = challenger_columns(spec)
        for batch in batches:
            yield _without(batch, names)


def _without(batch: pa.RecordBatch, names: list[str]) -> pa.RecordBatch:
    present = [name for name in names if name in batch.schema.names]
    return batch.drop_columns(present) if present else batch


def _take(values: npt.NDArray[Any] | None, rows: npt.NDArray[np.bool_]) -> Any:
    return None if values is None else values[rows]


@dataclass
class _ModelColumns:
    """One model's outputs in one batch: labels as Arrow text (classification), values, scores, presence."""

    text: pa.Array | None
    values: FloatArray | None
    scores: FloatArray | None
    present: npt.NDArray[np.bool_]

    def prediction(self, rows: npt.NDArray[np.bool_]) -> npt.NDArray[Any] | None:
        if self.values is not None:
            return self.values[rows]
        if self.text is None:
            return None
        return np.asarray(self.text.filter(pa.array(rows)).to_numpy(zero_copy_only=False), dtype=object)

    def outputs(self, rows: npt.NDArray[np.bool_]) -> ModelOutputs:
        return ModelOutputs(self.prediction(rows), _take(self.scores, rows))


def _cell_counts(columns: list[pa.Array], rows: npt.NDArray[np.bool_]) -> dict[tuple[str, ...], int]:
    """Counts of each combination of the text columns over the chosen rows (Arrow's hash aggregation)."""
    selector = pa.array(rows)
    names = [f"c{index}" for index in range(len(columns))]
    table = pa.table({name: column.filter(selector) for name, column in zip(names, columns, strict=True)})
    grouped = table.group_by(names).aggregate([([], "count_all")])
    keys = [grouped.column(name).to_pylist() for name in names]
    counts = grouped.column("count_all").to_pylist()
    return {tuple(str(key[index]) for key in keys): int(count) for index, count in enumerate(counts)}


def conclude_comparison(
    stream: ChallengerStream | None, run_location: str | None, finished_at: datetime, champion_version: str | None
) -> dict[str, Any] | None:
    """The ``comparison`` section of the result; merges with and rewrites the stored evidence when there is one."""
    if stream is None:
        return None
    challenger = stream.challenger
    header: dict[str, Any] = {
        "championVersion": champion_version,
        "challengerVersion": challenger.version,
        "mode": challenger.mode,
    }
    if stream.pending is not None:
        return {**header, "decision": "inconclusive", "pending": True, "reason": stream.pending}
    settings = ComparisonSettings(alpha=challenger.alpha, min_effect=challenger.min_effect, power=challenger.power)
    now = finished_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    state_uri = None if run_location is None else comparison_state_uri(run_location)
    previous = None
    if state_uri is not None:
        payload = read_bytes_if_exists(state_uri)
        if payload is not None:
            try:
                previous = json.loads(payload)
            except ValueError:
                logger.warning("ignoring the unreadable comparison state %s", state_uri)
    accumulated = accumulate(previous, stream.comparison, str(champion_version), challenger.version, now)
    if stream.counted_until is not None:  # never backwards: a rerun of an older window must not count rows twice
        covered = max(stream.counted_until, stream.counted_from or stream.counted_until)
        accumulated.covered_until = covered.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    outcome = accumulated.comparison.outcome(settings).to_dict()
    accumulated.record(
        {
            "at": now,
            "labelledRows": outcome["labelledRows"],
            "decision": outcome["decision"],
            "metrics": [
                {"metric": item["metric"], "difference": item["difference"], "interval": item["interval"]}
                for item in outcome["metrics"]
            ],
        }
    )
    if state_uri is not None:
        write_bytes(state_uri, json.dumps(accumulated.to_state(), allow_nan=False).encode("utf-8"), "application/json")
    return {
        **header,
        **outcome,
        "pending": False,
        "since": accumulated.since,
        "runs": accumulated.runs,
        "resetReason": accumulated.reset_reason,
        "rowsMissingOutputs": stream.missing_outputs,
        "stateUri": state_uri,
        "history": accumulated.history,
    }
