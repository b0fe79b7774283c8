"""The rollback policy: whether to put the last healthy model version back, now, and why (not).

A rollback changes production, so this module is deliberately conservative and entirely pure. It takes the
monitor's ``spec.rollback``, its status (the version memory in ``status.versions`` and the rollback record in
``status.rollback``), the latest evaluation summary, what was read from the target, the monitor's
annotations and the time, and returns one :class:`RollbackDecision`. The operator carries it out (plans and
applies the patch through :mod:`modelmonitor.rollback`, emits the Event, sends the alert) and stores the
outcome with :func:`record_rollback`.

Guarantees, in the order they are checked:

- nothing happens unless ``spec.rollback.enabled`` is true;
- only conclusive verdicts count (``pending`` and ``error`` say nothing about the model);
- an evaluation of a window more than one version served (``attribution: mixed``, see
  :mod:`modelmonitor.reconcile.attribution`) counts for and against no version (``MixedVersionWindow``);
- a violation is a verdict at or above ``minSeverity`` (``critical`` by default) or, when ``rules`` is set, a violation
  of one of the named rules (shell patterns such as ``drift:*``), whatever its severity;
- the current version must have violated in ``consecutiveViolations`` evaluations in a row (evaluations of
  another version in between break the run; a rollback starts a new count);
- the target must be readable, still serve the evaluated version, and not be mid-rollout;
- the version restored must be known to the memory, have been healthy, not have turned critical since, and
  be expressible by the target (its ``versions`` map);
- automatic rollbacks respect ``cooldown`` and ``maxRollbacks`` (count per window); a person's approval in
  Manual mode is not rate-limited but passes every other check;
- ``dryRun`` reports the planned patch instead of applying it (and rate-limits dry runs like real ones).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict

from modelmonitor.api.metrics import rule_matches
from modelmonitor.api.model import RollbackSpec
from modelmonitor.reconcile.attribution import is_mixed
from modelmonitor.reconcile.versions import (
    INCONCLUSIVE_VERDICTS,
    evaluation_timeline,
    format_timestamp,
    last_healthy_version,
    parse_timestamp,
)

__all__ = [
    "APPROVE_ROLLBACK_ANNOTATION",
    "DEFAULT_HISTORY_LIMIT",
    "RollbackAction",
    "RollbackDecision",
    "TargetState",
    "decide_rollback",
    "record_rollback",
    "violated_rules",
]

APPROVE_ROLLBACK_ANNOTATION = "modelmonitor.io/approve-rollback"
DEFAULT_HISTORY_LIMIT = 20
SEVERITY_RANK = {"healthy": 0, "warning": 1, "critical": 2}

class RollbackAction(StrEnum):
    """What the operator should do; only ``execute`` changes the target."""

    NONE = "none"  # nothing to do (disabled, not triggered, not yet enough violations)
    PROPOSE = "propose"  # Manual: write the proposal to status, emit an Event, alert; wait for approval
    NOTIFY = "notify"  # NotifyOnly: say which version would be restored; never patch
    EXECUTE = "execute"  # plan and apply the patch
    DRY_RUN = "dry_run"  # plan the patch and report it; do not apply
    REFUSE = "refuse"  # a rollback is called for but unsafe or impossible; alert with the reason
    WAIT = "wait"  # a rollback is called for but must wait (mid-rollout, cooldown); decide again later


@dataclass(frozen=True)
class TargetState:
    """What the operator read from the rollback target just before deciding.

    ``problem`` explains why the version could not be read (forbidden, not found, no tag): it becomes the
    refusal's message. Build it with :func:`modelmonitor.rollback.apply.inspect_target`.
    """

    current_version: str | None
    mid_rollout_reason: str | None = None
    servable_versions: frozenset[str] | None = None
    description: str = "the rollback target"
    problem: str | None = None


@dataclass(frozen=True)
class RollbackDecision:
    """The policy's answer. ``reason`` is CamelCase (conditions, Events); ``message`` is for people."""

    action: RollbackAction
    reason: str
    message: str
    from_version: str | None = None
    to_version: str | None = None
    evaluation_id: str | None = None
    dry_run: bool = False
    approved: bool = False
    remove_approval_annotation: bool = False
    withdraw_proposal: bool = False
    repeated: bool = False

    @property
    def changes_target(self) -> bool:
        return self.action is RollbackAction.EXECUTE

    @property
    def needs_patch_plan(self) -> bool:
        """Whether the operator should plan the patch (to apply it, or to show it in status)."""
        return self.action in (RollbackAction.EXECUTE, RollbackAction.DRY_RUN, RollbackAction.PROPOSE)


class _Subject(TypedDict, total=False):
    """The versions and evaluation a decision is about (keyword arguments of RollbackDecision)."""

    evaluation_id: str | None
    from_version: str | None
    to_version: str | None
    dry_run: bool


def violated_rules(summary: Mapping[str, Any]) -> list[str]:
    """The rule names an evaluation summary reports as violated (``metric:f1``, ``drift:dataset``...)."""
    return [str(item["rule"]) for item in summary.get("violations") or [] if item.get("rule")]


def _is_violation(policy: RollbackSpec, verdict: str, rules: Sequence[str]) -> bool:
    if policy.rules:
        return any(rule_matches(rule, pattern) for rule in rules for pattern in policy.rules)
    return SEVERITY_RANK.get(verdict, 0) >= SEVERITY_RANK[policy.min_severity]


def _last_rollback_at(history: Sequence[Mapping[str, Any]], *, dry_run: bool, applied_only: bool) -> datetime | None:
    moments = [
        parse_timestamp(str(entry["at"]))
        for entry in history
        if entry.get("at")
        and bool(entry.get("dryRun", False)) == dry_run
        and not (applied_only and entry.get("error"))
    ]
    return max(moments) if moments else None


def _consecutive_violations(
    policy: RollbackSpec, versions: Sequence[Mapping[str, Any]], version: str, since: datetime | None
) -> int:
    count = 0
    for moment, evaluated_version, record in reversed(evaluation_timeline(versions)):
        if since is not None and moment <= since:
            break
        if record["verdict"] in INCONCLUSIVE_VERDICTS:
            continue
        if evaluated_version != version or not _is_violation(policy, record["verdict"], record["rules"]):
            break
        count += 1
    return count


def _describe_trigger(policy: RollbackSpec) -> str:
    if policy.rules:
        return f"violations of {', '.join(policy.rules)}"
    return "critical evaluations" if policy.min_severity == "critical" else "warning-or-worse evaluations"


def _candidate_problem(
    versions: Sequence[Mapping[str, Any]], candidate: str, current: str, target: TargetState
) -> str | None:
    """Why ``candidate`` may not be restored now (it was proposed earlier; things may have changed)."""
    if target.servable_versions is not None and candidate not in target.servable_versions:
        return f"version {candidate} is not in spec.rollback.target.versions"
    known = {str(record.get("version")) for record in versions}
    if candidate not in known:
        return f"version {candidate} is unknown to the version memory (status.versions)"
    best = last_healthy_version(
        [record for record in versions if str(record.get("version")) == candidate], excluding=current
    )
    if best != candidate:
        return f"version {candidate} was never healthy or has turned critical since"
    return None


def decide_rollback(
    policy: RollbackSpec,
    status: Mapping[str, Any],
    summary: Mapping[str, Any] | None,
    target_state: TargetState,
    annotations: Mapping[str, str],
    now: datetime,
    *,
    evaluated_version: str | None = None,
) -> RollbackDecision:
    """Decide what to do about rollback after an evaluation (``summary``) or an annotation change (None).

    ``policy`` is the monitor's ``MonitorSpec.rollback`` (from ``parse_spec``: its defaults are the CRD's).

    ``status["versions"]`` must already include the evaluation in ``summary`` (call
    :func:`modelmonitor.reconcile.versions.record_evaluation` first). ``evaluated_version`` is the version the
    evaluation measured, when it differs from ``summary["modelVersion"]`` (the version read from the target
    when the evaluation started).
    """
    rollback_status: Mapping[str, Any] = status.get("rollback") or {}
    proposal: Mapping[str, Any] | None = rollback_status.get("proposal") or None
    history: Sequence[Mapping[str, Any]] = rollback_status.get("history") or []
    versions: Sequence[Mapping[str, Any]] = status.get("versions") or []

    if not policy.enabled:
        return RollbackDecision(
            RollbackAction.NONE, "RollbackDisabled", "spec.rollback.enabled is not true",
            withdraw_proposal=proposal is not None,
        )

    approval = annotations.get(APPROVE_ROLLBACK_ANNOTATION)
    if policy.mode == "Manual" and approval is not None:
        return _decide_on_approval(policy, approval.strip(), proposal, versions, target_state)

    if summary is None:
        return RollbackDecision(RollbackAction.NONE, "NoEvaluation", "no new evaluation to act on")

    evaluation_id = str(summary.get("runId") or "")
    version = evaluated_version or str(summary.get("modelVersion") or "")
    verdict = str(summary.get("verdict") or "")
    base = _Subject(evaluation_id=evaluation_id or None, from_version=version or None)
    if evaluation_id and any(entry.get("evaluationId") == evaluation_id for entry in history):
        return RollbackDecision(
            RollbackAction.NONE, "AlreadyDecided",
            f"evaluation {evaluation_id} already led to a rollback", **base,
        )
    if summary.get("outcome", "evaluated") != "evaluated" or verdict in INCONCLUSIVE_VERDICTS or not verdict:
        return RollbackDecision(
            RollbackAction.NONE, "InconclusiveVerdict",
            f"evaluation {evaluation_id} is inconclusive (verdict {verdict or 'missing'}); rollback waits "
            "for a conclusive one", **base,
        )
    if is_mixed(summary):
        seen = ", ".join(str(name) for name in summary.get("versionsSeen") or []) or "several versions"
        return RollbackDecision(
            RollbackAction.NONE, "MixedVersionWindow",
            f"evaluation {evaluation_id} measured a window served by more than one version ({seen}: mixed "
            "traffic or a rollback inside the window); it counts for or against no version, so rollback "
            "waits for an evaluation of one version", **base,
        )
    if not version:
        return RollbackDecision(
            RollbackAction.REFUSE, "ModelVersionUnknown",
            f"evaluation {evaluation_id} does not say which model version it measured", **base,
        )
    if not _is_violation(policy, verdict, violated_rules(summary)):
        return RollbackDecision(
            RollbackAction.NONE, "NotTriggered",
            f"verdict {verdict} of version {version} does not call for a rollback "
            f"(triggered by {_describe_trigger(policy)})",
            withdraw_proposal=proposal is not None, **base,
        )
    since = _last_rollback_at(history, dry_run=False, applied_only=True)
    count = _consecutive_violations(policy, versions, version, since)
    if count < policy.consecutive_violations:
        return RollbackDecision(
            RollbackAction.NONE, "BelowConsecutiveViolations",
            f"version {version} has {count} of {policy.consecutive_violations} consecutive "
            f"{_describe_trigger(policy)} needed for a rollback", **base,
        )

    blocked = _target_problem(target_state, version, base)
    if blocked is not None:
        return blocked
    candidate = last_healthy_version(versions, excluding=version, servable=target_state.servable_versions)
    if candidate is None:
        return RollbackDecision(
            RollbackAction.REFUSE, "NoHealthyVersion",
            f"version {version} of {target_state.description} should be rolled back, but no other version "
            "is known to have been healthy (and not critical since); nothing was changed", **base,
        )
    decided = _Subject(**base, to_version=candidate, dry_run=policy.dry_run)
    sentence = (
        f"version {version} had {count} consecutive {_describe_trigger(policy)}; "
        f"version {candidate} was the last healthy one"
    )

    if policy.mode == "NotifyOnly":
        return RollbackDecision(
            RollbackAction.NOTIFY, "RollbackRecommended",
            f"{sentence}: rolling {target_state.description} back to {candidate} is recommended "
            "(mode NotifyOnly: nothing was changed)", **decided,
        )
    if policy.mode == "Manual":
        repeated = (
            proposal is not None
            and proposal.get("fromVersion") == version
            and proposal.get("toVersion") == candidate
        )
        return RollbackDecision(
            RollbackAction.PROPOSE, "RollbackProposed",
            f"{sentence}: approve with the annotation {APPROVE_ROLLBACK_ANNOTATION}={candidate} "
            f"to roll {target_state.description} back", repeated=repeated, **decided,
        )

    limited = _rate_limit(policy, history, now, decided)
    if limited is not None:
        return limited
    if policy.dry_run:
        return RollbackDecision(
            RollbackAction.DRY_RUN, "RollbackDryRun",
            f"{sentence}: would roll {target_state.description} back to {candidate} (dryRun: nothing "
            "was changed)", **decided,
        )
    return RollbackDecision(
        RollbackAction.EXECUTE, "RollbackTriggered",
        f"{sentence}: rolling {target_state.description} back to {candidate}", **decided,
    )


def _target_problem(target: TargetState, version: str, base: _Subject) -> RollbackDecision | None:
    if target.current_version is None:
        detail = target.problem or "its version cannot be read"
        return RollbackDecision(
            RollbackAction.REFUSE, "TargetVersionUnknown",
            f"cannot roll back {target.description}: {detail}", **base,
        )
    if target.current_version != version:
        return RollbackDecision(
            RollbackAction.WAIT, "TargetVersionChanged",
            f"{target.description} now serves version {target.current_version}, not the evaluated "
            f"version {version}; waiting for an evaluation of {target.current_version}", **base,
        )
    if target.mid_rollout_reason is not None:
        return RollbackDecision(
            RollbackAction.WAIT, "TargetMidRollout",
            f"a rollout is under way ({target.mid_rollout_reason}); rollback waits until it settles", **base,
        )
    return None


def _rate_limit(
    policy: RollbackSpec, history: Sequence[Mapping[str, Any]], now: datetime, decided: _Subject
) -> RollbackDecision | None:
    kind = "dry runs" if policy.dry_run else "rollbacks"
    last = _last_rollback_at(history, dry_run=policy.dry_run, applied_only=False)
    if last is not None and now < last + policy.cooldown:
        return RollbackDecision(
            RollbackAction.WAIT, "CooldownActive",
            f"the last of the {kind} was at {format_timestamp(last)}; spec.rollback.cooldown allows the "
            f"next one from {format_timestamp(last + policy.cooldown)}", **decided,
        )
    window_start = now - policy.max_rollbacks.window
    recent = [
        entry
        for entry in history
        if entry.get("at")
        and bool(entry.get("dryRun", False)) == policy.dry_run
        and parse_timestamp(str(entry["at"])) > window_start
    ]
    if len(recent) >= policy.max_rollbacks.count:
        return RollbackDecision(
            RollbackAction.REFUSE, "MaxRollbacksReached",
            f"{len(recent)} {kind} since {format_timestamp(window_start)} reach spec.rollback.maxRollbacks "
            f"(count {policy.max_rollbacks.count}); a person must look at this model", **decided,
        )
    return None


def _decide_on_approval(
    policy: RollbackSpec,
    approval: str,
    proposal: Mapping[str, Any] | None,
    versions: Sequence[Mapping[str, Any]],
    target: TargetState,
) -> RollbackDecision:
    if proposal is None:
        return RollbackDecision(
            RollbackAction.NONE, "ApprovalWithoutProposal",
            f"annotation {APPROVE_ROLLBACK_ANNOTATION}={approval} approves nothing: no rollback is proposed "
            "(the annotation is removed so that it cannot approve a later proposal unseen)",
            remove_approval_annotation=True,
        )
    from_version = str(proposal.get("fromVersion") or "")
    to_version = str(proposal.get("toVersion") or "")
    evaluation_id = proposal.get("evaluationId")
    base = _Subject(
        from_version=from_version or None,
        to_version=to_version or None,
        evaluation_id=str(evaluation_id) if evaluation_id else None,
        dry_run=policy.dry_run,
    )
    if approval != to_version:
        return RollbackDecision(
            RollbackAction.REFUSE, "ApprovalMismatch",
            f"annotation {APPROVE_ROLLBACK_ANNOTATION}={approval} does not name the proposed version "
            f"{to_version}; nothing was changed", remove_approval_annotation=True, **base,
        )
    blocked = _target_problem(target, from_version, base)
    if blocked is not None:
        if blocked.action is RollbackAction.WAIT and blocked.reason == "TargetMidRollout":
            return blocked  # keep the approval: it applies once the rollout settles
        return RollbackDecision(
            RollbackAction.REFUSE, blocked.reason, f"approved rollback not carried out: {blocked.message}",
            remove_approval_annotation=True, withdraw_proposal=True, **base,
        )
    problem = _candidate_problem(versions, to_version, from_version, target)
    if problem is not None:
        return RollbackDecision(
            RollbackAction.REFUSE, "NoHealthyVersion", f"approved rollback not carried out: {problem}",
            remove_approval_annotation=True, withdraw_proposal=True, **base,
        )
    if policy.dry_run:
        return RollbackDecision(
            RollbackAction.DRY_RUN, "RollbackDryRun",
            f"approved: would roll {target.description} back from {from_version} to {to_version} "
            "(dryRun: nothing was changed)", approved=True, remove_approval_annotation=True, **base,
        )
    return RollbackDecision(
        RollbackAction.EXECUTE, "RollbackApproved",
        f"approved: rolling {target.description} back from {from_version} to {to_version}",
        approved=True, remove_approval_annotation=True, **base,
    )


def record_rollback(
    status_rollback: Mapping[str, Any] | None,
    decision: RollbackDecision,
    now: datetime,
    *,
    patch: Mapping[str, Any] | None = None,
    error: str | None = None,
    limit: int = DEFAULT_HISTORY_LIMIT,
) -> dict[str, Any]:
    """Return the new ``status.rollback`` after ``decision`` was carried out.

    ``patch`` is the planned patch (``PlannedPatch.to_dict()``), stored with proposals and in history so a dry
    run shows exactly what would be sent. ``error`` is the message of a failed patch (forbidden, conflict):
    the attempt is kept in history (it counts for the cooldown, so a failing rollback is not retried on every
    evaluation) but does not restart the count of consecutive violations.
    """
    result: dict[str, Any] = dict(status_rollback or {})
    timestamp = format_timestamp(now)
    last_decision: dict[str, Any] = {
        "action": decision.action.value,
        "reason": decision.reason if error is None else "RollbackFailed",
        "message": decision.message if error is None else f"{decision.message}; the patch failed: {error}",
        "at": timestamp,
    }
    for key, value in (
        ("evaluationId", decision.evaluation_id),
        ("fromVersion", decision.from_version),
        ("toVersion", decision.to_version),
    ):
        if value is not None:
            last_decision[key] = value
    result["lastDecision"] = last_decision

    if decision.action in (RollbackAction.EXECUTE, RollbackAction.DRY_RUN):
        entry: dict[str, Any] = {
            "fromVersion": decision.from_version,
            "toVersion": decision.to_version,
            "at": timestamp,
            "reason": decision.reason,
            "message": decision.message,
            "dryRun": decision.action is RollbackAction.DRY_RUN,
            "approved": decision.approved,
        }
        if decision.evaluation_id:
            entry["evaluationId"] = decision.evaluation_id
        if patch is not None:
            entry["patch"] = dict(patch)
        if error is not None:
            entry["error"] = error
        result["history"] = [*(result.get("history") or []), entry][-limit:]
        if decision.approved:
            result.pop("proposal", None)
    if decision.action is RollbackAction.PROPOSE:
        previous = result.get("proposal") or {}
        proposal: dict[str, Any] = {
            "fromVersion": decision.from_version,
            "toVersion": decision.to_version,
            "evaluationId": decision.evaluation_id,
            "proposedAt": previous.get("proposedAt", timestamp) if decision.repeated else timestamp,
            "message": decision.message,
        }
        if patch is not None:
            proposal["patch"] = dict(patch)
        result["proposal"] = proposal
    if decision.withdraw_proposal:
        result.pop("proposal", None)
    return result
