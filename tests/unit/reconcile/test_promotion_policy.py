"""spec.challenger.action.promote's decisions, from status.comparison and the served version (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from modelmonitor.api.model import PromoteAction
from modelmonitor.reconcile.promotion_policy import (
    APPROVE_PROMOTION_ANNOTATION,
    PromotionAction,
    decide_promotion,
    record_promotion,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def status(decision: str, challenger: str = "8", last: dict[str, Any] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"comparison": {"decision": decision, "challengerVersion": challenger}}
    if last is not None:
        document["promotion"] = {"lastDecision": last}
    return document


@pytest.mark.parametrize(
    ("mode", "dry_run", "annotations", "action"),
    [
        ("Automatic", False, {}, PromotionAction.EXECUTE),
        ("Automatic", True, {}, PromotionAction.DRY_RUN),
        ("NotifyOnly", False, {}, PromotionAction.NOTIFY),
        ("Manual", False, {}, PromotionAction.PROPOSE),
        ("Manual", False, {APPROVE_PROMOTION_ANNOTATION: "9"}, PromotionAction.PROPOSE),  # approves another version
        ("Manual", False, {APPROVE_PROMOTION_ANNOTATION: "8"}, PromotionAction.EXECUTE),
    ],
)
def test_modes_follow_rollback(mode: str, dry_run: bool, annotations: dict[str, str], action: PromotionAction) -> None:
    decision = decide_promotion(
        PromoteAction(mode=mode, dry_run=dry_run), status("challenger-better"), "7", annotations
    )  # type: ignore[arg-type]
    assert decision.action is action
    assert (decision.from_version, decision.to_version) == ("7", "8")
    assert decision.remove_approval_annotation == (action is PromotionAction.EXECUTE and bool(annotations))


@pytest.mark.parametrize("decision", ["challenger-worse", "no-meaningful-difference", "inconclusive"])
def test_nothing_is_promoted_unless_better(decision: str) -> None:
    result = decide_promotion(PromoteAction(mode="Automatic"), status(decision), "7", {})
    assert result.action is PromotionAction.NONE


def test_nothing_is_promoted_twice_and_a_proposal_is_announced_once() -> None:
    served = decide_promotion(PromoteAction(mode="Automatic"), status("challenger-better"), "8", {})
    assert (served.action, served.reason) == (PromotionAction.NONE, "AlreadyServed")
    first = decide_promotion(PromoteAction(), status("challenger-better"), "7", {})
    recorded = record_promotion(None, first, NOW)
    again = decide_promotion(PromoteAction(), {**status("challenger-better"), "promotion": recorded}, "7", {})
    assert again.action is PromotionAction.PROPOSE and again.repeated
    assert len(record_promotion(recorded, again, NOW)["history"]) == 1
