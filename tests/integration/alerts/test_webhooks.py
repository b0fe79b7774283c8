"""Webhooks to a real HTTP server on loopback: payload formats, HMAC signatures, retries and redaction."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import timedelta

import pytest

from modelmonitor.alerts import (
    ChannelSettings,
    HostNotAllowedError,
    NotificationKind,
    RetryPolicy,
    build_channel,
    verify_signature,
)
from modelmonitor.alerts.outbound import parse_allow_flags
from modelmonitor.api import AlertChannel
from tests.integration.alerts.notifications import firing_notification
from tests.integration.alerts.servers import HttpRecorder
from tests.unit.alerts.policy.builders import channel_of

SIGNING_KEY = "whsec-0123456789abcdef"
HOOK_PATH = "/services/T000/B000/hook-token-ABCDEF"
FIXED_CLOCK = 1_795_000_000.0


class SleepRecorder:
    """Stands in for time.sleep: records the backoff delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def settings(sleep: SleepRecorder, **overrides: object) -> ChannelSettings:
    base = ChannelSettings(
        http_timeout=2.0,
        retry=RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=8.0),
        sleep=sleep,
        random=lambda: 1.0,  # the top of the full-jitter range, so the delays are predictable
        clock=lambda: FIXED_CLOCK,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def webhook_spec(format_name: str, **extra: object) -> AlertChannel:
    """A webhook channel as the spec parser reads it."""
    return channel_of({"name": f"{format_name}-hook", "type": "webhook", "urlSecret": "hook", "format": format_name,
                       **extra})


def test_the_generic_payload_is_signed_over_the_exact_body(http_recorder: HttpRecorder) -> None:
    spec = webhook_spec("generic", signingSecret="signing", headersSecret="headers")
    secrets = {
        "hook": {"url": http_recorder.url(HOOK_PATH), "token": "bearer-token-xyz"},
        "signing": {"key": SIGNING_KEY},
        "headers": {"X-Tenant": "risk-team"},
    }
    result = build_channel(spec, secrets, settings(SleepRecorder())).send(firing_notification())

    assert result.ok and result.attempts == 1 and result.status_code == 200
    (request,) = http_recorder.requests_to(HOOK_PATH)
    timestamp = request.headers["x-modelmonitor-timestamp"]
    assert timestamp == str(int(FIXED_CLOCK))
    expected = hmac.new(SIGNING_KEY.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-modelmonitor-signature"] == f"sha256={expected}"
    assert verify_signature(request.body, SIGNING_KEY, timestamp, request.headers["x-modelmonitor-signature"])
    assert not verify_signature(
        request.body + b" ", SIGNING_KEY, timestamp, request.headers["x-modelmonitor-signature"]
    )
    assert request.headers["authorization"] == "Bearer bearer-token-xyz"
    assert request.headers["x-tenant"] == "risk-team"
    assert request.headers["content-type"] == "application/json"
    payload = request.json()
    assert payload["schemaVersion"] == 1
    assert payload["kind"] == "firing" and payload["status"] == "firing" and payload["severity"] == "critical"
    assert payload["monitor"] == {"namespace": "risk", "name": "credit-scoring"}
    assert payload["model"] == {"name": "credit-scoring", "version": "7"}
    assert payload["dedupKey"] == "modelmonitor/risk/credit-scoring/violations"
    assert [violation["rule"] for violation in payload["violations"]] == ["metric:accuracy", "drift:age"]
    assert payload["reportUri"].endswith("/report.html")
    assert payload["title"] == "[CRITICAL] risk/credit-scoring v7: 2 violations"


def test_slack_and_teams_payloads(http_recorder: HttpRecorder) -> None:
    for format_name in ("slack", "teams"):
        path = f"/{format_name}"
        secrets = {"hook": {"url": http_recorder.url(path)}}
        assert (
            build_channel(webhook_spec(format_name), secrets, settings(SleepRecorder())).send(firing_notification()).ok
        )
    (slack,) = http_recorder.requests_to("/slack")
    slack_payload = slack.json()
    assert slack_payload["text"] == "[CRITICAL] risk/credit-scoring v7: 2 violations"
    assert slack_payload["blocks"][0]["type"] == "header"
    assert any("metric:accuracy" in block.get("text", {}).get("text", "") for block in slack_payload["blocks"])
    (teams,) = http_recorder.requests_to("/teams")
    card = teams.json()
    assert card["@type"] == "MessageCard" and card["themeColor"] == "d32f2f"
    assert card["potentialAction"][0]["targets"][0]["uri"].endswith("/report.html")
    assert {"name": "metric:accuracy"}.items() <= card["sections"][0]["facts"][4].items()


def test_pagerduty_triggers_then_resolves_with_the_same_dedup_key(http_recorder: HttpRecorder) -> None:
    http_recorder.script("/v2/enqueue", [202], body=b'{"status": "success", "message": "Event processed"}')
    secrets = {"hook": {"url": http_recorder.url("/v2/enqueue"), "routingKey": "R0UTINGKEY0123456789"}}
    channel = build_channel(webhook_spec("pagerduty"), secrets, settings(SleepRecorder()))

    assert channel.send(firing_notification()).ok
    assert channel.send(replace(firing_notification(), kind=NotificationKind.RESOLVED, violations=())).ok

    trigger, resolve = (request.json() for request in http_recorder.requests_to("/v2/enqueue"))
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "modelmonitor/risk/credit-scoring/violations"
    assert trigger["routing_key"] == resolve["routing_key"] == "R0UTINGKEY0123456789"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "risk/credit-scoring"
    assert trigger["links"][0]["href"].endswith("/report.html")


def test_a_server_failing_twice_with_500_gets_the_alert_exactly_once(http_recorder: HttpRecorder) -> None:
    http_recorder.script(HOOK_PATH, [500, 503, 200])
    sleep = SleepRecorder()
    channel = build_channel(webhook_spec("generic"), {"hook": {"url": http_recorder.url(HOOK_PATH)}}, settings(sleep))

    result = channel.send(firing_notification())

    assert result.ok and result.attempts == 3
    assert sleep.delays == [0.5, 1.0], "exponential backoff (full jitter at its ceiling)"
    requests = http_recorder.requests_to(HOOK_PATH)
    assert len(requests) == 3 and len({request.body for request in requests}) == 1


def test_a_400_is_not_retried_and_the_error_names_the_host_not_the_url(http_recorder: HttpRecorder) -> None:
    http_recorder.script(HOOK_PATH, [400])
    sleep = SleepRecorder()
    channel = build_channel(webhook_spec("slack"), {"hook": {"url": http_recorder.url(HOOK_PATH)}}, settings(sleep))

    result = channel.send(firing_notification())

    assert not result.ok and not result.retryable and result.attempts == 1 and result.status_code == 400
    assert result.error == "channel 'slack-hook': POST to 127.0.0.1 answered HTTP 400"
    assert sleep.delays == [] and len(http_recorder.requests_to(HOOK_PATH)) == 1


def test_persistent_5xx_and_timeouts_give_a_retryable_failure_after_the_attempts(http_recorder: HttpRecorder) -> None:
    http_recorder.script("/slow", [200], delay=1.0)
    sleep = SleepRecorder()
    # The CRD takes whole units ("1s"); a channel built in Python may hold any timedelta, and 0.2 s is quicker.
    spec = replace(webhook_spec("generic"), timeout=timedelta(seconds=0.2))
    channel = build_channel(
        spec, {"hook": {"url": http_recorder.url("/slow")}}, settings(sleep, retry=RetryPolicy(max_attempts=2))
    )
    result = channel.send(firing_notification())
    assert not result.ok and result.retryable and result.attempts == 2
    assert result.error == "channel 'generic-hook': POST to 127.0.0.1 timed out after 0.2s (after 2 attempts)"
    assert len(sleep.delays) == 1


def test_connection_errors_never_reveal_the_secret_url() -> None:
    from tests.integration.alerts.servers import free_port

    url = f"http://127.0.0.1:{free_port()}{HOOK_PATH}?token=query-secret-123"
    sleep = SleepRecorder()
    result = build_channel(webhook_spec("generic"), {"hook": {"url": url}}, settings(sleep)).send(firing_notification())
    assert not result.ok and result.retryable and result.attempts == 4
    assert result.error == "channel 'generic-hook': POST to 127.0.0.1 failed: could not connect (after 4 attempts)"
    assert "hook-token" not in repr(result) and "query-secret" not in repr(result)


def test_the_host_allow_list_refuses_other_hosts_by_name(http_recorder: HttpRecorder) -> None:
    secrets = {"hook": {"url": http_recorder.url(HOOK_PATH)}}
    allowed = settings(SleepRecorder(), allowed_webhook_hosts=frozenset({"127.0.0.1", "*.slack.com"}))
    assert build_channel(webhook_spec("generic"), secrets, allowed).send(firing_notification()).ok

    strict = settings(SleepRecorder(), allowed_webhook_hosts=frozenset({"*.slack.com"}))
    with pytest.raises(HostNotAllowedError) as refused:
        build_channel(webhook_spec("generic"), secrets, strict)
    assert refused.value.message == (
        "channel 'generic-hook': webhook host '127.0.0.1' is not in the operator's allowed webhook hosts"
    )
    assert "hook-token" not in str(refused.value)


def test_a_redirect_is_never_followed(http_recorder: HttpRecorder) -> None:
    """An allowed receiver answering 302 towards another place (here the cloud metadata path on the same server,
    standing in for an unchecked host) does not make the operator call it: the delivery fails, not retried."""
    http_recorder.script(HOOK_PATH, [302], headers={"Location": http_recorder.url("/latest/meta-data/")})
    outbound = parse_allow_flags(["webhook:cidr=127.0.0.0/8", "webhook:scheme=http"])
    channel = build_channel(webhook_spec("generic"), {"hook": {"url": http_recorder.url(HOOK_PATH)}},
                            settings(SleepRecorder(), outbound=outbound))
    result = channel.send(firing_notification())
    assert not result.ok and not result.retryable and result.status_code == 302
    assert [request.path for request in http_recorder.requests] == [HOOK_PATH]


def test_every_attempt_of_one_delivery_carries_the_same_delivery_id(http_recorder: HttpRecorder) -> None:
    http_recorder.script(HOOK_PATH, [500, 200])
    secrets = {"hook": {"url": http_recorder.url(HOOK_PATH)}}
    notification = firing_notification()
    assert build_channel(webhook_spec("generic"), secrets, settings(SleepRecorder())).send(notification).ok
    assert build_channel(webhook_spec("generic"), secrets, settings(SleepRecorder())).send(notification).ok
    ids = [request.headers["x-modelmonitor-delivery-id"] for request in http_recorder.requests]
    assert len(ids) == 3 and len(set(ids)) == 1  # a retry and a resend: one idempotency key
    other = replace(notification, kind=NotificationKind.RESOLVED)
    build_channel(webhook_spec("generic"), secrets, settings(SleepRecorder())).send(other)
    assert http_recorder.requests[-1].headers["x-modelmonitor-delivery-id"] != ids[0]
