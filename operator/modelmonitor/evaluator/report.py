"""The HTML report: one self-contained file with inline SVG plots, readable offline and from an S3 console.

No scripts, fonts or stylesheets from the network, and no plotting library: the plots are a few rectangles
each, drawn here, which keeps the report's cost to milliseconds. Plots are drawn for every drifted feature
and a capped number of others (``PLOTTED_STABLE_FEATURES``); the rest appear in the table only. Every value
from the data passes through :func:`html.escape`, since column names and categories are user data.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from modelmonitor.api.display import version_label
from modelmonitor.evaluator.challenger_report import render_comparison_section
from modelmonitor.evaluator.segments.report import render_segments_section
from modelmonitor.evaluator.verdict import format_value

__all__ = ["PLOTTED_STABLE_FEATURES", "render_report"]

PLOTTED_STABLE_FEATURES = 6
MAX_BARS = 40
_REFERENCE_COLOUR = "#4c78a8"
_CURRENT_COLOUR = "#f58518"
_VERDICT_COLOURS = {
    "healthy": "#2e7d32",
    "warning": "#ef6c00",
    "critical": "#c62828",
    "pending": "#546e7a",
    "error": "#6a1b9a",
}

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:16px 0 4px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f5f5f5}td.name,th.name{text-align:left}
.badge{display:inline-block;color:#fff;padding:2px 10px;border-radius:10px;font-weight:600}
.meta{color:#555;font-size:13px}.plots{display:flex;flex-wrap:wrap;gap:16px}
.plot{border:1px solid #eee;padding:6px}.drifted{color:#c62828;font-weight:600}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
svg text{font-size:10px;font-family:inherit}
"""


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else format_value(value)
    return _escape(value)


def distribution_plot(title: str, distribution: Mapping[str, Any], *, width: int = 340, height: int = 170) -> str:
    """Side-by-side bars of the reference and current shares per bin or category."""
    labels = [str(label) for label in distribution.get("bins", [])][:MAX_BARS]
    reference = [float(value or 0.0) for value in distribution.get("reference", [])][: len(labels)]
    current = [float(value or 0.0) for value in distribution.get("current", [])][: len(labels)]
    if not labels or len(reference) != len(labels) or len(current) != len(labels):
        return ""
    top = max(max(reference), max(current), 1e-12)
    left, bottom, plot_top = 30, 34, 18
    plot_width = width - left - 6
    plot_height = height - bottom - plot_top
    slot = plot_width / len(labels)
    bar = max(slot * 0.4, 0.5)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{_escape(title)}">',
        f'<text x="{left}" y="11" font-weight="600">{_escape(title)}</text>',
        f'<line x1="{left}" y1="{plot_top + plot_height}" x2="{width - 6}" y2="{plot_top + plot_height}" '
        'stroke="#999"/>',
        f'<text x="{left - 3}" y="{plot_top + 8}" text-anchor="end">{top:.0%}</text>',
    ]
    for index, label in enumerate(labels):
        x = left + index * slot
        for offset, share, colour in (
            (0.1, reference[index], _REFERENCE_COLOUR),
            (0.5, current[index], _CURRENT_COLOUR),
        ):
            bar_height = plot_height * share / top
            parts.append(
                f'<rect x="{x + slot * offset:.1f}" y="{plot_top + plot_height - bar_height:.1f}" '
                f'width="{bar:.1f}" height="{bar_height:.1f}" fill="{colour}">'
                f"<title>{_escape(label)}: {share:.2%}</title></rect>"
            )
    step = max(1, math.ceil(len(labels) / 6))
    for index in range(0, len(labels), step):
        x = left + (index + 0.5) * slot
        text = labels[index] if len(labels[index]) <= 12 else labels[index][:11] + "…"
        parts.append(f'<text x="{x:.1f}" y="{plot_top + plot_height + 12}" text-anchor="middle">{_escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def confusion_matrix_plot(confusion: Mapping[str, Any], *, cell: int = 44) -> str:
    labels = [str(label) for label in confusion.get("labels", [])]
    matrix = confusion.get("matrix") or []
    if not labels or len(matrix) != len(labels) or len(labels) > 30:
        return ""
    largest = max((max(row) for row in matrix if row), default=0) or 1
    margin = 70
    size = margin + cell * len(labels) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" '
        'aria-label="confusion matrix">',
        f'<text x="{margin}" y="12">predicted →</text>',
        f'<text x="10" y="{margin - 4}">actual ↓</text>',
    ]
    for column, label in enumerate(labels):
        parts.append(
            f'<text x="{margin + column * cell + cell / 2}" y="{margin - 20}" text-anchor="middle">'
            f"{_escape(label[:8])}</text>"
        )
    for row_index, (label, row) in enumerate(zip(labels, matrix, strict=False)):
        y = margin - 14 + row_index * cell
        parts.append(f'<text x="{margin - 4}" y="{y + cell / 2 + 3}" text-anchor="end">{_escape(label[:10])}</text>')
        for column, count in enumerate(row):
            intensity = float(count) / largest
            shade = int(255 - 180 * intensity)
            text_colour = "#fff" if intensity > 0.6 else "#222"
            parts.append(
                f'<rect x="{margin + column * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="rgb({shade},{shade},255)"/>'
                f'<text x="{margin + column * cell + cell / 2 - 1}" y="{y + cell / 2 + 3}" text-anchor="middle" '
                f'fill="{text_colour}">{int(count)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def metric_threshold_plot(rows: Sequence[Mapping[str, Any]], *, width: int = 520) -> str:
    """One horizontal bar per metric on a 0..max scale, with the threshold drawn as a line."""
    plotted = [row for row in rows if isinstance(row.get("value"), int | float) and math.isfinite(row["value"])]
    if not plotted:
        return ""
    row_height, left = 22, 130
    scale_top = max(
        max(abs(float(row["value"])) for row in plotted),
        max((abs(float(row["threshold"])) for row in plotted if row.get("threshold") is not None), default=0.0),
        1e-12,
    )
    scale_top = 1.0 if scale_top <= 1.0 else scale_top * 1.1
    plot_width = width - left - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row_height * len(plotted) + 10}" '
        'role="img" aria-label="metrics against thresholds">'
    ]
    for index, row in enumerate(plotted):
        y = 4 + index * row_height
        value = float(row["value"])
        colour = {"critical": "#c62828", "warning": "#ef6c00"}.get(str(row.get("status")), "#2e7d32")
        bar_width = plot_width * max(value, 0.0) / scale_top
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{_escape(row["name"])}</text>')
        parts.append(
            f'<rect x="{left}" y="{y + 2}" width="{bar_width:.1f}" height="{row_height - 8}" fill="{colour}"/>'
        )
        parts.append(f'<text x="{left + bar_width + 4:.1f}" y="{y + 13}">{format_value(value)}</text>')
        threshold = row.get("threshold")
        if isinstance(threshold, int | float):
            x = left + plot_width * max(float(threshold), 0.0) / scale_top
            parts.append(
                f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + row_height - 4}" stroke="#000" '
                'stroke-width="2" stroke-dasharray="3,2"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _metric_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    rules = {rule["name"]: rule for rule in result.get("rules", {}).get("metrics", [])}
    violated = {
        violation["rule"].split(":", 1)[1]: violation["severity"]
        for violation in result.get("violations", [])
        if str(violation.get("rule", "")).startswith("metric:")
    }
    rows = []
    for name, value in (result.get("metrics") or {}).items():
        rule = rules.get(name, {})
        threshold = rule.get("min") if rule.get("min") is not None else rule.get("max")
        op = "≥" if rule.get("min") is not None else ("≤" if rule.get("max") is not None else "")
        rows.append(
            {
                "name": name,
                "value": value,
                "threshold": threshold,
                "op": op,
                "status": violated.get(name, "ok" if rule else ""),
            }
        )
    return rows


def _section_checks(result: Mapping[str, Any]) -> str:
    """Every declared rule and what became of it: the same checks as result.json and the monitor's status."""
    checks = [check for check in result.get("checks") or [] if isinstance(check, Mapping)]
    if not checks:
        return ""
    parts = [
        "<h2>Declared rules</h2>",
        '<table><tr><th class="name">rule</th><th>state</th><th>value</th><th>severity</th><th>why</th></tr>',
    ]
    for check in checks:
        parts.append(
            f'<tr><td class="name">{_escape(check.get("rule"))}</td><td>{_escape(check.get("state"))}</td>'
            f"<td>{_number(check.get('value'))}</td><td>{_escape(check.get('severity') or '')}</td>"
            f"<td>{_escape(check.get('reason') or '')}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


def _section_metrics(result: Mapping[str, Any]) -> str:
    parts = ["<h2>Model quality</h2>"]
    labels = result.get("labels") or {}
    rows_info = result.get("rows") or {}
    parts.append(
        f'<p class="meta">Labelled rows: {_number(rows_info.get("labelled"))} of {_number(rows_info.get("current"))}'
        f" (coverage {_number(labels.get('coverage'))})"
        + (" — <b>metrics pending: too few labels have arrived</b>" if labels.get("pending") else "")
        + "</p>"
    )
    rows = _metric_rows(result)
    if rows:
        parts.append(metric_threshold_plot(rows))
        parts.append('<table><tr><th class="name">metric</th><th>value</th><th>threshold</th><th>status</th></tr>')
        for row in rows:
            threshold = "" if row["threshold"] is None else f"{row['op']} {_number(row['threshold'])}"
            parts.append(
                f'<tr><td class="name">{_escape(row["name"])}</td><td>{_number(row["value"])}</td>'
                f"<td>{_escape(threshold)}</td><td>{_escape(row['status'])}</td></tr>"
            )
        parts.append("</table>")
    estimated = result.get("estimated") or {}
    if estimated:
        parts.append("<h3>Estimated without labels (from the scores; not realised metrics)</h3>")
        parts.append('<table><tr><th class="name">metric</th><th>estimate</th><th>low</th><th>high</th></tr>')
        for name, estimate in estimated.items():
            if isinstance(estimate, Mapping):
                parts.append(
                    f'<tr><td class="name">{_escape(name)}</td><td>{_number(estimate.get("value"))}</td>'
                    f"<td>{_number(estimate.get('low'))}</td><td>{_number(estimate.get('high'))}</td></tr>"
                )
        parts.append("</table>")
    confusion = result.get("confusionMatrix")
    if isinstance(confusion, Mapping):
        plot = confusion_matrix_plot(confusion)
        if plot:
            parts.append("<h3>Confusion matrix</h3>" + plot)
    return "".join(parts)


def _section_drift(result: Mapping[str, Any]) -> str:
    drift = result.get("drift") or {}
    features: list[Mapping[str, Any]] = list(drift.get("features") or [])
    parts = ["<h2>Data drift</h2>"]
    parts.append(
        f'<p class="meta">{_number(drift.get("drifted"))} of {_number(drift.get("featureCount"))} features drifted '
        f"(share {_number(drift.get('share'))}); dataset drift: <b>{_escape(drift.get('datasetDrift'))}</b>. "
        f"{_escape(drift.get('note') or '')}</p>"
    )
    ordered = sorted(
        features,
        key=lambda feature: (feature.get("status") != "drifted", -float(feature.get("effect") or 0.0)),
    )
    plots = []
    stable_plotted = 0
    for feature in ordered:
        if feature.get("status") != "drifted":
            if stable_plotted >= PLOTTED_STABLE_FEATURES:
                break
            stable_plotted += 1
        distribution = feature.get("distribution")
        if isinstance(distribution, Mapping):
            title = f"{feature.get('feature')} ({feature.get('status')})"
            plot = distribution_plot(title, distribution)
            if plot:
                plots.append(f'<div class="plot">{plot}</div>')
    if plots:
        parts.append(
            '<p class="legend"><span style="background:' + _REFERENCE_COLOUR + '"></span>reference'
            '<span style="background:' + _CURRENT_COLOUR + '"></span>current</p>'
        )
        parts.append('<div class="plots">' + "".join(plots) + "</div>")
    parts.append(
        '<table><tr><th class="name">feature</th><th class="name">kind</th><th class="name">status</th>'
        '<th class="name">test</th><th>statistic</th><th>p-value</th><th>PSI</th><th>effect</th></tr>'
    )
    for feature in ordered:
        status = str(feature.get("status"))
        parts.append(
            f'<tr><td class="name">{_escape(feature.get("feature"))}</td><td class="name">'
            f"{_escape(feature.get('kind') or '')}</td>"
            f'<td class="name{" drifted" if status == "drifted" else ""}">{_escape(status)}</td>'
            f'<td class="name">{_escape(feature.get("test") or "")}</td><td>{_number(feature.get("statistic"))}</td>'
            f"<td>{_number(feature.get('pValue'))}</td><td>{_number(feature.get('psi'))}</td>"
            f"<td>{_number(feature.get('effect'))}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


def _section_quality(result: Mapping[str, Any]) -> str:
    quality = result.get("dataQuality")
    if not isinstance(quality, Mapping) or not quality:
        return ""
    parts = ["<h2>Data quality</h2><table>"]
    for key, value in quality.items():
        if isinstance(value, Mapping):
            shown = ", ".join(f"{name}: {_number(item)}" for name, item in list(value.items())[:20]) or "none"
        elif isinstance(value, list):
            shown = ", ".join(str(item) for item in value[:20]) or "none"
        else:
            shown = _number(value)
        parts.append(f'<tr><td class="name">{_escape(key)}</td><td class="name">{_escape(shown)}</td></tr>')
    parts.append("</table>")
    return "".join(parts)


def render_report(result: Mapping[str, Any]) -> str:
    """The whole report for a result document (see result.py), as one HTML string."""
    verdict = str(result.get("verdict", "error"))
    model = result.get("model") or {}
    title = f"{model.get('name', 'model')} {version_label(result.get('modelVersion'), missing='version ?')} — {verdict}"
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{_escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_escape(model.get('name', 'model'))} <small>version {_escape(result.get('modelVersion') or '?')}"
        f'</small> <span class="badge" style="background:{_VERDICT_COLOURS.get(verdict, "#555")}">'
        f"{_escape(verdict)}</span></h1>",
        f'<p class="meta">run {_escape(result.get("runId"))} · {_escape(model.get("task", ""))} · '
        f"{_escape(result.get('startedAt'))} → {_escape(result.get('finishedAt'))} · reference rows "
        f"{_number((result.get('rows') or {}).get('reference'))} · current rows "
        f"{_number((result.get('rows') or {}).get('current'))}</p>",
    ]
    violations = result.get("violations") or []
    parts.append("<h2>Violations</h2>")
    if violations:
        parts.append("<ul>")
        for violation in violations:
            parts.append(f"<li><b>{_escape(violation.get('severity'))}</b> {_escape(violation.get('reason'))}</li>")
        parts.append("</ul>")
    else:
        parts.append("<p>None.</p>")
    parts.append(_section_checks(result))
    parts.append(_section_metrics(result))
    parts.append(_section_drift(result))
    parts.append(_section_quality(result))
    parts.append(render_segments_section(result))
    parts.append(render_comparison_section(result))
    parts.append("</body></html>")
    return "".join(parts)
