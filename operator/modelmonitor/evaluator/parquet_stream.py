"""Parquet streamed in bounded batches, and any batch stream decoded one batch ahead in a thread.

Why a module of its own: memory and both cores. ``ParquetFile.iter_batches`` decodes column chunks page by
page, through a bounded read buffer, into batches of ``BATCH_ROWS`` rows, so peak memory is a few batches
plus the buffers whatever the row count and however the file was cut into row groups (a reader that
decodes a row group whole holds the whole file when it was written as one: 785 MiB against 517 MiB at 1M
rows, bench/README.md). Batches never span two row groups, so they are cut where they always were and a
float sum taken batch by batch is the same to the last bit. :func:`prefetched` moves decoding to a
thread one batch ahead of the caller: Arrow releases the GIL, so decoding runs on the other core while the
caller accumulates.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Collection, Iterator
from importlib.machinery import ModuleSpec

import pyarrow as pa
import pyarrow.parquet as pq

from modelmonitor.evaluator.stats.columns import READ_AS_DICTIONARY
from modelmonitor.evaluator.storage import ResolvedFiles

__all__ = ["BATCH_ROWS", "arrow_without_pandas", "parquet_batches", "prefetched"]

BATCH_ROWS = 131_072
#: Decoded batches waiting for the consumer (the decoding thread is at most this many batches ahead).
PREFETCH_BATCHES = 1
#: Parquet column chunks are read through a buffer of this size per column, not whole: a single-row-group
#: file of 10M rows would otherwise hold every column chunk it reads (~1.7 GiB) at once. Local files always
#: (256 KiB x 28 columns saves ~35 MiB against whole 250k-row chunks, at no measurable cost in time); on S3
#: each refill is a ranged GET, so only row groups above LARGE_ROW_GROUP_BYTES (uncompressed, all columns)
#: are buffered there, by REMOTE_STREAM_BUFFER_BYTES.
STREAM_BUFFER_BYTES = 256 * 1024
REMOTE_STREAM_BUFFER_BYTES = 2 * 1024 * 1024
LARGE_ROW_GROUP_BYTES = 128 * 1024 * 1024
#: Decode a batch's columns in Arrow's thread pool.
PARALLEL_COLUMNS = True


def _is_text(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


def parquet_batches(
    files: ResolvedFiles,
    path: str,
    row_groups: tuple[int, ...] | None,
    columns: list[str],
    schema: pa.Schema,
    dictionary_columns: Collection[str] = (),
) -> Iterator[pa.RecordBatch]:
    """One file's batches in the dataset's schema (a column the file lacks is null, a narrower type cast).

    Text columns named in ``dictionary_columns`` come as dictionary arrays (field metadata
    ``READ_AS_DICTIONARY``): Parquet stores categories dictionary-encoded, and decoding the codes instead of
    the strings is ~4x cheaper; the values are the same.
    """
    as_dictionary = {name for name in dictionary_columns if name in columns and _is_text(schema.field(name).type)}
    with files.filesystem.open_input_file(path) as handle:
        metadata = pq.read_metadata(handle)
        selected = list(range(metadata.num_row_groups)) if row_groups is None else list(row_groups)
        largest = max((metadata.row_group(index).total_byte_size for index in selected), default=0)
        if not files.location.is_s3:
            buffer_size = STREAM_BUFFER_BYTES
        else:
            buffer_size = REMOTE_STREAM_BUFFER_BYTES if largest > LARGE_ROW_GROUP_BYTES else 0
        handle.seek(0)
        file_schema = metadata.schema.to_arrow_schema()
        read_dictionary = [name for name in as_dictionary if name in file_schema.names
                           and file_schema.field(name).type == schema.field(name).type]
        parquet = pq.ParquetFile(handle, metadata=metadata, buffer_size=buffer_size, pre_buffer=False,
                                 read_dictionary=read_dictionary or None)
        in_file = [column for column in columns if column in parquet.schema_arrow.names]
        fields = [_dictionary_field(schema.field(column)) if column in as_dictionary else schema.field(column)
                  for column in columns]
        target = pa.schema(fields)
        for batch in _row_group_batches(parquet, selected, in_file):
            if batch.schema.names == columns and batch.schema.types == target.types:
                yield batch if not as_dictionary else pa.RecordBatch.from_arrays(batch.columns, schema=target)
                continue
            arrays = []
            for field in fields:
                index = batch.schema.get_field_index(field.name)
                if index < 0:
                    arrays.append(pa.nulls(batch.num_rows, field.type))
                    continue
                column = batch.column(index)
                if column.type == field.type:
                    arrays.append(column)
                elif field.name in as_dictionary:  # a file whose text type differs: cast, then encode
                    text = column.cast(field.type.value_type)
                    arrays.append(text.dictionary_encode().cast(field.type))
                else:
                    arrays.append(column.cast(field.type))
            yield pa.RecordBatch.from_arrays(arrays, schema=target)


def _dictionary_field(field: pa.Field) -> pa.Field:
    """``field`` as the dictionary-encoded text the reader hands out, marked as the reader's choice."""
    metadata = {**(field.metadata or {}), READ_AS_DICTIONARY: b"1"}
    return pa.field(field.name, pa.dictionary(pa.int32(), field.type), field.nullable, metadata)


def _row_group_batches(
    parquet: pq.ParquetFile, row_groups: list[int], columns: list[str]
) -> Iterator[pa.RecordBatch]:
    """Row group by row group, so that batches never span two: cut where whole-row-group reads cut them.

    A float sum taken batch by batch depends, in its last bits, on where the batches are cut.
    """
    for row_group in row_groups:
        yield from parquet.iter_batches(
            batch_size=BATCH_ROWS, row_groups=[row_group], columns=columns, use_threads=PARALLEL_COLUMNS
        )


class _NoPandas:
    """An import hook that makes ``import pandas`` fail, for the moment pyarrow looks for pandas."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def arrow_without_pandas() -> None:
    """Let pyarrow convert to and from numpy without importing pandas (0.25-0.4 s of CPU per evaluation).

    pyarrow imports pandas, when it is installed, at its first conversion of almost any kind (``pa.array``
    of a numpy array, ``pa.scalar``, any ``to_numpy``), only to recognise pandas objects (``pd.NA``,
    ``NaT``, Series), which the evaluator never hands it. pyarrow looks once per process, in two places (its
    Python shim and its C++ conversion code): if pandas cannot be imported at that moment, it never looks
    again. So this makes both look once with pandas hidden; ``import pandas`` works as before afterwards
    (the delayed-label join uses it, through numpy arrays, not ``to_pandas``). A process that imported
    pandas already is left as it is.
    """
    if "pandas" in sys.modules:
        return
    hook = _NoPandas()
    sys.meta_path.insert(0, hook)
    try:
        pa.array([0.0]).to_numpy(zero_copy_only=False)  # the C++ side's one look
        pa.lib._pandas_api.have_pandas  # noqa: B018 - the shim's one look
    except AttributeError:  # another pyarrow's internals: nothing saved, nothing broken
        pass
    finally:
        sys.meta_path.remove(hook)


_DONE = object()


def prefetched(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``batches`` pulled by a thread ``PREFETCH_BATCHES`` ahead of the caller; its errors re-raised here.

    Arrow's decoding releases the GIL, so the next batch is decoded on the other core while the caller's
    numpy work runs on this one. The order of batches is unchanged, so results are bit for bit the same.
    The thread starts decoding a batch only when a slot is free (the caller took the previous one), so at
    most the caller's batch and ``PREFETCH_BATCHES`` decoded ones are in memory. A caller that stops early
    (an error, a closed generator) stops the thread at its next hand-over.
    """
    handover: queue.SimpleQueue[object] = queue.SimpleQueue()
    slots = threading.Semaphore(PREFETCH_BATCHES)
    stopped = threading.Event()

    def produce() -> None:
        iterator = iter(batches)
        try:
            while True:
                while not slots.acquire(timeout=0.1):
                    if stopped.is_set():
                        return
                if stopped.is_set():
                    return
                batch = next(iterator, None)
                handover.put(_DONE if batch is None else batch)
                if batch is None:
                    return
        except BaseException as error:  # handed to the consumer, raised there
            handover.put(error)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()  # an abandoned stream closes its files now, not at garbage collection

    worker = threading.Thread(target=produce, name="modelmonitor-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = handover.get()
            slots.release()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, pa.RecordBatch)
            yield item
            del item  # not held while the caller asks for the next one
    finally:
        stopped.set()
        worker.join()
