"""Time windows on every timestamp representation, the label join, and storage error naming."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from modelmonitor.evaluator.data import LabelIndex, TimeWindow, window_mask
from modelmonitor.evaluator.errors import DataError
from modelmonitor.evaluator.storage import _client_error, parse_location

END = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
WINDOW = TimeWindow.ending(END, timedelta(hours=1))
INSIDE = END - timedelta(minutes=30)
BEFORE = END - timedelta(hours=2)


@pytest.mark.parametrize(
    "column",
    [
        pa.array([INSIDE, BEFORE, END, None], type=pa.timestamp("us", tz="UTC")),
        pa.array(
            [INSIDE.replace(tzinfo=None), BEFORE.replace(tzinfo=None), END.replace(tzinfo=None), None],
            type=pa.timestamp("ms"),
        ),
        pa.array(["2026-11-23T11:30:00Z", "2026-11-23T10:00:00Z", "2026-11-23T12:00:00Z", None]),
        pa.array(["2026-11-23T11:30:00", "2026-11-23 10:00:00", "2026-11-23T12:00:00.000", None]),
        pa.array(["2026-11-23T13:30:00+02:00", "2026-11-23T05:00:00-0500", "2026-11-23T12:00:00z", None]),
        pa.array([INSIDE.timestamp(), BEFORE.timestamp(), END.timestamp(), None]),
        pa.array([int(INSIDE.timestamp()), int(BEFORE.timestamp()), int(END.timestamp()), None]),
    ],
    ids=[
        "timestamp-utc",
        "timestamp-naive",
        "iso-text",
        "iso-text-naive-is-utc",
        "iso-text-offsets",
        "epoch-float",
        "epoch-int",
    ],
)
def test_window_keeps_start_inclusive_end_exclusive_and_drops_nulls(column: pa.Array) -> None:
    assert window_mask(column, WINDOW, "ts", "data.parquet").to_pylist() == [True, False, False, False]


def test_a_timestamp_column_of_another_type_is_a_data_error_naming_it() -> None:
    with pytest.raises(DataError, match=r"timestamp column .ts. in data\.parquet has type bool") as caught:
        window_mask(pa.array([True]), WINDOW, "ts", "data.parquet")
    assert caught.value.reason == "WrongType"
    with pytest.raises(DataError, match=r"not an ISO 8601 time: 'yesterday' \(1 such value"):
        window_mask(pa.array(["2026-11-23T11:30:00", "yesterday"]), WINDOW, "ts", "data.parquet")


def test_a_date_alone_is_midnight_utc() -> None:
    window = TimeWindow.ending(END, timedelta(days=1))
    assert window_mask(pa.array(["2026-11-23", "2026-11-22"]), window, "ts", "f").to_pylist() == [True, False]


def test_labels_join_on_ids_with_the_last_duplicate_winning_and_nulls_where_none_arrived() -> None:
    index = LabelIndex("id", pa.array([3, 1, 3], type=pa.int64()), pa.array([0, 1, 1]), rows_read=3)
    batch = pa.RecordBatch.from_pydict({"id": pa.array([1, 2, 3], type=pa.int32()), "label": [9, 9, 9]})
    joined = index.attach(batch, "label")
    assert joined.column("label").to_pylist() == [1, None, 1]
    assert index.size == 2


def test_ids_that_cannot_be_compared_are_a_data_error() -> None:
    index = LabelIndex("id", pa.array([1, 2], type=pa.int64()), pa.array([0, 1]), rows_read=2)
    with pytest.raises(DataError, match=r"spec\.data\.labels\.joinOn: column .id."):
        index.attach(pa.RecordBatch.from_pydict({"id": ["a", "b"]}), "label")


@pytest.mark.parametrize(
    ("code", "reason", "fragment"),
    [
        ("NoSuchBucket", "NoSuchBucket", "bucket 'ml' does not exist"),
        ("NoSuchKey", "NoSuchKey", "object s3://ml/credit/prod.parquet does not exist"),
        ("AccessDenied", "AccessDenied", "access denied to s3://ml/credit/prod.parquet"),
        ("InvalidAccessKeyId", "InvalidCredentials", "rejected the credentials"),
        ("SlowDown", "SlowDown", "S3 error SlowDown (HTTP 503)"),
    ],
)
def test_s3_error_codes_become_storage_errors_naming_bucket_and_key(code: str, reason: str, fragment: str) -> None:
    error = _client_error(parse_location("s3://ml/credit/prod.parquet"), "read", code, 503)
    assert error.reason == reason
    assert fragment in error.message
    assert error.exit_code == 4


@pytest.mark.parametrize(("unit", "per_second"), [("s", 1), ("ms", 1_000), ("us", 1_000_000), ("ns", 1_000_000_000)])
def test_epoch_numbers_are_read_in_the_declared_unit(unit: str, per_second: int) -> None:
    stamps = [INSIDE.timestamp(), BEFORE.timestamp(), END.timestamp()]
    integers = pa.array([int(stamp) * per_second for stamp in stamps] + [None], type=pa.int64())
    floats = pa.array([stamp * per_second for stamp in stamps] + [None], type=pa.float64())
    for column in (integers, floats):
        assert window_mask(column, WINDOW, "ts", "f", unit).to_pylist() == [True, False, False, False]


def test_milliseconds_read_as_seconds_are_refused_naming_the_unit_field() -> None:
    milliseconds = pa.array([int(INSIDE.timestamp() * 1000)])
    with pytest.raises(DataError, match=r"after the year 2100: is spec.data.current.timestampUnit \(s\) the unit"):
        window_mask(milliseconds, WINDOW, "ts", "data.parquet")
