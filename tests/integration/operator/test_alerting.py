"""Alerts through the running operator: policy over consecutive evaluations, resolved notices, delivery
failures that become a condition and are retried, and restarts that lose and duplicate nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import pytest

from tests.harness.processes import wait_until
from tests.integration.alerts.servers import HttpRecorder, SmtpSink, self_signed_certificate
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess, condition

pytestmark = [pytest.mark.cluster, pytest.mark.s3]

SMTP_USER, SMTP_PASSWORD = "alerts@example.com", "smtp-pass-Qw3rty-9"


def _secret(world: MonitorWorld, name: str, data: dict[str, str]) -> None:
    world.core.create_namespaced_secret(world.namespace, {"metadata": {"name": name}, "data": {
        key: base64.b64encode(value.encode()).decode() for key, value in data.items()}})


def _email_monitor(world: MonitorWorld, name: str, sink: SmtpSink, **policy: Any) -> dict[str, Any]:
    _secret(world, f"{name}-smtp", sink.secret_data())
    body = world.monitor(name)
    body["spec"]["alerts"] = {
        "channels": [{"name": "oncall-mail", "type": "email", "to": ["ml-oncall@example.com"],
                      "smtpSecret": f"{name}-smtp", "tls": "starttls"}],
        "policy": {"consecutiveViolations": 2, "repeatInterval": "6h", "sendResolved": True, **policy},
    }
    return body


def _evaluate(world: MonitorWorld, name: str, drift: float, seed: int, count: int) -> dict[str, Any]:
    world.upload_credit_data("current/", 3_000, seed=seed, drift=drift)
    world.run_now(name)
    return world.wait_for_evaluations(name, count)


def test_two_violations_alert_once_then_resolve(world: MonitorWorld, operator: OperatorProcess,
                                                 tmp_path: Path) -> None:
    sink = SmtpSink(self_signed_certificate(tmp_path), SMTP_USER, SMTP_PASSWORD)
    sink.start()
    try:
        world.upload_credit_data("reference/", 10_000, seed=20, drift=0.0)
        world.apply(_email_monitor(world, "mailer", sink))
        _evaluate(world, "mailer", 1.0, 21, 1)
        time.sleep(2)
        assert sink.received == []  # one violation is not enough with consecutiveViolations: 2
        _evaluate(world, "mailer", 1.0, 22, 2)
        wait_until(lambda: len(sink.received) == 1, 30, what="the alert email")
        mail = sink.received[0]
        assert mail.recipients == ["ml-oncall@example.com"] and mail.tls and mail.authenticated_as == SMTP_USER
        subject = str(mail.message["subject"])
        assert "CRITICAL" in subject.upper() and world.namespace in subject and "mailer" in subject
        text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        monitor = world.read("mailer")
        assert monitor["status"]["lastEvaluation"]["reportUri"] in text
        assert "drift" in text.lower()

        _evaluate(world, "mailer", 1.0, 23, 3)  # still violating, within repeatInterval: nothing new
        time.sleep(2)
        assert len(sink.received) == 1
        _evaluate(world, "mailer", 0.0, 24, 4)  # recovered
        wait_until(lambda: len(sink.received) == 2, 30, what="the resolved email")
        assert "RESOLVED" in str(sink.received[1].message["subject"]).upper()
        monitor = world.read("mailer")
        assert condition(monitor, "AlertDeliveryFailed")["status"] == "False"
        assert SMTP_PASSWORD not in str(monitor["status"])
        assert "ThresholdViolated" in world.kubectl("get", "events", "--field-selector", "involvedObject.name=mailer")
        assert 'channel="oncall-mail",monitor="mailer"' in operator.metrics().replace(
            f'namespace="{world.namespace}",', "")
    finally:
        sink.stop()


def test_smtp_down_becomes_a_condition_and_is_retried_across_a_restart(
    world: MonitorWorld, operator: OperatorProcess, tmp_path: Path
) -> None:
    sink = SmtpSink(self_signed_certificate(tmp_path), SMTP_USER, SMTP_PASSWORD)
    world.upload_credit_data("reference/", 10_000, seed=30, drift=0.0)
    world.apply(_email_monitor(world, "retrier", sink, consecutiveViolations=1))
    _evaluate(world, "retrier", 1.0, 31, 1)  # the SMTP server is not running

    def delivery_failed() -> bool:
        return condition(world.read("retrier"), "AlertDeliveryFailed")["status"] == "True"

    wait_until(delivery_failed, 60, interval=0.5, what="AlertDeliveryFailed")
    monitor = world.read("retrier")
    assert monitor["status"]["alerts"]["pending"], monitor["status"]["alerts"]
    assert SMTP_PASSWORD not in str(monitor["status"])
    operator.kill()
    sink.start()
    try:
        operator.start()
        wait_until(lambda: len(sink.received) >= 1, 120, interval=0.5, what="the retried alert email")
        wait_until(lambda: condition(world.read("retrier"), "AlertDeliveryFailed")["status"] == "False", 60,
                   interval=0.5, what="AlertDeliveryFailed to clear")
        time.sleep(12)  # longer than the retry timer: nothing is sent twice
        assert len(sink.received) == 1
        assert not world.read("retrier")["status"]["alerts"].get("pending")
    finally:
        sink.stop()


def test_webhook_failing_twice_is_delivered_once_and_signed(world: MonitorWorld, operator: OperatorProcess) -> None:
    recorder = HttpRecorder()
    recorder.start()
    try:
        recorder.script("/hook", [500, 500, 200])
        signing_key = "hook-signing-key-0123"
        _secret(world, "hook-url", {"url": recorder.url("/hook")})
        _secret(world, "hook-signing", {"key": signing_key})
        world.upload_credit_data("reference/", 10_000, seed=40, drift=0.0)
        body = world.monitor("hooked")
        body["spec"]["alerts"] = {
            "channels": [{"name": "chat", "type": "webhook", "urlSecret": "hook-url", "format": "generic",
                          "signingSecret": "hook-signing"}],
            "policy": {"consecutiveViolations": 1},
        }
        world.apply(body)
        _evaluate(world, "hooked", 1.0, 41, 1)
        wait_until(lambda: len(recorder.requests_to("/hook")) >= 3, 60, interval=0.5, what="three webhook calls")
        time.sleep(2)
        requests = recorder.requests_to("/hook")
        assert len(requests) == 3
        delivered = requests[-1]
        payload = delivered.json()
        assert payload["monitor"] == {"namespace": world.namespace, "name": "hooked"}
        assert payload["evaluationId"] == world.read("hooked")["status"]["lastEvaluation"]["id"]
        signature = delivered.headers["x-modelmonitor-signature"].removeprefix("sha256=")
        timestamp = delivered.headers["x-modelmonitor-timestamp"]
        expected = hmac.new(signing_key.encode(), f"{timestamp}.".encode() + delivered.body, hashlib.sha256)
        assert hmac.compare_digest(signature, expected.hexdigest())
        assert condition(world.read("hooked"), "AlertDeliveryFailed")["status"] == "False"
    finally:
        recorder.stop()
