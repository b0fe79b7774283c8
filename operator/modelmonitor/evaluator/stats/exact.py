"""Sums that merge in any order to the same bits, and the float <-> JSON conventions of all states.

Shards must merge to exactly the result of one pass over the whole data. Integer counts do that by nature;
floating-point sums do not, because addition rounds and the merge tree differs. Each batch contributes one
float64 partial (numpy's pairwise sum over that batch: the same bits for the same batch wherever it is
read); partials are then added in double-double arithmetic (Knuth's TwoSum), which keeps ~106 bits, so
the total rounded to float64 is the same whichever order the partials arrived in (barring a total that
falls within 2**-100 of a rounding boundary).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["CompensatedSum", "float_from_json", "float_to_json"]


def _two_sum(left: float, right: float) -> tuple[float, float]:
    total = left + right
    right_virtual = total - left
    error = (left - (total - right_virtual)) + (right - right_virtual)
    return total, error


class CompensatedSum:
    """A running sum of float partials held as an unevaluated pair (high + low) of float64."""

    __slots__ = ("high", "low")

    def __init__(self, high: float = 0.0, low: float = 0.0) -> None:
        self.high = high
        self.low = low

    def add(self, value: float) -> None:
        high, error = _two_sum(self.high, float(value))
        low = self.low + error
        self.high, self.low = _two_sum(high, low)

    def merge(self, other: CompensatedSum) -> None:
        self.add(other.high)
        self.add(other.low)

    @property
    def value(self) -> float:
        return self.high + self.low

    def to_state(self) -> list[float]:
        return [self.high, self.low]

    @classmethod
    def from_state(cls, state: Any) -> CompensatedSum:
        high, low = state
        return cls(float(high), float(low))


def float_to_json(value: float | None) -> float | None:
    """A float as JSON allows it: NaN and infinities become null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def float_from_json(value: float | None) -> float:
    """The inverse of :func:`float_to_json` for quantities where null meant 'not a number'."""
    return math.nan if value is None else float(value)
