"""Status writes as JSON merge patches: a key the new value leaves out must be written as null, or it stays.

`merge` below is RFC 7386 applied the way the API server applies a merge patch, so these tests check the
status a reader would get back, not the patch's shape. The operator-level proof (reading status back from
the real API server after a problem resolved) is tests/integration/operator/test_alert_lifecycle.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from modelmonitor.api import AlertChannel, AlertPolicy
from modelmonitor.reconcile.alert_policy import MonitorIdentity, plan_alerts
from modelmonitor.reconcile.rollback_policy import RollbackAction, RollbackDecision, record_rollback
from modelmonitor.reconcile.status import apply_evaluation, replacing_patch


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch, written from the RFC's pseudo-code."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def write(status: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    written: dict[str, Any] = merge(status, replacing_patch(status, fields))
    return written


def test_a_key_left_out_is_deleted_and_the_rest_is_exact() -> None:
    status = {"alerts": {"problems": {"violations": {"status": "firing", "notified": {"mail": {"at": "x"}}}},
                         "pending": [{"id": "a"}], "keep": 1}, "phase": "Degraded", "other": {"x": 1}}
    new_alerts = {"problems": {}, "pending": [], "keep": 2}
    after = write(status, {"alerts": new_alerts, "phase": "Healthy"})
    assert after["alerts"] == new_alerts
    assert after["phase"] == "Healthy" and after["other"] == {"x": 1}  # fields not written are untouched
    # without the explicit nulls the problem would survive: the bug this guards against
    assert merge(status, {"alerts": new_alerts})["alerts"]["problems"] == status["alerts"]["problems"]


def test_new_nested_objects_and_lists_are_written_whole() -> None:
    status = {"rollback": {"history": [{"a": 1}, {"b": 2}]}}
    fields = {"rollback": {"history": [{"c": 3}], "proposal": {"toVersion": "1", "patch": {"x": {"y": 1}}}}}
    assert write(status, fields) == fields


NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
CHANNELS = [AlertChannel(name="mail", type="webhook")]
POLICY = AlertPolicy()
IDENTITY = MonitorIdentity("ns", "m", "model")


def _summary(run: str, violating: bool) -> dict[str, Any]:
    violations = [{"rule": "metric:accuracy", "severity": "critical", "value": 0.5, "threshold": 0.9}]
    return {"runId": run, "outcome": "evaluated", "verdict": "critical" if violating else "healthy",
            "violations": violations if violating else []}


def test_a_resolved_problem_leaves_status_alerts_as_read_back() -> None:
    status: dict[str, Any] = {}
    for run, violating in (("e1", True), ("e2", False)):
        plan = plan_alerts(status.get("alerts"), _summary(run, violating), POLICY, CHANNELS, NOW, monitor=IDENTITY)
        status = write(status, {"alerts": plan.new_state})
    assert "violations" not in status["alerts"]["problems"]
    # a third, healthy evaluation plans nothing new (no second RESOLVED)
    before = len(status["alerts"]["pending"])
    plan = plan_alerts(status["alerts"], _summary("e3", False), POLICY, CHANNELS, NOW, monitor=IDENTITY)
    assert len(plan.new_state["pending"]) == before


def test_a_withdrawn_proposal_leaves_status_rollback() -> None:
    propose = RollbackDecision(RollbackAction.PROPOSE, "RollbackProposed", "roll back", from_version="2",
                               to_version="1", evaluation_id="e1")
    status = write({}, {"rollback": record_rollback(None, propose, NOW)})
    assert status["rollback"]["proposal"]["toVersion"] == "1"
    withdraw = RollbackDecision(RollbackAction.NONE, "Healthy", "healthy again", evaluation_id="e2",
                                withdraw_proposal=True)
    status = write(status, {"rollback": record_rollback(status["rollback"], withdraw, NOW)})
    assert "proposal" not in status["rollback"]
    assert "toVersion" not in status["rollback"]["lastDecision"]  # the old decision's fields do not linger


def test_a_past_error_leaves_last_evaluation() -> None:
    failed = {"runId": "e1", "outcome": "data_error", "error": {"reason": "DataError", "message": "bad column"}}
    status = write({}, apply_evaluation({}, failed, "job-1", 1, [], NOW))
    assert status["lastEvaluation"]["error"]["reason"] == "DataError"
    ok = {"runId": "e2", "outcome": "evaluated", "verdict": "healthy", "metrics": {"accuracy": 0.9}}
    status = write(status, apply_evaluation(status, ok, "job-2", 1, ["accuracy"], NOW))
    assert "error" not in status["lastEvaluation"] and status["lastEvaluation"]["id"] == "e2"
