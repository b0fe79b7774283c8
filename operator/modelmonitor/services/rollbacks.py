"""Rolling the served model back to its last healthy version, when the monitor's policy says so.

Runs after an evaluation is recorded in status (so `status.versions` already holds its verdict), and when a
person approves a proposed rollback with the `modelmonitor.io/approve-rollback` annotation. The decision is
pure (`reconcile.rollback_policy`); this module reads the target, applies the patch through the rollback edge,
and records what happened: `status.rollback`, the `RolledBack` condition, an Event and an alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelmonitor.alerts.notification import Notification, NotificationKind, make_dedup_key
from modelmonitor.alerts.outbound import OutboundPolicy
from modelmonitor.api import ModelSpec, parse_spec
from modelmonitor.api import RollbackTarget as RollbackTargetSpec
from modelmonitor.kube.errors import Conflict
from modelmonitor.kube.store import KubeStore
from modelmonitor.reconcile.alert_policy import Delivery, plan_notification
from modelmonitor.reconcile.rollback_policy import RollbackAction, RollbackDecision, decide_rollback, record_rollback
from modelmonitor.reconcile.status import replacing_patch, set_condition
from modelmonitor.reconcile.versions import format_timestamp
from modelmonitor.rollback import RollbackError
from modelmonitor.rollback.apply import inspect_target, roll_back
from modelmonitor.services import registry

log = logging.getLogger("modelmonitor.rollback")
APPROVE_ANNOTATION = "modelmonitor.io/approve-rollback"
MAX_CONFLICT_RETRIES = 8

EventPoster = Callable[[Mapping[str, Any], str, str, str], None]

# Decisions worth telling people about (an Event, and an alert through the monitor's channels).
# Decisions to do nothing that are still written to status.rollback.lastDecision: why an evaluation did not
# count (a window of several versions, issue 14) or how far the count of consecutive violations has got.
RECORDED_NON_DECISIONS = frozenset({"MixedVersionWindow", "BelowConsecutiveViolations"})
ANNOUNCED = {RollbackAction.EXECUTE, RollbackAction.DRY_RUN, RollbackAction.PROPOSE, RollbackAction.NOTIFY,
             RollbackAction.REFUSE}


@dataclass
class RollbackOutcome:
    decision: RollbackDecision
    error: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)


def _target(monitor: Mapping[str, Any]) -> RollbackTargetSpec | None:
    """The parsed ``spec.rollback.target`` when rollback is enabled, else None."""
    rollback = parse_spec(monitor.get("spec") or {}).rollback
    return rollback.target if rollback.enabled else None


def enabled(monitor: Mapping[str, Any]) -> bool:
    return _target(monitor) is not None


def target_version(api_client: Any, monitor: Mapping[str, Any]) -> str | None:
    """The version the rollback target serves now (None without a target, or when it cannot be read)."""
    target = _target(monitor)
    if target is None:
        return None
    state, _ = inspect_target(api_client, target, monitor["metadata"]["namespace"])
    return state.current_version


def _notification(monitor: Mapping[str, Any], model: ModelSpec, decision: RollbackDecision,
                  now: datetime) -> Notification:
    metadata = monitor["metadata"]
    severity = "critical" if decision.action in (RollbackAction.EXECUTE, RollbackAction.REFUSE) else "warning"
    return Notification(
        kind=NotificationKind.ROLLBACK, monitor_namespace=metadata["namespace"], monitor_name=metadata["name"],
        model_name=model.name,
        model_version=decision.from_version or model.version or "",
        severity=severity,
        dedup_key=make_dedup_key(metadata["namespace"], metadata["name"], "rollback"),
        evaluation_id=f"{decision.evaluation_id or 'approval'}:{decision.action.value}",
        occurred_at=format_timestamp(now), message=f"{decision.reason}: {decision.message}",
    )


def after_evaluation(store: KubeStore, api_client: Any, namespace: str, name: str,
                     summary: Mapping[str, Any] | None, post_event: EventPoster,
                     now: datetime | None = None, outbound: OutboundPolicy | None = None) -> RollbackOutcome | None:
    """Decide and act on rollback for the monitor's newest status (`summary` None: an approval changed).

    ``outbound`` is the operator's allow-list, checked before a registry or Git target is contacted.
    """
    now = now or datetime.now(UTC)
    monitor = store.read_monitor(namespace, name)
    if not enabled(monitor):
        return None
    parsed = parse_spec(monitor["spec"])  # the policy, the target and the channels read the typed spec
    target = parsed.rollback.target
    assert target is not None  # enabled() says so
    external = registry.alias_target(store, monitor, outbound=outbound)  # a registry alias or Git (issue 13)
    state, observed = (external.inspect(), None) if external else inspect_target(api_client, target, namespace)
    annotations = monitor["metadata"].get("annotations") or {}
    decision = decide_rollback(parsed.rollback, monitor.get("status") or {}, summary, state, annotations, now)
    if decision.action is RollbackAction.NONE and not decision.remove_approval_annotation \
            and decision.reason not in RECORDED_NON_DECISIONS:
        return RollbackOutcome(decision)
    if decision.action is RollbackAction.WAIT:  # recorded in status.rollback.lastDecision, not announced
        log.info("rollback of %s/%s waits: %s", namespace, name, decision.message)
    patch: dict[str, Any] | None = None
    error: str | None = None
    if decision.action in (RollbackAction.EXECUTE, RollbackAction.DRY_RUN) and decision.to_version:
        try:
            if external is not None:
                reason = registry.change_message(monitor, decision.from_version, decision.to_version,
                                                 decision.evaluation_id, decision.message)
                patch = external.move_to(decision.to_version, dry_run=decision.action is RollbackAction.DRY_RUN,
                                         expected_from=decision.from_version, reason=reason).to_dict()
            else:
                applied = roll_back(api_client, target, namespace, decision.to_version,
                                    dry_run=decision.action is RollbackAction.DRY_RUN, observed=observed)
                patch = applied.patch.to_dict()
        except RollbackError as failure:
            error = failure.message
    elif decision.action is RollbackAction.PROPOSE and decision.to_version and external is not None \
            and not decision.repeated:
        try:  # a Git target pushes the proposal to its own branch, for a pull request
            patch = registry.propose_change(external, monitor, decision.from_version, decision.to_version,
                                            decision.evaluation_id, decision.message)
        except RollbackError as failure:
            error = failure.message
    outcome = RollbackOutcome(decision, error)
    for _ in range(MAX_CONFLICT_RETRIES):
        status = monitor.get("status") or {}
        rollback_status = record_rollback(status.get("rollback"), decision, now, patch=patch, error=error)
        status_patch: dict[str, Any] = {"rollback": rollback_status}
        generation = monitor["metadata"].get("generation")
        if decision.action is RollbackAction.EXECUTE:
            status_patch["conditions"] = set_condition(
                status.get("conditions") or [], "RolledBack", error is None,
                "RollbackFailed" if error else "RolledBack",
                f"rollback from {decision.from_version} to {decision.to_version} failed: {error}" if error
                else f"rolled back from {decision.from_version} to {decision.to_version}: {decision.message}",
                generation, now)
        if decision.action in ANNOUNCED and not decision.repeated:
            plan = plan_notification(status.get("alerts"), _notification(monitor, parsed.model, decision, now),
                                     parsed.alerts.channels, now)
            status_patch["alerts"] = plan.new_state
            outcome.deliveries = plan.deliveries
        try:
            store.patch_monitor_status(namespace, name, replacing_patch(status, status_patch),
                                       monitor["metadata"]["resourceVersion"])
            break
        except Conflict:
            monitor = store.read_monitor(namespace, name)
    if decision.remove_approval_annotation:
        store.patch_monitor_metadata(namespace, name, {"annotations": {APPROVE_ANNOTATION: None}})
    if decision.action in ANNOUNCED and not decision.repeated:
        reason = "RollbackFailed" if error else ("RolledBack" if decision.changes_target else decision.reason)
        message = f"{decision.message}; the patch failed: {error}" if error else decision.message
        if decision.action is RollbackAction.DRY_RUN and patch is not None:
            message += f"; planned patch: {patch}"
        post_event(monitor, "Warning" if error or decision.action is RollbackAction.REFUSE else "Normal",
                   reason, message[:1000])
    return outcome
