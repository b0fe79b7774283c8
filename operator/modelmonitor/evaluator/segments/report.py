"""The report's segments section: a chart of the worst slices and a table per dimension (inline SVG, escaped).

The chart shows, for up to ``CHARTED_SLICES`` slices, the metric in the reference (blue) and now (orange):
the slices discovery found, else the declared segments whose first rule metric fell the most against the
same segment of the reference. The tables list every reported segment (at most ``maxSegments`` + 1 per
dimension), so the report stays small whatever the columns' cardinality.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from modelmonitor.evaluator.verdict import format_value

__all__ = ["CHARTED_SLICES", "render_segments_section", "worst_slices_plot"]

CHARTED_SLICES = 10
_STATE_CLASS = {"violated": "drifted", "inconclusive": "meta"}


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: object) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return format_value(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "—"


def worst_slices_plot(rows: Sequence[Mapping[str, Any]], *, width: int = 620) -> str:
    """Paired bars per slice: ``reference`` and ``current`` values of ``metric``, on one 0..max scale."""
    plotted = [row for row in rows if all(isinstance(row.get(key), int | float) for key in ("reference", "current"))]
    if not plotted:
        return ""
    left, row_height = 260, 30
    top = max(max(abs(float(row["reference"])), abs(float(row["current"]))) for row in plotted) or 1.0
    top = 1.0 if top <= 1.0 else top * 1.1
    plot_width = width - left - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row_height * len(plotted) + 10}" '
             'role="img" aria-label="worst slices: reference and current">']
    for index, row in enumerate(plotted):
        y = 4 + index * row_height
        label = f"{row['slice']} ({row['metric']})"
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{_escape(label[:48])}</text>')
        for offset, key, colour in ((0, "reference", "#4c78a8"), (12, "current", "#f58518")):
            value = float(row[key])
            bar = plot_width * max(value, 0.0) / top
            parts.append(f'<rect x="{left}" y="{y + offset + 2}" width="{bar:.1f}" height="10" fill="{colour}"/>')
            parts.append(f'<text x="{left + bar + 4:.1f}" y="{y + offset + 11}">{format_value(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _worst(segments: Mapping[str, Any], rule_metrics: Sequence[str]) -> list[dict[str, Any]]:
    discovered = (segments.get("discovery") or {}).get("slices") or []
    if discovered:
        return [{"slice": item["slice"], "metric": item["metric"], "reference": item["reference"]["value"],
                 "current": item["current"]["value"]} for item in discovered[:CHARTED_SLICES]]
    if not rule_metrics:
        return []
    metric = rule_metrics[0]
    lower_is_better = metric in ("log_loss", "brier", "mae", "rmse", "mape")
    rows = []
    for dimension in segments.get("dimensions") or []:
        for entry in dimension.get("segments") or []:
            current, reference = (entry.get("metrics") or {}).get(metric), (entry.get("referenceMetrics") or {}).get(
                metric)
            if isinstance(current, int | float) and isinstance(reference, int | float) and entry.get("state") != \
                    "inconclusive":
                fall = (current - reference) if lower_is_better else (reference - current)
                rows.append({"slice": entry["segment"], "metric": metric, "reference": reference,
                             "current": current, "fall": fall})
    rows.sort(key=lambda row: -float(row["fall"]))
    return rows[:CHARTED_SLICES]


def render_segments_section(result: Mapping[str, Any]) -> str:
    """``<h2>Segments</h2>`` with the chart, discovery's findings and one table per dimension ('' without)."""
    segments = result.get("segments")
    if not isinstance(segments, Mapping):
        return ""
    rule_metrics = [str(rule.get("name")) for rule in (result.get("rules") or {}).get("metrics") or []]
    parts = ["<h2>Segments</h2>",
             f'<p class="meta">min size {_number(segments.get("minSize"))} labelled rows · at most '
             f'{_number(segments.get("maxSegments"))} segments per column or pair (the rest: __other__)</p>']
    worst = _worst(segments, rule_metrics)
    if worst:
        parts.append('<h3>Worst slices</h3><p class="legend"><span style="background:#4c78a8"></span>reference'
                     '<span style="background:#f58518"></span>current</p>')
        parts.append(worst_slices_plot(worst))
    discovery = segments.get("discovery")
    if isinstance(discovery, Mapping):
        parts.append(f"<h3>Weak-slice discovery</h3><p class=\"meta\">{_number(discovery.get('tested'))} slice x "
                     f"metric tests, Benjamini–Hochberg at FDR {_number(discovery.get('fdr'))}: "
                     f"{_number(discovery.get('significant'))} significant, "
                     f"{_number(discovery.get('explainedByOneColumn'))} of them inside a listed one-column slice"
                     "</p>")
        if discovery.get("slices"):
            parts.append('<table><tr><th class="name">slice</th><th>metric</th><th>reference</th><th>current</th>'
                         "<th>rows</th><th>q-value</th></tr>")
            for item in discovery["slices"]:
                parts.append(f'<tr><td class="name">{_escape(item["slice"])}</td><td>{_escape(item["metric"])}</td>'
                             f'<td>{_number(item["reference"]["value"])}</td><td>{_number(item["current"]["value"])}'
                             f'</td><td>{_number(item["current"]["rows"])}</td><td>{_number(item["qValue"])}</td></tr>')
            parts.append("</table>")
    for dimension in segments.get("dimensions") or []:
        parts.append(f"<h3>{_escape(dimension.get('name'))}</h3><table><tr><th class=\"name\">segment</th>"
                     "<th>state</th><th>rows</th><th>labelled</th>"
                     + "".join(f"<th>{_escape(name)}</th><th>{_escape(name)} (ref.)</th>" for name in rule_metrics)
                     + "<th>drifted features</th></tr>")
        for entry in dimension.get("segments") or []:
            state = str(entry.get("state"))
            metrics, reference = entry.get("metrics") or {}, entry.get("referenceMetrics") or {}
            drift = entry.get("drift") or {}
            parts.append(
                f'<tr><td class="name">{_escape(entry.get("segment"))}</td>'
                f'<td class="{_STATE_CLASS.get(state, "")}">{_escape(state)}</td>'
                f"<td>{_number(entry.get('rows'))}</td><td>{_number(entry.get('labelled'))}</td>"
                + "".join(f"<td>{_number(metrics.get(name))}</td><td>{_number(reference.get(name))}</td>"
                          for name in rule_metrics)
                + f'<td class="name">{_escape(", ".join(drift.get("features") or []) or "—")}</td></tr>'
            )
        parts.append("</table>")
    return "".join(parts)
