"""A 30-day window from 30 stored daily step profiles against the same window read from raw data.

    python bench/profiles/run_profiles.py [--rows-per-day 100000] [--repeat 3] [--json bench/profiles/results.json]
        [--s3] [--only raw,stored,next-day] [--before /tmp/before/operator [--before-contenders stored,next-day]]

Data (seeded, ``bench/generate.py``'s 25 features, label, prediction and score, plus a ``ts`` column): a
reference of ``--reference-rows`` rows and 31 daily Parquet files of ``--rows-per-day`` rows each, the
current data drifted as in the main benchmark. Every contender is the ``modelmonitor evaluate`` command in
its own process (``bench/measure.py``: wall time, CPU seconds of all threads, peak RSS) with the reference
profile already cached (warm), writing result.json and the HTML report:

- **raw**: ``--no-step-profiles``: the 30 days read from the Parquet files, as before stored steps existed;
- **30 stored days**: the window ending at midnight, every day's step profile stored by an earlier run;
- **next day**: the window a day later: 29 stored days merged, the new day's file read and its profile
  stored (the step-profile folder is restored to its 30-day state before each of these runs);
- **first run**: no step profile stored yet: every day read and stored (what enabling costs once).

Runs are interleaved round by round (raw, stored, next day, raw, ...) so the machine's load hits all alike;
each row is the median of ``--repeat`` runs with the 1-minute load average before and after. ``--only``
leaves contenders out (``first`` costs ~4 CPU s a round). ``--before DIR`` measures another source tree too
(``git archive <commit> operator | tar -x -C /tmp/before``; DIR is put first on ``PYTHONPATH``, the same
virtualenv): each of ``--before-contenders`` runs with it right before the same contender with this checkout
(stored-before, stored, next-day-before, next-day, ...), and its result must equal this checkout's. The script
also checks that the stored-steps result equals the raw one (counts, confusion matrix, drift tests exactly;
float sums to 1e-12) and records it in the JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
sys.path.insert(0, str(BENCH))

from generate import chunk  # noqa: E402  (bench/generate.py: the main benchmark's columns)

MIDNIGHT = datetime(2026, 11, 23, tzinfo=UTC)
DAYS = 30
SEED = 20261201

CONFIG = {
    "monitor": {"namespace": "bench", "name": "credit"},
    "spec": {
        "model": {"name": "credit", "version": "7", "task": "binary-classification"},
        "data": {
            "reference": {"uri": "", "format": "parquet"},
            "current": {"uri": "", "format": "parquet", "window": "30d", "timestampColumn": "ts"},
            "columns": {"target": "label", "prediction": "pred", "score": "score", "exclude": ["request_id"]},
        },
        "metrics": [{"name": "accuracy", "min": 0.75, "severity": "critical"}, {"name": "f1", "min": 0.6},
                    {"name": "roc_auc", "min": 0.7}],
        "drift": {"tests": ["ks", "chi2", "psi"], "pValue": 0.05, "psi": {"warning": 0.1, "critical": 0.25},
                  "datasetDriftShare": 0.3},
    },
}


def generate(folder: Path, reference_rows: int, rows_per_day: int) -> None:
    """The reference and 31 daily files (the window's 30 days and the next day), seeded."""
    marker = folder / f"done-{reference_rows}-{rows_per_day}"
    if marker.exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "current").mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    pq.write_table(pa.Table.from_batches([chunk(rng, reference_rows, False, 0)]), folder / "reference.parquet")
    for day in range(DAYS + 1):
        start = MIDNIGHT - timedelta(days=DAYS - day)
        batch = chunk(rng, rows_per_day, True, day * rows_per_day)
        seconds = np.sort(rng.uniform(0, 86_400, rows_per_day))
        stamps = pa.array((np.datetime64(start.replace(tzinfo=None), "us")
                           + (seconds * 1e6).astype("timedelta64[us]")), type=pa.timestamp("us", tz="UTC"))
        table = pa.Table.from_batches([batch]).append_column("ts", stamps)
        pq.write_table(table, folder / "current" / f"day={start:%Y-%m-%d}.parquet")
    marker.write_text("")


def measure(command: list[str], environment: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run([str(PYTHON), str(BENCH / "measure.py"), "--", *command],
                               check=True, capture_output=True, text=True, env=environment)
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    if result["exitCode"] != 0:
        raise SystemExit(f"{command} failed: {completed.stderr[-2000:]}")
    return result


def evaluate_command(config: Path, output: Path, cache: str, as_of: datetime, *extra: str) -> list[str]:
    return [str(ROOT / ".venv" / "bin" / "modelmonitor"), "evaluate", "--config", str(config), "--as-of",
            as_of.isoformat(), "--output", str(output), "--profile-cache", cache, "--run-id", "bench",
            "--quiet", "--summary", str(output / "summary.json"), *extra]


def exact_part(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "rows": result["rows"], "confusionMatrix": result["confusionMatrix"], "verdict": result["verdict"],
        "features": [(item["feature"], item["status"], item["currentCount"], item["tests"])
                     for item in result["drift"]["features"]],
    }


def largest_float_gap(left: Any, right: Any) -> float:
    """The largest relative difference between the floats of two results (``inf`` if their shapes differ)."""
    if isinstance(left, float) and isinstance(right, float):
        if left == right or (math.isnan(left) and math.isnan(right)):
            return 0.0
        return abs(left - right) / max(abs(left), abs(right))
    if isinstance(left, dict) and isinstance(right, dict):
        if sorted(left) != sorted(right):
            return math.inf
        return max((largest_float_gap(left[key], right[key]) for key in left), default=0.0)
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return math.inf
        return max((largest_float_gap(one, other) for one, other in zip(left, right, strict=True)), default=0.0)
    return 0.0 if left == right else math.inf


def git(*arguments: str) -> str:
    """The tree measured: the commit, and the evaluator sources changed but not committed (shared tree)."""
    completed = subprocess.run(["git", *arguments], cwd=ROOT, check=True, capture_output=True, text=True)
    return completed.stdout.rstrip("\n")


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    loads = [value for run in runs for value in (run["loadBefore"], run["loadAfter"])]
    return {
        "seconds": statistics.median(run["seconds"] for run in runs),
        "fastest": min(run["seconds"] for run in runs),
        "slowest": max(run["seconds"] for run in runs),
        "cpuSeconds": statistics.median(run["cpuSeconds"] for run in runs),
        "peakRssMiB": statistics.median(run["peakRssMiB"] for run in runs),
        "loadLow": min(loads), "loadHigh": max(loads), "runs": runs,
    }


class LocalStore:
    """The data and the stored profiles on the local disk."""

    def __init__(self, data: Path, work: Path) -> None:
        self.env: dict[str, str] = {}
        self.data, self.work, self.cache = data, work, work / "cache"
        self.reference, self.current = str(data / "reference.parquet"), str(data / "current")
        self.hidden = data / "current" / f"day={MIDNIGHT:%Y-%m-%d}.parquet"
        self.parked = data / f"parked-day={MIDNIGHT:%Y-%m-%d}.parquet"
        if self.hidden.exists():  # the next day's file arrives only for the next-day runs
            self.hidden.rename(self.parked)

    def snapshot(self) -> None:
        shutil.copytree(self.cache / "profiles" / "steps", self.work / "steps-30-days")

    def restore(self, empty: bool = False) -> None:
        shutil.rmtree(self.cache / "profiles" / "steps")
        if not empty:
            shutil.copytree(self.work / "steps-30-days", self.cache / "profiles" / "steps")

    def next_day(self, arrived: bool) -> None:
        if arrived:
            self.parked.rename(self.hidden)
        else:
            self.hidden.rename(self.parked)

    def close(self) -> None:
        pass


class MinioStore:
    """The same files in a MinIO bucket on loopback (tests/harness/minio.py): stored profiles cost GETs."""

    def __init__(self, data: Path, work: Path) -> None:
        sys.path.insert(0, str(ROOT))
        from tests.harness.minio import MinioServer, find_minio

        (work / "minio").mkdir()
        self.server = MinioServer(work / "minio", find_minio())
        self.server.start()
        self.env = self.server.env
        self.client = self.server.client()
        self.bucket = self.server.create_bucket("bench")
        self.client.upload_file(str(data / "reference.parquet"), self.bucket, "reference.parquet")
        self.next_key = f"current/day={MIDNIGHT:%Y-%m-%d}.parquet"
        for path in sorted((data / "current").glob("*.parquet")):
            if f"current/{path.name}" != self.next_key:
                self.client.upload_file(str(path), self.bucket, f"current/{path.name}")
        parked = data / f"parked-day={MIDNIGHT:%Y-%m-%d}.parquet"
        self.next_file = parked if parked.exists() else data / "current" / f"day={MIDNIGHT:%Y-%m-%d}.parquet"
        self.reference, self.current = f"s3://{self.bucket}/reference.parquet", f"s3://{self.bucket}/current/"
        self.cache = f"s3://{self.bucket}/cache"

    def _keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def snapshot(self) -> None:
        for key in self._keys("cache/profiles/steps/"):
            self.client.copy_object(Bucket=self.bucket, Key="snapshot/" + key,
                                    CopySource={"Bucket": self.bucket, "Key": key})

    def restore(self, empty: bool = False) -> None:
        for key in self._keys("cache/profiles/steps/"):
            self.client.delete_object(Bucket=self.bucket, Key=key)
        for key in [] if empty else self._keys("snapshot/"):
            self.client.copy_object(Bucket=self.bucket, Key=key.removeprefix("snapshot/"),
                                    CopySource={"Bucket": self.bucket, "Key": key})

    def next_day(self, arrived: bool) -> None:
        if arrived:
            self.client.upload_file(str(self.next_file), self.bucket, self.next_key)
        else:
            self.client.delete_object(Bucket=self.bucket, Key=self.next_key)

    def close(self) -> None:
        self.server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=100_000)
    parser.add_argument("--reference-rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--s3", action="store_true", help="data and stored profiles in MinIO on loopback")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--only", default=None, help="comma-separated contenders (raw and stored always run)")
    parser.add_argument("--before", type=Path, default=None, help="another tree's source root (operator/)")
    parser.add_argument("--before-contenders", default="stored,next-day")
    parser.add_argument("--before-commit", default=None, help="the commit the before tree was archived from")
    arguments = parser.parse_args()
    data = BENCH / "data" / "profiles"
    work = BENCH / "out" / "profiles"
    generate(data, arguments.reference_rows, arguments.rows_per_day)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    store: LocalStore | MinioStore = MinioStore(data, work) if arguments.s3 else LocalStore(data, work)
    try:
        measured(arguments, store, work)
    finally:
        store.close()


def measured(arguments: argparse.Namespace, store: LocalStore | MinioStore, work: Path) -> None:
    config_document = json.loads(json.dumps(CONFIG))
    config_document["spec"]["data"]["reference"]["uri"] = store.reference
    config_document["spec"]["data"]["current"]["uri"] = store.current
    config = work / "config.json"
    config.write_text(json.dumps(config_document))
    cache = str(store.cache)
    environment = dict(os.environ, **store.env)

    # Prime: the reference profile and the 30 days' step profiles (the state a daily monitor is in).
    subprocess.run(evaluate_command(config, work / "prime", cache, MIDNIGHT), check=True, capture_output=True,
                   env=environment)
    store.snapshot()

    contenders = {
        "raw": ("30-day window from raw data (`--no-step-profiles`)", MIDNIGHT, ["--no-step-profiles"]),
        "stored": ("30-day window from 30 stored daily profiles", MIDNIGHT, []),
        "next-day": ("next day: 29 stored days + the new day read raw and stored", MIDNIGHT + timedelta(days=1), []),
        "first": ("first run: nothing stored, 30 days read and stored", MIDNIGHT, []),
    }
    only = None if arguments.only is None else {"raw", "stored", *arguments.only.split(",")}
    contenders = {name: item for name, item in contenders.items() if only is None or name in only}
    before_tree = None if arguments.before is None else arguments.before.resolve()
    plan: list[tuple[str, str, bool]] = []  # (key, contender, with the before tree), in the order of a round
    for name in contenders:
        if before_tree is not None and name in arguments.before_contenders.split(","):
            plan.append((f"{name}-before", name, True))
        plan.append((name, name, False))
    before_environment = dict(environment, PYTHONPATH=str(before_tree))
    runs: dict[str, list[dict[str, Any]]] = {key: [] for key, _, _ in plan}
    for _ in range(arguments.repeat):
        for key, name, before in plan:
            _, as_of, extra = contenders[name]
            store.restore(empty=name == "first")
            if name == "next-day":
                store.next_day(arrived=True)
            load_before = os.getloadavg()[0]
            try:
                run = measure(evaluate_command(config, work / key, cache, as_of, *extra),
                              before_environment if before else environment)
            finally:
                if name == "next-day":
                    store.next_day(arrived=False)
            runs[key].append({**run, "loadBefore": round(load_before, 2), "loadAfter": round(os.getloadavg()[0], 2)})
            print(f"  {key}: {run['seconds']:.2f} s, {run['cpuSeconds']:.2f} CPU s, {run['peakRssMiB']:.0f} MiB, "
                  f"load {load_before:.1f}", file=sys.stderr, flush=True)

    results = {key: json.loads((work / key / "result.json").read_text()) for key, _, _ in plan}
    compared = ("rows", "labels", "metrics", "confusionMatrix", "verdict", "violations", "checks", "drift",
                "dataQuality", "estimated", "statistics")
    raw = {key: results["raw"][key] for key in compared}
    stored = {key: results["stored"][key] for key in compared}
    equality = {
        "exactPartsEqual": exact_part(results["raw"]) == exact_part(results["stored"]),
        "largestRelativeFloatGap": largest_float_gap(raw, stored),
        "stepProfiles": {key: results[key]["data"]["current"]["stepProfiles"] for key, _, _ in plan},
        "rowsInWindow": results["raw"]["rows"]["current"],
        # each before-tree contender against this checkout's same contender
        "beforeEqualsAfter": {
            key: {"exactPartsEqual": exact_part(results[key]) == exact_part(results[name]),
                  "largestRelativeFloatGap": largest_float_gap({item: results[key][item] for item in compared},
                                                               {item: results[name][item] for item in compared})}
            for key, name, before in plan if before
        },
    }
    summary = {key: summarise(runs[key]) for key, _, _ in plan}
    rows_total = results["raw"]["rows"]["current"]
    labels = {key: contenders[name][0] + (" (before)" if before else "") for key, name, before in plan}
    for key, label in labels.items():
        item = summary[key]
        where = ", MinIO" if arguments.s3 else ""
        print(f"| {rows_total:,} rows, 30 days{where} | {label} | {item['seconds']:.2f} s ({item['fastest']:.2f}-"
              f"{item['slowest']:.2f}) | {item['cpuSeconds']:.2f} s | {item['peakRssMiB']:.0f} MiB | "
              f"{item['loadLow']:.1f}-{item['loadHigh']:.1f} |")
    print(json.dumps(equality, indent=1))
    if arguments.json is not None:
        arguments.json.write_text(json.dumps({
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git("rev-parse", "--short", "HEAD"),
            "uncommittedSources": git("status", "--short", "--", "operator").splitlines(),
            "rowsPerDay": arguments.rows_per_day, "referenceRows": arguments.reference_rows,
            "repeat": arguments.repeat, "store": "MinIO on loopback" if arguments.s3 else "local disk",
            "contenders": labels,
            "beforeTree": None if before_tree is None else {
                "path": str(before_tree), "commit": arguments.before_commit or "unknown"},
            "results": summary, "equality": equality,
        }, indent=1))


if __name__ == "__main__":
    main()
