"""What each kind of notification says: subjects, one-segment SMS, escaped HTML, payload shapes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modelmonitor.alerts import DriftedFeature, Notification, NotificationKind, Violation, make_dedup_key
from modelmonitor.alerts.render import (
    SMS_SEGMENT_LIMIT,
    generic_payload,
    gsm7_length,
    html_body,
    pagerduty_payload,
    slack_payload,
    sms_text,
    subject,
    teams_payload,
)


def notification(**changes: object) -> Notification:
    base = Notification(
        kind=NotificationKind.FIRING,
        monitor_namespace="risk",
        monitor_name="credit-scoring",
        model_name="credit-scoring",
        model_version="7",
        severity="critical",
        dedup_key=make_dedup_key("risk", "credit-scoring", "violations"),
        evaluation_id="run-1",
        occurred_at="2026-11-23T17:00:00Z",
        violations=(
            Violation(
                rule="metric:accuracy", severity="critical", reason="too low", value=0.85, threshold=0.9, op="min"
            ),
            Violation(rule="metric:f1", severity="warning", reason="too low", value=0.7, threshold=0.8, op="min"),
        ),
        drifted_features=(DriftedFeature(feature="age"),),
        report_uri="s3://ml/reports/run-1/report.html",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "[CRITICAL] risk/credit-scoring v7: 2 violations"),
        (
            {"violations": (Violation(rule="drift:age", severity="warning", reason=""),), "severity": "warning"},
            "[WARNING] risk/credit-scoring v7: 1 violation",
        ),
        ({"kind": NotificationKind.RESOLVED}, "[RESOLVED] risk/credit-scoring v7: resolved, all rules pass again"),
        (
            {"kind": NotificationKind.EVALUATION_FAILED, "severity": "warning", "message": "DeadlineExceeded"},
            "[WARNING] risk/credit-scoring v7: evaluation failed (DeadlineExceeded)",
        ),
        (
            {"kind": NotificationKind.LABELS_PENDING, "severity": "warning"},
            "[WARNING] risk/credit-scoring v7: labels pending, quality metrics not evaluated",
        ),
        (
            {"kind": NotificationKind.ROLLBACK, "message": "Deployment credit-scoring back to v6"},
            "[CRITICAL] risk/credit-scoring v7: rollback (Deployment credit-scoring back to v6)",
        ),
        (
            {"kind": NotificationKind.COMPARISON, "severity": "warning", "message": "ChallengerWorse: 8 vs 7"},
            "[WARNING] risk/credit-scoring v7: challenger decision (ChallengerWorse: 8 vs 7)",
        ),
        (
            {"kind": NotificationKind.PROMOTION, "severity": "warning", "message": "Promoted: 8 is better"},
            "[WARNING] risk/credit-scoring v7: promotion (Promoted: 8 is better)",
        ),
    ],
)
def test_subjects(changes: dict[str, object], expected: str) -> None:
    assert subject(notification(**changes)) == expected


def test_sms_fits_one_gsm7_segment_even_with_long_names_many_rules_and_foreign_characters() -> None:
    many = tuple(
        Violation(rule=f"drift:feature_with_a_long_name_{index}", severity="warning", reason="") for index in range(30)
    )
    long_name = "a-very-long-monitor-name-" + "x" * 40
    text = sms_text(notification(monitor_name=long_name, violations=many, model_version="2026.11.23-ü[β]"))
    assert gsm7_length(text) <= SMS_SEGMENT_LIMIT
    assert text.endswith(f"See kubectl -n risk describe mm {long_name}")
    assert "..." in text

    huge = sms_text(notification(monitor_namespace="n" * 63, monitor_name="m" * 120))
    assert gsm7_length(huge) <= SMS_SEGMENT_LIMIT


def test_sms_for_a_short_alert_is_complete() -> None:
    assert sms_text(notification()) == (
        "CRITICAL risk/credit-scoring v7: 2 violations: metric:accuracy, metric:f1. "
        "See kubectl -n risk describe mm credit-scoring"
    )


def test_gsm7_counts_extension_characters_twice_and_refuses_others() -> None:
    assert gsm7_length("a[b]") == 6
    with pytest.raises(ValueError, match="GSM-7"):
        gsm7_length("β")


def test_html_escapes_everything_from_the_evaluation_and_links_only_http_reports() -> None:
    hostile = Violation(rule="metric:<script>", severity="critical", reason="a < b & c", value=1.0, threshold=2.0)
    body = html_body(notification(violations=(hostile,)))
    assert "<script>" not in body and "metric:&lt;script&gt;" in body and "a &lt; b &amp; c" in body
    assert "<code>s3://ml/reports/run-1/report.html</code>" in body and "<a href" not in body
    linked = html_body(notification(report_uri="https://reports.example.com/r.html"))
    assert '<a href="https://reports.example.com/r.html">' in linked


def test_generic_payload_round_trips_the_notification() -> None:
    original = notification()
    payload = generic_payload(original)
    assert payload["schemaVersion"] == 1 and payload["status"] == "firing"
    assert Notification.from_dict(payload) == original


def test_pagerduty_resolve_carries_only_the_routing_and_dedup_keys() -> None:
    resolved = pagerduty_payload(notification(kind=NotificationKind.RESOLVED), "KEY")
    assert resolved == {
        "routing_key": "KEY",
        "event_action": "resolve",
        "dedup_key": "modelmonitor/risk/credit-scoring/violations",
    }


def test_dedup_keys_stay_within_pagerduty_limits_and_stable() -> None:
    key = make_dedup_key("n" * 63, "m" * 253, "violations")
    assert len(key) <= 255 and key == make_dedup_key("n" * 63, "m" * 253, "violations")
    assert key != make_dedup_key("n" * 63, "m" * 252 + "x", "violations")


@pytest.mark.parametrize(
    ("version", "shown"), [("v2", "v2"), ("7", "v7"), ("1.4", "v1.4"), ("2024-06-01", "2024-06-01"), ("V3", "V3")]
)
def test_a_version_is_shown_as_given_never_with_a_second_v(version: str, shown: str) -> None:
    """A version named v2 reads v2 (it read vv2): subject, SMS, Slack and Teams alike; only bare numbers get a v."""
    named = notification(model_version=version)
    assert subject(named) == f"[CRITICAL] risk/credit-scoring {shown}: 2 violations"
    assert f"credit-scoring {shown}: " in sms_text(named)
    texts = [subject(named), sms_text(named), str(slack_payload(named)), str(teams_payload(named))]
    assert not any(f"v{version}" in text for text in texts if not version[0].isdigit())
    assert f"*Model:* credit-scoring {shown}" in str(slack_payload(named))


def test_the_report_title_shows_the_version_as_given() -> None:
    from modelmonitor.evaluator.report import render_report

    page = render_report({"verdict": "healthy", "model": {"name": "fraud"}, "modelVersion": "v2"})
    assert "<title>fraud v2 — healthy</title>" in page and "vv2" not in page
