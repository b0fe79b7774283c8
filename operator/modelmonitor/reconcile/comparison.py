"""``status.comparison`` and the ``ChallengerDecision`` condition from an evaluation's comparison: pure.

The evaluator decides (``evaluator.comparison``); the operator only records: the decision with its reason,
both versions, the evidence so far (labelled rows, since when, over how many runs), each metric's difference
with its anytime interval, and since when the decision has held. The condition is True when the comparison
has reached a decision (better, worse, or no meaningful difference) and False while it is inconclusive, with
the decision as its CamelCase reason, so ``kubectl wait --for=condition=ChallengerDecision`` works. An
evaluation that failed leaves the comparison as it was; an evaluation without a comparison (the challenger
was removed from the spec) removes it and the condition. A decision change is announced as an Event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelmonitor.alerts.notification import Notification, NotificationKind, make_dedup_key
from modelmonitor.reconcile.versions import format_timestamp

__all__ = ["CONDITION", "apply_comparison", "comparison_event", "comparison_notification"]

CONDITION = "ChallengerDecision"
REASONS = {
    "challenger-better": "ChallengerBetter",
    "challenger-worse": "ChallengerWorse",
    "no-meaningful-difference": "NoMeaningfulDifference",
    "inconclusive": "Inconclusive",
}
MAX_METRICS = 9


def _status_comparison(
    previous: Mapping[str, Any] | None, comparison: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    decision = str(comparison.get("decision") or "inconclusive")
    same_models = previous is not None and (previous.get("championVersion"), previous.get("challengerVersion")) == (
        comparison.get("championVersion"),
        comparison.get("challengerVersion"),
    )
    held = same_models and previous is not None and previous.get("decision") == decision
    record = {
        "decision": decision,
        "reason": comparison.get("reason"),
        "mode": comparison.get("mode"),
        "pending": comparison.get("pending"),
        "championVersion": comparison.get("championVersion"),
        "challengerVersion": comparison.get("challengerVersion"),
        "labelledRows": comparison.get("labelledRows"),
        "unlabelledRows": comparison.get("unlabelledRows"),
        "rowsNeeded": comparison.get("rowsNeeded"),
        "evidenceSince": comparison.get("since"),
        "runs": comparison.get("runs"),
        "decisionSince": previous.get("decisionSince") if held and previous is not None else format_timestamp(now),
        "metrics": [
            {key: item.get(key) for key in ("metric", "champion", "challenger", "difference", "interval", "decision")}
            for item in list(comparison.get("metrics") or [])[:MAX_METRICS]
        ],
    }
    return {key: value for key, value in record.items() if value is not None}


def apply_comparison(
    patch: dict[str, Any],
    status: Mapping[str, Any],
    summary: Mapping[str, Any],
    generation: int | None,
    now: datetime,
) -> None:
    """Add ``comparison`` and the condition to an evaluation's status patch (in place)."""
    from modelmonitor.reconcile.status import set_condition  # status imports this module

    if summary.get("outcome") != "evaluated":
        return
    comparison = summary.get("comparison")
    conditions = list(patch.get("conditions") or status.get("conditions") or [])
    if not isinstance(comparison, Mapping):
        if status.get("comparison") is not None:
            patch["comparison"] = None
            patch["conditions"] = [condition for condition in conditions if condition.get("type") != CONDITION]
        return
    record = _status_comparison(status.get("comparison"), comparison, now)
    decision = record["decision"]
    message = (
        f"{decision}: challenger {record.get('challengerVersion')} vs champion {record.get('championVersion')} "
        f"on {record.get('labelledRows', 0)} labelled rows"
    )
    if record.get("reason"):
        message += f" ({record['reason']})"
    patch["comparison"] = record
    patch["conditions"] = set_condition(
        conditions,
        CONDITION,
        decision != "inconclusive",
        REASONS.get(decision, "Inconclusive"),
        message,
        generation,
        now,
    )


def comparison_event(
    previous_status: Mapping[str, Any] | None, patch: Mapping[str, Any]
) -> tuple[str, str, str] | None:
    """(type, reason, message) of the Event for a decision that changed with this patch, else None."""
    new = patch.get("comparison")
    if not isinstance(new, Mapping):
        return None
    old = (previous_status or {}).get("comparison") or {}
    keys = ("decision", "championVersion", "challengerVersion")
    if all(old.get(key) == new.get(key) for key in keys):
        return None
    decision = str(new.get("decision"))
    kind = "Warning" if decision == "challenger-worse" else "Normal"
    differences = ", ".join(
        f"{item.get('metric')} {item.get('difference'):+.4g}"
        for item in new.get("metrics") or []
        if isinstance(item.get("difference"), int | float)
    )
    message = (
        f"challenger {new.get('challengerVersion')} vs champion {new.get('championVersion')}: "
        f"{old.get('decision') or 'none'} -> {decision} after {new.get('labelledRows', 0)} labelled rows"
    )
    if differences:
        message += f" ({differences})"
    return kind, REASONS.get(decision, "Inconclusive"), message


def comparison_notification(
    monitor: Mapping[str, Any], previous_status: Mapping[str, Any] | None, patch: Mapping[str, Any], now: datetime
) -> Notification | None:
    """The alert for a decision change (through the monitor's channels, like a rollback's), else None."""
    change = comparison_event(previous_status, patch)
    if change is None:
        return None
    metadata, spec = monitor["metadata"], monitor.get("spec") or {}
    comparison = patch.get("comparison") or {}
    evaluation = (patch.get("lastEvaluation") or {}).get("id") or format_timestamp(now)
    return Notification(
        kind=NotificationKind.COMPARISON,
        monitor_namespace=metadata["namespace"],
        monitor_name=metadata["name"],
        model_name=str((spec.get("model") or {}).get("name", "")),
        model_version=str(comparison.get("championVersion") or ""),
        severity="warning",
        dedup_key=make_dedup_key(metadata["namespace"], metadata["name"], "challenger"),
        evaluation_id=f"{evaluation}:{comparison.get('decision')}",
        occurred_at=format_timestamp(now),
        message=f"{change[1]}: {change[2]}",
    )
