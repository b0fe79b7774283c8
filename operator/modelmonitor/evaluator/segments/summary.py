"""The segments in the termination-message summary (and so in ``status.lastEvaluation``): bounded.

The summary must fit 4096 bytes with everything else, so it carries counts, the ``TOP_SEGMENTS`` largest
segments (by current rows) with the values of the monitor's rule metrics (these become the Prometheus
segment series: their number is bounded here, whatever the columns' cardinality) and the
``TOP_WEAK_SLICES`` worst slices discovery found. ``result.encode_summary`` sheds them before anything
else when the summary is too long.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["TOP_SEGMENTS", "TOP_WEAK_SLICES", "compact_segments"]

TOP_SEGMENTS = 10
TOP_WEAK_SLICES = 3


def _round(value: Any, digits: int = 4) -> Any:
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.{digits}g}")
    return value


def compact_segments(segments: Mapping[str, Any], rule_metrics: Sequence[str]) -> dict[str, Any]:
    entries = [entry for dimension in segments.get("dimensions") or [] for entry in dimension.get("segments") or []]
    largest = sorted(entries, key=lambda entry: (-int(entry.get("rows") or 0), str(entry.get("segment"))))
    discovery = segments.get("discovery") or {}
    return {
        "count": len(entries),
        "violated": sum(1 for entry in entries if entry.get("state") == "violated"),
        "inconclusive": sum(1 for entry in entries if entry.get("state") == "inconclusive"),
        "top": [
            {
                "segment": entry.get("segment"),
                "rows": entry.get("rows"),
                "state": entry.get("state"),
                "metrics": {name: _round(value) for name, value in (entry.get("metrics") or {}).items()
                            if name in rule_metrics},
            }
            for entry in largest[:TOP_SEGMENTS]
        ],
        "weakSlices": [
            {"slice": item.get("slice"), "metric": item.get("metric"), "drop": _round(item.get("drop")),
             "qValue": _round(item.get("qValue"), 3)}
            for item in (discovery.get("slices") or [])[:TOP_WEAK_SLICES]
        ],
    }
