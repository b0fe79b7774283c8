"""One refusing and one accepting example for every CEL rule of the CRD, shared by the unit and cluster tests.

A rule is named by the schema node it is declared on and its message (several duration nodes share one
message). ``refuse`` breaks exactly that rule in a valid fixture; ``accept`` exercises the rule and keeps it
(e.g. min equal to max), so both sides of every rule are tried. The unit test checks the table names every
rule of the schema; the cluster test sends each example to the real API server and to ``parse_spec``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).parent / "fixtures"
BINARY = "valid-binary-classification.yaml"
REGRESSION = "valid-regression.yaml"
DRIFT_ONLY = "valid-drift-only.yaml"
DURATION = "must be a positive duration such as 30m, 6h or 1d"

Spec = dict[str, Any]
Change = Callable[[Spec], None]


def load_monitor(fixture: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((FIXTURES / fixture).read_text(encoding="utf-8"))
    return loaded


@dataclass(frozen=True)
class RuleCase:
    """``node`` and ``message`` name the rule; ``field`` is where the refusal points."""

    node: str
    message: str
    field: str
    refuse: tuple[str, Change]
    accept: tuple[str, Change]

    @property
    def id(self) -> str:
        return f"{self.node}: {self.message[:70]}"

    def monitor(self, accepting: bool) -> dict[str, Any]:
        fixture, change = self.accept if accepting else self.refuse
        monitor = copy.deepcopy(load_monitor(fixture))
        change(monitor["spec"])
        return monitor


def same(_: Spec) -> None:
    """The valid fixture as it is (the rule holds there)."""


def _set(path: str, value: Any) -> Change:
    """Set ``a.b[2].c`` (relative to spec) to ``value``."""

    def change(spec: Spec) -> None:
        *parents, last = _parts(path)
        node: Any = spec
        for part in parents:
            node = node[part]
        node[last] = copy.deepcopy(value)

    return change


def _pop(path: str) -> Change:
    def change(spec: Spec) -> None:
        *parents, last = _parts(path)
        node: Any = spec
        for part in parents:
            node = node[part]
        del node[last]

    return change


def _parts(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in path.replace("]", "").split("."):
        name, *indexes = piece.split("[")
        parts.append(name)
        parts.extend(int(index) for index in indexes)
    return parts


def _all(*changes: Change) -> Change:
    def change(spec: Spec) -> None:
        for each in changes:
            each(spec)

    return change


def _case(node: str, message: str, field: str, refuse: tuple[str, Change], accept: tuple[str, Change]) -> RuleCase:
    return RuleCase(node, message, field, refuse, accept)


def _duration_case(node: str, fixture: str, path: str, bad: str, good: str) -> RuleCase:
    return _case(node, DURATION, f"spec.{path}", (fixture, _set(path, bad)), (fixture, _set(path, good)))


def _only_for(name: str, kind: str, wrong_channel: int, value: Any, right: tuple[str, Change]) -> RuleCase:
    return _case(
        "spec.alerts.channels[]",
        f"spec.alerts.channels {name} must only be set when type is {kind}",
        f"spec.alerts.channels[{wrong_channel}].{name}",
        (BINARY, _set(f"alerts.channels[{wrong_channel}].{name}", value)),
        right,
    )


_CHANNELS = "spec.alerts.channels[]"
_TARGET = "spec.rollback.target"

_CHALLENGER = "spec.challenger"
_SHADOW = {"version": "8", "prediction": "pred_v8", "score": "proba_v8", "metrics": ["accuracy", "roc_auc"]}
_AB = {
    "version": "8",
    "mode": "ab",
    "variantColumn": "variant",
    "championVariant": "v7",
    "challengerVariant": "v8",
    "metrics": ["accuracy"],
}
_PROMOTING = {**_SHADOW, "action": {"promote": {"mode": "Automatic"}}}

RULE_CASES: list[RuleCase] = [
    _case(
        "spec",
        "spec must set metrics or drift (a monitor with neither checks nothing)",
        "spec.metrics",
        (DRIFT_ONLY, _pop("drift")),
        (DRIFT_ONLY, same),
    ),
    _case(
        "spec",
        "spec.metrics must suit spec.model.task: mae, rmse, mape and r2 only for regression, the others only for "
        "classification",
        "spec.metrics",
        (BINARY, lambda s: s["metrics"].append({"name": "rmse", "max": 1})),
        (REGRESSION, lambda s: s["metrics"].append({"name": "mape", "max": 0.2})),
    ),
    _case(
        "spec",
        "spec.metrics of a multiclass-classification model must not have precision, recall, f1, roc_auc, pr_auc, "
        "log_loss, brier (there is no single positive class: use the macro_ or weighted_ metrics)",
        "spec.metrics",
        (BINARY, _all(_set("model.task", "multiclass-classification"), _set("metrics", [{"name": "f1", "min": 0.5}]))),
        (
            BINARY,
            _all(_set("model.task", "multiclass-classification"), _set("metrics", [{"name": "macro_f1", "min": 0.5}])),
        ),
    ),
    _case(
        "spec",
        "spec.data.columns.score must be set when spec.metrics has roc_auc, pr_auc, log_loss or brier",
        "spec.data.columns.score",
        (BINARY, _pop("data.columns.score")),
        (BINARY, _all(_pop("data.columns.score"), _set("metrics", [{"name": "accuracy", "min": 0.9}]))),
    ),
    _case(
        "spec",
        "spec.data.columns.target must be set when spec.metrics is not empty",
        "spec.data.columns.target",
        (REGRESSION, _pop("data.columns.target")),
        (REGRESSION, _all(_pop("data.columns.target"), _pop("metrics"))),
    ),
    _case(
        "spec",
        "spec.data.columns.prediction must be set when spec.metrics has a metric of predicted labels or values",
        "spec.data.columns.prediction",
        (BINARY, _pop("data.columns.prediction")),
        (BINARY, _all(_pop("data.columns.prediction"), _set("metrics", [{"name": "roc_auc", "min": 0.7}]))),
    ),
    _case(
        "spec",
        "spec.data.labels must only be set when spec.metrics uses labels",
        "spec.data.labels",
        (DRIFT_ONLY, _set("data.labels", {"uri": "s3://ml/labels/", "joinOn": "id"})),
        (BINARY, same),
    ),
    _case(
        "spec.schedule",
        "spec.schedule must be a cron expression of five fields (e.g. '0 * * * *') or a macro such as @hourly",
        "spec.schedule",
        (BINARY, _set("schedule", "0 0 * * * *")),
        (BINARY, _set("schedule", "*/5 1-3 * * MON")),
    ),
    _case(
        "spec.data.store.endpoint",
        "spec.data.store.endpoint must be an http:// or https:// URL",
        "spec.data.store.endpoint",
        (BINARY, _set("data.store.endpoint", "minio:9000")),
        (BINARY, _set("data.store.endpoint", "")),
    ),
    _duration_case("spec.data.current.window", BINARY, "data.current.window", "0h", "1d12h"),
    _duration_case("spec.data.labels.delay", BINARY, "data.labels.delay", "90 minutes", "90m"),
    _case(
        "spec.metrics[]",
        "each entry of spec.metrics must set min or max",
        "spec.metrics[1]",
        (BINARY, _pop("metrics[1].min")),
        (BINARY, _set("metrics[1]", {"name": "f1", "max": 1})),
    ),
    _case(
        "spec.metrics[]",
        "spec.metrics min must be less than or equal to max",
        "spec.metrics[3].min",
        (BINARY, _set("metrics[3]", {"name": "roc_auc", "min": 0.9, "max": 0.8})),
        (BINARY, _set("metrics[3]", {"name": "roc_auc", "min": 0.8, "max": 0.8})),
    ),
    _case(
        "spec.drift.psi",
        "spec.drift.psi warning must be less than critical",
        "spec.drift.psi.warning",
        (BINARY, _set("drift.psi", {"warning": 0.25, "critical": 0.25})),
        (BINARY, _set("drift.psi", {"warning": 0.2, "critical": 0.3})),
    ),
    _case(
        "spec.drift.wasserstein",
        "spec.drift.wasserstein warning must be less than critical",
        "spec.drift.wasserstein.warning",
        (REGRESSION, _set("drift.wasserstein", {"warning": 0.5, "critical": 0.3})),
        (REGRESSION, _set("drift.wasserstein", {"warning": 0.05, "critical": 0.5})),
    ),
    _case(
        "spec.drift.jensenShannon",
        "spec.drift.jensenShannon warning must be less than critical",
        "spec.drift.jensenShannon.warning",
        (DRIFT_ONLY, _set("drift.jensenShannon", {"warning": 0.5, "critical": 0.1})),
        (DRIFT_ONLY, _set("drift.jensenShannon", {"warning": 0.1, "critical": 0.2})),
    ),
    _case(
        "spec.alerts.channels",
        "spec.alerts.channels names must be unique",
        "spec.alerts.channels",
        (BINARY, _set("alerts.channels[1].name", "oncall-mail")),
        (BINARY, same),
    ),
    _case(
        _CHANNELS,
        "spec.alerts.channels of type email must set to and smtpSecret",
        "spec.alerts.channels[0]",
        (BINARY, _pop("alerts.channels[0].to")),
        (BINARY, _set("alerts.channels[0].to", ["a@example.com", "b@example.com"])),
    ),
    _case(
        _CHANNELS,
        "spec.alerts.channels to must hold email addresses when type is email",
        "spec.alerts.channels[0].to",
        (BINARY, _set("alerts.channels[0].to", ["ml-oncall"])),
        (BINARY, same),
    ),
    _case(
        _CHANNELS,
        "spec.alerts.channels of type sms must set to",
        "spec.alerts.channels[1]",
        (BINARY, _pop("alerts.channels[1].to")),
        (BINARY, _set("alerts.channels[1].to", ["+15550100", "+15550101"])),
    ),
    _case(
        _CHANNELS,
        "spec.alerts.channels to must hold E.164 phone numbers such as +15550100 when type is sms",
        "spec.alerts.channels[1].to",
        (BINARY, _set("alerts.channels[1].to", ["0555-0100"])),
        (BINARY, same),
    ),
    _case(
        _CHANNELS,
        "spec.alerts.channels with provider twilio must set secret",
        "spec.alerts.channels[2].secret",
        (BINARY, _pop("alerts.channels[2].secret")),
        (BINARY, _all(_pop("alerts.channels[2].secret"), _set("alerts.channels[2].provider", "sns"))),
    ),
    _case(
        _CHANNELS,
        "spec.alerts.channels of type webhook must set urlSecret",
        "spec.alerts.channels[3]",
        (BINARY, _pop("alerts.channels[3].urlSecret")),
        (BINARY, same),
    ),
    _case(
        _CHANNELS,
        "spec.alerts.channels to must not be set when type is webhook",
        "spec.alerts.channels[3].to",
        (BINARY, _set("alerts.channels[3].to", ["a@example.com"])),
        (BINARY, same),
    ),
    _only_for("smtpSecret", "email", 3, "smtp", (BINARY, same)),
    _only_for("from", "email", 3, "mm@example.com", (BINARY, same)),
    _only_for("tls", "email", 3, "tls", (BINARY, _set("alerts.channels[0].tls", "tls"))),
    _only_for("provider", "sms", 0, "sns", (BINARY, same)),
    _only_for("secret", "sms", 0, "twilio", (BINARY, same)),
    _only_for("urlSecret", "webhook", 0, "hook", (BINARY, same)),
    _only_for("format", "webhook", 0, "slack", (BINARY, _set("alerts.channels[3].format", "teams"))),
    _only_for("signingSecret", "webhook", 0, "key", (BINARY, same)),
    _only_for("headersSecret", "webhook", 0, "headers", (BINARY, _set("alerts.channels[3].headersSecret", "h"))),
    _only_for("timeout", "webhook", 0, "10s", (BINARY, same)),
    _duration_case("spec.alerts.channels[].timeout", BINARY, "alerts.channels[3].timeout", "0s", "2m"),
    _duration_case(
        "spec.alerts.channels[].policy.repeatInterval",
        BINARY,
        "alerts.channels[3].policy.repeatInterval",
        "1 hour",
        "90m",
    ),
    _case(
        "spec.alerts.policy",
        "spec.alerts.policy must set only one of consecutiveViolations and mOfN",
        "spec.alerts.policy.mOfN",
        (REGRESSION, _set("alerts.policy.consecutiveViolations", 2)),
        (REGRESSION, _set("alerts.policy", {"consecutiveViolations": 2})),
    ),
    _case(
        "spec.alerts.policy.mOfN",
        "spec.alerts.policy.mOfN.violations must be less than or equal to evaluations",
        "spec.alerts.policy.mOfN.violations",
        (REGRESSION, _set("alerts.policy.mOfN.violations", 4)),
        (REGRESSION, _set("alerts.policy.mOfN", {"violations": 3, "evaluations": 3})),
    ),
    _duration_case("spec.alerts.policy.repeatInterval", BINARY, "alerts.policy.repeatInterval", "0h", "12h"),
    _case(
        "spec.rollback",
        "spec.rollback.target must be set when spec.rollback.enabled is true",
        "spec.rollback.target",
        (BINARY, _pop("rollback.target")),
        (BINARY, _all(_pop("rollback.target"), _set("rollback.enabled", False))),
    ),
    _duration_case("spec.rollback.cooldown", BINARY, "rollback.cooldown", "0m", "2h"),
    _duration_case("spec.rollback.maxRollbacks.window", BINARY, "rollback.maxRollbacks.window", "0d", "7d"),
    _case(
        _TARGET,
        "spec.rollback.target.valueTemplate must contain {version}",
        "spec.rollback.target.valueTemplate",
        (REGRESSION, _set("rollback.target.valueTemplate", "s3://models/houses/")),
        (REGRESSION, _set("rollback.target.valueTemplate", "s3://models/houses/v{version}/")),
    ),
    _case(
        _TARGET,
        "spec.rollback.target.valueTemplate and spec.rollback.target.versions must not both be set",
        "spec.rollback.target.valueTemplate",
        (
            REGRESSION,
            _all(
                _set("rollback.target.valueTemplate", "s3://m/{version}/"),
                _set("rollback.target.versions", {"3": "s3://m/3/"}),
            ),
        ),
        (REGRESSION, _set("rollback.target.versions", {"3": "s3://m/3/"})),
    ),
    _case(
        _TARGET,
        "spec.rollback.target.env must be set when versionFrom is env",
        "spec.rollback.target.env",
        (BINARY, _set("rollback.target.versionFrom", "env")),
        (BINARY, _all(_set("rollback.target.versionFrom", "env"), _set("rollback.target.env", "MODEL_VERSION"))),
    ),
    _case(
        _TARGET,
        "spec.rollback.target.annotation must be set when versionFrom is annotation",
        "spec.rollback.target.annotation",
        (BINARY, _set("rollback.target.versionFrom", "annotation")),
        (
            BINARY,
            _all(
                _set("rollback.target.versionFrom", "annotation"),
                _set("rollback.target.annotation", "example.com/model-version"),
            ),
        ),
    ),
    _case(
        _TARGET,
        "spec.rollback.target.fieldPath must be set when versionFrom is field",
        "spec.rollback.target.fieldPath",
        (BINARY, _set("rollback.target.versionFrom", "field")),
        (REGRESSION, same),
    ),
    _case(
        _TARGET,
        "spec.rollback.target.jsonPatchTemplate must contain {version}",
        "spec.rollback.target.jsonPatchTemplate",
        (BINARY, _set("rollback.target.jsonPatchTemplate", '[{"op": "replace"}]')),
        (
            BINARY,
            _set(
                "rollback.target.jsonPatchTemplate",
                '[{"op": "replace", "path": "/spec/version", "value": "{version}"}]',
            ),
        ),
    ),
    _case(
        _TARGET,
        "spec.rollback.target.jsonPatchTemplate must be set for kinds other than Deployment, StatefulSet, "
        "InferenceService",
        "spec.rollback.target.jsonPatchTemplate",
        (BINARY, _all(_set("rollback.target.apiVersion", "example.com/v1"), _set("rollback.target.kind", "Predictor"))),
        (
            BINARY,
            _all(
                _set("rollback.target.apiVersion", "example.com/v1"),
                _set("rollback.target.kind", "Predictor"),
                _set(
                    "rollback.target.jsonPatchTemplate", '[{"op": "replace", "path": "/spec/v", "value": "{version}"}]'
                ),
            ),
        ),
    ),
    _case(
        "spec.evaluation",
        "spec.evaluation.parallelism must be less than or equal to shards",
        "spec.evaluation.parallelism",
        (REGRESSION, _set("evaluation.parallelism", 8)),
        (REGRESSION, _set("evaluation.parallelism", 4)),
    ),
    _duration_case("spec.evaluation.timeout", BINARY, "evaluation.timeout", "30 minutes", "1h30m"),
    # spec.model.registry and the mlflowAlias rollback target (issue 13)
    _case(
        "spec.model.registry",
        "spec.model.registry.mlflow must be set",
        "spec.model.registry.mlflow",
        (BINARY, _set("model.registry", {})),
        (BINARY, _set("model.registry", {"mlflow": {"trackingUri": "http://mlflow:5000", "name": "credit"}})),
    ),
    _case(
        "spec.model.registry.mlflow.trackingUri",
        "spec.model.registry.mlflow.trackingUri must be an http:// or https:// URL",
        "spec.model.registry.mlflow.trackingUri",
        (BINARY, _set("model.registry", {"mlflow": {"trackingUri": "mlflow:5000", "name": "credit"}})),
        (BINARY, _set("model.registry", {"mlflow": {"trackingUri": "https://mlflow.example.com", "name": "c"}})),
    ),
    _case(
        _TARGET,
        "spec.rollback.target must set exactly one of name (a workload), mlflowAlias and git",
        "spec.rollback.target.name",
        (
            BINARY,
            _all(
                _set("model.registry", {"mlflow": {"trackingUri": "http://mlflow:5000", "name": "credit"}}),
                _set("rollback.target.mlflowAlias", {}),
            ),
        ),
        (
            BINARY,
            _all(
                _set("model.registry", {"mlflow": {"trackingUri": "http://mlflow:5000", "name": "credit"}}),
                _set("rollback.target", {"mlflowAlias": {"alias": "champion"}}),
            ),
        ),
    ),
    _case(
        "spec.rollback.target.git.url",
        "spec.rollback.target.git.url must be an http:// or https:// URL",
        "spec.rollback.target.git.url",
        (BINARY, _set("rollback.target", {"git": {"url": "git@git.example.com:t/d.git", "path": "v.yaml",
                                                  "yamlPath": "image.tag"}})),
        (BINARY, _set("rollback.target", {"git": {"url": "https://git.example.com/t/d.git", "path": "v.yaml",
                                                  "yamlPath": "image.tag"}})),
    ),
    _case(
        "spec.rollback.target.git.valueTemplate",
        "spec.rollback.target.git.valueTemplate must contain {version}",
        "spec.rollback.target.git.valueTemplate",
        (BINARY, _set("rollback.target", {"git": {"url": "https://g.example.com/d.git", "path": "v.yaml",
                                                  "yamlPath": "image.tag", "valueTemplate": "v1"}})),
        (BINARY, _set("rollback.target", {"git": {"url": "https://g.example.com/d.git", "path": "v.yaml",
                                                  "yamlPath": "image.tag", "valueTemplate": "v{version}"}})),
    ),
    _case(
        "spec",
        "spec.model.registry.mlflow must be set when spec.rollback.target.mlflowAlias is",
        "spec.model.registry",
        (BINARY, _set("rollback.target", {"mlflowAlias": {}})),
        (
            BINARY,
            _all(
                _set("model.registry", {"mlflow": {"trackingUri": "http://mlflow:5000", "name": "credit"}}),
                _set("rollback.target", {"mlflowAlias": {}}),
            ),
        ),
    ),
    # spec.challenger (issue 12)
    _case(
        _CHALLENGER,
        "spec.challenger.variantColumn, championVariant and challengerVariant must be set when mode is ab",
        "spec.challenger.variantColumn",
        (BINARY, _all(_set("challenger", _AB), _pop("challenger.variantColumn"))),
        (BINARY, _set("challenger", _AB)),
    ),
    _case(
        _CHALLENGER,
        "spec.challenger.prediction, score and data must not be set in ab mode (shadow only); in ab mode the "
        "served model's outputs are spec.data.columns.prediction and score",
        "spec.challenger.mode",
        (BINARY, _all(_set("challenger", _AB), _set("challenger.prediction", "pred_v8"))),
        (BINARY, _set("challenger", _AB)),
    ),
    _case(
        _CHALLENGER,
        "spec.challenger.prediction or spec.challenger.score must be set in shadow mode",
        "spec.challenger.prediction",
        (BINARY, _set("challenger", {"version": "8", "metrics": ["accuracy"]})),
        (BINARY, _set("challenger", {"version": "8", "prediction": "pred_v8", "metrics": ["accuracy"]})),
    ),
    _case(
        _CHALLENGER,
        "spec.challenger.score must be set when spec.challenger.metrics has roc_auc, log_loss or brier",
        "spec.challenger.score",
        (BINARY, _all(_set("challenger", _SHADOW), _pop("challenger.score"))),
        (BINARY, _set("challenger", _SHADOW)),
    ),
    _case(
        _CHALLENGER,
        "spec.challenger.prediction must be set when spec.challenger.metrics has a metric of predicted labels or "
        "values",
        "spec.challenger.prediction",
        (BINARY, _all(_set("challenger", _SHADOW), _pop("challenger.prediction"))),
        (
            BINARY,
            _all(_set("challenger", _SHADOW), _pop("challenger.prediction"), _set("challenger.metrics", ["roc_auc"])),
        ),
    ),
    _case(
        "spec",
        "spec.challenger.metrics must suit spec.model.task: mae, mse and rmse only for regression, the others only "
        "for classification",
        "spec.challenger.metrics",
        (BINARY, _all(_set("challenger", _SHADOW), _set("challenger.metrics", ["mae"]))),
        (REGRESSION, _set("challenger", {"version": "8", "prediction": "price_v8", "metrics": ["mae", "rmse"]})),
    ),
    _case(
        "spec",
        "spec.challenger.metrics must not have roc_auc, log_loss or brier unless spec.model.task is "
        "binary-classification",
        "spec.challenger.metrics",
        (
            BINARY,
            _all(
                _set("model.task", "multiclass-classification"),
                _set("metrics", [{"name": "accuracy", "min": 0.5}]),
                _set("challenger", _SHADOW),
            ),
        ),
        (
            BINARY,
            _all(
                _set("model.task", "multiclass-classification"),
                _set("metrics", [{"name": "accuracy", "min": 0.5}]),
                _set("challenger", _SHADOW),
                _set("challenger.metrics", ["accuracy", "f1"]),
            ),
        ),
    ),
    _case(
        "spec",
        "spec.data.columns.target must be set when spec.challenger is (comparisons need labels)",
        "spec.data.columns.target",
        (DRIFT_ONLY, _set("challenger", {"version": "8", "prediction": "pred_v8", "metrics": ["accuracy"]})),
        (BINARY, _set("challenger", _SHADOW)),
    ),
    _case(
        "spec",
        "spec.rollback.target must be set when spec.challenger.action.promote is (promotion patches it)",
        "spec.rollback.target",
        (BINARY, _all(_set("challenger", _PROMOTING), _set("rollback", {"enabled": False}))),
        (BINARY, _set("challenger", _PROMOTING)),
    ),
    # spec.segments (issue 16)
    _case(
        "spec.segments.overrides[].metrics[]",
        "each entry of spec.metrics must set min or max",
        "spec.segments.overrides[0].metrics[0]",
        (BINARY, _set("segments", {"columns": [{"column": "region"}],
                                   "overrides": [{"segment": "region=EU", "metrics": [{"name": "f1"}]}]})),
        (BINARY, _set("segments", {"columns": [{"column": "region"}],
                                   "overrides": [{"segment": "region=EU", "metrics": [{"name": "f1", "max": 1}]}]})),
    ),
    _case(
        "spec.segments.overrides[].metrics[]",
        "spec.metrics min must be less than or equal to max",
        "spec.segments.overrides[0].metrics[0].min",
        (BINARY, _set("segments", {"columns": [{"column": "region"}], "overrides": [
            {"segment": "region=EU", "metrics": [{"name": "f1", "min": 0.9, "max": 0.8}]}]})),
        (BINARY, _set("segments", {"columns": [{"column": "region"}], "overrides": [
            {"segment": "region=EU", "metrics": [{"name": "f1", "min": 0.8, "max": 0.8}]}]})),
    ),
    _case(
        "spec.segments",
        "spec.segments.combinations must only name columns of spec.segments.columns",
        "spec.segments.combinations",
        (BINARY, _set("segments", {"columns": [{"column": "region"}],
                                   "combinations": [{"columns": ["region", "product"]}]})),
        (BINARY, _set("segments", {"columns": [{"column": "region"}, {"column": "product"}],
                                   "combinations": [{"columns": ["region", "product"]}]})),
    ),
    _case(
        "spec.segments",
        "spec.segments must set columns or an enabled discover",
        "spec.segments.columns",
        (BINARY, _set("segments", {"discover": {"enabled": False}})),
        (BINARY, _set("segments", {"discover": {}})),
    ),
    _case(
        "spec",
        "spec.data.columns.target and prediction must be set when spec.segments.discover is enabled (slices are "
        "compared on labelled rows)",
        "spec.data.columns",
        (DRIFT_ONLY, _set("segments", {"discover": {}})),
        (BINARY, _set("segments", {"discover": {}})),
    ),
]
