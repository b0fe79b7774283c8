"""The operator under load: 1,000 monitors, evaluations finishing at 200 a minute, on the real control plane.

    .venv/bin/python bench/operator_load/run.py [--monitors 1000] [--rate 200] [--minutes 5] [--out FILE]

What runs: etcd + kube-apiserver + kube-controller-manager (tests.harness.controlplane), the test node agent in
its own process, and the operator as a subprocess (`modelmonitor operator`), exactly as deployed minus the
container. The monitors are created first (schedule far away), then the operator starts and reconciles them.
Evaluations are real Jobs made from each monitor's CronJob template (what run-now does), completed by the real
Job controller from pods the node agent runs; the pod's command is a `/bin/sh` printf of a valid summary to
/dev/termination-log instead of the evaluator, so the machine's two cores go to the operator, not to 200
Python starts a minute.

Measured: the operator's RSS and CPU (/proc/<pid>), its API requests per evaluation (its metrics endpoint; the
API server's own request counters as a cross-check of what kopf adds), and the time from a Job's completion to
its monitor's status containing that evaluation: both seen by this process's watches (Job: the first event
with a Complete / Failed condition; monitor: the first event whose status.history holds the evaluation id).
Checked: every Job created is in exactly one history entry, none twice, none lost.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import kubernetes  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from tests.harness.controlplane import LocalControlPlane, find_binaries  # noqa: E402
from tests.harness.processes import ManagedProcess, free_port, wait_until  # noqa: E402

from modelmonitor.manifests import build_job_from_cron_job  # noqa: E402

GROUP, VERSION, PLURAL = "modelmonitor.io", "v1alpha1", "modelmonitors"
MONITOR_LABEL = "modelmonitor.io/monitor"
IMAGE = "modelmonitor:bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def monitor_body(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "ModelMonitor",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "model": {"name": name, "version": "1", "task": "binary-classification"},
            "schedule": "0 0 1 1 *",
            "data": {
                "store": {"endpoint": "http://127.0.0.1:1", "region": "us-east-1", "credentialsSecret": "s3-creds"},
                "reference": {"uri": "s3://ml/reference/", "format": "parquet"},
                "current": {"uri": "s3://ml/current/", "format": "parquet", "window": "24h", "timestampColumn": "ts"},
                "columns": {"target": "label", "prediction": "pred", "score": "proba"},
            },
            "metrics": [{"name": "accuracy", "min": 0.6, "severity": "critical"}, {"name": "roc_auc", "min": 0.6}],
            "drift": {"tests": ["ks", "psi"]},
        },
    }


def summary_prefix(run_id: str, started_at: str) -> str:
    """A valid evaluator summary (docs/contracts.md section 2) up to the value of finishedAt."""
    summary = {
        "schemaVersion": 1, "runId": run_id, "outcome": "evaluated", "error": None, "modelVersion": "1",
        "startedAt": started_at, "rows": {"reference": 100000, "current": 24000, "labelled": 24000},
        "labels": {"coverage": 1.0, "pending": False}, "verdict": "healthy",
        "metrics": {"accuracy": 0.93, "roc_auc": 0.91},
        "drift": {"share": 0.0, "drifted": 0, "features": 8, "datasetDrift": False, "top": []},
        "violations": [],
    }
    return json.dumps(summary, separators=(",", ":"))[:-1] + ',"finishedAt":"'


def pod_command(run_id: str, started_at: str) -> list[str]:
    script = 'printf \'%s%s"}\' "$0" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > /dev/termination-log'
    return ["/bin/sh", "-c", script, summary_prefix(run_id, started_at)]


@dataclass
class Observations:
    """What the watches saw, by Job name (= evaluation id), in time.monotonic() seconds."""

    completed: dict[str, float] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    in_status: dict[str, float] = field(default_factory=dict)
    duplicates: set[str] = field(default_factory=set)  # an id twice in one monitor's history
    lock: threading.Lock = field(default_factory=threading.Lock)


def watch(custom: Any, group: str, version: str, plural: str, selector: str, on_event: Any,
          stop: threading.Event) -> None:
    resource_version = custom.list_cluster_custom_object(group, version, plural, label_selector=selector,
                                                         limit=1)["metadata"]["resourceVersion"]
    while not stop.is_set():
        try:
            stream = kubernetes.watch.Watch().stream(  # type: ignore[no-untyped-call]
                custom.list_cluster_custom_object, group, version, plural, label_selector=selector,
                resource_version=resource_version, timeout_seconds=60, allow_watch_bookmarks=True)
            for event in stream:
                obj = event["object"]
                resource_version = obj.get("metadata", {}).get("resourceVersion", resource_version)
                if event["type"] in ("ADDED", "MODIFIED"):
                    on_event(obj, time.monotonic())
                if stop.is_set():
                    return
        except kubernetes.client.ApiException as error:
            if error.status == 410:
                print(f"watch of {plural}: resource version too old", file=sys.stderr)
            time.sleep(0.2)
        except Exception as error:  # the stream broke (the API server stopping at the end, or a hiccup)
            if not stop.is_set():
                print(f"watch of {plural}: {error}; watching again", file=sys.stderr)
                time.sleep(0.2)


def on_job(observations: Observations) -> Any:
    def handle(job: dict[str, Any], now: float) -> None:
        name = job["metadata"]["name"]
        for condition in (job.get("status") or {}).get("conditions") or []:
            if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
                with observations.lock:
                    observations.completed.setdefault(name, now)
                    if condition["type"] == "Failed":
                        observations.failed.add(name)
    return handle


def on_monitor(observations: Observations) -> Any:
    def handle(monitor: dict[str, Any], now: float) -> None:
        ids = [entry.get("id") for entry in (monitor.get("status") or {}).get("history") or []]
        with observations.lock:
            for evaluation_id in ids:
                observations.in_status.setdefault(evaluation_id, now)
            observations.duplicates.update(i for i, n in Counter(ids).items() if n > 1)
    return handle


@dataclass
class ProcessSample:
    wall: float
    cpu_seconds: float
    rss_bytes: int


def sample_process(pid: int) -> ProcessSample | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    rss = next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    return ProcessSample(time.monotonic(), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, rss)


class Sampler(threading.Thread):
    """Every second: the operator's RSS and CPU time, and the load average."""

    def __init__(self, pid: int, metrics_url: str, others: dict[str, int] | None = None) -> None:
        super().__init__(daemon=True)
        self.pid, self.samples, self.loads = pid, list[tuple[str, ProcessSample]](), list[tuple[str, float]]()
        self.others = others or {}  # the control plane's and node agent's processes, by name
        self.other_samples: defaultdict[str, list[tuple[str, ProcessSample]]] = defaultdict(list)
        self.metrics_url = metrics_url
        self.busy = list[tuple[str, float, float]]()  # (phase, handlers in flight, executor queue)
        self.phase = "startup"
        self.stop = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self.stop.wait(1.0):
            tick += 1
            sample = sample_process(self.pid)
            if sample is not None:
                self.samples.append((self.phase, sample))
            for name, pid in self.others.items():
                other = sample_process(pid)
                if other is not None:
                    self.other_samples[name].append((self.phase, other))
            self.loads.append((self.phase, os.getloadavg()[0]))
            if tick % 5:  # /metrics every 5 s: rendering every series costs the operator CPU and GIL time
                continue
            try:
                values = scrape(self.metrics_url)
            except OSError:
                continue
            in_flight = sum(v for k, v in values.items() if k[0] == "modelmonitor_handlers_in_flight")
            self.busy.append((self.phase, in_flight, values.get(("modelmonitor_executor_queue_depth", ()), 0.0)))

    def of(self, phase: str) -> list[ProcessSample]:
        return [sample for p, sample in self.samples if p == phase]

    def others_summary(self) -> dict[str, dict[str, float]]:
        """Per process: peak RSS, and CPU (cores) during startup and during load."""
        summary = {}
        for name, samples in self.other_samples.items():
            entry = {"rss_peak_mib": round(max(s.rss_bytes for _, s in samples) / 2**20, 1)}
            for phase in ("startup", "load"):
                phased = [s for p, s in samples if p == phase]
                if len(phased) > 1:
                    entry[f"cpu_cores_{phase}"] = round((phased[-1].cpu_seconds - phased[0].cpu_seconds)
                                                        / (phased[-1].wall - phased[0].wall), 3)
            summary[name] = entry
        return summary


def scrape(url: str, context: ssl.SSLContext | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=30, context=context) as response:
        text = response.read().decode()
    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def delta(after: dict[Any, float], before: dict[Any, float], name: str, **match: str) -> float:
    return sum(value - before.get(key, 0.0) for key, value in after.items()
               if key[0] == name and all(dict(key[1]).get(k) == v for k, v in match.items()))


class TunedControlPlane(LocalControlPlane):
    """The harness's control plane, with the controller manager's client rate limit raised when asked: its
    default (20 requests/s, burst 30) lets the Job controller finish only about 200 Jobs a minute (about 7
    requests per Job: pod create, 3 status updates, 2 events, a pod patch), below the rate this bench drives."""

    controller_manager_flags: tuple[str, ...] = ()

    def _spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        if name == "kube-controller-manager":
            argv = [*argv, *self.controller_manager_flags]
        return super()._spawn(name, argv)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--rate", type=float, default=200, help="evaluations started per minute")
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--drain", type=float, default=300, help="seconds to wait for the last evaluations")
    parser.add_argument("--operator-arg", action="append", default=[], help="extra operator argument")
    parser.add_argument("--worker-limit", type=int, default=-1,
                        help="override kopf's worker_limit (0: none; default: the operator's own setting)")
    parser.add_argument("--controller-manager-qps", type=int, default=0,
                        help="kube-controller-manager --kube-api-qps (burst: twice that; 0: its default, 20)")
    parser.add_argument("--memory-report", action="store_true",
                        help="ask the operator where its memory is after startup and at the end (SIGUSR1)")
    parser.add_argument("--tracemalloc", type=int, default=0,
                        help="with --memory-report: trace allocation sites, N frames (slows the operator)")
    parser.add_argument("--launcher-arg", action="append", default=[],
                        help="an argument of operator_with_settings.py (e.g. --without-spawning)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="modelmonitor-load-"))
    print(f"work folder: {workdir}", flush=True)
    plane = TunedControlPlane(workdir / "cp", find_binaries())
    if args.controller_manager_qps:
        plane.controller_manager_flags = (f"--kube-api-qps={args.controller_manager_qps}",
                                          f"--kube-api-burst={2 * args.controller_manager_qps}")
    (workdir / "cp").mkdir(parents=True)
    processes: list[ManagedProcess] = []
    stop = threading.Event()
    try:
        plane.start()
        env = plane.env
        subprocess.run([str(ROOT / "bin" / "kubectl"), "apply", "--server-side", "-f",
                        str(ROOT / "crds" / "modelmonitors.yaml")], env=env, check=True, capture_output=True)
        # `kubectl wait` fails at once (not found) if the CRD is not yet visible: retry until established.
        wait_until(lambda: subprocess.run([str(ROOT / "bin" / "kubectl"), "wait", "--for=condition=Established",
                                           "--timeout=30s", "crd/modelmonitors.modelmonitor.io"], env=env,
                                          capture_output=True).returncode == 0, 90, interval=1,
                   what="the ModelMonitor CRD established")
        processes.append(ManagedProcess("node-agent", [
            sys.executable, str(Path(__file__).with_name("agent.py")), str(plane.kubeconfig),
            str(workdir / "node"), plane.server], workdir / "node-agent.log", env=env))

        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=str(plane.kubeconfig),  # type: ignore[no-untyped-call]
                                           client_configuration=configuration)
        configuration.connection_pool_maxsize = 8
        client = kubernetes.client.ApiClient(configuration)
        core: Any = kubernetes.client.CoreV1Api(client)
        batch: Any = kubernetes.client.BatchV1Api(client)
        custom: Any = kubernetes.client.CustomObjectsApi(client)
        tls = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
        tls.load_cert_chain(str(configuration.cert_file), str(configuration.key_file))

        namespaces = [f"load-{i}" for i in range(args.namespaces)]
        for namespace in namespaces:
            core.create_namespace({"metadata": {"name": namespace}})
            wait_until(lambda ns=namespace: core.list_namespaced_service_account(ns).items, 30,
                       what=f"default ServiceAccount in {namespace}")
            core.create_namespaced_service_account(namespace, {"metadata": {"name": "modelmonitor-evaluator"}})
            core.create_namespaced_secret(namespace, {"metadata": {"name": "s3-creds"}, "stringData": {
                "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"}})
        monitors = [(namespaces[i % len(namespaces)], f"m-{i:04d}") for i in range(args.monitors)]
        started = time.monotonic()
        for namespace, name in monitors:
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, monitor_body(namespace, name))
        print(f"created {len(monitors)} monitors in {time.monotonic() - started:.1f} s", flush=True)

        metrics_port, liveness_port = free_port(), free_port()
        api_at_start = scrape(f"{plane.server}/metrics", tls)
        launcher = ["-m", "modelmonitor.cli", "operator"]
        memory_reports = workdir / "memory.jsonl"
        if args.worker_limit >= 0 or args.memory_report or args.launcher_arg:
            launcher = [str(Path(__file__).with_name("operator_with_settings.py")),
                        f"--worker-limit={args.worker_limit}"]
            if args.memory_report:
                launcher += [f"--memory-report={memory_reports}", f"--tracemalloc={args.tracemalloc}"]
            launcher += args.launcher_arg
            launcher.append("--")
        operator = ManagedProcess("operator", [
            sys.executable, *launcher, "--all-namespaces",
            f"--liveness=http://127.0.0.1:{liveness_port}/healthz", f"--metrics-port={metrics_port}",
            f"--evaluator-image={IMAGE}", "--log-format=plain", *args.operator_arg,
            # the monitors' (never contacted) store endpoint on loopback: allowed, as an installer would
            "--allow-outbound=s3:cidr=127.0.0.0/8", "--allow-outbound=s3:scheme=http",
        ], workdir / "operator.log", env=env)
        processes.append(operator)
        others = {process.name: process.pid for process in [*plane.processes, processes[0]]}
        sampler = Sampler(operator.pid, f"http://127.0.0.1:{metrics_port}/metrics", others)
        sampler.start()
        operator_started = time.monotonic()

        def all_ready() -> bool:
            if not operator.running():
                raise RuntimeError(f"the operator exited:\n{operator.log_tail(40)}")
            items = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
            ready = sum(any(c["type"] == "Ready" and c["status"] == "True"
                            for c in (m.get("status") or {}).get("conditions") or []) for m in items)
            return ready == len(monitors)

        wait_until(all_ready, 1800, interval=max(2.0, len(monitors) / 1000), what="every monitor Ready")
        startup_seconds = time.monotonic() - operator_started
        print(f"operator reconciled {len(monitors)} monitors in {startup_seconds:.1f} s", flush=True)

        def ask_memory_report(count: int) -> None:
            if args.memory_report:
                os.kill(operator.pid, signal.SIGUSR1)
                wait_until(lambda: memory_reports.exists() and len(memory_reports.read_text().splitlines())
                           >= count, 600, interval=1, what="the operator's memory report")

        ask_memory_report(1)

        cron_jobs = {(c["metadata"]["namespace"], c["metadata"]["labels"][MONITOR_LABEL]): c
                     for c in custom.list_cluster_custom_object("batch", "v1", "cronjobs")["items"]}
        bodies = {(m["metadata"]["namespace"], m["metadata"]["name"]): m
                  for m in custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]}

        observations = Observations()
        watchers = [
            threading.Thread(target=watch, args=(custom, "batch", "v1", "jobs", MONITOR_LABEL,
                                                 on_job(observations), stop), daemon=True),
            threading.Thread(target=watch, args=(custom, GROUP, VERSION, PLURAL, "", on_monitor(observations),
                                                 stop), daemon=True),
        ]
        for thread in watchers:
            thread.start()
        time.sleep(3)  # let the operator settle after startup (its idle workers exit after 5 s)
        operator_url = f"http://127.0.0.1:{metrics_port}/metrics"
        before, api_before = scrape(operator_url), scrape(f"{plane.server}/metrics", tls)

        sampler.phase = "load"
        total = int(args.rate * args.minutes)
        interval = 60.0 / args.rate
        created: dict[str, tuple[str, str]] = {}
        created_at: dict[str, float] = {}
        load_started = time.monotonic()
        for index in range(total):
            due = load_started + index * interval
            time.sleep(max(0.0, due - time.monotonic()))
            namespace, name = monitors[index % len(monitors)]
            job_name = f"{name}-e{index // len(monitors):03d}"
            job = build_job_from_cron_job(cron_jobs[(namespace, name)], job_name, bodies[(namespace, name)])
            container = job["spec"]["template"]["spec"]["containers"][0]
            container["command"] = pod_command(job_name, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            container["args"] = []
            batch.create_namespaced_job(namespace, job, _preload_content=False)
            created[job_name] = (namespace, name)
            created_at[job_name] = time.monotonic()
        load_seconds = time.monotonic() - load_started
        print(f"created {total} Jobs in {load_seconds:.1f} s; draining", flush=True)

        sampler.phase = "drain"

        def drained() -> bool:
            with observations.lock:
                return all(n in observations.in_status for n in created)

        try:
            wait_until(drained, args.drain, interval=1, what="every evaluation in its monitor's status")
        except TimeoutError as error:
            print(error, file=sys.stderr)
        drain_seconds = time.monotonic() - load_started - load_seconds
        after, api_after = scrape(operator_url), scrape(f"{plane.server}/metrics", tls)
        ask_memory_report(2)
        sampler.stop.set()
        stop.set()

        # ------------------------------------------------------------------ checks from the final state
        final = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
        history_ids: Counter[str] = Counter()
        for monitor in final:
            history_ids.update(e.get("id") for e in (monitor.get("status") or {}).get("history") or [])
        jobs = custom.list_cluster_custom_object("batch", "v1", "jobs", label_selector=MONITOR_LABEL)["items"]
        processed = {j["metadata"]["name"] for j in jobs
                     if "modelmonitor.io/processed" in (j["metadata"].get("annotations") or {})}
        lost = sorted(n for n in created if history_ids[n] == 0)
        twice = sorted(n for n in created if history_ids[n] > 1)
        counted = delta(after, before, "modelmonitor_evaluations_total")

        latencies = [observations.in_status[n] - observations.completed[n] for n in created
                     if n in observations.in_status and n in observations.completed]
        load_samples = sampler.of("load")
        cpu_load = ((load_samples[-1].cpu_seconds - load_samples[0].cpu_seconds)
                    / (load_samples[-1].wall - load_samples[0].wall)) if len(load_samples) > 1 else 0.0
        requests = {
            f"{dict(k[1])['handler']} {dict(k[1])['verb']} {dict(k[1])['kind']}": v - before.get(k, 0.0)
            for k, v in after.items() if k[0] == "modelmonitor_kube_api_requests_total" and v - before.get(k, 0.0)
        }
        server_side: defaultdict[str, float] = defaultdict(float)
        for key, value in api_after.items():
            labels = dict(key[1])
            if key[0] == "apiserver_request_total" and labels.get("resource") in ("modelmonitors", "jobs", "pods",
                                                                                 "events"):
                change = value - api_before.get(key, 0.0)
                if change:
                    what = labels["resource"] + (f"/{labels['subresource']}" if labels.get("subresource") else "")
                    server_side[f"{labels['verb']} {what}"] += change
        server_seconds: dict[str, float] = {}
        for verb, resource, subresource in (("GET", "modelmonitors", ""), ("PATCH", "modelmonitors", "status"),
                                            ("LIST", "pods", ""), ("PATCH", "jobs", ""), ("POST", "events", "")):
            match = {"verb": verb, "resource": resource, "subresource": subresource}
            count = delta(api_after, api_before, "apiserver_request_duration_seconds_count", **match)
            server_seconds[f"{verb} {resource}{'/' + subresource if subresource else ''}"] = round(
                delta(api_after, api_before, "apiserver_request_duration_seconds_sum", **match) / max(1.0, count), 4)
        busy = [(flight, queue) for phase, flight, queue in sampler.busy if phase == "load"]
        # Before the completion is seen (excluded from the latency): Job created -> Complete condition seen,
        # i.e. the Job controller creating the pod, the node agent running it, the Job controller completing it.
        controller_lag = [observations.completed[n] - created_at[n] for n in created if n in observations.completed]
        startup_requests = sum(v for k, v in before.items() if k[0] == "modelmonitor_kube_api_requests_total")

        def server_requests(after_: dict[Any, float], before_: dict[Any, float], verbs: tuple[str, ...]
                            ) -> dict[str, float]:
            """apiserver_request_total by verb and resource between two scrapes (all clients)."""
            counted_: defaultdict[str, float] = defaultdict(float)
            for key, value in after_.items():
                labels = dict(key[1])
                if key[0] == "apiserver_request_total" and labels.get("verb") in verbs:
                    change = value - before_.get(key, 0.0)
                    if change:
                        counted_[f"{labels['verb']} {labels.get('resource')}"] += change
            return dict(sorted(counted_.items()))
        results = {
            "conditions": {
                "monitors": len(monitors), "namespaces": len(namespaces), "rate_per_minute": args.rate,
                "minutes": args.minutes, "operator_args": args.operator_arg, "launcher_args": args.launcher_arg,
                "cpus": os.cpu_count(),
                "kopf_worker_limit": "operator default" if args.worker_limit < 0 else args.worker_limit or None,
                "controller_manager_kube_api_qps": args.controller_manager_qps or "default (20)",
                "load_average_during_load": round(statistics.mean(v for p, v in sampler.loads if p == "load"), 2),
                "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
            },
            "startup_seconds": round(startup_seconds, 1),
            "rss_mib": {
                "after_startup": round(load_samples[0].rss_bytes / 2**20, 1) if load_samples else None,
                "peak": round(max(s.rss_bytes for _, s in sampler.samples) / 2**20, 1),
                "end": round(sampler.samples[-1][1].rss_bytes / 2**20, 1),
            },
            "cpu_cores_during_load": round(cpu_load, 3),
            "cpu_seconds_startup": round(sampler.of("startup")[-1].cpu_seconds, 1) if sampler.of("startup") else None,
            "evaluations": {
                "created": len(created), "completed_seen": sum(n in observations.completed for n in created),
                "failed_jobs": len(observations.failed & set(created)), "in_status": len(latencies),
                "lost": len(lost), "twice": len(twice), "duplicates_seen_in_history": len(observations.duplicates),
                "processed_annotation": len(processed & set(created)), "counted_by_operator": counted,
                "lost_examples": lost[:5], "twice_examples": twice[:5],
            },
            "completion_to_status_seconds": {
                "p50": round(percentile(latencies, 0.5), 3), "p90": round(percentile(latencies, 0.9), 3),
                "p99": round(percentile(latencies, 0.99), 3), "max": round(max(latencies), 3),
                "min": round(min(latencies), 3),
            } if latencies else None,
            "operator_completion_lag_histogram": {
                "count": delta(after, before, "modelmonitor_job_completion_to_status_seconds_count"),
                "sum": round(delta(after, before, "modelmonitor_job_completion_to_status_seconds_sum"), 1),
            },
            "handler_seconds_mean_per_call": {  # every Job event calls evaluation-finished
                handler: round(delta(after, before, "modelmonitor_reconcile_seconds_sum", handler=handler)
                               / max(1.0, delta(after, before, "modelmonitor_reconcile_seconds_count",
                                                handler=handler)), 4)
                for handler in ("evaluation-finished", "reconcile", "run-now")
            },
            "api_requests_per_evaluation": {
                "operator_code": round(sum(requests.values()) / max(1, len(created)), 2),
                "by_handler_verb_kind": {k: round(v / max(1, len(created)), 2) for k, v in sorted(requests.items())},
                "api_server_all_clients": {k: round(v / max(1, len(created)), 2)
                                           for k, v in sorted(server_side.items())},
            },
            "handler_start_to_status_seconds_mean": round(
                delta(after, before, "modelmonitor_job_to_status_seconds_sum")
                / max(1.0, delta(after, before, "modelmonitor_job_to_status_seconds_count")), 3),
            "api_server_seconds_per_request_mean": server_seconds,
            "handlers_in_flight": {"max": max((b[0] for b in busy), default=0.0),
                                   "mean": round(statistics.mean(b[0] for b in busy), 2) if busy else 0.0},
            "executor_queue_max": max((b[1] for b in busy), default=0.0),
            "drain_seconds": round(drain_seconds, 1),
            "job_created_to_complete_seen_seconds": {  # controller + node agent time, not in the latency above
                "p50": round(percentile(controller_lag, 0.5), 3), "p99": round(percentile(controller_lag, 0.99), 3),
                "max": round(max(controller_lag), 3),
            } if controller_lag else None,
            "startup_api_requests": {
                "operator_code_per_monitor": round(startup_requests / max(1, len(monitors)), 2),
                "api_server_writes_all_clients": server_requests(api_before, api_at_start,
                                                                 ("CREATE", "PATCH", "APPLY", "UPDATE")),
            },
            "list_and_watch_requests_during_load": server_requests(api_after, api_before, ("LIST", "WATCH")),
            "control_plane_processes": sampler.others_summary(),
            "memory_reports": [json.loads(line) for line in memory_reports.read_text().splitlines()]
            if memory_reports.exists() else None,
            "rss_mib_per_monitor_after_startup": round(load_samples[0].rss_bytes / 2**20 / len(monitors), 4)
            if load_samples else None,
        }
        print(json.dumps(results, indent=2))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")
        return 0 if not lost and not twice else 1
    finally:
        stop.set()
        for process in reversed(processes):
            process.stop()
        plane.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
