"""Promoting a challenger found better: rollback's target, patch and modes, pointed forward.

Runs after an evaluation is recorded (so ``status.comparison`` holds the newest decision) and when a person
approves a proposed promotion with the ``modelmonitor.io/approve-promotion`` annotation. The decision is pure
(``reconcile.promotion_policy``); this module reads the target with the rollback edge, patches it to the
challenger's version with the same code that rolls back (``rollback.apply.roll_back``), and records what
happened: ``status.promotion``, the ``Promoted`` condition, an Event and an alert through the monitor's
channels. Targets outside the cluster (an MLflow alias, a file in Git) move through the same pointers rollback
uses (``services.registry.alias_target``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelmonitor.alerts.notification import Notification, NotificationKind, make_dedup_key
from modelmonitor.api import parse_spec
from modelmonitor.kube.errors import Conflict
from modelmonitor.kube.store import KubeStore
from modelmonitor.reconcile.alert_policy import Delivery, plan_notification
from modelmonitor.reconcile.promotion_policy import (
    APPROVE_PROMOTION_ANNOTATION,
    PromotionAction,
    PromotionDecision,
    decide_promotion,
    record_promotion,
)
from modelmonitor.reconcile.status import replacing_patch, set_condition
from modelmonitor.reconcile.versions import format_timestamp
from modelmonitor.rollback import RollbackError
from modelmonitor.rollback.apply import inspect_target, roll_back
from modelmonitor.services import registry

__all__ = ["APPROVE_PROMOTION_ANNOTATION", "PromotionOutcome", "promote_if_better", "promotion_enabled"]

log = logging.getLogger("modelmonitor.promotion")
MAX_CONFLICT_RETRIES = 8
EventPoster = Callable[[Mapping[str, Any], str, str, str], None]


@dataclass
class PromotionOutcome:
    decision: PromotionDecision
    error: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)


def promotion_enabled(monitor: Mapping[str, Any]) -> bool:
    spec = monitor.get("spec") or {}
    challenger = spec.get("challenger") or {}
    target = (spec.get("rollback") or {}).get("target") or {}
    return bool((challenger.get("action") or {}).get("promote")) and bool(target)


def _notification(monitor: Mapping[str, Any], decision: PromotionDecision, now: datetime) -> Notification:
    metadata, spec = monitor["metadata"], monitor.get("spec") or {}
    return Notification(
        kind=NotificationKind.PROMOTION,
        monitor_namespace=metadata["namespace"],
        monitor_name=metadata["name"],
        model_name=str((spec.get("model") or {}).get("name", "")),
        model_version=str(decision.from_version or (spec.get("model") or {}).get("version", "")),
        severity="warning",
        dedup_key=make_dedup_key(metadata["namespace"], metadata["name"], "promotion"),
        evaluation_id=f"promotion:{decision.to_version}:{decision.action.value}",
        occurred_at=format_timestamp(now),
        message=f"{decision.reason}: {decision.message}",
    )


def promote_if_better(
    store: KubeStore, namespace: str, name: str, post_event: EventPoster, now: datetime | None = None
) -> PromotionOutcome | None:
    """Decide and act on promotion for the monitor's newest status (also after an approval annotation)."""
    now = now or datetime.now(UTC)
    monitor = store.read_monitor(namespace, name)
    if not promotion_enabled(monitor):
        return None
    parsed = parse_spec(monitor["spec"])
    assert parsed.challenger is not None and parsed.challenger.action is not None
    promote = parsed.challenger.action.promote
    assert promote is not None
    target_spec = parsed.rollback.target
    assert target_spec is not None  # the CRD requires spec.rollback.target with promote
    external = registry.alias_target(store, monitor)  # an MLflow alias or a Git file instead of a workload
    state, observed = (
        (external.inspect(), None) if external else inspect_target(store.api_client, target_spec, namespace)
    )
    annotations = monitor["metadata"].get("annotations") or {}
    decision = decide_promotion(promote, monitor.get("status") or {}, state.current_version, annotations)
    if decision.action is PromotionAction.NONE:
        if decision.remove_approval_annotation:
            store.patch_monitor_metadata(namespace, name, {"annotations": {APPROVE_PROMOTION_ANNOTATION: None}})
        return PromotionOutcome(decision)
    patch: dict[str, Any] | None = None
    error: str | None = state.problem if decision.changes_target or decision.action is PromotionAction.DRY_RUN else None
    if error is None and decision.action in (PromotionAction.EXECUTE, PromotionAction.DRY_RUN) and decision.to_version:
        try:
            if external is not None:
                patch = external.move_to(
                    decision.to_version,
                    dry_run=decision.action is PromotionAction.DRY_RUN,
                    expected_from=decision.from_version,
                ).to_dict()
            else:
                applied = roll_back(
                    store.api_client,
                    target_spec,
                    namespace,
                    decision.to_version,
                    dry_run=decision.action is PromotionAction.DRY_RUN,
                    observed=observed,
                )
                patch = applied.patch.to_dict()
        except RollbackError as failure:
            error = failure.message
    outcome = PromotionOutcome(decision, error)
    for _ in range(MAX_CONFLICT_RETRIES):
        status = monitor.get("status") or {}
        status_patch: dict[str, Any] = {
            "promotion": record_promotion(status.get("promotion"), decision, now, patch=patch, error=error)
        }
        if decision.action is PromotionAction.EXECUTE:
            status_patch["conditions"] = set_condition(
                status.get("conditions") or [],
                "Promoted",
                error is None,
                "PromotionFailed" if error else "Promoted",
                f"promotion to {decision.to_version} failed: {error}" if error else decision.message,
                monitor["metadata"].get("generation"),
                now,
            )
        if not decision.repeated:
            plan = plan_notification(
                status.get("alerts"),
                _notification(monitor, decision, now),
                parsed.alerts.channels,
                now,
                silences=parsed.alerts.policy.silences,
                rule="promotion",
            )
            status_patch["alerts"] = plan.new_state
            outcome.deliveries = plan.deliveries
        try:
            store.patch_monitor_status(
                namespace, name, replacing_patch(status, status_patch), monitor["metadata"]["resourceVersion"]
            )
            break
        except Conflict:
            monitor = store.read_monitor(namespace, name)
    if decision.remove_approval_annotation:
        store.patch_monitor_metadata(namespace, name, {"annotations": {APPROVE_PROMOTION_ANNOTATION: None}})
    if not decision.repeated:
        reason = "PromotionFailed" if error else decision.reason
        message = f"{decision.message}; the patch failed: {error}" if error else decision.message
        if decision.action is PromotionAction.DRY_RUN and patch is not None:
            message += f"; planned patch: {patch}"
        post_event(monitor, "Warning" if error else "Normal", reason, message[:1000])
        log.info("promotion of %s/%s: %s", namespace, name, message)
    return outcome
