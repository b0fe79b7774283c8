"""Fixtures for the evaluator's integration tests: seeded data sets and an S3-compatible server on loopback.

``object_store`` is MinIO from the lead's ``s3_server`` fixture when a MinIO binary is already built (or
``MINIO_BINARY`` names one); otherwise moto's standalone server, so the tests never wait for a Go build.
Both are real HTTP servers speaking the S3 API; nothing is mocked inside the process under test.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from modelmonitor.evaluator.cli import main

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@dataclass
class MotoStore:
    endpoint: str
    region: str = "us-east-1"
    access_key: str = "moto-access"
    secret_key: str = "moto-secret-key"

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name


def _minio_available() -> bool:
    if os.environ.get("MINIO_BINARY"):
        return True
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelmonitor" / "minio"
    return bool(glob.glob(str(cache / "*" / "minio")))


@pytest.fixture(scope="session")
def object_store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if _minio_available():
        yield request.getfixturevalue("s3_server")
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield MotoStore(endpoint=f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
def s3_env(object_store: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in object_store.env.items():
        monkeypatch.setenv(name, value)
    return object_store


def make_table(
    rows: int, seed: int, *, drift: float = 0.0, start: datetime = AS_OF - timedelta(hours=48), id_offset: int = 0
) -> pa.Table:
    """A binary classifier's data: 2 numeric features, 1 categorical, a timestamp over 48h, id, label, scores."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(100.0 + drift * 30.0, 20.0, rows)
    amount[rng.random(rows) < 0.03] = np.nan
    age = rng.integers(18, 90, rows).astype(np.float64)
    region = rng.choice(["north", "south", "east", "west"], size=rows, p=[0.4, 0.3, 0.2, 0.1])
    logit = (np.nan_to_num(amount, nan=100.0) - 100.0) / 20.0 + (age - 50.0) / 30.0
    score = 1.0 / (1.0 + np.exp(-(logit + rng.normal(0.0, 0.8, rows))))
    label = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    seconds = np.sort(rng.uniform(0, 48 * 3600, rows))
    timestamps = [start + timedelta(seconds=float(value)) for value in seconds]
    return pa.table(
        {
            "request_id": pa.array(np.arange(id_offset, id_offset + rows, dtype=np.int64)),
            "ts": pa.array(timestamps, type=pa.timestamp("us", tz="UTC")),
            "amount": amount,
            "age": age,
            "region": region.tolist(),
            "label": label,
            "pred": (score >= 0.5).astype(np.int64),
            "score": score,
        }
    )


def base_config(reference: str, current: str, **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiVersion": "modelmonitor.io/v1alpha1",
        "monitor": {"namespace": "risk", "name": "credit", "uid": "uid-1"},
        "spec": {
            "model": {"name": "credit", "version": "7", "task": "binary-classification"},
            "data": {
                "reference": {"uri": reference},
                "current": {"uri": current},
                "columns": {"target": "label", "prediction": "pred", "score": "score", "exclude": ["request_id"]},
            },
            "metrics": [{"name": "accuracy", "min": 0.5, "severity": "critical"}, {"name": "f1", "min": 0.3}],
            "drift": {"tests": ["ks", "chi2", "psi"], "minSampleSize": 30},
        },
    }
    document["spec"]["data"].update(overrides)
    return document


@dataclass
class CliRun:
    exit_code: int
    summary: dict[str, Any]
    output: Path


@pytest.fixture
def evaluate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``modelmonitor evaluate`` in-process on a config document; returns exit code and summary.

    ``output=""`` passes no ``--output`` flag (the config's ``output.uri`` decides).
    """
    counter = iter(range(1000))

    def run(document: dict[str, Any], *extra: str, output: str | None = None) -> CliRun:
        index = next(counter)
        config = tmp_path / f"config-{index}.json"
        config.write_text(json.dumps(document))
        summary_path = tmp_path / f"summary-{index}.json"
        monkeypatch.setenv("MODELMONITOR_TERMINATION_LOG", str(summary_path))
        monkeypatch.setenv("MODELMONITOR_RUN_ID", f"run-{index}")
        output_dir = tmp_path / f"out-{index}"
        arguments = ["evaluate", "--config", str(config), "--as-of", AS_OF.isoformat(), "--quiet"]
        if output != "":
            arguments += ["--output", output if output is not None else str(output_dir)]
        arguments += list(extra)
        exit_code = main(arguments)
        summary = json.loads(summary_path.read_bytes())
        assert len(summary_path.read_bytes()) <= 4096
        return CliRun(exit_code=exit_code, summary=summary, output=output_dir)

    return run
