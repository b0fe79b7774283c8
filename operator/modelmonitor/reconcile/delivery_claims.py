"""Claims on queued alert deliveries: who may send one, so that two senders never both send it.

A claim is two fields on an entry of ``status.alerts.pending``: ``claim`` (a random token) and ``claimedAt``.
It is written by a resourceVersion-guarded status patch before sending (services/alerting.py), so of two
senders that read the same queue only the first patch succeeds; the loser re-reads, sees the claim and
stays away. A claim older than the lease belongs to a sender that died (or hung) and may be taken over:
that is how a crash between claiming and recording still delivers (possibly twice: at-least-once there).
Pure functions over the JSON state, like the alert policy they complement.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from modelmonitor.reconcile.alert_queue import read_time

__all__ = ["CLAIMED_AT_FIELD", "CLAIM_FIELD", "claim", "claimable", "release"]

CLAIM_FIELD = "claim"
CLAIMED_AT_FIELD = "claimedAt"


def _entry(state: Mapping[str, Any] | None, delivery_id: str) -> Mapping[str, Any] | None:
    for entry in (state or {}).get("pending") or []:
        if entry.get("id") == delivery_id:
            return dict(entry)
    return None


def claimable(state: Mapping[str, Any] | None, delivery_id: str, now: datetime, lease: timedelta) -> bool:
    """True when the delivery is still queued and nobody holds a live claim on it."""
    entry = _entry(state, delivery_id)
    if entry is None:
        return False
    if not entry.get(CLAIM_FIELD):
        return True
    claimed_at = read_time(entry.get(CLAIMED_AT_FIELD))
    return claimed_at is None or now - claimed_at >= lease


def claim(state: Mapping[str, Any] | None, delivery_id: str, token: str, now: datetime) -> dict[str, Any]:
    """The state with the delivery claimed by `token` (a copy: the given state is not changed)."""
    new_state: dict[str, Any] = copy.deepcopy(dict(state or {}))
    for entry in new_state.get("pending") or []:
        if entry.get("id") == delivery_id:
            entry[CLAIM_FIELD] = token
            # microseconds: two claims in the same second must still be told apart when read back
            entry[CLAIMED_AT_FIELD] = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return new_state


def release(state: Mapping[str, Any] | None, delivery_id: str, token: str) -> dict[str, Any]:
    """The state with `token`'s claim on the delivery removed (a still-queued entry: a failed send)."""
    new_state: dict[str, Any] = copy.deepcopy(dict(state or {}))
    for entry in new_state.get("pending") or []:
        if entry.get("id") == delivery_id and entry.get(CLAIM_FIELD) == token:
            entry.pop(CLAIM_FIELD, None)
            entry.pop(CLAIMED_AT_FIELD, None)
    return new_state
