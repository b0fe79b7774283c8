"""Claims on queued deliveries: who may send, when a dead sender's claim may be taken over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelmonitor.reconcile.delivery_claims import claim, claimable, release

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
LEASE = timedelta(minutes=5)
STATE = {"pending": [{"id": "d1", "channel": "mail"}, {"id": "d2", "channel": "hook"}]}


def test_an_unclaimed_queued_delivery_is_claimable_and_a_delivered_one_is_not() -> None:
    assert claimable(STATE, "d1", NOW, LEASE)
    assert not claimable(STATE, "gone", NOW, LEASE)
    assert not claimable(None, "d1", NOW, LEASE)


def test_a_live_claim_keeps_others_away_until_its_lease_ends() -> None:
    claimed = claim(STATE, "d1", "token-a", NOW)
    assert STATE["pending"][0] == {"id": "d1", "channel": "mail"}  # the input is not changed
    assert not claimable(claimed, "d1", NOW + LEASE - timedelta(seconds=1), LEASE)
    assert claimable(claimed, "d2", NOW, LEASE)  # a claim is per delivery
    assert claimable(claimed, "d1", NOW + LEASE, LEASE)  # the sender died: taken over


def test_release_removes_only_the_holders_claim() -> None:
    claimed = claim(STATE, "d1", "token-a", NOW)
    assert claim(claimed, "d1", "token-b", NOW)["pending"][0]["claim"] == "token-b"
    assert release(claimed, "d1", "token-b")["pending"][0]["claim"] == "token-a"  # not b's to release
    released = release(claimed, "d1", "token-a")
    assert released["pending"][0] == {"id": "d1", "channel": "mail"}
    assert claimable(released, "d1", NOW, LEASE)
