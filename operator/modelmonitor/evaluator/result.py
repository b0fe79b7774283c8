"""The two documents an evaluation leaves behind: the full result and the compact summary.

The result JSON (``result.json`` in the run's output folder) is versioned by ``schemaVersion`` and documented
in ``evaluator/README.md``; readers must ignore fields they do not know. The summary is what the operator
reads from the pod's termination message, which Kubernetes caps at 4096 bytes, so :func:`encode_summary`
sheds detail (fewer drifted features, fewer violations, shorter messages) until it fits rather than letting
the kubelet cut the JSON in half.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from modelmonitor.evaluator.segments.summary import compact_segments

__all__ = [
    "RESULT_SCHEMA_VERSION",
    "SUMMARY_LIMIT_BYTES",
    "SUMMARY_SCHEMA_VERSION",
    "build_summary",
    "encode_summary",
    "error_summary",
    "json_safe",
]

RESULT_SCHEMA_VERSION = 1
SUMMARY_SCHEMA_VERSION = 1
SUMMARY_LIMIT_BYTES = 4096
TOP_FEATURES = 5


def json_safe(value: Any) -> Any:
    """Replace NaN and infinities (not JSON) with null, and numpy scalars with Python numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if hasattr(value, "item") and callable(value.item):
        return json_safe(value.item())
    return value


def _round(value: Any, digits: int = 6) -> Any:
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.{digits}g}")
    return value


def _top_features(drift: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
    features = [feature for feature in drift.get("features", []) if feature.get("status") == "drifted"]
    features.sort(key=lambda feature: -float(feature.get("effect") or feature.get("psi") or 0.0))
    return [
        {
            "feature": feature.get("feature"),
            "test": feature.get("test"),
            "statistic": _round(feature.get("statistic"), 4),
            "pValue": _round(feature.get("pValue"), 3),
            "effect": _round(feature.get("effect"), 4),
        }
        for feature in features[:limit]
    ]


CHECK_REASON_CHARS = 96


def _compact_checks(checks: list[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every declared rule by id: its state, and its value (ok / violated) or why it is pending."""
    compact: dict[str, dict[str, Any]] = {}
    for check in checks:
        entry: dict[str, Any] = {"state": check.get("state")}
        if check.get("value") is not None:
            entry["value"] = _round(check.get("value"), 4)
        if check.get("severity") is not None:
            entry["severity"] = check.get("severity")
        if check.get("state") == "pending" and check.get("reason"):
            entry["reason"] = str(check["reason"])[:CHECK_REASON_CHARS]
        compact[str(check.get("rule"))] = entry
    return compact


def _evaluated_window(data: Mapping[str, Any]) -> Any:
    """The window the verdict's earliest rows come from: the labelled one (delayed labels), else the current one."""
    labels = data.get("labels") if isinstance(data.get("labels"), Mapping) else None
    window = (labels or {}).get("window") or (data.get("current") or {}).get("window")
    return window


def build_summary(result: Mapping[str, Any], *, top_features: int = TOP_FEATURES) -> dict[str, Any]:
    """The termination-message summary of a result document (docs/contracts.md §2)."""
    drift = result.get("drift") or {}
    summary: dict[str, Any] = {
        "schemaVersion": SUMMARY_SCHEMA_VERSION,
        "runId": result.get("runId"),
        "outcome": result.get("outcome", "evaluated"),
        "error": result.get("error"),
        "modelVersion": result.get("modelVersion"),
        "servedVersions": result.get("servedVersions"),
        "window": _evaluated_window(result.get("data") or {}),
        "startedAt": result.get("startedAt"),
        "finishedAt": result.get("finishedAt"),
        "rows": result.get("rows"),
        "labels": result.get("labels"),
        "verdict": result.get("verdict"),
        "metrics": {name: _round(value) for name, value in (result.get("metrics") or {}).items()},
        "estimated": {
            name: {key: _round(item) for key, item in estimate.items()}
            for name, estimate in (result.get("estimated") or {}).items()
            if isinstance(estimate, Mapping)
        },
        "drift": {
            "share": _round(drift.get("share"), 4),
            "drifted": drift.get("drifted"),
            "features": drift.get("featureCount"),
            "datasetDrift": drift.get("datasetDrift"),
            "top": _top_features(drift, top_features),
        }
        if drift
        else None,
        "checks": _compact_checks(result.get("checks") or []),
        "violations": [
            {
                **violation,
                "value": _round(violation.get("value")),
                "threshold": _round(violation.get("threshold")),
            }
            for violation in result.get("violations") or []
        ],
        "reportUri": result.get("reportUri"),
        "resultUri": result.get("resultUri"),
    }
    comparison = result.get("comparison")
    if isinstance(comparison, Mapping):
        summary["comparison"] = compact_comparison(comparison)
    segments = result.get("segments")
    if isinstance(segments, Mapping):
        rules = (result.get("rules") or {}).get("metrics") or []
        summary["segments"] = compact_segments(segments, [str(rule.get("name")) for rule in rules])
    return json_safe(summary)  # type: ignore[no-any-return]


def compact_comparison(comparison: Mapping[str, Any]) -> dict[str, Any]:
    """The challenger comparison for the summary: decision, why, evidence so far, per-metric difference."""
    return {
        "decision": comparison.get("decision"),
        "reason": comparison.get("reason"),
        "mode": comparison.get("mode"),
        "pending": comparison.get("pending"),
        "championVersion": comparison.get("championVersion"),
        "challengerVersion": comparison.get("challengerVersion"),
        "labelledRows": comparison.get("labelledRows"),
        "unlabelledRows": comparison.get("unlabelledRows"),
        "rowsNeeded": comparison.get("rowsNeeded"),
        "since": comparison.get("since"),
        "runs": comparison.get("runs"),
        "metrics": [
            {
                "metric": item.get("metric"),
                "champion": _round(item.get("champion")),
                "challenger": _round(item.get("challenger")),
                "difference": _round(item.get("difference")),
                "interval": [_round(value) for value in item.get("interval") or []],
                "decision": item.get("decision"),
            }
            for item in comparison.get("metrics") or []
        ],
    }


def error_summary(
    *,
    run_id: str,
    outcome: str,
    reason: str,
    message: str,
    started_at: str | None,
    finished_at: str,
    model_version: str | None,
) -> dict[str, Any]:
    return {
        "schemaVersion": SUMMARY_SCHEMA_VERSION,
        "runId": run_id,
        "outcome": outcome,
        "error": {"reason": reason, "message": message},
        "modelVersion": model_version,
        "startedAt": started_at,
        "finishedAt": finished_at,
        "rows": None,
        "labels": None,
        "verdict": "error",
        "metrics": {},
        "estimated": {},
        "drift": None,
        "checks": {},
        "violations": [],
        "reportUri": None,
        "resultUri": None,
    }


def _encode(summary: Mapping[str, Any]) -> bytes:
    return json.dumps(summary, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def encode_summary(summary: Mapping[str, Any], limit: int = SUMMARY_LIMIT_BYTES) -> bytes:
    """Compact JSON of at most ``limit`` bytes, dropping the least important detail first."""
    current: dict[str, Any] = json_safe(dict(summary))
    encoded = _encode(current)
    if len(encoded) <= limit:
        return encoded
    drift = current.get("drift")
    if isinstance(drift, dict):
        while drift.get("top") and len(encoded) > limit:
            drift["top"] = drift["top"][:-1]
            encoded = _encode(current)
    segments = current.get("segments")
    if len(encoded) > limit and isinstance(segments, dict):
        for key in ("weakSlices", "top"):  # the counts stay; the detail is in the result document
            while segments.get(key) and len(encoded) > limit:
                segments[key] = segments[key][:-1]
                encoded = _encode(current)
    violations = current.get("violations") or []
    if len(encoded) > limit and violations:
        kept = list(violations)
        total = len(kept)
        while kept and len(encoded) > limit:
            kept = kept[:-1]
            current["violations"] = kept
            current["violationsOmitted"] = total - len(kept)
            encoded = _encode(current)
    checks = current.get("checks")
    if len(encoded) > limit and isinstance(checks, dict):
        for drop in ("reason", "value"):  # the states stay: every declared rule keeps its entry
            for entry in checks.values():
                entry.pop(drop, None)
            encoded = _encode(current)
            if len(encoded) <= limit:
                break
    comparison = current.get("comparison")
    if len(encoded) > limit and isinstance(comparison, dict):
        comparison.pop("reason", None)
        comparison.pop("metrics", None)  # the decision stays; the details are in the result document
        encoded = _encode(current)
    for key in ("estimated", "metrics"):
        if len(encoded) > limit and current.get(key):
            current[key] = dict(list(current[key].items())[: max(1, len(current[key]) // 4)])
            encoded = _encode(current)
    error = current.get("error")
    if len(encoded) > limit and isinstance(error, dict):
        error["message"] = str(error.get("message", ""))[:512]
        encoded = _encode(current)
    for key in ("reportUri", "resultUri", "estimated", "labels", "rows", "metrics", "comparison"):
        if len(encoded) <= limit:
            break
        current[key] = None
        encoded = _encode(current)
    if len(encoded) > limit:
        encoded = _encode(
            {key: current.get(key) for key in ("schemaVersion", "runId", "outcome", "verdict", "modelVersion")}
        )
    return encoded
