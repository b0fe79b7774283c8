"""Deny-by-default outbound calls, through the running operator on the real control plane.

The operator is restarted with an allow-list that does not cover the tests' loopback receivers (only the name
`localhost` over http for webhooks, which resolves to loopback and so stays refused), and one monitor with a
channel of each kind is evaluated into a violation. Every channel is refused before any connection: the
receivers get nothing, the AlertDeliveryFailed condition (read back from the API server) and the Events name
each channel and host, nothing is retried, and the operator keeps running.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

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
