"""E-mail to a real SMTP server (aiosmtpd) over STARTTLS with login; a relay that is down, then back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelmonitor.alerts import ChannelSettings, DeliveryResult, build_channel
from modelmonitor.api import AlertChannel, AlertPolicy, parse_part
from modelmonitor.reconcile.alert_policy import MonitorIdentity, plan_alerts
from modelmonitor.reconcile.alert_queue import channel_failing, due_retries, record_delivery
from tests.integration.alerts.conftest import SMTP_PASSWORD, SMTP_USERNAME
from tests.integration.alerts.notifications import firing_notification
from tests.integration.alerts.servers import SelfSignedCertificate, SmtpSink
from tests.unit.alerts.policy.builders import channel_of

# aiosmtpd itself sets its deprecated Session.login_data on every successful AUTH
pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")

CHANNEL_SPEC = {
    "name": "oncall-mail",
    "type": "email",
    "to": ["ml-oncall@example.com", "risk-team@example.com"],
    "smtpSecret": "smtp",
    "tls": "starttls",
}
SETTINGS = ChannelSettings(smtp_timeout=3.0)


def test_a_firing_alert_arrives_over_starttls_with_login_and_says_what_broke(smtp_sink: SmtpSink) -> None:
    channel = build_channel(channel_of(CHANNEL_SPEC), {"smtp": smtp_sink.secret_data()}, SETTINGS)

    result = channel.send(firing_notification())

    assert result == DeliveryResult.success("oncall-mail")
    (mail,) = smtp_sink.received
    assert mail.tls and mail.authenticated_as == SMTP_USERNAME
    assert mail.sender == "modelmonitor@example.com"
    assert mail.recipients == ["ml-oncall@example.com", "risk-team@example.com"]
    message = mail.message
    assert message["Subject"] == "[CRITICAL] risk/credit-scoring v7: 2 violations"
    assert message["To"] == "ml-oncall@example.com, risk-team@example.com"
    assert message["X-ModelMonitor-Dedup-Key"] == "modelmonitor/risk/credit-scoring/violations"
    assert message.get_content_type() == "multipart/alternative"
    plain_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert plain_part is not None and html_part is not None
    plain = plain_part.get_content()
    html = html_part.get_content()
    assert "metric:accuracy 0.85 < 0.9 [critical]: accuracy 0.850 is below the minimum 0.900" in plain
    assert "drift:age 0.31 > 0.1 [warning]" in plain
    assert "  - age (ks, p=1e-12)" in plain
    assert "Report: https://reports.example.com/risk/credit-scoring/29012345/report.html" in plain
    assert html.count('<tr class="violation">') == 2
    assert "<td>metric:accuracy</td><td>0.85</td><td>0.9</td><td>critical</td>" in html
    assert '<a href="https://reports.example.com/risk/credit-scoring/29012345/report.html">' in html
    assert "kubectl -n risk describe mm credit-scoring" in plain


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_both_login_mechanisms_work(smtp_certificate: SelfSignedCertificate, mechanism: str) -> None:
    sink = SmtpSink(smtp_certificate, SMTP_USERNAME, SMTP_PASSWORD, mechanisms=(mechanism,))
    sink.start()
    try:
        channel = build_channel(channel_of(CHANNEL_SPEC), {"smtp": sink.secret_data()}, SETTINGS)
        assert channel.send(firing_notification()).ok
    finally:
        sink.stop()
    assert sink.mechanisms_used == [mechanism]
    assert [mail.authenticated_as for mail in sink.received] == [SMTP_USERNAME]


def test_implicit_tls_on_a_dedicated_port(smtp_certificate: SelfSignedCertificate) -> None:
    sink = SmtpSink(smtp_certificate, SMTP_USERNAME, SMTP_PASSWORD, implicit_tls=True)
    sink.start()
    try:
        channel = build_channel(channel_of(CHANNEL_SPEC | {"tls": "tls"}), {"smtp": sink.secret_data()}, SETTINGS)
        result = channel.send(firing_notification())
    finally:
        sink.stop()
    assert result.ok, result.error
    assert [mail.tls for mail in sink.received] == [True]


def test_an_untrusted_certificate_is_refused(smtp_sink: SmtpSink) -> None:
    secret = {key: value for key, value in smtp_sink.secret_data().items() if key != "caCert"}
    result = build_channel(channel_of(CHANNEL_SPEC), {"smtp": secret}, SETTINGS).send(firing_notification())
    assert not result.ok and result.error is not None
    assert result.error.startswith(f"channel 'oncall-mail': TLS with SMTP server localhost:{smtp_sink.port} failed")
    assert smtp_sink.received == []


def test_a_wrong_password_is_a_permanent_failure_without_the_password(smtp_sink: SmtpSink) -> None:
    secret = smtp_sink.secret_data() | {"password": "wrong-password-123"}
    channel = build_channel(channel_of(CHANNEL_SPEC), {"smtp": secret}, SETTINGS)

    result = channel.send(firing_notification())

    assert not result.ok and not result.retryable
    assert result.error == f"channel 'oncall-mail': SMTP server localhost:{smtp_sink.port} refused the login (535)"
    assert smtp_sink.failed_logins >= 1 and smtp_sink.received == []


def test_a_relay_that_is_down_fails_cleanly_stays_pending_and_the_alert_is_sent_once_when_it_is_back(
    smtp_sink: SmtpSink,
) -> None:
    secrets = {"smtp": smtp_sink.secret_data()}
    channel = build_channel(channel_of(CHANNEL_SPEC), secrets, SETTINGS)
    policy = parse_part(AlertPolicy, {"consecutiveViolations": 1}, "spec.alerts.policy")
    targets = [parse_part(AlertChannel, CHANNEL_SPEC, "spec.alerts.channels[0]")]
    monitor = MonitorIdentity(namespace="risk", name="credit-scoring", model_name="credit-scoring")
    summary = {
        "runId": "run-1",
        "outcome": "evaluated",
        "modelVersion": "7",
        "violations": [{"rule": "metric:f1", "value": 0.7, "threshold": 0.8, "op": "min", "severity": "warning"}],
    }
    now = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)

    smtp_sink.stop()
    plan = plan_alerts(None, summary, policy, targets, now, monitor=monitor)
    (delivery,) = plan.deliveries
    result = channel.send(delivery.notification)
    assert not result.ok and result.retryable
    assert result.error == f"channel 'oncall-mail': SMTP server localhost:{smtp_sink.port} refused the connection"
    assert SMTP_PASSWORD not in repr(result)
    state = record_delivery(plan.new_state, delivery, result, now)
    assert channel_failing(state) == ["oncall-mail"]
    assert SMTP_PASSWORD not in repr(state)

    # the operator restarts: the same evaluation is planned again from the persisted state, nothing new
    assert plan_alerts(state, summary, policy, targets, now, monitor=monitor).deliveries == []

    smtp_sink.start()
    later = datetime(2026, 11, 23, 17, 5, tzinfo=UTC)
    (retry,) = due_retries(state, later)
    rebuilt = build_channel(channel_of(CHANNEL_SPEC), secrets, SETTINGS)
    retried = rebuilt.send(retry.notification)
    assert retried.ok
    state = record_delivery(state, retry, retried, later)
    assert channel_failing(state) == [] and state["pending"] == []
    assert due_retries(state, datetime(2026, 11, 24, tzinfo=UTC)) == []
    assert [mail.message["Subject"] for mail in smtp_sink.received] == ["[WARNING] risk/credit-scoring v7: 1 violation"]
