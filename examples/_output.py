"""Writes an example's tables as Parquet under a local folder or an S3 prefix (shared by the generators).

`DEST/<name>/part-0.parquet` for every table; an `s3://bucket/prefix` destination uses boto3 with the standard
AWS environment (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` for MinIO and other S3-compatible stores) and
creates the bucket when it does not exist.
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def parse_arguments(description: str, rows: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("destination", help="a local folder or s3://bucket/prefix")
    parser.add_argument("--rows", type=int, default=rows, help=f"rows of current data (default {rows})")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--drift", type=float, default=0.0,
                        help="0: production looks like the reference; 1: strong drift (default 0)")
    parser.add_argument("--now", type=lambda text: datetime.fromisoformat(text).astimezone(UTC),
                        default=None, help="end of the generated time range, ISO 8601 (default: now)")
    return parser.parse_args()


def write_tables(destination: str, tables: Mapping[str, pa.Table]) -> list[str]:
    """Write each table to `<destination>/<name>/part-0.parquet`, replacing what was there; return the URIs."""
    written = []
    if destination.startswith("s3://"):
        import boto3

        bucket, _, prefix = destination.removeprefix("s3://").partition("/")
        prefix = prefix.strip("/")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        client = boto3.client("s3", endpoint_url=endpoint)
        existing = {item["Name"] for item in client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)
        for name, table in tables.items():
            folder = f"{prefix}/{name}/" if prefix else f"{name}/"
            for item in client.list_objects_v2(Bucket=bucket, Prefix=folder).get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])
            sink = io.BytesIO()
            pq.write_table(table, sink)
            client.put_object(Bucket=bucket, Key=f"{folder}part-0.parquet", Body=sink.getvalue())
            written.append(f"s3://{bucket}/{folder}part-0.parquet")
        return written
    for name, table in tables.items():
        local = Path(destination) / name
        local.mkdir(parents=True, exist_ok=True)
        for old in local.glob("*.parquet"):
            old.unlink()
        pq.write_table(table, local / "part-0.parquet")
        written.append(str(local / "part-0.parquet"))
    return written


def report(written: list[str], tables: Mapping[str, pa.Table]) -> None:
    for (name, table), uri in zip(tables.items(), written, strict=True):
        print(f"{name:>9}: {table.num_rows:>7} rows -> {uri}")
