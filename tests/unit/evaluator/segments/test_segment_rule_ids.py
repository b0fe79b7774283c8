"""A segment's rule id (``metric:accuracy[region=EU]``) holds brackets, which a glob reads as a character class:
silences and rollback rules match it by the id itself as well as by globs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelmonitor.api.metrics import rule_matches
from modelmonitor.api.model import RollbackSpec, Silence
from modelmonitor.reconcile.alert_policy import mutes
from modelmonitor.reconcile.rollback_policy import _is_violation

NOW = datetime(2026, 12, 1, tzinfo=UTC)
EU = "metric:accuracy[region=EU]"


@pytest.mark.parametrize(("pattern", "rule", "expected"), [
    (EU, EU, True),
    (EU, "metric:accuracy[region=US]", False),
    (EU, "metric:accuracye", False),  # read as a glob only, [region=EU] would be one character of a set
    ("metric:accuracy*", EU, True),
    ("metric:accuracy[*", EU, True),
    ("metric:accuracy[region=*]", EU, True),
    ("metric:accuracy[region=*]", "metric:accuracy", False),
    ("metric:*", "metric:accuracy", True),
    ("drift:*", EU, False),
])
def test_rule_matches_by_id_or_glob(pattern: str, rule: str, expected: bool) -> None:
    assert rule_matches(rule, pattern) is expected


def test_a_silence_of_a_segment_mutes_that_segment_only() -> None:
    silence = Silence(rule=EU, until=NOW + timedelta(hours=1))
    assert mutes(silence, EU, NOW)
    assert not mutes(silence, "metric:accuracy[region=US]", NOW)
    assert not mutes(silence, "metric:accuracye", NOW)


def test_a_rollback_rule_can_name_a_segment() -> None:
    policy = RollbackSpec(enabled=True, rules=[EU])
    assert _is_violation(policy, "warning", [EU])
    assert not _is_violation(policy, "critical", ["metric:accuracy[region=US]"])
