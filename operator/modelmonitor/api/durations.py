"""Durations as users write them in a spec ("30m", "6h", "1d12h"), and their meaning as ``timedelta``.

Kubernetes has no duration type for custom resources, so the CRD stores strings and checks them with the same
pattern as this module (``DURATION_PATTERN``); ``parse_duration`` is the one reader of those strings.
"""

from __future__ import annotations

import re
from datetime import timedelta

from modelmonitor.api.errors import SpecError

__all__ = ["DURATION_PATTERN", "ZERO_DURATION_PATTERN", "format_duration", "parse_duration"]

#: One or more ``<digits><unit>`` parts, units s (seconds), m (minutes), h (hours), d (days).
DURATION_PATTERN = r"^([0-9]{1,6}(s|m|h|d))+$"
#: A duration that is zero however it is written ("0s", "0h0m"): refused where a positive one is needed.
ZERO_DURATION_PATTERN = r"^(0+(s|m|h|d))+$"

_PART = re.compile(r"([0-9]{1,6})(s|m|h|d)")
_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, field: str = "duration") -> timedelta:
    """Read a duration such as ``"30m"``, ``"6h"`` or ``"1d12h"``; ``field`` names the value in errors."""
    if not isinstance(text, str) or re.fullmatch(DURATION_PATTERN, text) is None:
        raise SpecError(field, f"must be a duration such as 30m, 6h or 1d, not {text!r}")
    seconds = sum(int(amount) * _SECONDS_PER_UNIT[unit] for amount, unit in _PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest spec spelling of a whole number of seconds (``timedelta(hours=6)`` -> ``"6h"``)."""
    total = int(value.total_seconds())
    if total <= 0:
        return "0s"
    parts: list[str] = []
    for unit in ("d", "h", "m", "s"):
        amount, total = divmod(total, _SECONDS_PER_UNIT[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
