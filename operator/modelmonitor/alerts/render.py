"""Turning a ``Notification`` into words: subjects, plain text, HTML, one-segment SMS and webhook payloads.

Pure functions, so every format is unit-tested without a server and every channel says the same thing.
SMS text is limited to one GSM-7 segment (160 septets; the extension characters ``[]{}|^~\\€`` cost two):
characters outside the GSM-7 alphabet are replaced and the rule list is shortened before the pointer to
"where to look" is, because that pointer is the one thing a paged human needs.
"""

from __future__ import annotations

import html
from typing import Any

from modelmonitor.alerts.base import DeliveryResult
from modelmonitor.alerts.notification import Notification, NotificationKind, Violation
from modelmonitor.api.display import version_label

__all__ = [
    "GENERIC_SCHEMA_VERSION",
    "LABELS_PENDING_MESSAGE",
    "SMS_SEGMENT_LIMIT",
    "describe_delivery",
    "generic_payload",
    "gsm7_length",
    "headline",
    "html_body",
    "is_link",
    "pagerduty_payload",
    "plain_text_body",
    "resolved_message",
    "slack_payload",
    "sms_text",
    "subject",
    "teams_payload",
    "version_label",
    "where_to_look",
]

GENERIC_SCHEMA_VERSION = 1
SMS_SEGMENT_LIMIT = 160

_GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = "^{}\\[~]|€\f"

_SEVERITY_COLOURS: dict[str, str] = {"critical": "#d32f2f", "warning": "#f9a825", "info": "#1976d2"}
_RESOLVED_COLOUR = "#2e7d32"
_NEUTRAL_COLOUR = "#616161"


def _colour(notification: Notification) -> str:
    if notification.kind is NotificationKind.RESOLVED:
        return _RESOLVED_COLOUR
    return _SEVERITY_COLOURS.get(notification.severity, _NEUTRAL_COLOUR)


def _format_number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


def _version_suffix(notification: Notification) -> str:
    return f" {version_label(notification.model_version)}" if notification.model_version else ""


def is_link(uri: str | None) -> bool:
    """Only http(s) URIs become clickable links; an ``s3://`` report location is shown as text."""
    return bool(uri) and str(uri).startswith(("http://", "https://"))


def where_to_look(notification: Notification) -> str:
    """The command that shows the monitor's status, conditions and last evaluation."""
    return f"kubectl -n {notification.monitor_namespace} describe mm {notification.monitor_name}"


def headline(notification: Notification) -> str:
    """What happened, in one line without the severity tag: ``risk/credit-scoring v7: 2 violations``."""
    target = f"{notification.monitor_path}{_version_suffix(notification)}"
    kind = notification.kind
    if kind is NotificationKind.FIRING:
        count = len(notification.violations)
        return f"{target}: {count} violation{'s' if count != 1 else ''}"
    if kind is NotificationKind.RESOLVED:
        return f"{target}: resolved, all rules pass again"
    if kind is NotificationKind.EVALUATION_FAILED:
        return f"{target}: evaluation failed" + (f" ({notification.message})" if notification.message else "")
    if kind is NotificationKind.LABELS_PENDING:
        return f"{target}: labels pending, quality metrics not evaluated"
    return f"{target}: {_one_off_word(notification)}" + (f" ({notification.message})" if notification.message else "")


def _one_off_word(notification: Notification) -> str:
    """What a one-off notification (no violations) is about."""
    if notification.kind is NotificationKind.COMPARISON:
        return "challenger decision"
    if notification.kind is NotificationKind.PROMOTION:
        return "promotion"
    return "rollback"


def _tag(notification: Notification) -> str:
    if notification.kind is NotificationKind.RESOLVED:
        return "RESOLVED"
    return notification.severity.upper()


def subject(notification: Notification) -> str:
    """E-mail subject: ``[CRITICAL] risk/credit-scoring v7: 2 violations``."""
    return f"[{_tag(notification)}] {headline(notification)}"


def _violation_line(violation: Violation) -> str:
    comparison = ""
    if violation.value is not None and violation.threshold is not None:
        sign = {"min": "<", "max": ">"}.get(violation.op or "", "vs")
        comparison = f" {_format_number(violation.value)} {sign} {_format_number(violation.threshold)}"
    return f"{violation.rule}{comparison} [{violation.severity}]" + (
        f": {violation.reason}" if violation.reason else ""
    )


def plain_text_body(notification: Notification) -> str:
    """The text/plain part of the e-mail; also the body for chat fallbacks."""
    lines = [headline(notification), ""]
    lines.append(f"Monitor:  {notification.monitor_path}")
    lines.append(f"Model:    {notification.model_name} version {notification.model_version or '-'}")
    lines.append(f"Severity: {notification.severity}")
    lines.append(f"Evaluation: {notification.evaluation_id}")
    if notification.message:
        lines.append(f"Details:  {notification.message}")
    if notification.violations:
        lines.append("")
        lines.append("Violations:")
        lines.extend(f"  - {_violation_line(violation)}" for violation in notification.violations)
    if notification.drifted_features:
        lines.append("")
        share = f" (share {notification.drift_share:.0%})" if notification.drift_share is not None else ""
        lines.append(f"Drifted features{share}:")
        for feature in notification.drifted_features:
            test = f" ({feature.test}, p={_format_number(feature.p_value)})" if feature.test else ""
            lines.append(f"  - {feature.feature}{test}")
    lines.append("")
    if notification.report_uri:
        lines.append(f"Report: {notification.report_uri}")
    lines.append(f"Status: {where_to_look(notification)}")
    return "\n".join(lines) + "\n"


def html_body(notification: Notification) -> str:
    """The text/html part: a table row per violation, the drifted features, the report link."""
    escape = html.escape
    colour = _colour(notification)
    parts = [
        '<!DOCTYPE html><html><body style="font-family: sans-serif">',
        f'<h2 style="color: {colour}">{escape(subject(notification))}</h2>',
        "<table>",
        f'<tr><th align="left">Monitor</th><td>{escape(notification.monitor_path)}</td></tr>',
        f'<tr><th align="left">Model</th><td>{escape(notification.model_name)} version '
        f"{escape(notification.model_version or '-')}</td></tr>",
        f'<tr><th align="left">Evaluation</th><td>{escape(notification.evaluation_id)}</td></tr>',
        "</table>",
    ]
    if notification.message:
        parts.append(f"<p>{escape(notification.message)}</p>")
    if notification.violations:
        parts.append("<h3>Violations</h3>")
        parts.append(
            '<table border="1" cellpadding="4" cellspacing="0" class="violations">'
            "<tr><th>Rule</th><th>Value</th><th>Threshold</th><th>Severity</th><th>Reason</th></tr>"
        )
        for violation in notification.violations:
            parts.append(
                '<tr class="violation">'
                f"<td>{escape(violation.rule)}</td>"
                f"<td>{escape(_format_number(violation.value))}</td>"
                f"<td>{escape(_format_number(violation.threshold))}</td>"
                f"<td>{escape(violation.severity)}</td>"
                f"<td>{escape(violation.reason)}</td>"
                "</tr>"
            )
        parts.append("</table>")
    if notification.drifted_features:
        parts.append("<h3>Drifted features</h3><ul>")
        for feature in notification.drifted_features:
            test = f" ({escape(feature.test)}, p={_format_number(feature.p_value)})" if feature.test else ""
            parts.append(f"<li>{escape(feature.feature)}{test}</li>")
        parts.append("</ul>")
    if notification.report_uri:
        uri = escape(notification.report_uri)
        link = f'<a href="{uri}">{uri}</a>' if is_link(notification.report_uri) else f"<code>{uri}</code>"
        parts.append(f"<p>Report: {link}</p>")
    parts.append(f"<p>Status: <code>{escape(where_to_look(notification))}</code></p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def gsm7_length(text: str) -> int:
    """Septets ``text`` takes in GSM-7 (extension characters cost two); raises on characters outside it."""
    length = 0
    for character in text:
        if character in _GSM7_BASIC:
            length += 1
        elif character in _GSM7_EXTENSION:
            length += 2
        else:
            raise ValueError(f"character {character!r} is not in the GSM-7 alphabet")
    return length


def _to_gsm7(text: str) -> str:
    """Replace characters outside the GSM-7 basic alphabet (extension ones too: they cost double)."""
    replacements = {"[": "(", "]": ")", "{": "(", "}": ")", "|": "/", "~": "-", "^": "", "\\": "/", "€": "EUR"}
    out = []
    for character in text:
        if character in _GSM7_BASIC:
            out.append(character)
        elif character in replacements:
            out.append(replacements[character])
        else:
            out.append("?")
    return "".join(out)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit <= 3:
        return text[:limit]
    return text[: limit - 3] + "..."


def sms_text(notification: Notification) -> str:
    """One GSM-7 segment: severity, monitor, version, what broke (shortened first), then where to look."""
    tag = _tag(notification)
    target = f"{notification.monitor_path}{_version_suffix(notification)}"
    if notification.kind is NotificationKind.FIRING:
        rules = ", ".join(violation.rule for violation in notification.violations)
        count = len(notification.violations)
        what = f"{count} violation{'s' if count != 1 else ''}: {rules}"
    elif notification.kind is NotificationKind.RESOLVED:
        what = "resolved"
    elif notification.kind is NotificationKind.EVALUATION_FAILED:
        what = "evaluation failed" + (f": {notification.message}" if notification.message else "")
    elif notification.kind is NotificationKind.LABELS_PENDING:
        what = "labels pending"
    else:
        what = _one_off_word(notification) + (f": {notification.message}" if notification.message else "")
    pointer = _to_gsm7(f". See {where_to_look(notification)}")
    what = _to_gsm7(what)
    # the pointer names the monitor too, so with long names the head gives up the target first
    for head in (f"{tag} {target}: ", f"{tag}{_version_suffix(notification)}: ", f"{tag}: "):
        head = _to_gsm7(head)
        room = SMS_SEGMENT_LIMIT - len(head) - len(pointer)
        if room >= 20:
            return head + _shorten(what, room) + pointer
    # names so long that even the pointer does not fit: keep what happened and as much of the pointer as fits
    return _shorten(_to_gsm7(f"{tag}: ") + _shorten(what, 40) + pointer, SMS_SEGMENT_LIMIT)


def generic_payload(notification: Notification) -> dict[str, Any]:
    """The documented generic JSON payload (schema in alerts/README.md)."""
    payload: dict[str, Any] = {"schemaVersion": GENERIC_SCHEMA_VERSION}
    payload.update(notification.to_dict())
    payload["title"] = subject(notification)
    payload["text"] = plain_text_body(notification)
    payload["status"] = "resolved" if notification.kind is NotificationKind.RESOLVED else "firing"
    return payload


def slack_payload(notification: Notification) -> dict[str, Any]:
    """Slack incoming-webhook message: ``text`` (fallback, notifications) plus Block Kit blocks."""
    facts = [
        f"*Monitor:* `{notification.monitor_path}`",
        f"*Model:* {notification.model_name} {version_label(notification.model_version)}",
        f"*Severity:* {notification.severity}",
        f"*Evaluation:* {notification.evaluation_id}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": subject(notification)[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": fact} for fact in facts]},
    ]
    if notification.message:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": notification.message[:3000]}})
    if notification.violations:
        lines = "\n".join(f"• {_violation_line(violation)}" for violation in notification.violations)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Violations*\n{lines}"[:3000]}})
    if notification.drifted_features:
        names = ", ".join(feature.feature for feature in notification.drifted_features)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Drifted features:* {names}"[:3000]}})
    context = f"`{where_to_look(notification)}`"
    if notification.report_uri:
        report = f"<{notification.report_uri}|report>" if is_link(notification.report_uri) else notification.report_uri
        context = f"Report: {report} · {context}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": subject(notification), "blocks": blocks}


def teams_payload(notification: Notification) -> dict[str, Any]:
    """Microsoft Teams incoming-webhook ``MessageCard`` (accepted by connectors and Workflows webhooks)."""
    colour = _colour(notification)
    facts = [
        {"name": "Monitor", "value": notification.monitor_path},
        {"name": "Model", "value": f"{notification.model_name} {version_label(notification.model_version)}"},
        {"name": "Severity", "value": notification.severity},
        {"name": "Evaluation", "value": notification.evaluation_id},
    ]
    facts.extend({"name": violation.rule, "value": _violation_line(violation)} for violation in notification.violations)
    if notification.drifted_features:
        facts.append({"name": "Drifted features", "value": ", ".join(f.feature for f in notification.drifted_features)})
    if notification.report_uri:
        facts.append({"name": "Report", "value": notification.report_uri})
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": subject(notification),
        "themeColor": colour.lstrip("#"),
        "title": subject(notification),
        "sections": [{"facts": facts, "text": notification.message or where_to_look(notification)}],
    }
    if is_link(notification.report_uri):
        card["potentialAction"] = [
            {"@type": "OpenUri", "name": "Open report", "targets": [{"os": "default", "uri": notification.report_uri}]}
        ]
    return card


def pagerduty_payload(notification: Notification, routing_key: str) -> dict[str, Any]:
    """PagerDuty Events API v2: ``trigger`` for problems, ``resolve`` for resolutions, same ``dedup_key``."""
    if notification.kind is NotificationKind.RESOLVED:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": notification.dedup_key}
    severity = {"critical": "critical", "warning": "warning"}.get(notification.severity, "info")
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": notification.dedup_key,
        "payload": {
            "summary": subject(notification)[:1024],
            "source": notification.monitor_path,
            "severity": severity,
            "component": notification.model_name,
            "group": notification.monitor_namespace,
            "class": str(notification.kind),
            "custom_details": {
                "modelVersion": notification.model_version,
                "evaluationId": notification.evaluation_id,
                "violations": [violation.to_dict() for violation in notification.violations],
                "driftedFeatures": [feature.feature for feature in notification.drifted_features],
                "reportUri": notification.report_uri,
                "message": notification.message,
                "status": where_to_look(notification),
            },
        },
    }
    if is_link(notification.report_uri):
        event["links"] = [{"href": notification.report_uri, "text": "Evaluation report"}]
    return event


#: The notice sent while an evaluation waits for ground truth (the alert policy holds violations back meanwhile).
LABELS_PENDING_MESSAGE = "ground-truth labels have not arrived yet; quality metrics and drift alerts wait for them"


def resolved_message(problem_summary: str, evaluation_id: str) -> str:
    """The text of a resolved notification: what cleared, and which evaluation saw it clear."""
    return f"{problem_summary} cleared with evaluation {evaluation_id}"


def describe_delivery(channel: str, notification: Notification, result: DeliveryResult) -> tuple[str, str]:
    """An Event's ``(reason, message)`` for one send: ``AlertSent`` or ``AlertDeliveryFailed`` (no secrets)."""
    what = f"{notification.kind} alert ({notification.severity}) for evaluation {notification.evaluation_id}"
    if result.ok:
        return "AlertSent", f"{what} sent to channel {channel!r}"
    retry = "will retry" if result.retryable else "giving up"
    return "AlertDeliveryFailed", f"{what} not delivered ({retry}): {result.error or 'unknown error'}"
