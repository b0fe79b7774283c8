"""status.comparison, the ChallengerDecision condition and the decision-change Event, from summaries (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from modelmonitor.reconcile.comparison import comparison_event
from modelmonitor.reconcile.status import apply_evaluation, replacing_patch

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def summary(run: str, decision: str | None, rows: int = 1000, challenger: str = "8") -> dict[str, Any]:
    document: dict[str, Any] = {"runId": run, "outcome": "evaluated", "verdict": "healthy", "modelVersion": "7"}
    if decision is not None:
        document["comparison"] = {
            "decision": decision,
            "reason": "why",
            "mode": "shadow",
            "championVersion": "7",
            "challengerVersion": challenger,
            "labelledRows": rows,
            "since": "2026-12-01T10:00:00Z",
            "runs": 2,
            "metrics": [
                {
                    "metric": "accuracy",
                    "champion": 0.9,
                    "challenger": 0.88,
                    "difference": -0.02,
                    "interval": [-0.03, -0.01],
                    "decision": decision,
                }
            ],
        }
    return document


def evaluate(status: dict[str, Any], document: dict[str, Any], now: datetime) -> dict[str, Any]:
    patch = apply_evaluation(status, document, "job", 1, ["accuracy"], now)
    return patch


def merged(status: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a JSON merge patch (RFC 7386) as the API server would."""

    def merge(target: Any, change: Any) -> Any:
        if not isinstance(change, dict):
            return change
        result = dict(target) if isinstance(target, dict) else {}
        for key, value in change.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = merge(result.get(key), value)
        return result

    return dict(merge(status, replacing_patch(status, patch)))


def decision_condition(status: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == "ChallengerDecision"), None)


def test_decision_since_holds_while_the_decision_holds_and_moves_when_it_changes() -> None:
    status = merged({}, evaluate({}, summary("a", "inconclusive"), NOW))
    assert status["comparison"]["decisionSince"] == "2026-12-01T12:00:00Z"
    assert decision_condition(status)["status"] == "False"  # type: ignore[index]
    later = NOW + timedelta(hours=1)
    status = merged(status, evaluate(status, summary("b", "inconclusive", 2000), later))
    assert status["comparison"]["decisionSince"] == "2026-12-01T12:00:00Z"
    patch = evaluate(status, summary("c", "challenger-worse", 3000), later + timedelta(hours=1))
    event = comparison_event(status, patch)
    assert (
        event is not None
        and event[:2] == ("Warning", "ChallengerWorse")
        and "inconclusive -> challenger-worse" in event[2]
    )
    status = merged(status, patch)
    assert status["comparison"]["decisionSince"] == "2026-12-01T14:00:00Z"
    condition = decision_condition(status)
    assert condition is not None and (condition["status"], condition["reason"]) == ("True", "ChallengerWorse")
    assert comparison_event(status, evaluate(status, summary("d", "challenger-worse", 4000), later)) is None


def test_a_new_challenger_version_is_a_change_even_with_the_same_decision() -> None:
    status = merged({}, evaluate({}, summary("a", "inconclusive"), NOW))
    patch = evaluate(status, summary("b", "inconclusive", challenger="9"), NOW)
    assert comparison_event(status, patch) is not None


def test_a_failed_evaluation_keeps_the_comparison_and_one_without_a_challenger_removes_it() -> None:
    status = merged({}, evaluate({}, summary("a", "challenger-better"), NOW))
    failed = {
        "runId": "b",
        "outcome": "data_error",
        "verdict": "error",
        "error": {"reason": "DataError", "message": "x"},
    }
    kept = merged(status, evaluate(status, failed, NOW))
    assert kept["comparison"]["decision"] == "challenger-better"
    gone = merged(kept, evaluate(kept, summary("c", None), NOW))
    assert "comparison" not in gone
    assert decision_condition(gone) is None
