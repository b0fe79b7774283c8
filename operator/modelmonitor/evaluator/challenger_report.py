"""The report's champion / challenger section: both models' metrics, differences with intervals, evidence over time.

The table shows, per compared metric, both values, the difference (challenger - champion), the anytime-valid
interval the decision is taken from, the one-look test and its p-value, and the metric's decision. The plot
per metric shows the evidence over the runs so far (one point per run, x = labelled rows): the difference
with its anytime interval as a band, zero, and ±minEffect, so a reader sees the interval close in until it
clears zero or fits inside ±minEffect. Estimates without labels (CBPE) are listed apart and never decide.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from modelmonitor.evaluator.verdict import format_value

__all__ = ["evidence_plot", "render_comparison_section"]

_BAND = "#90caf9"
_LINE = "#1565c0"
_DECISION_COLOURS = {
    "challenger-better": "#2e7d32",
    "challenger-worse": "#c62828",
    "no-meaningful-difference": "#555",
    "inconclusive": "#ef6c00",
}


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: object) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return format_value(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "—"


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _float(value: object) -> float:
    """A finite number as float (call after ``_finite``); anything else 0."""
    return float(value) if isinstance(value, int | float) else 0.0


def evidence_plot(
    metric: str, history: Sequence[Mapping[str, Any]], min_effect: float, *, width: int = 420, height: int = 190
) -> str:
    """The difference and its anytime interval over the runs (x: labelled rows), with 0 and ±minEffect."""
    points = []
    for point in history:
        item = next((entry for entry in point.get("metrics") or [] if entry.get("metric") == metric), None)
        interval = (item or {}).get("interval") or []
        rows = point.get("labelledRows")
        if (
            item
            and _finite(rows)
            and _finite(item.get("difference"))
            and len(interval) == 2
            and all(_finite(value) for value in interval)
        ):
            points.append((_float(rows), _float(item["difference"]), _float(interval[0]), _float(interval[1])))
    if not points:
        return ""
    low = min([p[2] for p in points] + [-min_effect, 0.0])
    high = max([p[3] for p in points] + [min_effect, 0.0])
    span = (high - low) or 1.0
    low, high = low - 0.05 * span, high + 0.05 * span
    left, right, top, bottom = 56, 8, 20, 30
    plot_width, plot_height = width - left - right, height - top - bottom
    largest = max(p[0] for p in points)

    def x(rows: float) -> float:
        return left + plot_width * (rows / largest if len(points) > 1 else 0.5)

    def y(value: float) -> float:
        return top + plot_height * (high - value) / (high - low)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{_escape(metric)}: difference over labelled rows">',
        f'<text x="{left}" y="12" font-weight="600">{_escape(metric)}: challenger − champion</text>',
    ]
    if len(points) > 1:
        band = [f"{x(p[0]):.1f},{y(p[3]):.1f}" for p in points] + [
            f"{x(p[0]):.1f},{y(p[2]):.1f}" for p in reversed(points)
        ]
        parts.append(f'<polygon points="{" ".join(band)}" fill="{_BAND}" opacity="0.6"/>')
        line = " ".join(f"{x(p[0]):.1f},{y(p[1]):.1f}" for p in points)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{_LINE}" stroke-width="1.5"/>')
    for rows, difference, lower, upper in points:
        parts.append(
            f'<line x1="{x(rows):.1f}" y1="{y(lower):.1f}" x2="{x(rows):.1f}" y2="{y(upper):.1f}" stroke="{_LINE}"/>'
            f'<circle cx="{x(rows):.1f}" cy="{y(difference):.1f}" r="2.5" fill="{_LINE}">'
            f"<title>{rows:,.0f} rows: {format_value(difference)} [{format_value(lower)}, {format_value(upper)}]"
            "</title></circle>"
        )
    for value, dash, label in ((0.0, "", "0"), (min_effect, "4,3", "+minEffect"), (-min_effect, "4,3", "−minEffect")):
        if label != "0" and min_effect <= 0:
            continue
        parts.append(
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{width - right}" y2="{y(value):.1f}" stroke="#999"'
            + (f' stroke-dasharray="{dash}"' if dash else "")
            + f'/><text x="{left - 3}" y="{y(value) + 3:.1f}" text-anchor="end">{_escape(label)}</text>'
        )
    parts.append(
        f'<text x="{left + plot_width / 2:.1f}" y="{height - 6}" text-anchor="middle">labelled rows '
        f"(up to {largest:,.0f})</text></svg>"
    )
    return "".join(parts)


def render_comparison_section(result: Mapping[str, Any]) -> str:
    """The section, or "" when the monitor has no challenger."""
    comparison = result.get("comparison")
    if not isinstance(comparison, Mapping):
        return ""
    decision = str(comparison.get("decision") or "inconclusive")
    parts = [
        "<h2>Champion vs challenger</h2>",
        f'<p><span class="badge" style="background:{_DECISION_COLOURS.get(decision, "#555")}">'
        f"{_escape(decision)}</span> challenger {_escape(comparison.get('challengerVersion'))} vs champion "
        f"{_escape(comparison.get('championVersion'))} ({_escape(comparison.get('mode'))}): "
        f"{_escape(comparison.get('reason') or '')}</p>",
    ]
    if comparison.get("pending"):
        return "".join(parts)
    parts.append(
        f'<p class="meta">{_number(comparison.get("labelledRows"))} labelled rows over '
        f"{_number(comparison.get('runs'))} run(s) since {_escape(comparison.get('since'))}; "
        f"alpha {_number(comparison.get('alpha'))}, minEffect {_number(comparison.get('minEffect'))}. "
        f"{_escape(comparison.get('method') or '')}</p>"
    )
    if comparison.get("resetReason"):
        parts.append(f'<p class="meta">Evidence started afresh: {_escape(comparison["resetReason"])}</p>')
    metrics = comparison.get("metrics") or []
    if metrics:
        parts.append(
            "<table><tr><th>metric</th><th>champion</th><th>challenger</th><th>difference</th>"
            "<th>anytime interval</th><th>one-look test</th><th>p (one look)</th><th>decision</th>"
            "<th>rows still needed</th></tr>"
        )
        for item in metrics:
            interval = item.get("interval") or [None, None]
            parts.append(
                f"<tr><td>{_escape(item.get('metric'))}</td><td>{_number(item.get('champion'))}</td>"
                f"<td>{_number(item.get('challenger'))}</td><td>{_number(item.get('difference'))}</td>"
                f"<td>[{_number(interval[0])}, {_number(interval[1])}]</td><td>{_escape(item.get('test'))}</td>"
                f"<td>{_number(item.get('pValue'))}</td><td>{_escape(item.get('decision'))}</td>"
                f"<td>{_number(item.get('rowsNeeded'))}</td></tr>"
            )
        parts.append("</table>")
        min_effect = comparison.get("minEffect")
        plots = [
            evidence_plot(
                str(item.get("metric")),
                comparison.get("history") or [],
                _float(min_effect) if _finite(min_effect) else 0.0,
            )
            for item in metrics
        ]
        plots = [plot for plot in plots if plot]
        if plots:
            parts.append("<h3>Evidence over time</h3><div class='plots'>")
            parts.extend(f"<div class='plot'>{plot}</div>" for plot in plots)
            parts.append("</div>")
    estimated = comparison.get("estimated") or []
    if estimated:
        parts.append(
            "<h3>Estimated without labels (CBPE)</h3><table><tr><th>metric</th><th>champion</th>"
            "<th>challenger</th><th>difference</th><th>rows</th></tr>"
        )
        for item in estimated:
            parts.append(
                f"<tr><td>{_escape(item.get('metric'))}</td><td>{_number(item.get('champion'))}</td>"
                f"<td>{_number(item.get('challenger'))}</td><td>{_number(item.get('difference'))}</td>"
                f"<td>{_number(item.get('rows'))}</td></tr>"
            )
        parts.append(f"</table><p class='meta'>{_escape(estimated[0].get('note'))}</p>")
    return "".join(parts)
