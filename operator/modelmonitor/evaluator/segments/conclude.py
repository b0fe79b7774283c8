"""From the segment tallies to the result's ``segments`` section, violations that name their segment, checks.

Each segment inherits the monitor's ``spec.metrics`` rules; an override (``spec.segments.overrides``)
replaces the rule of the same name, or adds one, for that segment. A segment with fewer labelled rows than
``minSize`` is ``inconclusive`` for its metrics (no violation either way), and its drift tests need
``minSize`` rows on each side as well. Violations name the segment in the rule id:
``metric:accuracy[region=EU]``, ``drift:dataset[region=EU]`` (the share of drifted features of the segment,
against the same segment of the reference, reached ``spec.drift.datasetDriftShare``), and a slice found by
discovery ``discovered:accuracy[region=EU&channel=web]``.

Accountability: every override rule is one check (``metric:<name>[<segment>]``: ok, violated, or pending
with the reason: an unknown segment, inconclusive, labels pending), discovery is one check
(``segments:discovery``), and each segment lists its own checks in the section.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from modelmonitor.api.metrics import MODEL_BASED_TESTS, metric_rule
from modelmonitor.api.model import MetricThreshold, MonitorSpec
from modelmonitor.evaluator.segments.declared import SEGMENT_SCORE_BINS, segment_profile
from modelmonitor.evaluator.segments.discovery import discover_weak_slices
from modelmonitor.evaluator.segments.pipeline import SegmentPlan, SegmentTally
from modelmonitor.evaluator.stats.accumulator import EvaluationAccumulator
from modelmonitor.evaluator.stats.drift import DriftSettings
from modelmonitor.evaluator.verdict import Check, Verdict, Violation, format_value

__all__ = ["DISCOVERY_RULE", "SegmentOutcome", "conclude_segments", "merge_verdict", "segment_rule"]

DISCOVERY_RULE = "segments:discovery"
MAX_LISTED_FEATURES = 10
_SEVERITY_RANK = {"warning": 1, "critical": 2}


def segment_rule(rule: str, segment: str) -> str:
    """``metric:accuracy`` of segment ``region=EU`` is ``metric:accuracy[region=EU]``."""
    return f"{rule}[{segment}]"


@dataclass
class SegmentOutcome:
    section: dict[str, Any]
    violations: list[Violation] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


def _settings(spec: MonitorSpec, min_size: int) -> DriftSettings:
    drift = spec.drift
    if drift is None:
        return DriftSettings(tests=())
    tests = [test for test in drift.tests if test not in MODEL_BASED_TESTS]  # no row sample per segment
    settings = DriftSettings.from_drift_spec(dataclasses.replace(drift, tests=tests)) if tests else \
        DriftSettings(tests=())
    return dataclasses.replace(settings, minimum_sample_size=max(settings.minimum_sample_size, min_size))


def _rules(spec: MonitorSpec, segment: str) -> list[MetricThreshold]:
    rules = {rule.name: rule for rule in spec.metrics}
    assert spec.segments is not None
    for override in spec.segments.overrides:
        if override.segment == segment:
            rules.update({rule.name: rule for rule in override.metrics})
    return list(rules.values())


def _judge(rule: MetricThreshold, value: float, segment: str) -> Violation | None:
    rule_id = segment_rule(metric_rule(rule.name), segment)
    if rule.min is not None and value < rule.min:
        return Violation(rule_id, value, rule.min, "min", rule.severity,
                         f"{rule.name} {format_value(value)} in {segment} is below the minimum "
                         f"{format_value(rule.min)}")
    if rule.max is not None and value > rule.max:
        return Violation(rule_id, value, rule.max, "max", rule.severity,
                         f"{rule.name} {format_value(value)} in {segment} is above the maximum "
                         f"{format_value(rule.max)}")
    return None


def _segment(
    plan: SegmentPlan, spec: MonitorSpec, name: str, dimension: str, performance: EvaluationAccumulator | None,
    drift: EvaluationAccumulator | None, reference: EvaluationAccumulator | None, pending: str | None,
) -> tuple[dict[str, Any], list[Violation], list[Check]]:
    assert spec.segments is not None
    min_size = spec.segments.min_size
    settings = _settings(spec, min_size)
    profile = segment_profile(plan.profile, reference)
    metrics: dict[str, float] = {}
    labelled = rows = 0
    result = None
    if performance is not None:
        performance.profile = profile
        stats = performance.finalize(settings)
        metrics = {key: value for key, value in stats.metrics.items() if math.isfinite(value)}
        labelled = int(stats.rows["labelled"])
        rows = int(stats.rows["current"])
        result = stats.drift
    if drift is not None:
        drift.profile = profile
        result = drift.finalize(settings).drift
        rows = drift.rows
    drift_section: dict[str, Any] | None = None
    drift_violation: Violation | None = None
    if result is not None and settings.tests and spec.drift is not None:
        drifted = [feature.feature for feature in result.features if feature.status == "drifted"]
        conclusive = result.feature_count - result.inconclusive
        drift_section = {
            "share": result.share, "drifted": result.drifted, "featureCount": result.feature_count,
            "inconclusive": result.inconclusive, "datasetDrift": result.dataset_drift,
            "features": drifted[:MAX_LISTED_FEATURES],
        }
        if result.dataset_drift and conclusive:
            drift_violation = Violation(
                segment_rule("drift:dataset", name), result.share, spec.drift.dataset_drift_share, "max",
                spec.drift.severity,
                f"{result.drifted} of {conclusive} features drifted in {name} ({result.share:.0%}) against the same "
                f"segment of the reference: {', '.join(drifted[:5])}",
            )
    violations: list[Violation] = [] if drift_violation is None else [drift_violation]
    checks: list[Check] = []
    for rule in _rules(spec, name):
        rule_id = segment_rule(metric_rule(rule.name), name)
        value = metrics.get(rule.name)
        if pending is not None:
            checks.append(Check(rule_id, "pending", reason=pending))
        elif labelled < min_size:
            checks.append(Check(rule_id, "pending", reason=f"inconclusive: {labelled} labelled rows in {name}, "
                                                         f"spec.segments.minSize is {min_size}"))
        elif value is None:
            checks.append(Check(rule_id, "pending", reason=f"{rule.name} has no value in {name}"))
        elif (violation := _judge(rule, value, name)) is not None:
            violations.append(violation)
            checks.append(Check(rule_id, "violated", value, violation.severity, violation.reason))
        else:
            checks.append(Check(rule_id, "ok", value))
    inconclusive = labelled < min_size and (drift_section is None or drift_section["inconclusive"] ==
                                            drift_section["featureCount"])
    state = "violated" if violations else "inconclusive" if inconclusive else "ok"
    section = {
        "segment": name, "dimension": dimension, "rows": rows, "labelled": labelled, "state": state,
        "metrics": {} if pending else metrics, "referenceMetrics": profile.metrics, "referenceRows": profile.rows,
        "drift": drift_section, "checks": [check.to_dict() for check in checks],
    }
    return section, violations, checks


def conclude_segments(
    plan: SegmentPlan, tally: SegmentTally, spec: MonitorSpec, pending: str | None
) -> SegmentOutcome:
    """Every tracked segment (and each dimension's ``__other__``) judged; discovery run; overrides accounted."""
    segments_spec = spec.segments
    assert segments_spec is not None
    dimensions: list[dict[str, Any]] = []
    violations: list[Violation] = []
    by_rule: dict[str, Check] = {}
    seen: set[str] = set()
    for position, dimension in enumerate(plan.dimensions):
        performance = tally.performance.accumulators[position]
        drift = tally.drift.accumulators[position] if tally.drift is not None else {}
        reference = plan.reference.accumulators[position]
        entries = []
        for index in range(dimension.other + 1):
            if index == dimension.other and index not in performance and index not in drift:
                continue  # nothing fell outside the tracked segments
            name = dimension.segment_name(index)
            if index not in performance and index not in drift and index not in reference:
                continue  # a tracked value without a row on either side (a numeric column's __missing__)
            seen.add(name)
            entry, found, checks = _segment(plan, spec, name, dimension.name, performance.get(index),
                                            drift.get(index), reference.get(index), pending)
            entries.append(entry)
            violations += found
            by_rule.update({check.rule: check for check in checks})
        entries.sort(key=lambda entry: -int(entry["rows"]))
        dimensions.append({"name": dimension.name, "columns": dimension.columns, "segments": entries})
    checks = []
    unmatched = []
    for override in segments_spec.overrides:
        for rule in override.metrics:
            rule_id = segment_rule(metric_rule(rule.name), override.segment)
            if override.segment in seen:
                checks.append(by_rule[rule_id])
            else:
                reason = (f"no segment {override.segment} among the tracked ones with rows (a value missing "
                          f"from both data sets, or beyond spec.segments.maxSegments {segments_spec.max_segments})")
                checks.append(Check(rule_id, "pending", reason=reason))
                unmatched.append({"segment": override.segment, "reason": reason})
    section: dict[str, Any] = {
        "minSize": segments_spec.min_size, "maxSegments": segments_spec.max_segments,
        "scoreBins": SEGMENT_SCORE_BINS, "dimensions": dimensions, "unmatchedOverrides": unmatched,
        "discovery": None,
    }
    discover = segments_spec.discover
    if discover is not None and discover.enabled:
        check, found_violations, section["discovery"] = _discovery(plan, tally, discover, pending)
        checks.append(check)
        violations += found_violations
    return SegmentOutcome(section, violations, checks)


def _discovery(
    plan: SegmentPlan, tally: SegmentTally, discover: Any, pending: str | None
) -> tuple[Check, list[Violation], dict[str, Any] | None]:
    reason = plan.discovery_pending or pending
    if reason is not None or plan.discovery is None or tally.discovery is None:
        return Check(DISCOVERY_RULE, "pending", reason=reason or "no discovery counts"), [], None
    result = discover_weak_slices(plan.discovery, tally.discovery, fdr=discover.fdr, min_size=discover.min_size,
                                  max_slices=discover.max_slices)
    document = result.to_dict(discover.fdr, discover.min_size)
    if not result.tested:
        return Check(DISCOVERY_RULE, "pending", reason=f"no slice has {discover.min_size} labelled rows on both "
                                                       "sides"), [], document
    if not result.found:
        return Check(DISCOVERY_RULE, "ok", value=0.0), [], document
    violations = []
    for test in result.found:
        change = (f"{test.reference_value:.1%} -> {test.current_value:.1%}" if test.metric == "accuracy"
                  else f"{format_value(test.reference_value)} -> {format_value(test.current_value)}")
        violations.append(Violation(
            segment_rule(f"discovered:{test.metric}", test.slice), test.current_value, test.reference_value,
            "min" if test.metric == "accuracy" else "max", discover.severity,
            f"{test.metric} fell in {test.slice}: {change} against the same slice of the reference "
            f"(q={format_value(test.q_value)}, {test.current_rows} rows)",
        ))
    worst = result.found[0]
    check = Check(DISCOVERY_RULE, "violated", float(len(result.found)), discover.severity,
                  f"{len(result.found)} weak slice(s) at FDR {discover.fdr:g}; worst {worst.slice} "
                  f"({worst.metric})")
    return check, violations, document


def merge_verdict(verdict: Verdict, violations: Sequence[Violation], checks: Sequence[Check],
                  metrics_pending: bool, has_metric_rules: bool) -> Verdict:
    """The run's verdict with the segments' violations and checks added (decided as ``decide_verdict`` does)."""
    if not violations and not checks:
        return verdict
    merged = sorted([*verdict.violations, *violations], key=lambda violation: -_SEVERITY_RANK[violation.severity])
    if any(violation.severity == "critical" for violation in merged):
        outcome = "critical"
    elif merged:
        outcome = "warning"
    elif metrics_pending and has_metric_rules:
        outcome = "pending"
    else:
        outcome = "healthy"
    return Verdict(verdict=outcome, violations=tuple(merged), checks=(*verdict.checks, *checks))
