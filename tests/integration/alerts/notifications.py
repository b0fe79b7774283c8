"""A realistic firing notification (two violations, drift, report link) shared by the channel tests."""

from __future__ import annotations

from modelmonitor.alerts import DriftedFeature, Notification, NotificationKind, Violation, make_dedup_key


def firing_notification(kind: NotificationKind = NotificationKind.FIRING) -> Notification:
    return Notification(
        kind=kind,
        monitor_namespace="risk",
        monitor_name="credit-scoring",
        model_name="credit-scoring",
        model_version="7",
        severity="critical",
        dedup_key=make_dedup_key("risk", "credit-scoring", "violations"),
        evaluation_id="credit-scoring-29012345",
        occurred_at="2026-11-23T17:00:00Z",
        violations=(
            Violation(
                rule="metric:accuracy",
                severity="critical",
                reason="accuracy 0.850 is below the minimum 0.900",
                value=0.85,
                threshold=0.9,
                op="min",
            ),
            Violation(
                rule="drift:age",
                severity="warning",
                reason="psi 0.31 is above the warning level 0.1",
                value=0.31,
                threshold=0.1,
                op="max",
            ),
        ),
        drifted_features=(DriftedFeature(feature="age", test="ks", statistic=0.31, p_value=1e-12),),
        drift_share=0.4,
        report_uri="https://reports.example.com/risk/credit-scoring/29012345/report.html",
    )
