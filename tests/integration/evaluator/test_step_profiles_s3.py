"""Stored step profiles against a real S3 server (MinIO on loopback, else moto's server).

The second evaluation of a 30-day window, a day later, must read only the new day's object (the evaluator's
own accounting: files and bytes read, from the listing's sizes) and give the raw pass's result; a rewritten
object rebuilds its day. The raw pass is the same config evaluated with a local ``--output`` only, which
gives the run no cache location, so it reads the window from the objects.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.integration.evaluator.conftest import base_config, make_table

pytestmark = pytest.mark.s3

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # the evaluate fixture's --as-of
MIDNIGHT = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def _put(client: Any, bucket: str, key: str, table: Any) -> int:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    client.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
    return len(buffer.getvalue())


def _day(day: datetime, seed: int, drift: float = 0.0) -> Any:
    """One day's rows (make_table spreads rows over 48 h from ``start``: keep the first day's half)."""
    table = make_table(600, seed=seed, drift=drift, start=day)
    stamps = table.column("ts").to_pylist()
    keep = [stamp < day + timedelta(days=1) for stamp in stamps]
    return table.filter(keep)


def _steps(result: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = result["data"]["current"]["stepProfiles"]
    return info


def _result(client: Any, bucket: str, run: Any) -> dict[str, Any]:
    key = run.summary["resultUri"].split(f"s3://{bucket}/", 1)[1]
    document: dict[str, Any] = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    return document


COMPARED = ("rows", "labels", "metrics", "confusionMatrix", "verdict", "violations", "checks", "dataQuality")


def _same(stepped: dict[str, Any], raw: dict[str, Any]) -> None:
    for key in COMPARED:
        assert stepped[key] == raw[key], key
    stepped_features = {item["feature"]: item for item in stepped["drift"]["features"]}
    for item in raw["drift"]["features"]:
        mine = stepped_features[item["feature"]]
        assert (mine["status"], mine["referenceCount"], mine["currentCount"]) == (
            item["status"], item["referenceCount"], item["currentCount"])
        assert mine["tests"] == item["tests"]  # ks / chi2 / psi on histograms: bit for bit


def test_a_second_run_reads_only_the_new_days_object(s3_env: Any, evaluate: Any, tmp_path: Path) -> None:
    client = s3_env.client()
    bucket = s3_env.create_bucket(f"mm-steps-{uuid.uuid4().hex[:8]}")
    _put(client, bucket, "credit/train.parquet", make_table(3000, seed=1))
    for day in range(32):
        start = MIDNIGHT - timedelta(days=32 - day)
        _put(client, bucket, f"credit/prod/day={start:%Y-%m-%d}/part-0.parquet", _day(start, seed=100 + day))
    document = base_config(f"s3://{bucket}/credit/train.parquet", f"s3://{bucket}/credit/prod/")
    document["spec"]["data"]["current"].update({"window": "30d", "timestampColumn": "ts"})
    document["output"] = {"uri": f"s3://{bucket}/results/"}

    first = evaluate(document, "--as-of", MIDNIGHT.isoformat(), output="")
    assert first.exit_code == 0, first.summary
    built = _steps(_result(client, bucket, first))
    assert len(built["built"]) == 30 and built["reused"] == 0
    listing = client.list_objects_v2(Bucket=bucket, Prefix="results/profiles/steps/")["Contents"]
    names = [item["Key"].rsplit("/", 1)[1] for item in listing]
    days = [name for name in names if name[0].isdigit()]
    blocks = [name for name in names if name.startswith("block-")]
    spans = [name for name in names if name.startswith("spans-")]
    assert (len(days), len(spans), len(blocks)) == (30, 1, built["blocksWritten"])

    new_day = MIDNIGHT
    new_bytes = _put(client, bucket, f"credit/prod/day={new_day:%Y-%m-%d}/part-0.parquet", _day(new_day, seed=500))
    later = (MIDNIGHT + timedelta(days=1)).isoformat()
    second = evaluate(document, "--as-of", later, output="")
    assert second.exit_code == 0, second.summary
    stepped = _result(client, bucket, second)
    steps = _steps(stepped)
    assert steps["reused"] == 29 and steps["built"] == [f"{new_day:%Y-%m-%d}T000000Z"]
    assert (steps["filesRead"], steps["bytesRead"]) == (1, new_bytes)

    raw_run = evaluate(document, "--as-of", later, output=str(tmp_path / "raw"))
    assert raw_run.exit_code == 0, raw_run.summary
    raw = json.loads((tmp_path / "raw" / "result.json").read_text())
    assert raw["data"]["current"]["stepProfiles"] is None
    _same(stepped, raw)
    assert stepped["rows"]["current"] == raw["rows"]["current"] > 8_000  # ~300 rows a day

    # a re-exported day (new ETag): that day is rebuilt from its object, every other day still reused
    rewritten = MIDNIGHT - timedelta(days=10)
    _put(client, bucket, f"credit/prod/day={rewritten:%Y-%m-%d}/part-0.parquet", _day(rewritten, seed=900, drift=1.0))
    third = evaluate(document, "--as-of", later, output="")
    assert third.exit_code == 0, third.summary
    rebuilt = _result(client, bucket, third)
    assert _steps(rebuilt)["built"] == [f"{rewritten:%Y-%m-%d}T000000Z"] and _steps(rebuilt)["reused"] == 29
    assert _steps(rebuilt)["filesRead"] == 1
    raw_again = evaluate(document, "--as-of", later, output=str(tmp_path / "raw-2"))
    _same(rebuilt, json.loads((tmp_path / "raw-2" / "result.json").read_text()))
    assert raw_again.exit_code == 0
