"""Which model version an evaluation is credited to: only the one version that served its whole window.

Why (issue 14): the version read from the rollback target when the finished Job is processed is not always
the version that served the evaluated rows. After a rollback, a window still holds the bad version's traffic;
crediting it to the restored version would mark that version unhealthy and push it towards a rollback of its
own. So an evaluation is credited to a version only when one version served the window:

- with ``spec.data.columns.version`` the evaluator counts rows per version in the window (``servedVersions``
  in the summary): one version is credited (it overrides the target's version); several are ``mixed``;
- otherwise, a rollback applied (``status.rollback.history``: not a dry run, not failed) after the window's
  start means the window spans a rollback: ``mixed``, with the versions of both sides;
- otherwise the version the operator read is credited (``single``).

A mixed evaluation is still recorded and still alerts (the quality was bad); it only stays out of the version
memory (``status.versions``) and the rollback policy's count of consecutive violations. Pure, unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelmonitor.reconcile.versions import parse_timestamp

__all__ = ["MIXED", "SINGLE", "Attribution", "attribute", "is_mixed", "window_start"]

SINGLE = "single"
MIXED = "mixed"
# Counts the evaluator keeps under these names say nothing about one version (see evaluator/served_versions.py).
UNNAMED_VERSIONS = frozenset({"(null)", "(other)"})


@dataclass(frozen=True)
class Attribution:
    """``version`` is credited (None when mixed or unknown); ``versions`` are every version seen."""

    label: str
    version: str | None
    versions: list[str] = field(default_factory=list)
    source: str = "target"  # column (the data said), rollbacks (the rollback history said), target

    def annotate(self, summary: Mapping[str, Any]) -> dict[str, Any]:
        """``summary`` with the attribution written in (the credited version as its ``modelVersion``)."""
        annotated = {**summary, "attribution": self.label, "attributionSource": self.source}
        if self.versions:
            annotated["versionsSeen"] = list(self.versions)
        if self.version:
            annotated["modelVersion"] = self.version
        return annotated


def is_mixed(summary: Mapping[str, Any]) -> bool:
    """Whether the summary was labelled mixed (then no version is credited with it)."""
    return summary.get("attribution") == MIXED


def window_start(summary: Mapping[str, Any]) -> datetime | None:
    """The start of the evaluated current window; without one (all the data), the evaluation's start."""
    window = summary.get("window")
    start = window.get("start") if isinstance(window, Mapping) else None
    text = start or summary.get("startedAt")
    try:
        return parse_timestamp(str(text)) if text else None
    except ValueError:
        return None


def attribute(summary: Mapping[str, Any], served: str | None,
              rollback_history: Sequence[Mapping[str, Any]]) -> Attribution:
    """The attribution of one evaluation; ``served`` is the version read from the target (or registry)."""
    counts = summary.get("servedVersions")
    if isinstance(counts, Mapping) and counts:
        seen = [str(name) for name, rows in counts.items() if _rows(rows) > 0]
        named = [name for name in seen if name not in UNNAMED_VERSIONS]
        if len(seen) > 1:
            return Attribution(MIXED, None, sorted(seen), source="column")
        if len(named) == 1:
            return Attribution(SINGLE, named[0], named, source="column")
        # only unnamed rows (an empty version column): the data cannot tell; fall back to the rollbacks
    start = window_start(summary)
    if start is not None:
        spanned = [entry for entry in rollback_history
                   if entry.get("at") and not entry.get("dryRun") and not entry.get("error")
                   and _after(str(entry["at"]), start)]
        if spanned:
            versions = {str(entry[key]) for entry in spanned for key in ("fromVersion", "toVersion") if entry.get(key)}
            if served:
                versions.add(served)
            return Attribution(MIXED, None, sorted(versions), source="rollbacks")
    return Attribution(SINGLE, served, [served] if served else [], source="target")


def _rows(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _after(text: str, start: datetime) -> bool:
    try:
        return parse_timestamp(text) > start
    except ValueError:
        return False
