"""The comparison evidence persisted between runs, so it grows run after run until a decision.

The evaluator stores one JSON document beside its results (``<output>/comparison/state.json``): the
accumulated state of the paired or split comparison plus what it is evidence *about* — the champion and
challenger versions, the mode, task and metrics. A run loads it, merges its own rows in, decides, and writes
the merged state back. Evidence about other models is worthless, so a change of either version (or of the
mode, task, metrics or variants) starts the evidence afresh, and the reason is returned for the report.
Windows of consecutive runs overlap (a 24h window every hour), so the state also records the end of the window
counted so far (``coveredUntil``): the next run adds only rows timestamped after it (``evaluator.challenger``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelmonitor.evaluator.comparison.paired import PairedComparison
from modelmonitor.evaluator.comparison.split import SplitComparison
from modelmonitor.evaluator.stats.errors import StateMismatchError

__all__ = ["HISTORY_LIMIT", "STATE_FORMAT", "AccumulatedComparison", "accumulate", "comparison_from_state"]

STATE_FORMAT = 1
HISTORY_LIMIT = 200  # points of the evidence over time kept for the report (one per run)
Comparison = PairedComparison | SplitComparison


@dataclass
class AccumulatedComparison:
    """The merged evidence and its bookkeeping: since when it accumulates, over how many runs."""

    comparison: Comparison
    champion_version: str
    challenger_version: str
    since: str
    runs: int
    reset_reason: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # one point per run: the evidence over time
    covered_until: str | None = None  # rows timestamped before this are in the evidence already

    def record(self, point: dict[str, Any]) -> None:
        """Add this run's point (decision, rows, each metric's difference and interval) to the bounded history."""
        self.history = [*self.history, point][-HISTORY_LIMIT:]

    def to_state(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "championVersion": self.champion_version,
            "challengerVersion": self.challenger_version,
            "since": self.since,
            "runs": self.runs,
            "history": self.history,
            "coveredUntil": self.covered_until,
            "evidence": self.comparison.to_state(),
        }


def comparison_from_state(state: dict[str, Any]) -> Comparison:
    if state.get("kind") == "paired":
        return PairedComparison.from_state(state)
    return SplitComparison.from_state(state)


def accumulate(
    previous: dict[str, Any] | None,
    current: Comparison,
    champion_version: str,
    challenger_version: str,
    now: str,
) -> AccumulatedComparison:
    """This run's evidence merged into the previous state when it is about the same two models and settings."""
    fresh = AccumulatedComparison(current, champion_version, challenger_version, now, 1)
    if previous is None:
        return fresh
    if previous.get("format") != STATE_FORMAT:
        fresh.reset_reason = f"stored state has format {previous.get('format')!r}, this evaluator writes {STATE_FORMAT}"
        return fresh
    if (previous.get("championVersion"), previous.get("challengerVersion")) != (champion_version, challenger_version):
        fresh.reset_reason = (
            f"versions changed from champion {previous.get('championVersion')!r} / challenger "
            f"{previous.get('challengerVersion')!r} to {champion_version!r} / {challenger_version!r}"
        )
        return fresh
    try:
        merged = comparison_from_state(previous["evidence"])
        if isinstance(merged, PairedComparison) and isinstance(current, PairedComparison):  # noqa: SIM114 (mypy narrows each)
            merged.merge(current)
        elif isinstance(merged, SplitComparison) and isinstance(current, SplitComparison):
            merged.merge(current)
        else:
            raise StateMismatchError(f"stored {type(merged).__name__}, this run {type(current).__name__}")
    except (StateMismatchError, KeyError, TypeError, ValueError) as error:
        fresh.reset_reason = f"stored evidence is for other settings ({error})"
        return fresh
    history = [point for point in previous.get("history") or [] if isinstance(point, dict)]
    return AccumulatedComparison(
        merged,
        champion_version,
        challenger_version,
        str(previous["since"]),
        int(previous["runs"]) + 1,
        history=history,
    )
