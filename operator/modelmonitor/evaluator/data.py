"""Turn configured sources into streams of Arrow record batches: projected, windowed and labelled.

Nothing here loads a dataset whole, nor a row group whole: Parquet is decoded ``BATCH_ROWS`` rows at a time
from column chunks read through a bounded buffer, so a file written as one huge row group costs no more
memory than one written in small ones. Decoding runs one batch ahead in a thread (Arrow releases the GIL)
while the caller accumulates the previous batch: both cores work, memory grows by one batch. A
:class:`TableSource` re-opens its files on every pass (the reference profile needs more than one), reads
only the columns the evaluation uses, and cuts rows to the time window batch by batch. Delayed labels are
the one thing held in memory, as two columns (id and label) in a hash index, because a join needs one side
at hand and labels are narrow. Schema problems (a configured column that is absent, a timestamp that is
not a time) are found before the first batch is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelmonitor.evaluator.errors import ConfigError, DataError, StorageError
from modelmonitor.evaluator.inputs import format_of_path
from modelmonitor.evaluator.parquet_stream import BATCH_ROWS, parquet_batches, prefetched
from modelmonitor.evaluator.storage import (
    STORAGE_TIMEOUT_ENV,
    ResolvedFiles,
    endpoint_name,
    list_files,
    storage_timeout,
)

if TYPE_CHECKING:
    import pyarrow.dataset as ds

__all__ = [
    "BATCH_ROWS",
    "FilePart",
    "LabelIndex",
    "RowCount",
    "TableSource",
    "TimeWindow",
    "load_label_index",
    "open_source",
]

# Read ahead little: the engine consumes batches more slowly than Arrow decodes them, so deep read-ahead
# only parks decoded row groups in memory (at 10M rows the defaults, 16 batches / 4 files, cost ~3 GiB).
BATCH_READAHEAD = 1

#: One file of a dataset, whole (``None``) or only some of its Parquet row groups: the unit of a shard's slice.
FilePart = tuple[str, tuple[int, ...] | None]


@dataclass
class RowCount:
    """A running count of rows, filled while batches stream (e.g. rows without a timestamp)."""

    rows: int = 0


@dataclass(frozen=True)
class TimeWindow:
    """Rows with ``start <= timestamp < end``; either end may be open."""

    start: datetime | None
    end: datetime | None

    @staticmethod
    def ending(end: datetime, length: timedelta | None) -> TimeWindow:
        return TimeWindow(start=None if length is None else end - length, end=end)

    def to_dict(self) -> dict[str, str | None]:
        return {
            "start": None if self.start is None else _iso(self.start),
            "end": None if self.end is None else _iso(self.end),
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _format_name(name: str | None, paths: tuple[str, ...]) -> str:
    """The declared format, else the one the files' suffixes imply, else Parquet."""
    if name is None:
        name = next((found for found in map(format_of_path, paths) if found is not None), "parquet")
    return name


def _text_format(name: str) -> ds.FileFormat:
    """CSV or JSON lines through ``pyarrow.dataset``, imported only for them: it imports pandas (~0.5 s)."""
    import pyarrow.dataset as ds

    return ds.CsvFileFormat() if name == "csv" else ds.JsonFileFormat()


def _read_failure(uri: str, error: Exception) -> Exception:
    text = str(error)
    lowered = text.lower()
    if isinstance(error, pa.ArrowInvalid | pa.ArrowTypeError | pa.ArrowNotImplementedError):
        first_line = text.splitlines()[0] if text else type(error).__name__
        return DataError(f"cannot parse data under {uri}: {first_line[:300]}", reason="UnreadableData")
    if uri.startswith("s3://") and ("timeout" in lowered or "timed out" in lowered):
        return StorageError(
            f"cannot read {uri}: the S3 endpoint {endpoint_name()} did not answer in time "
            f"(the budget {storage_timeout():g} s is {STORAGE_TIMEOUT_ENV} / --storage-timeout)",
            reason="EndpointTimeout",
        )
    if "access_denied" in lowered or "access denied" in lowered or "403" in lowered:
        return StorageError(f"access denied while reading {uri}", reason="AccessDenied")
    if "no_such_bucket" in lowered or "nosuchbucket" in lowered:
        return StorageError(f"bucket of {uri} does not exist", reason="NoSuchBucket")
    if "no_such_key" in lowered or "nosuchkey" in lowered or "not found" in lowered:
        return StorageError(f"an object under {uri} disappeared while reading", reason="NoSuchKey")
    return StorageError(
        f"cannot read {uri}: {text.splitlines()[0][:300] if text else type(error).__name__}",
        reason="ReadFailed",
    )


class TableSource:
    """A re-iterable stream of record batches over one configured dataset."""

    def __init__(
        self,
        files: ResolvedFiles,
        format_name: str | None,
        field_path: str,
        parts: Sequence[FilePart] | None = None,
    ) -> None:
        """``parts`` restricts the stream to a shard's slice; the schema stays the whole dataset's."""
        self.files = files
        self.field_path = field_path
        self.uri = files.location.uri
        self._parts: list[FilePart] = list(parts) if parts is not None else [(path, None) for path in files.paths]
        self._text_dataset: ds.Dataset | None = None  # CSV / JSON lines; Parquet is read by pyarrow.parquet
        name = _format_name(format_name, files.paths)
        try:
            if name == "parquet":
                # the first file's schema is the dataset's, as pyarrow.dataset would infer it
                self.schema: pa.Schema = pa.schema([])
                if files.paths:
                    with files.filesystem.open_input_file(files.paths[0]) as handle:
                        self.schema = pq.read_schema(handle)
            else:
                import pyarrow.dataset as ds

                self._text_dataset = ds.dataset(
                    [path for path, _ in self._parts], filesystem=files.filesystem, format=_text_format(name)
                )
                self.schema = ds.dataset(list(files.paths), filesystem=files.filesystem,
                                         format=_text_format(name)).schema
        except (OSError, pa.ArrowException) as error:
            implied = {found for found in map(format_of_path, files.paths) if found is not None}
            if format_name is not None and implied and format_name not in implied:
                raise DataError(
                    f"{field_path}.format: the data under {self.uri} is read as {format_name}, but its file names "
                    f"say {', '.join(sorted(implied))}: set {field_path}.format",
                    reason="UnreadableData",
                ) from None
            raise _read_failure(self.uri, error) from None

    def _file_uri(self, path: str) -> str:
        """A file of the dataset as the user wrote its location: ``s3://bucket/key`` or the local path."""
        return f"s3://{path}" if self.files.location.is_s3 else path

    @property
    def column_names(self) -> list[str]:
        return list(self.schema.names)

    def require_columns(self, columns: dict[str, str]) -> None:
        """``columns`` maps config field -> column; an absent one is a configuration error naming both."""
        for field_path, column in columns.items():
            if column not in self.schema.names:
                raise ConfigError(
                    f"{field_path}: column {column!r} is not in {self.uri} (columns: "
                    f"{', '.join(self.schema.names[:30])}{', ...' if len(self.schema.names) > 30 else ''})",
                    reason="ColumnMissing",
                )

    def batches(
        self,
        columns: list[str],
        *,
        timestamp_column: str | None = None,
        window: TimeWindow | None = None,
        null_timestamps: RowCount | None = None,
        timestamp_unit: str = "s",
        dictionary_columns: Collection[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        """Stream the named columns that exist (absent ones are skipped), cut to ``window``.

        Rows without a timestamp cannot be placed in a window: they are left out and, when ``null_timestamps``
        is given, counted there. Parquet text columns in ``dictionary_columns`` come dictionary-encoded
        (``parquet_stream.parquet_batches``): for categories that only the statistics engine reads.
        """
        present = [column for column in columns if column in self.schema.names]
        read_columns = list(present)
        filtering = window is not None and timestamp_column is not None and (window.start or window.end)
        if filtering and timestamp_column not in read_columns:
            read_columns.append(timestamp_column or "")
        yield from prefetched(self._windowed(read_columns, present, timestamp_column, window,
                                              null_timestamps, timestamp_unit, dictionary_columns))

    def _windowed(
        self,
        read_columns: list[str],
        present: list[str],
        timestamp_column: str | None,
        window: TimeWindow | None,
        null_timestamps: RowCount | None,
        timestamp_unit: str,
        dictionary_columns: Collection[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        """:meth:`batches` minus the thread: decoded, cut to the window, read failures named."""
        filtering = window is not None and timestamp_column is not None and (window.start or window.end)
        try:
            for batch in self._decoded(read_columns, dictionary_columns):
                if batch.num_rows == 0:
                    continue
                if filtering and window is not None and timestamp_column is not None:
                    if null_timestamps is not None:
                        null_timestamps.rows += batch.column(timestamp_column).null_count
                    mask = window_mask(
                        batch.column(timestamp_column), window, timestamp_column, self.uri, timestamp_unit
                    )
                    batch = batch.filter(mask)
                    if batch.num_rows == 0:
                        continue
                    if timestamp_column not in present:
                        batch = batch.drop_columns([timestamp_column])
                yield batch
        except (OSError, pa.ArrowException) as error:
            raise _read_failure(self.uri, error) from None

    def _decoded(self, columns: list[str], dictionary_columns: Collection[str] = ()) -> Iterator[pa.RecordBatch]:
        """Parquet ``BATCH_ROWS`` rows at a time, decoded on demand; other formats through Arrow's scanner.

        The scanner decodes ahead of a slower consumer into its queue, so its memory grows with the rows until
        its own back-pressure limit (bench/reader_memory.py measures it: 991 MiB against 349 MiB on 10M rows).
        Reading a row group whole bounds memory by the row group, which is the whole file when it was written
        as one; ``ParquetFile.iter_batches`` decodes column chunks page by page into batches, so peak memory
        is a few batches plus the read buffers, whatever the row count and the row-group size.
        """
        dataset = self._text_dataset
        if dataset is None:
            for path, row_groups in self._parts:
                try:
                    yield from parquet_batches(self.files, path, row_groups, columns, self.schema,
                                               dictionary_columns)
                except (OSError, pa.ArrowException) as error:  # name the file, not only the prefix
                    raise _read_failure(self._file_uri(path), error) from None
            return
        import pyarrow.dataset as ds

        # Text formats file by file, so that text that is not UTF-8 is named by file and row.
        for fragment in dataset.get_fragments():
            path = str(getattr(fragment, "path", self.uri))
            scanner = ds.Scanner.from_fragment(
                fragment,
                schema=self.schema,
                columns=columns,
                batch_size=BATCH_ROWS,
                batch_readahead=BATCH_READAHEAD,
                use_threads=True,
            )
            first_row = 0
            try:
                for batch in scanner.to_batches():
                    _check_utf8(batch, path, first_row)
                    first_row += batch.num_rows
                    yield batch
            except pa.ArrowInvalid as error:
                if "invalid utf8" in str(error).lower():
                    raise DataError(
                        f"{path}: {_utf8_place(str(error), self.schema)} holds text that is not UTF-8; "
                        "re-encode the file as UTF-8",
                        reason="NotUtf8",
                    ) from None
                raise

    def factory(
        self,
        columns: list[str],
        *,
        timestamp_column: str | None = None,
        window: TimeWindow | None = None,
        dictionary_columns: Collection[str] = (),
    ) -> Callable[[], Iterator[pa.RecordBatch]]:
        return lambda: self.batches(columns, timestamp_column=timestamp_column, window=window,
                                    dictionary_columns=dictionary_columns)


def _check_utf8(batch: pa.RecordBatch, path: str, first_row: int) -> None:
    """Refuse text that is not UTF-8: CSV reads such a column as binary, JSON as strings that do not decode."""
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            for index, value in enumerate(column.to_pylist()):
                if value is None:
                    continue
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    raise DataError(
                        f"{path}: column {name!r}, data row {first_row + index + 1}: {value[:40]!r} is not UTF-8 "
                        "text; re-encode the file as UTF-8",
                        reason="NotUtf8",
                    ) from None
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:
                column.validate(full=True)  # checks that every value is valid UTF-8
            except pa.ArrowInvalid:
                index = next(index for index in range(len(column)) if not _decodes(column, index))
                raw = pc.cast(column, pa.binary())[index].as_py()
                raise DataError(
                    f"{path}: column {name!r}, data row {first_row + index + 1}: {raw[:40]!r} is not UTF-8 "
                    "text; re-encode the file as UTF-8",
                    reason="NotUtf8",
                ) from None


def _utf8_place(message: str, schema: pa.Schema) -> str:
    """``column 'name', row N`` from the CSV reader's ``In CSV column #i: Row #N`` (as far as it says)."""
    place = []
    column = re.search(r"column #([0-9]+)", message)
    if column is not None and int(column.group(1)) < len(schema.names):
        place.append(f"column {schema.names[int(column.group(1))]!r}")
    row = re.search(r"Row #([0-9]+)", message)
    if row is not None:
        place.append(f"row {row.group(1)}")
    return ", ".join(place) or "a value"


def _decodes(column: pa.Array, index: int) -> bool:
    try:
        column[index].as_py()
    except UnicodeDecodeError:
        return False
    return True


def open_source(uri: str, format_name: str | None, field_path: str) -> TableSource:
    return TableSource(list_files(uri, field_path), format_name, field_path)


#: Epoch numbers per second, by ``spec.data.current.timestampUnit``.
_UNITS_PER_SECOND = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
#: 2100-01-01T00:00:00Z: a later epoch time in current data is a unit mistake (milliseconds read as seconds).
_LATEST_PLAUSIBLE_SECONDS = 4_102_444_800


def _as_utc_timestamps(column: pa.Array | pa.ChunkedArray, name: str, uri: str, unit: str = "s") -> pa.Array:
    kind = column.type
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            return pc.assume_timezone(column, "UTC")
        return column
    if pa.types.is_date(kind):
        return pc.assume_timezone(pc.cast(column, pa.timestamp("s")), "UTC")
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _parse_iso_text(column, name, uri)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        latest = pc.max(column).as_py()
        if latest is not None and latest / _UNITS_PER_SECOND[unit] > _LATEST_PLAUSIBLE_SECONDS:
            raise DataError(
                f"timestamp column {name!r} in {uri} holds {latest:.6g} {unit} since 1970, after the year 2100: "
                f"is spec.data.current.timestampUnit ({unit}) the unit of these numbers?",
                reason="WrongType",
            )
        if pa.types.is_integer(kind):  # exact: integers of the unit are that unit's timestamps
            exact = pc.cast(pc.cast(column, pa.int64()), pa.timestamp(unit, tz="UTC"))
            return pc.cast(exact, pa.timestamp("us", tz="UTC"), safe=False)  # ns: to the microsecond
        epoch = pc.cast(column, pa.float64())
        microseconds = pc.cast(pc.multiply(epoch, 1_000_000 / _UNITS_PER_SECOND[unit]), pa.int64())
        return pc.cast(microseconds, pa.timestamp("us", tz="UTC"))
    raise DataError(
        f"timestamp column {name!r} in {uri} has type {kind}, not a timestamp, date, ISO text or epoch number",
        reason="WrongType",
    )


_ZONE_SUFFIX = r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$"
_DATE_ONLY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _parse_iso_text(column: pa.Array | pa.ChunkedArray, name: str, uri: str) -> pa.Array:
    """ISO 8601 text, with a zone offset or without one (naive times are UTC, as documented), or a date."""
    text = pc.utf8_trim_whitespace(column)
    text = pc.if_else(
        pc.match_substring_regex(text, _DATE_ONLY), pc.binary_join_element_wise(text, "T00:00:00", ""), text
    )
    text = pc.replace_substring_regex(text, r"[z]$", "Z")
    zoned = pc.fill_null(pc.match_substring_regex(text, _ZONE_SUFFIX), True)
    text = pc.if_else(zoned, text, pc.binary_join_element_wise(text, "+00:00", ""))
    try:
        return pc.cast(text, pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid:
        pass
    values = text.to_pylist()
    bad = [index for index, value in enumerate(values) if value is not None and not _is_iso_time(value)]
    first = column[bad[0]].as_py() if bad else None
    raise DataError(
        f"timestamp column {name!r} in {uri} holds text that is not an ISO 8601 time: {first!r} "
        f"({len(bad)} such value(s) in a batch of {len(values)} rows)",
        reason="WrongType",
    )


def _is_iso_time(value: str) -> bool:
    try:
        pc.cast(pa.array([value]), pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid:
        return False
    return True


def window_mask(
    column: pa.Array | pa.ChunkedArray, window: TimeWindow, name: str, uri: str, unit: str = "s"
) -> pa.BooleanArray:
    """True for rows inside the window; null timestamps are outside. ``unit``: of epoch numbers."""
    stamps = _as_utc_timestamps(column, name, uri, unit)
    unit = stamps.type.unit
    mask: pa.BooleanArray | None = None
    if window.start is not None:
        mask = pc.greater_equal(stamps, pa.scalar(window.start.astimezone(UTC), type=pa.timestamp(unit, "UTC")))
    if window.end is not None:
        before_end = pc.less(stamps, pa.scalar(window.end.astimezone(UTC), type=pa.timestamp(unit, "UTC")))
        mask = before_end if mask is None else pc.and_(mask, before_end)
    if mask is None:
        return pa.array(np.ones(len(column), dtype=bool))
    return pc.fill_null(mask, False)


class LabelIndex:
    """Delayed labels by id, held as a hash index so each current batch joins in one lookup."""

    def __init__(self, join_on: str, ids: pa.Array, labels: pa.Array, rows_read: int) -> None:
        self.join_on = join_on
        self.rows_read = rows_read
        import pandas as pd  # here: only a run with delayed labels pays for pandas (~0.2-0.3 s to import)

        id_values = ids.to_numpy(zero_copy_only=False)  # not to_pandas: see parquet_stream.arrow_without_pandas
        keep = ~pd.Index(id_values).duplicated(keep="last")
        self._index = pd.Index(id_values[keep])
        self._labels = labels.filter(pa.array(keep))
        self._id_type = ids.type

    @property
    def size(self) -> int:
        return len(self._index)

    def attach(self, batch: pa.RecordBatch, target_column: str) -> pa.RecordBatch:
        """Put the arrived label of each row (null where none arrived) into ``target_column``."""
        ids = batch.column(self.join_on)
        if ids.type != self._id_type:
            try:
                ids = pc.cast(ids, self._id_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise DataError(
                    f"spec.data.labels.joinOn: column {self.join_on!r} has type {ids.type} "
                    "in the current "
                    f"data but {self._id_type} in the labels",
                    reason="WrongType",
                ) from None
        positions = self._index.get_indexer(ids.to_numpy(zero_copy_only=False))
        found = positions >= 0
        taken = self._labels.take(pa.array(np.where(found, positions, 0)))
        values = pc.if_else(pa.array(found), taken, pa.nulls(len(found), type=taken.type))
        names = batch.schema.names
        if target_column in names:
            return batch.set_column(names.index(target_column), target_column, values)
        return batch.append_column(target_column, values)


def load_label_index(
    uri: str, format_name: str | None, join_on: str, column: str, files: ResolvedFiles | None = None
) -> LabelIndex:
    """The labels under ``uri`` (``column`` by ``join_on``), or in ``files`` when a sharded run fixed them."""
    if files is None:
        table_source = open_source(uri, format_name, "spec.data.labels")
    else:
        table_source = TableSource(files, format_name, "spec.data.labels")
    table_source.require_columns({"spec.data.labels.joinOn": join_on, "spec.data.columns.target": column})
    id_chunks: list[pa.Array] = []
    label_chunks: list[pa.Array] = []
    rows = 0
    for batch in table_source.batches([join_on, column]):
        valid = pc.is_valid(batch.column(join_on))
        batch = batch.filter(valid)
        id_chunks.append(batch.column(join_on))
        label_chunks.append(batch.column(column))
        rows += batch.num_rows
    id_type = table_source.schema.field(join_on).type
    label_type = table_source.schema.field(column).type
    ids = pa.concat_arrays(id_chunks) if id_chunks else pa.array([], type=id_type)
    labels = pa.concat_arrays(label_chunks) if label_chunks else pa.array([], type=label_type)
    return LabelIndex(join_on, ids, labels, rows)
