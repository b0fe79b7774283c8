"""Whether to promote the challenger, from ``status.comparison`` and the target's served version: pure.

``spec.challenger.action.promote`` reuses rollback's modes on rollback's target: when the comparison says
``challenger-better`` and the target does not serve the challenger's version yet, Automatic patches it,
Manual proposes and patches once a person names the version in ``modelmonitor.io/approve-promotion``,
NotifyOnly only says what would be done, and ``dryRun`` records and announces the planned patch without
applying it. Nothing is promoted on any other decision, nor twice: the same decision for the same versions
is recorded once and announced once (``repeated``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from modelmonitor.api.model import PromoteAction
from modelmonitor.reconcile.versions import format_timestamp

__all__ = [
    "APPROVE_PROMOTION_ANNOTATION",
    "PromotionAction",
    "PromotionDecision",
    "decide_promotion",
    "record_promotion",
]

APPROVE_PROMOTION_ANNOTATION = "modelmonitor.io/approve-promotion"
HISTORY_LIMIT = 10


class PromotionAction(StrEnum):
    NONE = "None"
    EXECUTE = "Promote"
    DRY_RUN = "DryRun"
    PROPOSE = "Propose"
    NOTIFY = "Notify"


@dataclass(frozen=True)
class PromotionDecision:
    action: PromotionAction
    reason: str
    message: str
    from_version: str | None = None
    to_version: str | None = None
    repeated: bool = False  # the same decision is already recorded: do not announce it again
    remove_approval_annotation: bool = False

    @property
    def changes_target(self) -> bool:
        return self.action is PromotionAction.EXECUTE


def decide_promotion(
    promote: PromoteAction,
    status: Mapping[str, Any],
    served_version: str | None,
    annotations: Mapping[str, str],
) -> PromotionDecision:
    """The promotion decision for the monitor's newest comparison and the version its target serves."""
    comparison = status.get("comparison") or {}
    approval = annotations.get(APPROVE_PROMOTION_ANNOTATION)
    to_version = comparison.get("challengerVersion")
    if comparison.get("decision") != "challenger-better" or not to_version:
        return PromotionDecision(
            PromotionAction.NONE,
            "NotBetter",
            f"the comparison is {comparison.get('decision') or 'not there yet'}; nothing to promote",
            remove_approval_annotation=approval is not None,
        )
    to_version = str(to_version)
    if served_version == to_version:
        return PromotionDecision(
            PromotionAction.NONE,
            "AlreadyServed",
            f"the target already serves {to_version}",
            served_version,
            to_version,
            remove_approval_annotation=approval is not None,
        )
    subject = f"challenger {to_version} is better than {served_version or 'the served version'}"
    if promote.mode == "NotifyOnly":
        action, reason, message = (
            PromotionAction.NOTIFY,
            "PromotionAdvised",
            f"{subject}; promotion would patch the target",
        )
    elif promote.mode == "Manual" and approval != to_version:
        action, reason = PromotionAction.PROPOSE, "PromotionProposed"
        message = f"{subject}; approve with the annotation {APPROVE_PROMOTION_ANNOTATION}={to_version}"
    elif promote.dry_run:
        action, reason, message = PromotionAction.DRY_RUN, "PromotionDryRun", f"{subject}; dry run, nothing patched"
    else:
        action, reason, message = PromotionAction.EXECUTE, "Promoted", f"{subject}; promoted"
    previous = (status.get("promotion") or {}).get("lastDecision") or {}
    repeated = (previous.get("action"), previous.get("fromVersion"), previous.get("toVersion")) == (
        action.value,
        served_version,
        to_version,
    ) and action is not PromotionAction.EXECUTE
    return PromotionDecision(
        action,
        reason,
        message,
        served_version,
        to_version,
        repeated=repeated,
        remove_approval_annotation=approval is not None and action is not PromotionAction.PROPOSE,
    )


def record_promotion(
    previous: Mapping[str, Any] | None,
    decision: PromotionDecision,
    now: datetime,
    *,
    patch: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """``status.promotion``: the last decision and a bounded history of decisions that changed something."""
    entry: dict[str, Any] = {
        "action": decision.action.value,
        "reason": "PromotionFailed" if error else decision.reason,
        "message": decision.message,
        "fromVersion": decision.from_version,
        "toVersion": decision.to_version,
        "at": format_timestamp(now),
    }
    if patch is not None:
        entry["patch"] = dict(patch)
    if error is not None:
        entry["error"] = error
    entry = {key: value for key, value in entry.items() if value is not None}
    history = list((previous or {}).get("history") or [])
    if not decision.repeated:
        history = [entry, *history][:HISTORY_LIMIT]
    return {"lastDecision": entry, "history": history}
