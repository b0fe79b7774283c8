"""parse_spec: a spec dict becomes a typed MonitorSpec with defaults, or a SpecError naming the field."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelmonitor.api import MonitorSpec, SpecError, dump_spec, parse_spec

FIXTURES = Path(__file__).parent / "fixtures"


def _spec(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))["spec"]
    return loaded


def test_full_spec_is_typed() -> None:
    spec = parse_spec(_spec("valid-binary-classification.yaml"))
    assert spec.model.task == "binary-classification"
    assert spec.model.version == "7"
    assert spec.data.current.window == timedelta(hours=24)
    assert spec.data.labels is not None and spec.data.labels.delay == timedelta(hours=2)
    assert [metric.name for metric in spec.metrics] == ["accuracy", "f1", "log_loss", "roc_auc"]
    assert spec.metrics[3].max == 1.0 and isinstance(spec.metrics[3].max, float)
    assert spec.alerts.channels[0].from_address == "mm@example.com"
    assert spec.alerts.channels[3].policy is not None
    assert spec.alerts.channels[3].policy.repeat_interval == timedelta(hours=1)
    assert spec.alerts.policy.silences[0].until == datetime(2030, 1, 1, tzinfo=UTC)
    assert spec.rollback.enabled and spec.rollback.target is not None
    assert spec.rollback.max_rollbacks.window == timedelta(days=1)
    assert spec.evaluation.resources.limits == {"cpu": 2, "memory": "4Gi"}


def test_minimal_spec_gets_the_schema_defaults() -> None:
    spec = parse_spec(_spec("valid-drift-only.yaml"))
    assert spec.schedule == "0 * * * *"
    assert spec.suspend is False
    assert spec.metrics == []
    assert spec.drift is not None and spec.drift.tests == ["ks", "chi2", "psi"]
    assert spec.drift.psi.critical == 0.25
    assert spec.data.reference.format == "parquet"
    assert spec.alerts.policy.repeat_interval == timedelta(hours=6)
    assert spec.alerts.policy.send_resolved is True
    assert spec.rollback.enabled is False and spec.rollback.target is None
    assert spec.evaluation.timeout == timedelta(minutes=30)
    assert spec.evaluation.service_account_name is None  # the operator's --evaluator-service-account
    assert spec.output is None


@pytest.mark.parametrize("name", ["valid-binary-classification.yaml", "valid-regression.yaml", "valid-drift-only.yaml"])
def test_dump_then_parse_gives_the_same_spec(name: str) -> None:
    spec = parse_spec(_spec(name))
    assert isinstance(spec, MonitorSpec)
    assert parse_spec(dump_spec(spec)) == spec


def _broken(change: Any) -> dict[str, Any]:
    spec = copy.deepcopy(_spec("valid-binary-classification.yaml"))
    change(spec)
    return spec


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda s: s.pop("model"), "spec.model", "must be set"),
        (lambda s: s["model"].update(task="clustering"), "spec.model.task", "must be one of"),
        (lambda s: s["model"].update(colour="red"), "spec.model.colour", "is not a field"),
        (lambda s: s["metrics"][1].update(min="high"), "spec.metrics[1].min", "must be a number"),
        (lambda s: s["metrics"].append({"name": "f1", "min": 0.1}), "spec.metrics[4]", "must be unique"),
        (lambda s: s["drift"].update(pValue=1.0), "spec.drift.pValue", "must be less than 1"),
        (lambda s: s["evaluation"].update(shards=0), "spec.evaluation.shards", "must be at least 1"),
        (lambda s: s["evaluation"].update(backoffLimit=True), "spec.evaluation.backoffLimit", "must be an integer"),
        (lambda s: s["evaluation"].update(timeout="soon"), "spec.evaluation.timeout", "must be a duration"),
        (lambda s: s["data"]["reference"].update(uri="/tmp/x"), "spec.data.reference.uri", "must match"),
        (lambda s: s["alerts"]["channels"][0].update(name="Oncall"), "spec.alerts.channels[0].name", "must match"),
        (
            lambda s: s["alerts"]["policy"]["silences"][0].update(until="tomorrow"),
            "spec.alerts.policy.silences[0].until",
            "must be an RFC 3339 time",
        ),
        (
            lambda s: s["alerts"]["policy"]["silences"][0].update(until="2030-01-01T00:00:00"),
            "spec.alerts.policy.silences[0].until",
            "with a time zone",
        ),
        (lambda s: s.update(suspend="yes"), "spec.suspend", "must be true or false"),
        (
            lambda s: s["data"]["columns"].update(categorical="region"),
            "spec.data.columns.categorical",
            "must be a list",
        ),
    ],
)
def test_invalid_spec_names_the_field(change: Any, field: str, words: str) -> None:
    with pytest.raises(SpecError) as refused:
        parse_spec(_broken(change))
    assert refused.value.field == field
    assert words in refused.value.message
    assert str(refused.value).startswith(field)
