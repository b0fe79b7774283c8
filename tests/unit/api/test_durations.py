from __future__ import annotations

from datetime import timedelta

import pytest

from modelmonitor.api import SpecError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("30m", timedelta(minutes=30)),
        ("6h", timedelta(hours=6)),
        ("1d", timedelta(days=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1h30m15s", timedelta(hours=1, minutes=30, seconds=15)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["", "30", "30 minutes", "1.5h", "-1h", "1w", "h"])
def test_parse_duration_refuses_naming_the_field(text: str) -> None:
    with pytest.raises(SpecError) as refused:
        parse_duration(text, "spec.evaluation.timeout")
    assert refused.value.field == "spec.evaluation.timeout"
    assert "must be a duration" in str(refused.value)


def test_format_duration_is_shortest() -> None:
    assert format_duration(timedelta(hours=24)) == "1d"
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    assert format_duration(timedelta(0)) == "0s"
