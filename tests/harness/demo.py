"""`make demo`: the whole product on one machine in about a minute (after the first build).

Starts a real control plane (etcd, kube-apiserver, kube-controller-manager; the binaries are built once from
Go modules and cached under ~/.cache/modelmonitor), a real node that runs the evaluation pods in containers of
the project's image (containerd + kubelet on a bridge the demo makes, tests/harness/node.py; `--node agent`,
or a machine that cannot run one, uses the test node agent that runs pods as local processes), MinIO as the S3
store, an SMTP sink with STARTTLS and a login, and the operator as its own
process. Then it does what a user would: installs the CRD, uploads the credit-scoring example's data with
injected drift, applies the example monitor with an e-mail channel, asks for a run now, and prints what came
out — `kubectl get mm`, the alert e-mail the sink received, and the HTML report (downloaded to
`.local/demo/report.html`). Everything is stopped at the end; `--keep` leaves it running until Ctrl-C.

Nothing is faked: if a step does not happen within its time limit the demo says which, prints the
operator's log tail, and exits non-zero.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.harness.processes import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBECTL = REPO_ROOT / "bin" / "kubectl"
CRD_FOLDER = REPO_ROOT / "charts" / "modelmonitor-operator" / "crds"
EXAMPLE = REPO_ROOT / "examples" / "credit-scoring"
OUTPUT_DIR = REPO_ROOT / ".local" / "demo"
NAMESPACE = "risk"
MONITOR = "credit-scoring"
BUCKET = "demo-ml"
RECIPIENT = "ml-oncall@example.com"
EVALUATOR_IMAGE = "modelmonitor:demo"
STEPS = 12

T = TypeVar("T")


class DemoError(RuntimeError):
    """A step did not work; the message says what was expected and what happened."""


class Progress:
    """One line per step: `[ 3/12] Starting MinIO ... ok (1.2 s)`."""

    def __init__(self, total: int) -> None:
        self.total, self.number, self.current = total, 0, ""

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        self.current = title
        print(f"[{self.number:>2}/{self.total}] {title} ...", end="", flush=True)
        started = time.monotonic()
        try:
            yield
        except BaseException:
            print(" FAILED", flush=True)
            raise
        print(f" ok ({time.monotonic() - started:.1f} s)", flush=True)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
    """Poll `probe` until it returns something other than None; DemoError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except Exception as error:
            last_error = error
        else:
            if value is not None:
                return value
        time.sleep(interval)
    detail = f" (last error: {last_error})" if last_error else ""
    raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")


class Demo:
    def __init__(self, workdir: Path, timeout: float, real_node: bool = False) -> None:
        self.workdir, self.timeout, self.real_node = workdir, timeout, real_node
        self.evaluator_image = EVALUATOR_IMAGE
        self.progress = Progress(STEPS)
        self.cleanups: list[Callable[[], None]] = []
        self.operator: Any = None
        self.env: dict[str, str] = {}
        self.s3: Any = None
        self.sink: Any = None
        self.uploaded = ""

    # --- helpers ------------------------------------------------------------------------------------------

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run([str(KUBECTL), *args], input=stdin, text=True, capture_output=True, env=self.env,
                                timeout=60, check=False)
        if result.returncode != 0:
            raise DemoError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def monitor(self) -> dict[str, Any]:
        return dict(json.loads(self.kubectl("-n", NAMESPACE, "get", "modelmonitor", MONITOR, "-o", "json")))

    def stop(self) -> None:
        while self.cleanups:
            with contextlib.suppress(Exception):
                self.cleanups.pop()()

    # --- the steps ----------------------------------------------------------------------------------------

    def run(self, keep: bool) -> int:
        from tests.harness import node
        from tests.harness.controlplane import LocalControlPlane, find_binaries
        from tests.harness.minio import MinioServer, find_minio

        step = self.progress.step
        if self.real_node:
            with step("Binaries and the project's image (the first run builds them: ~20 min on 2 cores)"):
                binaries, minio_binary = find_binaries(), find_minio()
                node_binaries = node.find_node_binaries()
                self.evaluator_image, _ = node.project_image()
            with step(f"Starting etcd, kube-apiserver and kube-controller-manager on the bridge {node.GATEWAY}"):
                node.create_bridge()
                self.cleanups.append(node.delete_bridge)
                plane = LocalControlPlane(self.workdir / "control-plane", binaries, address=node.GATEWAY,
                                          real_node=True)
                (self.workdir / "control-plane").mkdir(parents=True)
                self.cleanups.append(plane.stop)
                plane.start()
                self.env = plane.env
            with step("Starting the node: containerd, kubelet, kube-proxy, kube-scheduler"):
                real = node.RealNode(self.workdir / "node", plane, node_binaries, images=[self.evaluator_image])
                self.cleanups.append(real.stop)
                real.start()
        else:
            with step("Control-plane binaries (the first run builds them from Go modules: ~10 min on 2 cores)"):
                binaries, minio_binary = find_binaries(), find_minio()
            with step("Starting etcd, kube-apiserver and kube-controller-manager on loopback"):
                plane = LocalControlPlane(self.workdir / "control-plane", binaries)
                (self.workdir / "control-plane").mkdir(parents=True)
                self.cleanups.append(plane.stop)
                plane.start()
                self.env = plane.env
            with step("Starting the node agent (runs evaluation pods as local processes)"):
                self._start_node_agent(plane)
        with step("Starting MinIO (S3) where pods reach it, and an SMTP sink with STARTTLS on loopback"):
            (self.workdir / "minio").mkdir()
            self.s3 = MinioServer(self.workdir / "minio", minio_binary,
                                  host=node.GATEWAY if self.real_node else "127.0.0.1")
            self.cleanups.append(self.s3.stop)
            self.s3.start()
            self._start_smtp_sink()
        with step("Installing the ModelMonitor CRD (kubectl apply --server-side)"):
            self.kubectl("apply", "--server-side", "-f", f"{CRD_FOLDER.relative_to(REPO_ROOT)}/")
            # `kubectl wait` errors out (instead of waiting) while the new CRD has no conditions yet.
            wait_until(lambda: self.kubectl("get", "crd/modelmonitors.modelmonitor.io", "-o",
                                            "jsonpath={.status.conditions[?(@.type=='Established')].status}")
                       .strip() == "True", 60, interval=0.3, what="the CRD to be Established")
        with step("Starting the operator (modelmonitor operator)"):
            self._start_operator()
        with step(f"Creating namespace {NAMESPACE} with the S3 and SMTP Secrets"):
            self._create_namespace()
        with step("Uploading credit-scoring data with injected drift to MinIO"):
            self._upload_data()
        with step(f"Applying examples/credit-scoring/monitor.yaml with an e-mail channel to {RECIPIENT}"):
            self._apply_monitor()
        with step("Running an evaluation now (annotation modelmonitor.io/run-now)"):
            monitor = self._evaluate()
        with step("Waiting for the alert e-mail"):
            mail = self._wait_for_mail(monitor)
        with step("Downloading the HTML report"):
            report_uri, report_path = self._download_report(monitor)

        self._print_results(monitor, mail, report_uri, report_path)
        if keep:
            self._wait_while_kept(plane.kubeconfig)
        return 0

    def _start_node_agent(self, plane: Any) -> None:
        from tests.harness.node_agent import NodeAgent

        host, _, port = plane.server.removeprefix("https://").rpartition(":")
        (self.workdir / "node").mkdir()
        agent = NodeAgent(plane.api_client(), self.workdir / "node", api_server_host=host,
                          api_server_port=int(port))
        self.cleanups.append(agent.stop)
        agent.start()

    def _start_smtp_sink(self) -> None:
        from tests.integration.alerts.servers import SmtpSink, self_signed_certificate

        (self.workdir / "smtp").mkdir()
        self.sink = SmtpSink(self_signed_certificate(self.workdir / "smtp"), "modelmonitor", secrets.token_urlsafe(12))
        self.cleanups.append(self.sink.stop)
        self.sink.start()

    def _start_operator(self) -> None:
        from tests.harness.processes import ManagedProcess, free_port

        metrics_port, liveness_port = free_port(), free_port()
        self.operator = ManagedProcess("operator", [
            sys.executable, "-m", "modelmonitor.cli", "operator", "--all-namespaces",
            f"--liveness=http://127.0.0.1:{liveness_port}/healthz", f"--metrics-port={metrics_port}",
            f"--evaluator-image={self.evaluator_image}", "--log-format=plain",
            # outbound calls are denied by default: the demo's SMTP sink is on loopback, its MinIO where the pods
            # reach it (loopback, or the real node's bridge)
            "--allow-outbound=email:cidr=127.0.0.0/8", "--allow-outbound=email:cidr=::1/128", *self.s3.outbound_flags(),
        ], self.workdir / "operator.log", env=self.env)
        self.cleanups.append(self.operator.stop)

        def live() -> bool | None:
            if not self.operator.running():
                raise DemoError("the operator exited")
            with urllib.request.urlopen(f"http://127.0.0.1:{liveness_port}/healthz", timeout=2) as response:
                return True if response.status == 200 else None

        try:
            wait_for("the operator's liveness endpoint", live, 60)
        except DemoError as error:
            if not self.operator.running():
                raise DemoError("the operator exited during start-up") from error
            raise

    def _create_namespace(self) -> None:
        self.kubectl("create", "namespace", NAMESPACE)
        self.kubectl("-n", NAMESPACE, "create", "serviceaccount", "modelmonitor-evaluator")
        secrets_yaml = [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3-creds"},
             "data": {"AWS_ACCESS_KEY_ID": _b64(self.s3.access_key),
                      "AWS_SECRET_ACCESS_KEY": _b64(self.s3.secret_key)}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "smtp"},
             "data": {key: _b64(value) for key, value in self.sink.secret_data().items()}},
        ]
        self.kubectl("-n", NAMESPACE, "apply", "-f", "-", stdin=yaml.safe_dump_all(secrets_yaml))

    def _upload_data(self) -> None:
        env = dict(os.environ, **self.s3.env)
        result = subprocess.run(
            [sys.executable, str(EXAMPLE / "generate.py"), f"s3://{BUCKET}/credit-scoring", "--drift", "1"],
            env=env, text=True, capture_output=True, timeout=120, check=False)
        if result.returncode != 0:
            raise DemoError(f"examples/credit-scoring/generate.py failed:\n{result.stderr}")
        self.uploaded = result.stdout.rstrip()

    def _apply_monitor(self) -> None:
        body = yaml.safe_load((EXAMPLE / "monitor.yaml").read_text())
        body["metadata"]["namespace"] = NAMESPACE
        data = body["spec"]["data"]
        data["store"].update(endpoint=self.s3.endpoint, region=self.s3.region)
        for part in ("reference", "current", "labels"):
            data[part]["uri"] = data[part]["uri"].replace("s3://modelmonitor-examples/", f"s3://{BUCKET}/")
        body["spec"]["schedule"] = "0 0 1 1 *"  # the demo runs it now; no surprise runs while it is up
        body["spec"].setdefault("alerts", {})["channels"] = [
            {"name": "oncall-mail", "type": "email", "to": [RECIPIENT], "smtpSecret": "smtp"}]
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(body))
        wait_for("the monitor's CronJob", lambda: self.kubectl(
            "-n", NAMESPACE, "get", "cronjob", f"{MONITOR}-eval", "-o", "name") or None, 60)

    def _evaluate(self) -> dict[str, Any]:
        self.kubectl("-n", NAMESPACE, "annotate", "--overwrite", "modelmonitor", MONITOR,
                     f"modelmonitor.io/run-now={int(time.time())}")

        def evaluated() -> dict[str, Any] | None:
            monitor = self.monitor()
            return monitor if (monitor.get("status") or {}).get("history") else None

        monitor = wait_for("the evaluation's verdict in the monitor's status", evaluated, self.timeout, 1.0)
        last = monitor["status"].get("lastEvaluation") or {}
        if last.get("outcome") not in (None, "evaluated"):
            raise DemoError(f"the evaluation failed: {json.dumps(last.get('error') or last)}")
        return monitor

    def _wait_for_mail(self, monitor: dict[str, Any]) -> Any:
        def received() -> Any:
            return next((mail for mail in self.sink.received if RECIPIENT in mail.recipients), None)

        try:
            return wait_for(f"an alert e-mail to {RECIPIENT}", received, 45)
        except DemoError as error:
            state = (self.monitor().get("status") or {}).get("alerts")
            if not state:
                raise DemoError(
                    "no alert e-mail arrived, and the monitor's status has no alert state: this operator build "
                    "does not deliver alerts yet (spec.alerts is not wired into evaluation processing)") from error
            raise DemoError(f"no alert e-mail arrived within 45 s; status.alerts: {json.dumps(state)}") from error

    def _download_report(self, monitor: dict[str, Any]) -> tuple[str, Path]:
        uri = str((monitor["status"].get("lastEvaluation") or {}).get("reportUri") or "")
        if not uri.startswith("s3://"):
            raise DemoError(f"the last evaluation has no report URI in its status (got {uri!r})")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUTPUT_DIR / "report.html"
        path.write_bytes(self.s3.client().get_object(Bucket=bucket, Key=key)["Body"].read())
        return uri, path

    def _print_results(self, monitor: dict[str, Any], mail: Any, report_uri: str, report_path: Path) -> None:
        status = monitor["status"]
        print()
        print(f"$ kubectl -n {NAMESPACE} get mm")
        print(self.kubectl("-n", NAMESPACE, "get", "mm").rstrip())
        print()
        last = status.get("lastEvaluation") or {}
        print(f"Verdict: {last.get('verdict', status.get('phase'))} (phase {status.get('phase')}); violations:")
        for violation in last.get("violations") or []:
            print(f"  - [{violation.get('severity')}] {violation.get('reason')}")
        print()
        message = mail.message
        body = message.get_body(preferencelist=("plain",))
        print(f"Alert e-mail received by the SMTP sink (STARTTLS: {mail.tls}, login: {mail.authenticated_as}):")
        print(f"  From: {message['From']}")
        print(f"  To: {message['To']}")
        print(f"  Subject: {message['Subject']}")
        print()
        text = body.get_content() if body is not None else str(message.get_payload())
        print("\n".join(f"  | {line}" for line in text.rstrip().splitlines()))
        print()
        print(f"HTML report: {report_uri}")
        print(f"  downloaded to {report_path.relative_to(REPO_ROOT)}")

    def _wait_while_kept(self, kubeconfig: Path) -> None:
        print()
        print("Everything is still running (--keep). In another terminal:")
        print(f"  export KUBECONFIG={kubeconfig}")
        print(f"  {KUBECTL.relative_to(REPO_ROOT)} -n {NAMESPACE} describe mm {MONITOR}")
        print(f"Logs are in {self.workdir}. Press Ctrl-C here (or kill {os.getpid()}) to stop everything.",
              flush=True)
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        with contextlib.suppress(KeyboardInterrupt):
            while not stopped.wait(1):
                if self.operator is not None and not self.operator.running():
                    print("the operator exited; stopping", file=sys.stderr)
                    break

    def operator_log_tail(self, lines: int = 40) -> str:
        return self.operator.log_tail(lines) if self.operator is not None else "(the operator was not started)"


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--keep", action="store_true", help="leave everything running until Ctrl-C")
    parser.add_argument("--timeout", type=float, default=150, help="seconds to wait for the evaluation")
    parser.add_argument("--node", choices=("auto", "real", "agent"), default="auto",
                        help="real: containerd + kubelet running the project's image (needs root, podman, runc); "
                             "agent: the test node agent (pods as local processes); auto: real when possible")
    arguments = parser.parse_args(argv)
    # aiosmtpd (the SMTP sink) warns about its own API on every login; it says nothing about the product.
    warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
    os.chdir(REPO_ROOT)
    if not KUBECTL.exists():
        print(f"{KUBECTL} is missing: run `make tools` (make demo does it first)", file=sys.stderr)
        return 2
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=OUTPUT_DIR))
    from tests.harness.node import real_node_possible

    reason = real_node_possible()
    if arguments.node == "real" and reason:
        print(f"--node real: {reason}", file=sys.stderr)
        return 2
    real_node = arguments.node == "real" or (arguments.node == "auto" and reason is None)
    print(f"Node: {'a real node (containerd + kubelet, the project image)' if real_node else 'the test node agent'}"
          + (f" ({reason})" if arguments.node == "auto" and reason else ""), flush=True)
    demo = Demo(workdir, arguments.timeout, real_node)
    failed = True
    try:
        code = demo.run(arguments.keep)
        failed = False
        return code
    except KeyboardInterrupt:
        print("\ninterrupted; stopping everything", file=sys.stderr)
        return 130
    except Exception as error:
        print(f"\nThe demo failed at step {demo.progress.number} ({demo.progress.current}):\n  {error}",
              file=sys.stderr)
        print(f"\nLast lines of the operator's log ({workdir / 'operator.log'}):", file=sys.stderr)
        print(demo.operator_log_tail(), file=sys.stderr)
        return 1
    finally:
        # A closed stdout (`make demo | head`) must not skip the teardown: a real node leaves a bridge, mounts
        # and iptables chains behind if it is not stopped.
        with contextlib.suppress(OSError):
            print("Stopping the operator, MinIO, the SMTP sink, the node and the control plane ...", flush=True)
        demo.stop()
        if failed:
            print(f"Logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
