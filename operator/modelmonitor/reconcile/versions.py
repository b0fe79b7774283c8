"""The memory of model versions (``status.versions``): what rollback needs to know about the past.

Rollback may only restore a version that was once seen to be healthy, and may only act after several
consecutive violating evaluations of the version in service. Both questions are answered from this bounded
record, which lives in the monitor's status so that the operator keeps no state outside the API server.

Everything here is pure: functions take the current list and return a new one; nothing is mutated in place.

A record, as stored in status (camelCase because it is part of the CRD's status schema)::

    {"version": "2", "firstSeen": "2026-11-23T17:00:00Z", "lastEvaluated": "2026-11-23T18:00:00Z",
     "evaluations": 3, "everHealthy": true, "lastHealthyAt": "2026-11-23T17:00:00Z",
     "recentVerdicts": [{"evaluationId": "run-1", "verdict": "healthy", "at": "...", "rules": []}, ...]}

``rules`` lists the rules the evaluation violated (``metric:f1``, ``drift:dataset`` ...), so that a rollback
policy restricted to named rules can count consecutive violations of those rules only.

``artifact`` (optional) says exactly what the version is, when a model registry tells: its source URI, the run
that produced it, and the content hash of a DVC-tracked artifact (``{"source": ..., "runId": ...,
"dvcMd5": ...}``), so a rollback names what it restores (:func:`with_artifact`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

__all__ = [
    "DEFAULT_VERDICT_LIMIT",
    "DEFAULT_VERSION_LIMIT",
    "HEALTHY",
    "INCONCLUSIVE_VERDICTS",
    "VerdictRecord",
    "VersionRecord",
    "evaluation_timeline",
    "format_timestamp",
    "last_healthy_version",
    "parse_timestamp",
    "record_evaluation",
    "with_artifact",
]

DEFAULT_VERSION_LIMIT = 20
DEFAULT_VERDICT_LIMIT = 10
MAXIMUM_RULES_PER_VERDICT = 20

HEALTHY = "healthy"
CRITICAL = "critical"
# Verdicts that say nothing about the model: labels not yet arrived, or the evaluation itself failed.
INCONCLUSIVE_VERDICTS = frozenset({"pending", "error"})


class VerdictRecord(TypedDict):
    """One evaluation of one version, as kept in ``recentVerdicts``."""

    evaluationId: str
    verdict: str
    at: str
    rules: list[str]


class VersionRecord(TypedDict):
    """Everything remembered about one model version."""

    version: str
    firstSeen: str
    lastEvaluated: str
    evaluations: int
    everHealthy: bool
    lastHealthyAt: NotRequired[str]
    artifact: NotRequired[dict[str, str]]
    recentVerdicts: list[VerdictRecord]


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, second precision: the form Kubernetes uses in status."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (got a naive datetime)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime:
    """Read back a timestamp written by :func:`format_timestamp` (or any RFC 3339 form)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def record_evaluation(
    versions: Sequence[Mapping[str, Any]],
    version: str,
    verdict: str,
    evaluation_id: str,
    now: datetime,
    *,
    violated_rules: Iterable[str] = (),
    limit: int = DEFAULT_VERSION_LIMIT,
    verdict_limit: int = DEFAULT_VERDICT_LIMIT,
) -> list[VersionRecord]:
    """Return ``versions`` with one more evaluation of ``version`` remembered.

    Recording the same ``evaluation_id`` twice changes nothing, so the operator may reprocess a finished Job
    after a restart. At most ``limit`` versions are kept: the version just evaluated always stays; among the
    others the never-healthy ones are dropped first (they can never be a rollback target), then the ones
    evaluated longest ago.
    """
    if not version:
        raise ValueError("version must be a non-empty string")
    if limit < 1 or verdict_limit < 1:
        raise ValueError("limit and verdict_limit must be at least 1")
    records = [_copy_record(record) for record in versions]
    timestamp = format_timestamp(now)
    existing = next((record for record in records if record["version"] == version), None)
    if existing is None:
        existing = VersionRecord(
            version=version,
            firstSeen=timestamp,
            lastEvaluated=timestamp,
            evaluations=0,
            everHealthy=False,
            recentVerdicts=[],
        )
        records.append(existing)
    elif any(entry["evaluationId"] == evaluation_id for entry in existing["recentVerdicts"]):
        return records

    rules = sorted(set(violated_rules))[:MAXIMUM_RULES_PER_VERDICT]
    existing["recentVerdicts"] = [
        *existing["recentVerdicts"],
        VerdictRecord(evaluationId=evaluation_id, verdict=verdict, at=timestamp, rules=rules),
    ][-verdict_limit:]
    existing["lastEvaluated"] = timestamp
    existing["evaluations"] += 1
    if verdict == HEALTHY:
        existing["everHealthy"] = True
        existing["lastHealthyAt"] = timestamp
    return _bound(records, keep=version, limit=limit)


def last_healthy_version(
    versions: Sequence[Mapping[str, Any]],
    excluding: str | None = None,
    servable: frozenset[str] | None = None,
) -> str | None:
    """The version most recently seen healthy, other than ``excluding`` (the version in service).

    A version that was healthy once but whose latest conclusive verdict is critical is not a candidate:
    restoring it would restore a known-bad state. ``servable`` restricts the choice to versions the target
    can express (a target with a version map can only serve the mapped versions); ``None`` means any.
    """
    candidates: list[tuple[datetime, str]] = []
    for record in versions:
        name = str(record.get("version", ""))
        if not name or name == excluding or not record.get("everHealthy"):
            continue
        if servable is not None and name not in servable:
            continue
        if _latest_conclusive_verdict(record) == CRITICAL:
            continue
        healthy_at = record.get("lastHealthyAt") or record.get("lastEvaluated")
        if not healthy_at:
            continue
        candidates.append((parse_timestamp(str(healthy_at)), name))
    if not candidates:
        return None
    return max(candidates)[1]


def evaluation_timeline(versions: Sequence[Mapping[str, Any]]) -> list[tuple[datetime, str, VerdictRecord]]:
    """Every remembered evaluation of every version, oldest first, as ``(at, version, verdict record)``.

    Consecutive violations are counted along this timeline, so an evaluation of another version in between
    breaks a run even if the version's own list shows several violations in a row.
    """
    timeline: list[tuple[datetime, str, VerdictRecord]] = []
    for record in versions:
        for entry in record.get("recentVerdicts", []):
            verdict = VerdictRecord(
                evaluationId=str(entry.get("evaluationId", "")),
                verdict=str(entry.get("verdict", "")),
                at=str(entry.get("at", "")),
                rules=[str(rule) for rule in entry.get("rules", [])],
            )
            timeline.append((parse_timestamp(verdict["at"]), str(record.get("version", "")), verdict))
    timeline.sort(key=lambda item: (item[0], item[2]["evaluationId"]))
    return timeline


def _latest_conclusive_verdict(record: Mapping[str, Any]) -> str | None:
    for entry in reversed(record.get("recentVerdicts", [])):
        verdict = str(entry.get("verdict", ""))
        if verdict not in INCONCLUSIVE_VERDICTS:
            return verdict
    return None


def _copy_record(record: Mapping[str, Any]) -> VersionRecord:
    copied = VersionRecord(
        version=str(record["version"]),
        firstSeen=str(record.get("firstSeen", "")),
        lastEvaluated=str(record.get("lastEvaluated", record.get("firstSeen", ""))),
        evaluations=int(record.get("evaluations", len(record.get("recentVerdicts", [])))),
        everHealthy=bool(record.get("everHealthy", False)),
        recentVerdicts=[
            VerdictRecord(
                evaluationId=str(entry.get("evaluationId", "")),
                verdict=str(entry.get("verdict", "")),
                at=str(entry.get("at", "")),
                rules=[str(rule) for rule in entry.get("rules", [])],
            )
            for entry in record.get("recentVerdicts", [])
        ],
    )
    if record.get("lastHealthyAt"):
        copied["lastHealthyAt"] = str(record["lastHealthyAt"])
    if record.get("artifact"):
        copied["artifact"] = {str(key): str(value) for key, value in dict(record["artifact"]).items()}
    return copied


def with_artifact(versions: Sequence[Mapping[str, Any]], version: str,
                  artifact: Mapping[str, str]) -> list[VersionRecord]:
    """``versions`` with ``artifact`` (source URI, run id, DVC content hash) recorded for ``version``."""
    records = [_copy_record(record) for record in versions]
    for record in records:
        if record["version"] == version and artifact:
            record["artifact"] = {str(key): str(value) for key, value in artifact.items() if value}
    return records


def _bound(records: list[VersionRecord], *, keep: str, limit: int) -> list[VersionRecord]:
    excess = len(records) - limit
    if excess <= 0:
        return records
    droppable = sorted(
        (record for record in records if record["version"] != keep),
        key=lambda record: (record["everHealthy"], parse_timestamp(record["lastEvaluated"])),
    )
    dropped = {record["version"] for record in droppable[:excess]}
    return [record for record in records if record["version"] not in dropped]
