"""Anytime-valid intervals and the decision rule: why looking at every scheduled run does not inflate errors.

A monitor re-checks the accumulated evidence on every run. A fixed-sample test repeated at each look rejects a
true null far more often than its alpha (ten looks at alpha 0.05 give ~0.19); so decisions are taken from a
*confidence sequence*: intervals C_t with P(Δ ∈ C_t for every t at once) >= 1 - α, valid however often and
whenever one looks, including stopping as soon as a decision appears.

Method: the asymptotic confidence sequence of Waudby-Smith, Arnold, Wu, Howard & Ramdas (2024, "Time-uniform
central limit theory and asymptotic confidence sequences", Ann. Statist.), which is Robbins' normal-mixture
boundary (Howard, Ramdas, McAuliffe & Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic confidence
sequences", Ann. Statist., the two-sided normal mixture) applied with an estimated variance. For an estimate
Δ̂_t after t labelled rows whose standard error is SE_t (≈ σ/√t), the two-sided interval is

    Δ̂_t ± SE_t · sqrt( 2 (tρ² + 1) / (tρ²) · ln( sqrt(tρ² + 1) / α ) ),
    ρ² = ( -2 ln α + ln(-2 ln α + 1) ) / t*,

where t* (``PLANNED_ROWS``) is the number of rows at which the interval is tightest (the width is valid for
every t; t* only moves where it is narrowest). At t = t* and α = 0.05 the multiplier is 3.03 instead of the
fixed-sample 1.96; it grows like sqrt(ln t) afterwards, which is the price of unlimited looks.

Assumptions, stated because the guarantee depends on them: rows are independent draws from a stable
distribution (a drifting traffic mix makes Δ the running average of a moving target); the guarantee is
asymptotic, like the CLT (the paper's theorem is for means; for DeLong's AUC and the bootstrap F1 the same
multiplier is applied to their standard errors, an asymptotically linear extension we check by simulation,
not a theorem). Small counts are guarded: no decision before ``MIN_ROWS`` labelled rows, and paired
proportions add half a row to each discordant cell before the variance (Agresti & Min 2005) so that a run of
agreeing rows does not produce a zero-width interval. Several metrics split α equally (Bonferroni).

Decision per metric (differences oriented so that positive means the challenger is better):
``no-meaningful-difference`` when the interval lies inside (-minEffect, +minEffect) (checked first: a
significant but negligible gain is no reason to promote); else ``challenger-better`` when its lower end is
above 0; ``challenger-worse`` when its upper end is below 0; else ``inconclusive``, with an estimate of the
further labelled rows after which a decision is reached with probability ``power`` if the current estimate
and spread are the truth (the interval width shrinks as computed above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

__all__ = [
    "MIN_ROWS",
    "PLANNED_ROWS",
    "Decision",
    "Interval",
    "confidence_sequence_multiplier",
    "decide",
    "overall_decision",
    "rows_needed",
]

Decision = Literal["challenger-better", "challenger-worse", "no-meaningful-difference", "inconclusive"]

PLANNED_ROWS = 10_000
MIN_ROWS = 30
_MAX_ROWS = 10**12
_STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class Interval:
    """A closed interval [low, high] for the difference challenger - champion."""

    low: float
    high: float


def confidence_sequence_multiplier(rows: float, alpha: float, planned_rows: int = PLANNED_ROWS) -> float:
    """How many standard errors the anytime-valid interval spans on each side after ``rows`` rows."""
    if rows <= 0:
        return math.inf
    log_alpha = math.log(alpha)
    rho_squared = (-2 * log_alpha + math.log(-2 * log_alpha + 1)) / planned_rows
    scaled = rows * rho_squared
    return math.sqrt(2 * (scaled + 1) / scaled * math.log(math.sqrt(scaled + 1) / alpha))


def decide(improvement: Interval, min_effect: float, rows: int) -> Decision:
    """The decision for one metric from its anytime interval on the improvement (positive: challenger better)."""
    if rows < MIN_ROWS or not (math.isfinite(improvement.low) and math.isfinite(improvement.high)):
        return "inconclusive"
    if min_effect > 0 and -min_effect < improvement.low and improvement.high < min_effect:
        return "no-meaningful-difference"
    if improvement.low > 0:
        return "challenger-better"
    if improvement.high < 0:
        return "challenger-worse"
    return "inconclusive"


def rows_needed(
    estimate: float,
    standard_error: float,
    rows: int,
    *,
    alpha: float,
    min_effect: float,
    power: float,
    planned_rows: int = PLANNED_ROWS,
) -> int | None:
    """Further labelled rows until a decision, if the current estimate and spread are the truth (None: never).

    ``estimate`` is the improvement, ``standard_error`` its standard error after ``rows`` rows; the per-row
    spread σ = SE·√rows is held fixed. A decision needs the interval half-width h(t) = σ/√t · m(t) to fit
    either between 0 and the estimate or inside ±minEffect around it, with a margin of z_power·σ/√t so that
    it happens with probability ``power``.
    """
    if rows <= 0 or not math.isfinite(standard_error) or not math.isfinite(estimate):
        return None
    spread = standard_error * math.sqrt(rows)
    if spread == 0:
        return max(MIN_ROWS - rows, 0)
    margin = _STANDARD_NORMAL.inv_cdf(power) if 0 < power < 1 else 0.0
    room = max(abs(estimate), min_effect - abs(estimate) if min_effect > 0 else 0.0)
    if room <= 0:
        return None

    def reached(total: float) -> bool:
        return spread / math.sqrt(total) * (confidence_sequence_multiplier(total, alpha, planned_rows) + margin) <= room

    low = float(max(rows, MIN_ROWS))
    if reached(low):
        return int(low) - rows
    high = low * 2
    while not reached(high):
        if high > _MAX_ROWS:
            return None
        low, high = high, high * 2
    while high - low > max(1.0, low * 1e-4):
        middle = (low + high) / 2
        if reached(middle):
            high = middle
        else:
            low = middle
    return math.ceil(high) - rows


def overall_decision(decisions: list[Decision]) -> Decision:
    """One decision from every metric's: any worse is worse; better needs no metric open and none worse."""
    if not decisions:
        return "inconclusive"
    if "challenger-worse" in decisions:
        return "challenger-worse"
    if "inconclusive" in decisions:
        return "inconclusive"
    if "challenger-better" in decisions:
        return "challenger-better"
    return "no-meaningful-difference"
