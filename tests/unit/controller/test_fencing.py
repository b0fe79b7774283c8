"""Fencing: a leader knows from its own monotonic clock when it can no longer be sure it holds the Lease,
and then exits rather than act. (Through real replicas: tests/integration/operator/test_failover.py.)"""

from __future__ import annotations

import subprocess
import sys

import kubernetes
import pytest

from modelmonitor.controller import fencing, leader


def elector(monkeypatch: pytest.MonkeyPatch, clock: list[float], answers: list[bool]) -> leader.LeaderElector:
    monkeypatch.setattr(leader.time, "monotonic", lambda: clock[0])
    made = leader.LeaderElector(kubernetes.client.ApiClient(), "ns", "lease", "me", on_lost=lambda: None,
                                lease_seconds=15, renew_seconds=5)
    monkeypatch.setattr(made, "_try_acquire", lambda: answers.pop(0))
    return made


def test_held_for_the_lease_minus_one_renewal_after_each_successful_renewal(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    held = elector(monkeypatch, clock, [True, False])
    assert not held.holds()  # never acquired
    assert held.try_acquire()
    clock[0] = 109.9
    assert held.holds()
    clock[0] = 110.0  # 15 s lease - 5 s renewal period after the attempt started: no longer sure
    assert not held.holds()
    assert not held.try_acquire()  # a failed renewal does not extend it
    assert not held.holds()


def test_a_replica_that_is_not_sure_to_lead_exits_before_acting() -> None:
    code = ("from modelmonitor.controller import fencing\n"
            "fencing.install(lambda: False)\n"
            "fencing.ensure_leader()\n"
            "print('acted')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == fencing.EXIT_CODE and "acted" not in result.stdout


def test_without_leader_election_nothing_is_fenced() -> None:
    fencing.ensure_leader()  # no check installed: returns
