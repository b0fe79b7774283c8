"""Sharded evaluation through the real control plane: wall time, speed-up and peak RSS for 1, 2 and 4 shards.

Starts etcd + kube-apiserver + kube-controller-manager, the test node agent, MinIO and the operator on
loopback (the test harness), writes the bench data set (``bench/generate.py``: 25 features) to MinIO as
``--files`` Parquet files, then evaluates the same monitor with each shard count through run-now. Wall time
is from the run-now annotation to the evaluation in the monitor's status (scheduling, process start-up,
shards, reduce and the operator included). Peak RSS is each evaluation process's own high-water mark
(``VmHWM`` from /proc, sampled while the node agent runs it). A warm-up run over a small current prefix fills
the reference profile cache first, so every timed run reuses it, as scheduled runs do.

    .venv/bin/python bench/sharding/run_sharding.py --rows 10000000 --files 16 --shards 1 2 4
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import generate  # noqa: E402  (bench/generate.py)

NAMESPACE = "bench"
MONITOR = "sharded"


class PeakMemory:
    """The peak RSS (VmHWM) of every process the node agent runs, keyed by pod name."""

    def __init__(self, agent: Any) -> None:
        self.agent, self.peaks = agent, {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.stop.is_set():
            with self.agent._lock:
                runs = list(self.agent._runs.values())
            for run in runs:
                for container in run.containers.values():
                    process = container.process
                    if process is None or process.poll() is not None:
                        continue
                    try:
                        status = Path(f"/proc/{process.pid}/status").read_text()
                    except OSError:
                        continue
                    for line in status.splitlines():
                        if line.startswith("VmHWM:"):
                            kib = int(line.split()[1])
                            self.peaks[run.name] = max(self.peaks.get(run.name, 0), kib * 1024)
            time.sleep(0.1)


def _upload_dataset(s3: Any, bucket: str, rows: int, files: int, workdir: Path) -> None:
    """Reference (1M rows, one file), current (``rows`` in ``files`` files) and a 200k warm-up current."""
    def write(key: str, count: int, seed: int, drifted: bool) -> None:
        path = workdir / "part.parquet"
        generate.write(path, count, seed, drifted)
        s3.upload_file(str(path), bucket, key)
        path.unlink()

    write("reference/part-0.parquet", 1_000_000, 1, False)
    write("warmup/part-0.parquet", 200_000, 2, True)
    per_file = rows // files
    for index in range(files):
        write(f"current/part-{index:03d}.parquet", per_file, 100 + index, True)
        print(f"  uploaded current file {index + 1}/{files} ({per_file:,} rows)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--out", type=Path, default=BENCH / "sharding" / "results.json")
    arguments = parser.parse_args()

    from tests.harness.controlplane import LocalControlPlane, find_binaries
    from tests.harness.minio import MinioServer, find_minio
    from tests.harness.node_agent import NodeAgent
    from tests.harness.processes import ManagedProcess, free_port, wait_until

    workdir = Path(tempfile.mkdtemp(prefix="modelmonitor-bench-sharding-"))
    cleanups: list[Any] = []
    results: list[dict[str, Any]] = []
    try:
        plane = LocalControlPlane(workdir / "control-plane", find_binaries())
        (workdir / "control-plane").mkdir(parents=True)
        cleanups.append(plane.stop)
        plane.start()
        env = plane.env
        host, _, port = plane.server.removeprefix("https://").rpartition(":")
        (workdir / "node").mkdir()
        agent = NodeAgent(plane.api_client(), workdir / "node", api_server_host=host, api_server_port=int(port))
        cleanups.append(agent.stop)
        agent.start()
        memory = PeakMemory(agent)
        cleanups.append(memory.stop.set)
        (workdir / "minio").mkdir()
        s3_server = MinioServer(workdir / "minio", find_minio())
        cleanups.append(s3_server.stop)
        s3_server.start()
        kubectl = ROOT / "bin" / "kubectl"

        def run_kubectl(*args: str, stdin: str | None = None) -> str:
            done = subprocess.run([str(kubectl), *args], input=stdin, env=env, text=True, capture_output=True,
                                  check=True)
            return done.stdout

        run_kubectl("apply", "--server-side", "-f", str(ROOT / "crds" / "modelmonitors.yaml"))
        run_kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/modelmonitors.modelmonitor.io")
        liveness = free_port()
        operator = ManagedProcess("operator", [
            sys.executable, "-m", "modelmonitor.cli", "operator", "--all-namespaces",
            f"--liveness=http://127.0.0.1:{liveness}/healthz", "--metrics-port=0",
            "--evaluator-image=modelmonitor:bench",
            "--log-format=plain",
            *s3_server.outbound_flags(),  # deny by default: its MinIO
        ], workdir / "operator.log", env=env)
        cleanups.append(operator.stop)

        def live() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{liveness}/healthz", timeout=2) as response:
                return bool(response.status == 200)

        wait_until(live, 60, what="operator liveness")
        bucket = f"bench-{uuid.uuid4().hex[:6]}"
        s3 = s3_server.client()
        s3.create_bucket(Bucket=bucket)
        started = time.monotonic()
        _upload_dataset(s3, bucket, arguments.rows, arguments.files, workdir)
        print(f"data in MinIO after {time.monotonic() - started:.0f} s", flush=True)

        def b64(text: str) -> str:
            return base64.b64encode(text.encode()).decode()

        run_kubectl("create", "namespace", NAMESPACE)
        run_kubectl("-n", NAMESPACE, "create", "serviceaccount", "modelmonitor-evaluator")
        run_kubectl("-n", NAMESPACE, "apply", "-f", "-", stdin=json.dumps({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3-creds"},
            "data": {"AWS_ACCESS_KEY_ID": b64(s3_server.access_key),
                     "AWS_SECRET_ACCESS_KEY": b64(s3_server.secret_key)}}))

        def monitor(current_prefix: str, shards: int) -> dict[str, Any]:
            return {"apiVersion": "modelmonitor.io/v1alpha1", "kind": "ModelMonitor",
                    "metadata": {"name": MONITOR, "namespace": NAMESPACE},
                    "spec": {
                        "model": {"name": "credit", "version": "7", "task": "binary-classification"},
                        "schedule": "0 0 1 1 *",
                        "data": {
                            "store": {"endpoint": s3_server.endpoint, "region": s3_server.region,
                                      "credentialsSecret": "s3-creds"},
                            "reference": {"uri": f"s3://{bucket}/reference/", "format": "parquet"},
                            "current": {"uri": f"s3://{bucket}/{current_prefix}/", "format": "parquet"},
                            "columns": {"target": "label", "prediction": "pred", "score": "score",
                                        "exclude": ["request_id"]}},
                        "metrics": [{"name": "accuracy", "min": 0.75, "severity": "critical"},
                                    {"name": "f1", "min": 0.6}, {"name": "roc_auc", "min": 0.7}],
                        "drift": {"tests": ["psi"], "datasetDriftShare": 0.3},
                        "evaluation": {"shards": shards, "timeout": "1h", "backoffLimit": 0}}}

        import kubernetes

        custom = kubernetes.client.CustomObjectsApi(plane.api_client())

        def status() -> dict[str, Any]:
            # The API client, not kubectl: a kubectl process per poll would compete with the shards for CPU.
            monitor_body = custom.get_namespaced_custom_object("modelmonitor.io", "v1alpha1", NAMESPACE,
                                                               "modelmonitors", MONITOR)
            return dict(monitor_body.get("status") or {})

        def evaluate(current_prefix: str, shards: int) -> tuple[dict[str, Any], float]:
            run_kubectl("apply", "-f", "-", stdin=json.dumps(monitor(current_prefix, shards)))
            expected = "Indexed" if shards > 1 else "NonIndexed"
            wait_until(lambda: (json.loads(run_kubectl("-n", NAMESPACE, "get", "cronjob", f"{MONITOR}-eval", "-o",
                                                       "json"))["spec"]["jobTemplate"]["spec"]
                                .get("completionMode", "NonIndexed") == expected
                                and json.loads(run_kubectl("-n", NAMESPACE, "get", "cm", f"{MONITOR}-config", "-o",
                                                           "json"))["data"]["config.json"].count(current_prefix) > 0),
                       60, what="the CronJob and ConfigMap updated")
            before = len(status().get("history") or [])
            clock = time.monotonic()
            run_kubectl("-n", NAMESPACE, "annotate", "--overwrite", "mm", MONITOR,
                        f"modelmonitor.io/run-now={uuid.uuid4().hex[:6]}")
            wait_until(lambda: len(status().get("history") or []) > before, 3600, interval=0.5,
                       what=f"the {shards}-shard evaluation")
            elapsed = time.monotonic() - clock
            last = status()["lastEvaluation"]
            if last.get("outcome") != "evaluated":
                raise SystemExit(f"{shards} shard(s): {json.dumps(last)[:2000]}")
            return last, elapsed

        evaluate("warmup", 1)
        print("warm-up done (reference profile cached)", flush=True)
        baseline: dict[str, Any] | None = None
        for shards in arguments.shards:
            before = set(memory.peaks)
            last, elapsed = evaluate("current", shards)
            time.sleep(0.5)
            pods = {name: peak for name, peak in memory.peaks.items() if name not in before}
            shard_peaks = [peak for name, peak in pods.items() if "-reduce-" not in name]
            reduce_peaks = [peak for name, peak in pods.items() if "-reduce-" in name]
            same = None
            if baseline is None:
                baseline = last
            else:
                same = all(last.get(key) == baseline.get(key) for key in ("metrics", "drift", "verdict", "rows"))
            row = {"shards": shards, "rows": last["rows"]["current"], "seconds": round(elapsed, 1),
                   "peakRssPerShardMiB": [round(peak / 2**20) for peak in sorted(shard_peaks)],
                   "reducePeakRssMiB": [round(peak / 2**20) for peak in reduce_peaks],
                   "equalsSingle": same, "verdict": last["verdict"], "metrics": last["metrics"]}
            results.append(row)
            print(json.dumps(row), flush=True)
        first = results[0]["seconds"]
        print("\n| rows | files | shards | wall time | speed-up | peak RSS per shard | reduce peak RSS "
              "| equals 1 shard |")
        print("|---|---|---|---|---|---|---|---|")
        for row in results:
            print(f"| {row['rows']:,} | {arguments.files} | {row['shards']} | {row['seconds']} s | "
                  f"{first / row['seconds']:.2f}x | {', '.join(map(str, row['peakRssPerShardMiB']))} MiB | "
                  f"{', '.join(map(str, row['reducePeakRssMiB'])) or '-'} MiB | "
                  f"{'-' if row['equalsSingle'] is None else ('yes' if row['equalsSingle'] else 'NO')} |")
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text(json.dumps({"rows": arguments.rows, "files": arguments.files,
                                             "cores": os.cpu_count(), "results": results}, indent=1))
        return 0
    finally:
        while cleanups:
            try:
                cleanups.pop()()
            except Exception as error:  # keep stopping the rest
                print(f"cleanup: {error}", file=sys.stderr)
        if os.environ.get("KEEP_BENCH") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
