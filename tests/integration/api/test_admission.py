"""The API server itself refuses invalid monitors at apply time, with a message naming the field.

Each case takes a valid monitor (tests/unit/api/fixtures), breaks one thing, and submits it to the real
kube-apiserver with the generated CRD installed (dry run: nothing is stored). The schema's structural checks
and its CEL rules are what is tested here; nothing in Python stands between the request and the refusal.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kubernetes
import pytest
import yaml

from modelmonitor.api import parse_spec
from modelmonitor.api.crd import GROUP, PLURAL, VERSION
from tests.integration.api.conftest import FIXTURES, load_fixture

pytestmark = pytest.mark.cluster

Spec = dict[str, Any]


@dataclass(frozen=True)
class Invalid:
    """A way to break a valid monitor, and the words the refusal must contain (field first)."""

    case: str
    fixture: str
    breaks: Callable[[dict[str, Any]], None]
    expected: tuple[str, ...]


def _spec(change: Callable[[Spec], None]) -> Callable[[dict[str, Any]], None]:
    return lambda monitor: change(monitor["spec"])


BINARY = "valid-binary-classification.yaml"
REGRESSION = "valid-regression.yaml"
DRIFT_ONLY = "valid-drift-only.yaml"

INVALID = [
    Invalid(
        "schedule not cron",
        BINARY,
        _spec(lambda s: s.update(schedule="every hour")),
        ("spec.schedule", "must be a cron expression"),
    ),
    Invalid(
        "schedule with six fields",
        BINARY,
        _spec(lambda s: s.update(schedule="0 0 * * * *")),
        ("spec.schedule", "must be a cron expression"),
    ),
    Invalid(
        "metric min above max",
        BINARY,
        _spec(lambda s: s["metrics"][3].update(min=0.9, max=0.8)),
        ("spec.metrics[3].min", "must be less than or equal to max"),
    ),
    Invalid(
        "metric without bound",
        BINARY,
        _spec(lambda s: s["metrics"][1].pop("min")),
        ("spec.metrics[1]", "must set min or max"),
    ),
    Invalid(
        "unknown metric",
        BINARY,
        _spec(lambda s: s["metrics"][0].update(name="accurracy")),
        ("spec.metrics[0].name", "Unsupported value"),
    ),
    Invalid(
        "duplicate metric",
        BINARY,
        _spec(lambda s: s["metrics"].append({"name": "f1", "min": 0.5})),
        ("spec.metrics[4]", "Duplicate value"),
    ),
    Invalid(
        "metric of the other task",
        BINARY,
        _spec(lambda s: s["metrics"].append({"name": "rmse", "max": 1})),
        ("spec.metrics", "must suit spec.model.task"),
    ),
    Invalid(
        "classification metric on regression",
        REGRESSION,
        _spec(lambda s: s["metrics"].append({"name": "accuracy", "min": 0.5})),
        ("spec.metrics", "must suit spec.model.task"),
    ),
    Invalid(
        "score metric without score column",
        BINARY,
        _spec(lambda s: s["data"]["columns"].pop("score")),
        ("spec.data.columns.score", "must be set"),
    ),
    Invalid(
        "metrics without target column",
        REGRESSION,
        _spec(lambda s: s["data"]["columns"].pop("target")),
        ("spec.data.columns.target", "must be set"),
    ),
    Invalid(
        "labels without metrics",
        DRIFT_ONLY,
        _spec(lambda s: s["data"].update(labels={"uri": "s3://ml/labels/", "joinOn": "id"})),
        ("spec.data.labels", "must only be set when spec.metrics uses labels"),
    ),
    Invalid(
        "neither metrics nor drift",
        DRIFT_ONLY,
        _spec(lambda s: s.pop("drift")),
        ("spec.metrics", "must set metrics or drift"),
    ),
    Invalid(
        "duplicate channel names",
        BINARY,
        _spec(lambda s: s["alerts"]["channels"][1].update(name="oncall-mail")),
        ("spec.alerts.channels", "must be unique"),
    ),
    Invalid(
        "email channel without smtpSecret",
        BINARY,
        _spec(lambda s: s["alerts"]["channels"][0].pop("smtpSecret")),
        ("spec.alerts.channels[0]", "must set to and smtpSecret"),
    ),
    Invalid(
        "sms number not E.164",
        BINARY,
        _spec(lambda s: s["alerts"]["channels"][1].update(to=["0555-0100"])),
        ("spec.alerts.channels[1].to", "must hold E.164 phone numbers"),
    ),
    Invalid(
        "twilio without secret",
        BINARY,
        _spec(lambda s: s["alerts"]["channels"][2].pop("secret")),
        ("spec.alerts.channels[2].secret", "must set secret"),
    ),
    Invalid(
        "webhook without urlSecret",
        BINARY,
        _spec(lambda s: s["alerts"]["channels"][3].pop("urlSecret")),
        ("spec.alerts.channels[3]", "must set urlSecret"),
    ),
    Invalid(
        "email field on a webhook",
        BINARY,
        _spec(lambda s: s["alerts"]["channels"][3].update(smtpSecret="x")),
        ("spec.alerts.channels[3].smtpSecret", "must only be set when type is email"),
    ),
    Invalid(
        "unknown channel type",
        BINARY,
        _spec(lambda s: s["alerts"]["channels"][3].update(type="pigeon")),
        ("spec.alerts.channels[3].type", "Unsupported value"),
    ),
    Invalid(
        "m of n with more violations than evaluations",
        REGRESSION,
        _spec(lambda s: s["alerts"]["policy"]["mOfN"].update(violations=4)),
        ("spec.alerts.policy.mOfN.violations", "must be less than or equal to evaluations"),
    ),
    Invalid(
        "both consecutive and m of n",
        REGRESSION,
        _spec(lambda s: s["alerts"]["policy"].update(consecutiveViolations=2)),
        ("spec.alerts.policy.mOfN", "must set only one of consecutiveViolations and mOfN"),
    ),
    Invalid(
        "rollback without target",
        BINARY,
        _spec(lambda s: s["rollback"].pop("target")),
        ("spec.rollback.target", "must be set when spec.rollback.enabled is true"),
    ),
    Invalid(
        "version from env without env",
        BINARY,
        _spec(lambda s: s["rollback"]["target"].update(versionFrom="env")),
        ("spec.rollback.target.env", "must be set when versionFrom is env"),
    ),
    Invalid(
        "custom kind without patch template",
        BINARY,
        _spec(lambda s: s["rollback"]["target"].update(apiVersion="example.com/v1", kind="Predictor")),
        ("spec.rollback.target.jsonPatchTemplate", "must be set for kinds other than"),
    ),
    Invalid(
        "patch template without version",
        BINARY,
        _spec(lambda s: s["rollback"]["target"].update(jsonPatchTemplate='[{"op": "replace"}]')),
        ("spec.rollback.target.jsonPatchTemplate", "must contain {version}"),
    ),
    Invalid(
        "psi warning above critical",
        BINARY,
        _spec(lambda s: s["drift"].update(psi={"warning": 0.3, "critical": 0.2})),
        ("spec.drift.psi.warning", "must be less than critical"),
    ),
    Invalid("p-value out of range", BINARY, _spec(lambda s: s["drift"].update(pValue=1.5)), ("spec.drift.pValue",)),
    Invalid(
        "unknown drift test",
        BINARY,
        _spec(lambda s: s["drift"].update(tests=["ks", "eyeball"])),
        ("spec.drift.tests[1]", "Unsupported value"),
    ),
    Invalid(
        "duration in words",
        BINARY,
        _spec(lambda s: s["evaluation"].update(timeout="30 minutes")),
        ("spec.evaluation.timeout", "must be a positive duration"),
    ),
    Invalid(
        "zero duration",
        BINARY,
        _spec(lambda s: s["alerts"]["policy"].update(repeatInterval="0h")),
        ("spec.alerts.policy.repeatInterval", "must be a positive duration"),
    ),
    Invalid(
        "parallelism above shards",
        REGRESSION,
        _spec(lambda s: s["evaluation"].update(parallelism=8)),
        ("spec.evaluation.parallelism", "must be less than or equal to shards"),
    ),
    Invalid(
        "too many shards", REGRESSION, _spec(lambda s: s["evaluation"].update(shards=1000)), ("spec.evaluation.shards",)
    ),
    Invalid(
        "reference not on S3",
        BINARY,
        _spec(lambda s: s["data"]["reference"].update(uri="/data/train.csv")),
        ("spec.data.reference.uri",),
    ),
    Invalid(
        "unknown task",
        BINARY,
        _spec(lambda s: s["model"].update(task="clustering")),
        ("spec.model.task", "Unsupported value"),
    ),
    Invalid("model missing", DRIFT_ONLY, _spec(lambda s: s.pop("model")), ("spec.model", "Required value")),
    Invalid(
        "store endpoint not a URL",
        BINARY,
        _spec(lambda s: s["data"]["store"].update(endpoint="minio:9000")),
        ("spec.data.store.endpoint", "must be an http:// or https:// URL"),
    ),
    Invalid(
        "name too long for its CronJob",
        DRIFT_ONLY,
        lambda monitor: monitor["metadata"].update(name="m" * 48),
        ("metadata.name", "must be at most 47 characters"),
    ),
]


def _submit(kube_cluster: Any, namespace: str, monitor: dict[str, Any]) -> dict[str, Any]:
    with kube_cluster.api_client() as client:
        created = kubernetes.client.CustomObjectsApi(client).create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, monitor, dry_run="All"
        )
    assert isinstance(created, dict)
    return created


def _unique(monitor: dict[str, Any]) -> dict[str, Any]:
    if len(monitor["metadata"]["name"]) <= 40:
        monitor["metadata"]["name"] += f"-{uuid.uuid4().hex[:6]}"
    return monitor


@pytest.mark.parametrize("invalid", INVALID, ids=[invalid.case for invalid in INVALID])
def test_invalid_monitor_is_refused_naming_the_field(
    kube_cluster: Any, monitor_namespace: str, invalid: Invalid
) -> None:
    monitor = copy.deepcopy(load_fixture(invalid.fixture))
    invalid.breaks(monitor)
    with pytest.raises(kubernetes.client.ApiException) as refused:
        _submit(kube_cluster, monitor_namespace, _unique(monitor))
    assert refused.value.status == 422, refused.value.body
    message = json.loads(str(refused.value.body))["message"]
    for expected in invalid.expected:
        assert expected in message, message


@pytest.mark.parametrize("fixture", [BINARY, REGRESSION, DRIFT_ONLY])
def test_valid_monitor_is_accepted_and_defaulted_as_parse_spec_defaults(
    kube_cluster: Any, monitor_namespace: str, fixture: str
) -> None:
    """The API server's defaults (from the CRD) and parse_spec's (from the model) give the same spec."""
    monitor = load_fixture(fixture)
    created = _submit(kube_cluster, monitor_namespace, _unique(copy.deepcopy(monitor)))
    assert parse_spec(created["spec"]) == parse_spec(monitor["spec"])


def test_kubectl_apply_prints_the_refusal(kube_cluster: Any, monitor_namespace: str) -> None:
    monitor = load_fixture(BINARY)
    monitor["spec"]["metrics"][0]["min"] = 2.0
    monitor["spec"]["metrics"][0]["max"] = 1.0
    result = subprocess.run(
        ["kubectl", "apply", "--dry-run=server", "-n", monitor_namespace, "-f", "-"],
        input=yaml.safe_dump(monitor),
        capture_output=True,
        text=True,
        env=kube_cluster.env,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "spec.metrics[0].min" in result.stderr
    assert "must be less than or equal to max" in result.stderr


@pytest.mark.parametrize("fixture", [BINARY, REGRESSION])
def test_kubectl_applies_the_hand_written_yaml_with_bare_keys(
    kube_cluster: Any, monitor_namespace: str, fixture: str
) -> None:
    """kubectl reads YAML 1.1, where bare `on` and `n` are booleans: no field of the CRD may be named so."""
    text = (FIXTURES / fixture).read_text(encoding="utf-8")
    assert re.search(r"^\s+minSeverity: critical$|mOfN: \{violations: 2, evaluations: 3\}", text, re.MULTILINE)
    result = subprocess.run(
        ["kubectl", "apply", "--dry-run=server", "-n", monitor_namespace, "-f", "-"],
        input=text,
        capture_output=True,
        text=True,
        env=kube_cluster.env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "created (server dry run)" in result.stdout
