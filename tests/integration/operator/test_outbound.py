"""Deny-by-default outbound calls, through the running operator on the real control plane.

The operator is restarted with an allow-list that does not cover the tests' loopback receivers (only the name
`localhost` over http for webhooks, which resolves to loopback and so stays refused), and one monitor with a
channel of each kind is evaluated into a violation. Every channel is refused before any connection: the
receivers get nothing, the AlertDeliveryFailed condition (read back from the API server) and the Events name
each channel and host, nothing is retried, and the operator keeps running. The data store's endpoint, which
the evaluation pods reach, is refused the same way until allowed: no Job runs against it.
"""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from modelmonitor.manifests import cron_job_name
from modelmonitor.services.evaluations import MONITOR_LABEL
from modelmonitor.services.monitors import RUN_NOW_ANNOTATION
from tests.harness.processes import wait_until
from tests.integration.alerts.servers import HttpRecorder, SmtpSink, self_signed_certificate
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess, condition

pytestmark = [pytest.mark.cluster, pytest.mark.s3]


def secret(world: MonitorWorld, name: str, data: dict[str, str]) -> None:
    world.core.create_namespaced_secret(world.namespace, {"metadata": {"name": name}, "data": {
        key: base64.b64encode(value.encode()).decode() for key, value in data.items()}})


def test_every_kind_of_destination_is_refused_unless_allowed(world: MonitorWorld, operator: OperatorProcess,
                                                             tmp_path: Path) -> None:
    recorder, sink = HttpRecorder(), SmtpSink(self_signed_certificate(tmp_path), "u@example.com", "pw-123456")
    recorder.start()
    sink.start()
    operator.restart_with(outbound=["--allow-outbound=webhook:host=localhost", "--allow-outbound=webhook:scheme=http",
                                    "--allow-outbound=sms:host=*.amazonaws.com"])
    try:
        secret(world, "by-ip", {"url": recorder.url("/by-ip")})  # 127.0.0.1: not listed
        secret(world, "by-name", {"url": recorder.url("/by-name").replace("127.0.0.1", "localhost")})
        secret(world, "metadata", {"accountSid": "AC1", "authToken": "tok-abcdef", "from": "+15550199",
                                   "baseUrl": "http://169.254.169.254"})
        secret(world, "smtp", sink.secret_data())
        channels: list[dict[str, Any]] = [
            {"name": "hook-ip", "type": "webhook", "urlSecret": "by-ip"},
            {"name": "hook-name", "type": "webhook", "urlSecret": "by-name"},
            {"name": "twilio", "type": "sms", "provider": "twilio", "to": ["+15550100"], "secret": "metadata"},
            {"name": "sns-identity", "type": "sms", "provider": "sns", "to": ["+15550100"]},
            {"name": "mail", "type": "email", "to": ["oncall@example.com"], "smtpSecret": "smtp"},
        ]
        world.upload_credit_data("reference/", 10_000, seed=100, drift=0.0)
        world.upload_credit_data("current/", 3_000, seed=101, drift=1.0)
        body = world.monitor("fenced")
        body["spec"]["alerts"] = {"channels": channels, "policy": {"consecutiveViolations": 1}}
        world.apply(body)
        world.run_now("fenced")
        world.wait_for_evaluations("fenced", 1)

        def all_refused() -> bool:
            alerts = world.read("fenced")["status"].get("alerts") or {}
            stats = alerts.get("channels") or {}
            return len(stats) == len(channels) and not alerts.get("pending")

        wait_until(all_refused, 60, interval=0.5, what="every channel's delivery refused and recorded")
        monitor = world.read("fenced")
        failed = condition(monitor, "AlertDeliveryFailed")
        assert failed["status"] == "True"
        stats = monitor["status"]["alerts"]["channels"]
        assert all(entry["sent"] == 0 and entry["failed"] == 1 and entry["dropped"] == 1 for entry in stats.values())
        errors = {name: entry["lastError"] for name, entry in stats.items()}
        assert "host '127.0.0.1' is not an allowed destination for webhook" in errors["hook-ip"]
        assert "host 'localhost' resolves to 127.0.0.1, an internal address" in errors["hook-name"] \
            or "host 'localhost' resolves to ::1, an internal address" in errors["hook-name"]
        assert "host '169.254.169.254'" in errors["twilio"]
        assert "cloud identity" in errors["sns-identity"] and world.namespace in errors["sns-identity"]
        assert "host 'localhost'" in errors["mail"] and "email" in errors["mail"]
        for name in errors:
            assert f"{name}:" in failed["message"]
        events = world.kubectl("get", "events", "-o", "jsonpath={.items[*].message}", "--field-selector",
                               "involvedObject.name=fenced,reason=AlertDeliveryFailed")
        assert "127.0.0.1" in events and "169.254.169.254" in events
        assert recorder.requests == [] and sink.received == []  # nothing was contacted
        assert "pw-123456" not in str(monitor["status"]) and "tok-abcdef" not in str(monitor["status"])
        assert not operator.exited()
    finally:
        operator.restart_with()
        recorder.stop()
        sink.stop()


def test_a_data_store_endpoint_off_the_allow_list_runs_nothing_until_allowed(world: MonitorWorld,
                                                                              operator: OperatorProcess) -> None:
    """spec.data.store.endpoint is a destination the tenant chose, reached by the evaluation pods: kind s3."""
    operator.restart_with(store_outbound=["--allow-outbound=s3:scheme=http"])  # the scheme, but not the host
    batch = kubernetes.client.BatchV1Api(world.client)
    host = urllib.parse.urlsplit(world.s3.endpoint).hostname
    try:
        world.upload_credit_data("reference/", 2_000, seed=110, drift=0.0)
        world.upload_credit_data("current/", 1_000, seed=111, drift=0.0)
        world.apply(world.monitor("off-list"))

        def refused() -> dict[str, Any] | None:
            ready = next((c for c in (world.read("off-list").get("status") or {}).get("conditions") or []
                          if c["type"] == "Ready"), None)
            return ready if ready is not None and ready["reason"] == "DestinationNotAllowed" else None

        wait_until(refused, 60, interval=0.5, what="the monitor refused for its S3 endpoint")
        ready = refused()
        assert ready is not None and ready["status"] == "False"
        assert "spec.data.store.endpoint" in ready["message"]
        assert f"host {host!r} is not an allowed destination for s3" in ready["message"]
        cron_job = batch.read_namespaced_cron_job(cron_job_name("off-list"), world.namespace)
        assert cron_job.spec.suspend is True  # nothing scheduled runs against the refused endpoint

        world.run_now("off-list")
        wait_until(lambda: RUN_NOW_ANNOTATION not in (world.read("off-list")["metadata"].get("annotations") or {}),
                   60, interval=0.5, what="the run-now request answered")
        events = world.kubectl("get", "events", "-o", "jsonpath={.items[*].message}", "--field-selector",
                               "involvedObject.name=off-list,reason=DestinationNotAllowed")
        assert "run-now refused" in events
        jobs = batch.list_namespaced_job(world.namespace, label_selector=f"{MONITOR_LABEL}=off-list").items
        assert jobs == []
        assert not (world.read("off-list").get("status") or {}).get("history")
    finally:
        operator.restart_with()  # the session's allow-list, which covers the tests' MinIO

    # The restarted operator resumes the monitor: allowed now, scheduled again, and it evaluates.
    def scheduled() -> bool:
        ready = next(c for c in world.read("off-list")["status"]["conditions"] if c["type"] == "Ready")
        return bool(ready["status"] == "True")

    wait_until(scheduled, 60, interval=0.5, what="the monitor Ready once its endpoint is allowed")
    assert batch.read_namespaced_cron_job(cron_job_name("off-list"), world.namespace).spec.suspend is False
    world.run_now("off-list")
    world.wait_for_evaluations("off-list", 1)
