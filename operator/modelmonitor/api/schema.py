"""The OpenAPI v3 schema of ModelMonitor, with its CEL rules: the single source of the CRD.

Written once here in Python; ``hack/generate_crd.py`` renders it into ``crds/modelmonitors.yaml`` and the
chart's copy, a unit test checks those files equal the rendering, and another checks that every property here
is a field of the typed model (``model.py``) with the same default. ``parse_spec`` validates against it too.

Rules that the structural schema cannot say are CEL (``x-kubernetes-validations``). The API server charges
every rule against a cost budget computed from the largest possible input, so every string has a
``maxLength`` and every list a ``maxItems``. Messages say "must" and name the field, and ``fieldPath`` points
at it, so ``kubectl apply`` tells a user exactly what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, get_args

from modelmonitor.api import model
from modelmonitor.api.durations import DURATION_PATTERN, ZERO_DURATION_PATTERN

__all__ = [
    "CRON_PATTERN",
    "LABEL_METRICS",
    "MAX_MONITOR_NAME_LENGTH",
    "REGRESSION_METRICS",
    "SCORE_METRICS",
    "SECRET_NAME_NOTE",
    "Schema",
    "monitor_schema",
    "spec_schema",
    "status_schema",
]

Schema = dict[str, Any]

#: The CronJob is named ``<monitor>-eval`` (at most 52 characters, the CronJob limit), and run-now Jobs
#: ``<monitor>-now-<unix seconds>`` (at most 63, the limit of the ``job-name`` label their pods get).
MAX_MONITOR_NAME_LENGTH = 47

#: Five cron fields (minute hour day-of-month month day-of-week) or one of the macros Kubernetes accepts.
CRON_PATTERN = (
    r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)"
    r"|([0-9A-Za-z*?/,#-]+ +){4}[0-9A-Za-z*?/,#-]+)$"
)
REGRESSION_METRICS: tuple[str, ...] = ("mae", "rmse", "mape", "r2")
#: Metrics computed from the score (probability) column rather than the predicted label.
SCORE_METRICS: tuple[str, ...] = ("roc_auc", "pr_auc", "log_loss", "brier")
#: Metrics of one positive class: a binary model's only (a multiclass model has no single positive class, and
#: spec.data.columns.score names one class's score).
BINARY_ONLY_METRICS: tuple[str, ...] = ("precision", "recall", "f1", *SCORE_METRICS)
#: Every metric compares predictions with ground truth, so all of them need labels.
LABEL_METRICS: tuple[str, ...] = get_args(model.MetricName)

_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9._-]{0,62}(/.*)?$"
_QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)"
    r"|(\.[0-9]+))))?$"
)
_E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
_EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
_SHORT = 253  # Kubernetes object names and most short strings
_COLUMN = 256
_URI = 1024


# --- a tiny builder DSL: one call per schema node, keyword names as in OpenAPI ------------------------------


def rule(expression: str, message: str, field_path: str | None = None, reason: str | None = None) -> Schema:
    """One CEL rule; ``field_path`` (relative to the node, e.g. ``.min``) points the error at the field."""
    built: Schema = {"rule": expression, "message": message}
    if field_path is not None:
        built["fieldPath"] = field_path
    if reason is not None:
        built["reason"] = reason
    return built


def _node(kind: str | None, description: str, **extra: Any) -> Schema:
    node: Schema = {"type": kind} if kind is not None else {}
    node["description"] = description
    rules = extra.pop("rules", ())
    for key, value in extra.items():
        if value is not None:
            node[_OPENAPI_NAMES.get(key, key)] = value
    if rules:
        node["x-kubernetes-validations"] = list(rules)
    return node


_OPENAPI_NAMES = {
    "max_length": "maxLength",
    "min_length": "minLength",
    "max_items": "maxItems",
    "min_items": "minItems",
    "max_properties": "maxProperties",
    "exclusive_minimum": "exclusiveMinimum",
    "exclusive_maximum": "exclusiveMaximum",
    "list_type": "x-kubernetes-list-type",
    "list_map_keys": "x-kubernetes-list-map-keys",
    "preserve_unknown_fields": "x-kubernetes-preserve-unknown-fields",
    "additional_properties": "additionalProperties",
    "string_format": "format",
}


def string(
    description: str,
    *,
    max_length: int = _SHORT,
    enum: Iterable[str] | None = None,
    pattern: str | None = None,
    default: str | None = None,
    string_format: str | None = None,
    min_length: int | None = None,
    rules: Sequence[Schema] = (),
) -> Schema:
    if enum is not None:
        values = list(enum)
        return _node("string", description, enum=values, default=default, rules=rules)
    return _node(
        "string",
        description,
        min_length=min_length,
        max_length=max_length,
        pattern=pattern,
        string_format=string_format,
        default=default,
        rules=rules,
    )


def enum_of(description: str, literal: Any, default: str | None = None) -> Schema:
    """A string restricted to the values of a ``Literal`` type of ``model.py``."""
    return string(description, enum=get_args(literal), default=default)


def integer(
    description: str, *, minimum: int | None = None, maximum: int | None = None, default: int | None = None
) -> Schema:
    return _node("integer", description, minimum=minimum, maximum=maximum, default=default)


def number(
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool | None = None,
    exclusive_maximum: bool | None = None,
    default: float | None = None,
) -> Schema:
    return _node(
        "number",
        description,
        minimum=minimum,
        maximum=maximum,
        exclusive_minimum=exclusive_minimum,
        exclusive_maximum=exclusive_maximum,
        default=default,
    )


def boolean(description: str, *, default: bool | None = None) -> Schema:
    return _node("boolean", description, default=default)


def array(
    description: str,
    items: Schema,
    *,
    max_items: int,
    min_items: int | None = None,
    list_type: str | None = None,
    list_map_keys: list[str] | None = None,
    default: list[Any] | None = None,
    rules: Sequence[Schema] = (),
) -> Schema:
    return _node(
        "array",
        description,
        items=items,
        min_items=min_items,
        max_items=max_items,
        list_type=list_type,
        list_map_keys=list_map_keys,
        default=default,
        rules=rules,
    )


def string_map(description: str, values: Schema, *, max_properties: int) -> Schema:
    return _node("object", description, additional_properties=values, max_properties=max_properties)


def obj(
    description: str,
    properties: Mapping[str, Schema],
    *,
    required: Sequence[str] = (),
    default: Mapping[str, Any] | None = None,
    rules: Sequence[Schema] = (),
) -> Schema:
    node = _node("object", description, properties=dict(properties), rules=())
    if required:
        node["required"] = list(required)
    if default is not None:
        node["default"] = dict(default)
    if rules:
        node["x-kubernetes-validations"] = list(rules)
    return node


def open_object(description: str, properties: Mapping[str, Schema] | None = None) -> Schema:
    """An object the operator owns and may extend: the API server keeps fields it does not know."""
    node = _node("object", description, preserve_unknown_fields=True)
    if properties:
        node["properties"] = dict(properties)
    return node


def duration(description: str, *, default: str | None = None) -> Schema:
    return string(
        f"{description} A duration such as 30m, 6h or 1d (units s, m, h, d).",
        max_length=32,
        default=default,
        rules=[
            rule(
                f"self.matches(r'{DURATION_PATTERN}') && !self.matches(r'{ZERO_DURATION_PATTERN}')",
                "must be a positive duration such as 30m, 6h or 1d",
            )
        ],
    )


#: Ends the description of every field that names a Secret (``api.secrets`` finds them by it).
SECRET_NAME_NOTE = (
    "The name of a Secret in the monitor's namespace; its values never leave it except as secretKeyRef "
    "environment variables or reads by the operator."
)


def secret_name(description: str) -> Schema:
    return string(f"{description} {SECRET_NAME_NOTE}", pattern=_NAME_PATTERN)


def _quoted(values: Iterable[str]) -> str:
    return "[" + ", ".join(f"'{value}'" for value in values) + "]"


# --- spec --------------------------------------------------------------------------------------------------


def _model_schema() -> Schema:
    return obj(
        "The model this monitor watches.",
        {
            "name": string("The model's name, as shown by `kubectl get mm`.", min_length=1),
            "version": string(
                "The model version currently deployed. When absent, the version is read from the rollback "
                "target (image tag, environment variable or annotation).",
                max_length=128,
            ),
            "task": enum_of("What the model predicts; decides which metrics apply.", model.ModelTask),
            "registry": obj(
                "The model registry that names the version in service: before each evaluation is recorded the "
                "operator resolves the alias there, and that version is what status records.",
                {"mlflow": _mlflow_registry_schema()},
                rules=[rule("has(self.mlflow)", "spec.model.registry.mlflow must be set", field_path=".mlflow",
                            reason="FieldValueRequired")],
            ),
        },
        required=["name", "task"],
    )


def _mlflow_registry_schema() -> Schema:
    return obj(
        "An MLflow Model Registry, reached over its REST API.",
        {
            "trackingUri": string(
                "The MLflow tracking server's URL, e.g. http://mlflow.mlflow.svc:5000.",
                max_length=_URI,
                rules=[rule("self.matches(r'^https?://[^/]+')",
                            "spec.model.registry.mlflow.trackingUri must be an http:// or https:// URL")],
            ),
            "name": string("The registered model's name in MLflow.", min_length=1, max_length=256),
            "alias": string(
                "The alias naming the version in service, e.g. champion (without the @).",
                min_length=1,
                max_length=256,
                default="champion",
            ),
            "credentialsSecret": secret_name(
                "Secret with MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."
            ),
            "logEvaluations": boolean(
                "Log each evaluation as an MLflow run linked to the model version, and tag the version with "
                "modelmonitor.status.",
                default=True,
            ),
            "experiment": string(
                "The MLflow experiment evaluations are logged to (default: modelmonitor/<namespace>/<monitor>).",
                max_length=256,
            ),
            "webhookSecret": secret_name(
                "Secret with key secret: the HMAC secret of an MLflow registry webhook pointed at the operator's "
                "/mlflow/<namespace>/<monitor> endpoint; a signed alias move then starts an evaluation at once."
            ),
        },
        required=["trackingUri", "name"],
    )


def _data_schema() -> Schema:
    format_description = "File format: parquet, csv or jsonl (JSON lines)."
    return obj(
        "Where the evaluator reads the reference, current and label data (any S3-compatible store).",
        {
            "store": obj(
                "The S3-compatible object store.",
                {
                    "endpoint": string(
                        "Endpoint URL of an S3-compatible store (MinIO, Ceph, ...); empty means AWS S3. The "
                        "evaluation pods reach it, so it must be on the operator's outbound allow-list (kind s3, "
                        "chart value operator.outbound.s3); otherwise the monitor is not Ready and runs nothing.",
                        max_length=_URI,
                        default="",
                        rules=[
                            rule(
                                "self == '' || self.matches('^https?://')",
                                "spec.data.store.endpoint must be an http:// or https:// URL",
                            )
                        ],
                    ),
                    "region": string("The store's region, e.g. eu-west-1.", max_length=64),
                    "credentialsSecret": secret_name(
                        "Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or accessKeyId and "
                        "secretAccessKey), optionally AWS_SESSION_TOKEN. Absent: the pod's own identity."
                    ),
                },
                default={},
            ),
            "reference": obj(
                "The reference data set (typically the training data): the baseline for drift.",
                {
                    "uri": string(
                        "s3://bucket/key of one file, or s3://bucket/prefix/ of many.",
                        max_length=_URI,
                        pattern=_S3_URI_PATTERN,
                    ),
                    "format": enum_of(format_description, model.DataFormat, default="parquet"),
                },
                required=["uri"],
            ),
            "current": obj(
                "The production data to evaluate (model inputs and predictions).",
                {
                    "uri": string(
                        "s3://bucket/key of one file, or s3://bucket/prefix/ of many.",
                        max_length=_URI,
                        pattern=_S3_URI_PATTERN,
                    ),
                    "format": enum_of(format_description, model.DataFormat, default="parquet"),
                    "window": duration(
                        "How far back from the run's start rows are evaluated (needs timestampColumn).",
                        default="24h",
                    ),
                    "timestampColumn": string(
                        "Column with each row's time; absent: every row is in the window.", max_length=_COLUMN
                    ),
                    "timestampUnit": enum_of(
                        "Unit of a numeric timestamp column: seconds (s), milliseconds (ms), microseconds (us) or "
                        "nanoseconds (ns) since 1970-01-01 UTC. Time columns and ISO 8601 text (naive = UTC) "
                        "need none.",
                        model.TimestampUnit,
                        default="s",
                    ),
                },
                required=["uri"],
            ),
            "labels": obj(
                "Delayed ground truth, joined to the current data. Only with label-based metrics.",
                {
                    "uri": string(
                        "s3://bucket/key of one file, or s3://bucket/prefix/ of many.",
                        max_length=_URI,
                        pattern=_S3_URI_PATTERN,
                    ),
                    "format": enum_of(format_description, model.DataFormat, default="parquet"),
                    "joinOn": string(
                        "Column present in both the current data and the labels (e.g. request_id).",
                        max_length=_COLUMN,
                        min_length=1,
                    ),
                    "delay": duration("How long labels take to arrive; younger rows wait for the next run."),
                    "minCoverage": number(
                        "Share of rows that must have labels before label-based metrics are judged (0-1).",
                        minimum=0,
                        maximum=1,
                        default=0.0,
                    ),
                },
                required=["uri", "joinOn"],
            ),
            "columns": obj(
                "Roles of columns. Every other column (not excluded) is a feature.",
                {
                    "target": string("The ground-truth column (needed by every metric).", max_length=_COLUMN),
                    "prediction": string("The predicted label or value column.", max_length=_COLUMN),
                    "score": string(
                        "The predicted probability of the positive class (roc_auc, pr_auc, log_loss, brier).",
                        max_length=_COLUMN,
                    ),
                    "categorical": array(
                        "Features to treat as categorical (others are inferred from their type).",
                        string("A column name.", max_length=_COLUMN),
                        max_items=500,
                        list_type="set",
                    ),
                    "exclude": array(
                        "Columns that are not features (ids, timestamps).",
                        string("A column name.", max_length=_COLUMN),
                        max_items=500,
                        list_type="set",
                    ),
                    "version": string(
                        "A column of the current data naming the model version that served each row (never a "
                        "feature). The evaluator counts the rows per version in the evaluated window; an "
                        "evaluation whose window more than one version served is labelled mixed and is not "
                        "credited to any version (status.versions, the rollback policy's count).",
                        max_length=_COLUMN,
                    ),
                },
                default={},
            ),
        },
        required=["reference", "current"],
    )


def _metric_schema() -> Schema:
    return obj(
        "A quality metric with its acceptable range.",
        {
            "name": enum_of("The metric.", model.MetricName),
            "min": number("Lowest acceptable value; below it is a violation."),
            "max": number("Highest acceptable value; above it is a violation."),
            "severity": enum_of("Severity of a violation.", model.AlertSeverity, default="warning"),
        },
        required=["name"],
        rules=[
            rule(
                "has(self.min) || has(self.max)",
                "each entry of spec.metrics must set min or max",
                reason="FieldValueRequired",
            ),
            rule(
                "!has(self.min) || !has(self.max) || self.min <= self.max",
                "spec.metrics min must be less than or equal to max",
                field_path=".min",
            ),
        ],
    )


def _threshold_pair(name: str, description: str, *, default: Mapping[str, float] | None = None) -> Schema:
    return obj(
        f"{description} Warning and critical thresholds of the statistic.",
        {
            "warning": number("Value from which a feature counts as drifted (warning).", minimum=0),
            "critical": number("Value from which the drift is critical.", minimum=0),
        },
        required=["warning", "critical"],
        default=default,
        rules=[
            rule(
                "self.warning < self.critical",
                f"spec.drift.{name} warning must be less than critical",
                field_path=".warning",
            )
        ],
    )


def _drift_schema() -> Schema:
    return obj(
        "Data drift between the reference and the current data. Absent: no drift tests.",
        {
            "tests": array(
                "Statistical tests to run (numeric features: ks, ttest, psi, wasserstein, jensen_shannon; "
                "categorical: chi2, psi, jensen_shannon; multivariate: classifier, isolation_forest).",
                enum_of("A drift test.", model.DriftTest),
                max_items=8,
                min_items=1,
                list_type="set",
                default=["ks", "chi2", "psi"],
            ),
            "pValue": number(
                "Significance level of the hypothesis tests (ks, chi2, ttest).",
                minimum=0,
                maximum=1,
                exclusive_minimum=True,
                exclusive_maximum=True,
                default=0.05,
            ),
            "psi": _threshold_pair(
                "psi", "psi (population stability index).", default={"warning": 0.1, "critical": 0.25}
            ),
            "wasserstein": _threshold_pair("wasserstein", "wasserstein distance, in reference standard deviations."),
            "jensenShannon": _threshold_pair("jensenShannon", "Jensen-Shannon distance (0-1)."),
            "minSampleSize": integer(
                "Fewest rows (on each side) for a test to be judged.", minimum=1, maximum=100_000_000, default=30
            ),
            "correction": enum_of("Multiple-testing correction over features.", model.DriftCorrection, default="none"),
            "datasetDriftShare": number(
                "Share of drifted features that marks the whole dataset as drifted (0-1).",
                minimum=0,
                maximum=1,
                default=0.5,
            ),
            "features": array(
                "Features to test; empty: every feature.",
                string("A column name.", max_length=_COLUMN),
                max_items=1000,
                list_type="set",
            ),
            "severity": enum_of("Severity of dataset drift.", model.AlertSeverity, default="warning"),
        },
        default=None,
    )


def _channel_schema() -> Schema:
    email_only = ["smtpSecret", "from", "tls"]
    sms_only = ["provider", "secret"]
    webhook_only = ["urlSecret", "format", "signingSecret", "headersSecret", "timeout"]

    def only_for(kind: str, fields: Sequence[str]) -> list[Schema]:
        return [
            rule(
                f"!has(self.{name}) || self.type == '{kind}'",
                f"spec.alerts.channels {name} must only be set when type is {kind}",
                field_path=f".{name}",
            )
            for name in fields
        ]

    return obj(
        "One way to reach people. Credentials come from Secrets, never from the spec.",
        {
            "name": string("Unique name of the channel (a DNS label).", max_length=63, pattern=_NAME_PATTERN),
            "type": enum_of("email, sms or webhook.", model.ChannelType),
            "minSeverity": enum_of("Least severe alert this channel receives.", model.AlertSeverity, default="warning"),
            "to": array(
                "Recipients: email addresses (email) or E.164 phone numbers such as +15550100 (sms).",
                string("A recipient.", max_length=254),
                max_items=50,
                min_items=1,
            ),
            "smtpSecret": secret_name("email: Secret with host, port, username and password of the SMTP server."),
            "from": string("email: sender address.", max_length=254, pattern=_EMAIL_PATTERN),
            "tls": enum_of(
                f"email: starttls, tls (implicit) or none; unset: {model.DEFAULT_EMAIL_TLS}.", model.EmailTls
            ),
            "provider": enum_of(
                f"sms: sns (AWS SNS or compatible) or twilio; unset: {model.DEFAULT_SMS_PROVIDER}.", model.SmsProvider
            ),
            "secret": secret_name("sms: Secret with the provider's credentials (and endpoint)."),
            "urlSecret": secret_name("webhook: Secret whose key `url` holds the webhook URL."),
            "format": enum_of(f"webhook: payload format; unset: {model.DEFAULT_WEBHOOK_FORMAT}.", model.WebhookFormat),
            "signingSecret": secret_name("webhook: Secret whose key `key` signs the body (HMAC-SHA256 header)."),
            "headersSecret": secret_name("webhook: Secret whose keys and values are sent as extra headers."),
            "timeout": duration("webhook: time limit of one delivery attempt."),
            "policy": obj(
                "Overrides of spec.alerts.policy for this channel.",
                {
                    "repeatInterval": duration("Resend an unresolved alert at most this often."),
                    "sendResolved": boolean("Send a notification when the problem clears."),
                },
            ),
        },
        required=["name", "type"],
        rules=[
            rule(
                "self.type != 'email' || (has(self.to) && has(self.smtpSecret))",
                "spec.alerts.channels of type email must set to and smtpSecret",
                reason="FieldValueRequired",
            ),
            rule(
                f"self.type != 'email' || !has(self.to) || self.to.all(a, a.matches(r'{_EMAIL_PATTERN}'))",
                "spec.alerts.channels to must hold email addresses when type is email",
                field_path=".to",
            ),
            rule(
                "self.type != 'sms' || has(self.to)",
                "spec.alerts.channels of type sms must set to",
                reason="FieldValueRequired",
            ),
            rule(
                f"self.type != 'sms' || !has(self.to) || self.to.all(n, n.matches(r'{_E164_PATTERN}'))",
                "spec.alerts.channels to must hold E.164 phone numbers such as +15550100 when type is sms",
                field_path=".to",
            ),
            rule(
                "!has(self.provider) || self.provider != 'twilio' || has(self.secret)",
                "spec.alerts.channels with provider twilio must set secret",
                field_path=".secret",
                reason="FieldValueRequired",
            ),
            rule(
                "self.type != 'webhook' || has(self.urlSecret)",
                "spec.alerts.channels of type webhook must set urlSecret",
                reason="FieldValueRequired",
            ),
            rule(
                "!has(self.to) || self.type != 'webhook'",
                "spec.alerts.channels to must not be set when type is webhook",
                field_path=".to",
            ),
            *only_for("email", email_only),
            *only_for("sms", sms_only),
            *only_for("webhook", webhook_only),
        ],
    )


def _alerts_schema() -> Schema:
    return obj(
        "Who hears about violations, and when.",
        {
            "channels": array(
                "Notification channels.",
                _channel_schema(),
                max_items=20,
                list_type="map",
                list_map_keys=["name"],
                rules=[
                    rule(
                        "self.all(c, self.exists_one(d, d.name == c.name))",
                        "spec.alerts.channels names must be unique",
                    )
                ],
            ),
            "policy": obj(
                "When an alert fires, repeats and resolves.",
                {
                    "consecutiveViolations": integer(
                        "Fire after this many consecutive violating evaluations "
                        f"(default {model.DEFAULT_CONSECUTIVE_VIOLATIONS}).",
                        minimum=1,
                        maximum=100,
                    ),
                    "mOfN": obj(
                        "Fire when `violations` of the last `evaluations` evaluations violated "
                        "(instead of consecutiveViolations).",
                        {
                            "violations": integer("Violating evaluations needed.", minimum=1, maximum=100),
                            "evaluations": integer("Evaluations looked at.", minimum=1, maximum=100),
                        },
                        required=["violations", "evaluations"],
                        rules=[
                            rule(
                                "self.violations <= self.evaluations",
                                "spec.alerts.policy.mOfN.violations must be less than or equal to evaluations",
                                field_path=".violations",
                            )
                        ],
                    ),
                    "repeatInterval": duration("Resend an unresolved alert at most this often.", default="6h"),
                    "sendResolved": boolean("Send a notification when the problem clears.", default=True),
                    "silences": array(
                        "Rules muted until a time.",
                        obj(
                            "A silence.",
                            {
                                "rule": string(
                                    "The rule to mute: metric:<name>, drift, evaluation, or * for all.",
                                    max_length=128,
                                    min_length=1,
                                ),
                                "until": string(
                                    "End of the silence (RFC 3339 time).", string_format="date-time", max_length=64
                                ),
                                "reason": string("Why (shown in status).", max_length=1024),
                            },
                            required=["rule", "until"],
                        ),
                        max_items=50,
                    ),
                },
                default={},
                rules=[
                    rule(
                        "!(has(self.consecutiveViolations) && has(self.mOfN))",
                        "spec.alerts.policy must set only one of consecutiveViolations and mOfN",
                        field_path=".mOfN",
                    )
                ],
            ),
        },
        default={},
    )


def _rollback_schema() -> Schema:
    known_kinds = ["Deployment", "StatefulSet", "InferenceService"]
    return obj(
        "Put the last healthy model version back into service when this one fails.",
        {
            "enabled": boolean("Turn rollback on.", default=False),
            "mode": enum_of(
                "Automatic: roll back; Manual: propose, and roll back when approved by annotation; "
                "NotifyOnly: only say what would be done.",
                model.RollbackMode,
                default="Automatic",
            ),
            "minSeverity": enum_of(
                "Least severe verdict that triggers a rollback.",
                model.RollbackSeverity,
                default="critical",
            ),
            "rules": array(
                "Only these rules trigger a rollback (e.g. metric:accuracy, drift); empty: any rule at minSeverity.",
                string("A rule name.", max_length=128),
                max_items=20,
                list_type="set",
            ),
            "consecutiveViolations": integer(
                "Roll back after this many consecutive violating evaluations.", minimum=1, maximum=100, default=1
            ),
            "cooldown": duration("Least time between two rollbacks.", default="1h"),
            "maxRollbacks": obj(
                "At most count rollbacks per window.",
                {
                    "count": integer("Rollbacks allowed per window.", minimum=1, maximum=100, default=3),
                    "window": duration("The window.", default="24h"),
                },
                default={},
            ),
            "dryRun": boolean("Only report the planned patch; change nothing.", default=False),
            "target": obj(
                "The workload serving the model, in the monitor's namespace.",
                {
                    "apiVersion": string("Its API version.", max_length=128, default="apps/v1"),
                    "kind": string("Its kind.", max_length=63, default="Deployment"),
                    "name": string("Its name.", min_length=1),
                    "container": string("The container serving the model (default: the first).", max_length=63),
                    "versionFrom": enum_of(
                        "Where the version lives: the image tag, an env var, an annotation or a field.",
                        model.VersionSource,
                        default="image",
                    ),
                    "env": string("versionFrom env: the variable's name, e.g. MODEL_VERSION.", max_length=128),
                    "annotation": string("versionFrom annotation: the annotation's key.", max_length=_SHORT),
                    "fieldPath": string(
                        "versionFrom field: a dotted path, e.g. spec.predictor.model.storageUri.", max_length=512
                    ),
                    "jsonPatchTemplate": string(
                        "For any other kind: a JSON patch whose text contains {version}.", max_length=4096
                    ),
                    "versions": string_map(
                        "Maps a version to the value written for it (e.g. a storage URI).",
                        string("The value for this version.", max_length=_URI),
                        max_properties=100,
                    ),
                    "valueTemplate": string(
                        "The value for a version, with {version} in it (e.g. s3://models/credit/v{version}/); "
                        "an alternative to versions.",
                        max_length=_URI,
                    ),
                    "mlflowAlias": obj(
                        "Instead of a workload: move an alias of the model in spec.model.registry.mlflow back "
                        "to the healthy version (the serving side follows the alias).",
                        {
                            "alias": string(
                                "The alias to move (default: spec.model.registry.mlflow.alias).",
                                min_length=1,
                                max_length=256,
                            ),
                        },
                    ),
                    "git": obj(
                        "Instead of a workload: commit the healthy version into the Git repository a GitOps "
                        "controller (Argo CD, Flux) deploys from, over HTTP(S).",
                        {
                            "url": string(
                                "The repository's HTTP(S) URL, e.g. https://git.example.com/team/deploy.git.",
                                max_length=_URI,
                                rules=[rule("self.matches(r'^https?://[^/]+/')",
                                            "spec.rollback.target.git.url must be an http:// or https:// URL")],
                            ),
                            "branch": string("The branch to commit to.", min_length=1, max_length=255,
                                             default="main"),
                            "path": string("The YAML file, e.g. charts/credit/values.yaml.", min_length=1,
                                           max_length=1024),
                            "yamlPath": string("The dotted path of the value in that file, e.g. image.tag.",
                                               min_length=1, max_length=512),
                            "valueTemplate": string(
                                "The value written for a version, with {version} in it (default: the version).",
                                max_length=_URI,
                                rules=[rule("self.contains('{version}')",
                                            "spec.rollback.target.git.valueTemplate must contain {version}")],
                            ),
                            "credentialsSecret": secret_name(
                                "Secret with key token (an HTTPS access token) and optionally username "
                                "(default x-access-token)."
                            ),
                        },
                        required=["url", "path", "yamlPath"],
                    ),
                },
                rules=[
                    rule(
                        "(has(self.name) ? 1 : 0) + (has(self.mlflowAlias) ? 1 : 0) + (has(self.git) ? 1 : 0) == 1",
                        "spec.rollback.target must set exactly one of name (a workload), mlflowAlias and git",
                        field_path=".name",
                        reason="FieldValueRequired",
                    ),
                    rule(
                        "!has(self.valueTemplate) || self.valueTemplate.contains('{version}')",
                        "spec.rollback.target.valueTemplate must contain {version}",
                        field_path=".valueTemplate",
                    ),
                    rule(
                        "!(has(self.valueTemplate) && has(self.versions))",
                        "spec.rollback.target.valueTemplate and spec.rollback.target.versions must not both be set",
                        field_path=".valueTemplate",
                    ),
                    rule(
                        "self.versionFrom != 'env' || has(self.env)",
                        "spec.rollback.target.env must be set when versionFrom is env",
                        field_path=".env",
                        reason="FieldValueRequired",
                    ),
                    rule(
                        "self.versionFrom != 'annotation' || has(self.annotation)",
                        "spec.rollback.target.annotation must be set when versionFrom is annotation",
                        field_path=".annotation",
                        reason="FieldValueRequired",
                    ),
                    rule(
                        "self.versionFrom != 'field' || has(self.fieldPath)",
                        "spec.rollback.target.fieldPath must be set when versionFrom is field",
                        field_path=".fieldPath",
                        reason="FieldValueRequired",
                    ),
                    rule(
                        "!has(self.jsonPatchTemplate) || self.jsonPatchTemplate.contains('{version}')",
                        "spec.rollback.target.jsonPatchTemplate must contain {version}",
                        field_path=".jsonPatchTemplate",
                    ),
                    rule(
                        f"self.kind in {_quoted(known_kinds)} || has(self.jsonPatchTemplate) || has(self.mlflowAlias)"
                        " || has(self.git)",
                        "spec.rollback.target.jsonPatchTemplate must be set for kinds other than "
                        + ", ".join(known_kinds),
                        field_path=".jsonPatchTemplate",
                        reason="FieldValueRequired",
                    ),
                ],
            ),
        },
        default={},
        rules=[
            rule(
                "!has(self.enabled) || !self.enabled || has(self.target)",
                "spec.rollback.target must be set when spec.rollback.enabled is true",
                field_path=".target",
                reason="FieldValueRequired",
            )
        ],
    )


def _evaluation_schema() -> Schema:
    quantity: Schema = {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
        "pattern": _QUANTITY_PATTERN,
        "description": "A quantity such as 500m, 2 or 1Gi.",
    }
    return obj(
        "How the evaluation Job runs.",
        {
            "image": string("Evaluator image; absent: the operator's configured image.", max_length=512),
            "resources": obj(
                "CPU and memory of the evaluation container.",
                {
                    "requests": string_map("Requested resources.", quantity, max_properties=8),
                    "limits": string_map("Resource limits.", quantity, max_properties=8),
                },
                default={"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
            ),
            "timeout": duration("Time limit of one evaluation (the Job's activeDeadlineSeconds).", default="30m"),
            "backoffLimit": integer("Retries of a failed evaluation pod.", minimum=0, maximum=10, default=2),
            "shards": integer(
                "Split the data over this many pods (an Indexed Job) whose partial results are merged.",
                minimum=1,
                maximum=64,
                default=1,
            ),
            "parallelism": integer("Shards running at once (default: all).", minimum=1, maximum=64),
            "serviceAccountName": string(
                "Service account of evaluation pods (for cloud identity; no Kubernetes API token is mounted). "
                "It must exist in the monitor's namespace. Absent: the operator's --evaluator-service-account "
                f"(the chart's evaluator.serviceAccount.name, default {model.DEFAULT_EVALUATOR_SERVICE_ACCOUNT}).",
                pattern=_NAME_PATTERN,
            ),
        },
        default={},
        rules=[
            rule(
                "!has(self.parallelism) || self.parallelism <= (has(self.shards) ? self.shards : 1)",
                "spec.evaluation.parallelism must be less than or equal to shards",
                field_path=".parallelism",
            )
        ],
    )


_CHALLENGER_REGRESSION_METRICS = ("mae", "mse", "rmse")
_CHALLENGER_SCORE_METRICS = ("roc_auc", "log_loss", "brier")


def _challenger_schema() -> Schema:
    """``spec.challenger``: a candidate version compared with the champion on live traffic (docs/challenger.md)."""
    return obj(
        "A challenger model compared with the one in service on live traffic (shadow: both score the same "
        "requests, paired tests; ab: traffic split by a column, unpaired tests). Decisions are anytime-valid "
        "across runs; see docs/challenger.md.",
        {
            "version": string("The challenger's model version.", min_length=1, max_length=128),
            "mode": enum_of(
                "shadow: both models scored every request; ab: each request was served by one of them.",
                model.ChallengerMode,
                default="shadow",
            ),
            "prediction": string(
                "shadow: the challenger's predicted label or value column (in the current data, or in data).",
                max_length=_COLUMN,
            ),
            "score": string(
                "shadow: the challenger's positive-class probability column (roc_auc, log_loss, brier).",
                max_length=_COLUMN,
            ),
            "data": obj(
                "shadow: the challenger's predictions logged apart, joined to the current data on an id column.",
                {
                    "uri": string(
                        "s3://bucket/key of one file, or s3://bucket/prefix/ of many.",
                        max_length=_URI,
                        pattern=_S3_URI_PATTERN,
                    ),
                    "format": enum_of(
                        "File format: parquet, csv or jsonl (JSON lines).", model.DataFormat, default="parquet"
                    ),
                    "joinOn": string(
                        "Column present in both the current data and the challenger's (e.g. request_id).",
                        max_length=_COLUMN,
                        min_length=1,
                    ),
                },
                required=["uri", "joinOn"],
            ),
            "variantColumn": string("ab: the column naming the model that served each row.", max_length=_COLUMN),
            "championVariant": string("ab: the variantColumn value of rows the champion served.", max_length=_COLUMN),
            "challengerVariant": string(
                "ab: the variantColumn value of rows the challenger served.", max_length=_COLUMN
            ),
            "metrics": array(
                "The metrics to compare; every one must be decided (any worse: challenger-worse).",
                enum_of("A comparable metric.", model.ChallengerMetric),
                min_items=1,
                max_items=9,
                list_type="set",
            ),
            "minEffect": number(
                "The smallest difference that matters, in the metric's units: an interval inside "
                "(-minEffect, +minEffect) is no-meaningful-difference.",
                minimum=0,
                maximum=1000000,
                default=0.0,
            ),
            "alpha": number(
                "Chance of a false better/worse decision over all runs, split over the metrics.",
                minimum=0,
                maximum=0.5,
                exclusive_minimum=True,
                default=0.05,
            ),
            "power": number(
                "Probability used to estimate the labelled rows still needed while inconclusive.",
                minimum=0.5,
                maximum=1,
                exclusive_maximum=True,
                default=0.8,
            ),
            "action": obj(
                "What to do on a decision.",
                {
                    "promote": obj(
                        "When the challenger is better: patch spec.rollback.target to the challenger's version "
                        "(the same machinery and modes as rollback).",
                        {
                            "mode": enum_of(
                                "Automatic: promote; Manual: propose, and promote when approved by annotation; "
                                "NotifyOnly: only say what would be done.",
                                model.RollbackMode,
                                default="Manual",
                            ),
                            "dryRun": boolean("Record and announce the promotion without patching.", default=False),
                        },
                    ),
                },
            ),
        },
        required=["version", "metrics"],
        rules=[
            rule(
                "self.mode != 'ab' || (has(self.variantColumn) && has(self.championVariant) "
                "&& has(self.challengerVariant))",
                "spec.challenger.variantColumn, championVariant and challengerVariant must be set when mode is ab",
                field_path=".variantColumn",
                reason="FieldValueRequired",
            ),
            rule(
                "self.mode != 'ab' || (!has(self.prediction) && !has(self.score) && !has(self.data))",
                "spec.challenger.prediction, score and data must not be set in ab mode (shadow only); in ab mode "
                "the served model's outputs are spec.data.columns.prediction and score",
                field_path=".mode",
            ),
            rule(
                "self.mode != 'shadow' || has(self.prediction) || has(self.score)",
                "spec.challenger.prediction or spec.challenger.score must be set in shadow mode",
                field_path=".prediction",
                reason="FieldValueRequired",
            ),
            rule(
                "self.mode != 'shadow' || has(self.score) "
                f"|| !self.metrics.exists(m, m in {_quoted(_CHALLENGER_SCORE_METRICS)})",
                "spec.challenger.score must be set when spec.challenger.metrics has roc_auc, log_loss or brier",
                field_path=".score",
                reason="FieldValueRequired",
            ),
            rule(
                "self.mode != 'shadow' || has(self.prediction) "
                f"|| self.metrics.all(m, m in {_quoted(_CHALLENGER_SCORE_METRICS)})",
                "spec.challenger.prediction must be set when spec.challenger.metrics has a metric of predicted "
                "labels or values",
                field_path=".prediction",
                reason="FieldValueRequired",
            ),
        ],
    )


def _segments_schema() -> Schema:
    """``spec.segments``: metrics and drift per slice of the rows, and weak slices found automatically."""
    column_list = array(
        "Columns to split by; empty: every categorical feature and numeric features in reference quantile bins.",
        string("A column name.", max_length=_COLUMN),
        max_items=100,
        list_type="set",
    )
    return obj(
        "Metrics and drift per segment (a value of a column, a bin of a numeric column, or a pair of them), and "
        "discovery of the slices whose metric fell the most against the reference.",
        {
            "columns": array(
                "Columns that split the rows: a categorical column by its values, a numeric one by bins.",
                obj(
                    "One segmenting column.",
                    {
                        "column": string("The column.", min_length=1, max_length=_COLUMN),
                        "bins": array(
                            "Numeric columns: the inner bin edges, each once, in any order (e.g. [30, 50] gives "
                            "(-inf, 30), [30, 50), [50, inf)); empty: the column is categorical.",
                            number("A bin edge."),
                            max_items=50,
                            list_type="set",
                        ),
                    },
                    required=["column"],
                ),
                max_items=10,
                list_type="map",
                list_map_keys=["column"],
            ),
            "combinations": array(
                "Pairs of columns of spec.segments.columns whose joint values are segments too.",
                obj(
                    "A pair of segmenting columns.",
                    {
                        "columns": array(
                            "Two columns of spec.segments.columns.",
                            string("A column name.", max_length=_COLUMN),
                            max_items=2,
                            min_items=2,
                            list_type="set",
                        )
                    },
                    required=["columns"],
                ),
                max_items=10,
            ),
            "minSize": integer(
                "Fewest labelled rows (metrics) or rows on each side (drift) for a segment to be judged; smaller "
                "segments are inconclusive.",
                minimum=1,
                maximum=100_000_000,
                default=100,
            ),
            "maxSegments": integer(
                "Segments kept per column or combination: the most frequent in the reference data; the rest are "
                "merged into __other__ (bounds memory, status size and Prometheus labels).",
                minimum=1,
                maximum=100,
                default=20,
            ),
            "overrides": array(
                "Per-segment thresholds: each segment inherits spec.metrics; an entry here replaces the rule of "
                "the same name (or adds one) for one segment.",
                obj(
                    "Thresholds of one segment.",
                    {
                        "segment": string(
                            "The segment, as results name it: column=value, or a=x,b=y for a combination "
                            "(in the order of the combination's columns).",
                            min_length=1,
                            max_length=512,
                        ),
                        "metrics": array(
                            "Rules of this segment.",
                            _metric_schema(),
                            max_items=18,
                            min_items=1,
                            list_type="map",
                            list_map_keys=["name"],
                        ),
                    },
                    required=["segment", "metrics"],
                ),
                max_items=100,
                list_type="map",
                list_map_keys=["segment"],
            ),
            "discover": obj(
                "Weak-slice discovery: single columns and pairs, each slice's metric against the same slice of "
                "the reference (which needs the target and the prediction in the reference data), with a "
                "Benjamini-Hochberg false-discovery-rate correction over slices and metrics.",
                {
                    "enabled": boolean("Run the discovery.", default=True),
                    "maxSlices": integer("Most slices reported, worst drop first.", minimum=1, maximum=50,
                                         default=10),
                    "fdr": number(
                        "The false-discovery rate the found slices are controlled at.",
                        minimum=0,
                        maximum=0.5,
                        exclusive_minimum=True,
                        default=0.05,
                    ),
                    "minSize": integer(
                        "Fewest labelled rows a slice needs on each side (reference and current) to be tested.",
                        minimum=10,
                        maximum=100_000_000,
                        default=200,
                    ),
                    "bins": integer("Quantile bins of each numeric column (from the reference).", minimum=2,
                                    maximum=20, default=5),
                    "pairs": boolean("Also test pairs of columns.", default=True),
                    "columns": column_list,
                    "severity": enum_of("Severity of the violation a found slice raises.", model.AlertSeverity,
                                        default="warning"),
                },
                default=None,
            ),
        },
        default=None,
        rules=[
            rule(
                "!has(self.combinations) || self.combinations.all(c, c.columns.all(n, has(self.columns) && "
                "self.columns.exists(s, s.column == n)))",
                "spec.segments.combinations must only name columns of spec.segments.columns",
                field_path=".combinations",
            ),
            rule(
                "(has(self.columns) && size(self.columns) > 0) || (has(self.discover) && self.discover.enabled)",
                "spec.segments must set columns or an enabled discover",
                field_path=".columns",
                reason="FieldValueRequired",
            ),
        ],
    )


def spec_schema() -> Schema:
    """The schema of ``spec``."""
    task_regression = "self.model.task == 'regression'"
    return obj(
        "What to evaluate, how often, what is acceptable, and what to do when it is not.",
        {
            "model": _model_schema(),
            "schedule": string(
                "When to evaluate: a cron expression of five fields, or @hourly, @daily, ...",
                max_length=128,
                default="0 * * * *",
                rules=[
                    rule(
                        f"self.matches(r'{CRON_PATTERN}')",
                        "spec.schedule must be a cron expression of five fields (e.g. '0 * * * *') or a macro "
                        "such as @hourly",
                    )
                ],
            ),
            "timeZone": string("Time zone of the schedule, e.g. Europe/Berlin (default: UTC).", max_length=64),
            "suspend": boolean("Pause scheduled evaluations (run-now still works).", default=False),
            "data": _data_schema(),
            "metrics": array(
                "Quality metrics and their acceptable ranges (need labels).",
                _metric_schema(),
                max_items=18,
                list_type="map",
                list_map_keys=["name"],
            ),
            "drift": _drift_schema(),
            "alerts": _alerts_schema(),
            "rollback": _rollback_schema(),
            "evaluation": _evaluation_schema(),
            "output": obj(
                "Where reports are written; absent: <reference bucket>/modelmonitor/<namespace>/<name>/.",
                {"uri": string("s3://bucket/prefix/.", max_length=_URI, pattern=_S3_URI_PATTERN)},
                required=["uri"],
            ),
            "challenger": _challenger_schema(),
            "segments": _segments_schema(),
        },
        required=["model", "data"],
        rules=[
            rule(
                "(has(self.metrics) && size(self.metrics) > 0) || has(self.drift)",
                "spec must set metrics or drift (a monitor with neither checks nothing)",
                field_path=".metrics",
                reason="FieldValueRequired",
            ),
            rule(
                f"!has(self.metrics) || ({task_regression} ? "
                f"self.metrics.all(m, m.name in {_quoted(REGRESSION_METRICS)}) : "
                f"self.metrics.all(m, !(m.name in {_quoted(REGRESSION_METRICS)})))",
                "spec.metrics must suit spec.model.task: mae, rmse, mape and r2 only for regression, the "
                "others only for classification",
                field_path=".metrics",
            ),
            rule(
                "!has(self.metrics) || self.model.task != 'multiclass-classification' || "
                f"self.metrics.all(m, !(m.name in {_quoted(BINARY_ONLY_METRICS)}))",
                "spec.metrics of a multiclass-classification model must not have "
                f"{', '.join(BINARY_ONLY_METRICS)} (there is no single positive class: use the macro_ or "
                "weighted_ metrics)",
                field_path=".metrics",
            ),
            rule(
                f"!has(self.metrics) || !self.metrics.exists(m, m.name in {_quoted(SCORE_METRICS)}) "
                "|| (has(self.data.columns) && has(self.data.columns.score))",
                "spec.data.columns.score must be set when spec.metrics has roc_auc, pr_auc, log_loss or brier",
                field_path=".data.columns.score",
                reason="FieldValueRequired",
            ),
            rule(
                "!has(self.metrics) || size(self.metrics) == 0 || "
                "(has(self.data.columns) && has(self.data.columns.target))",
                "spec.data.columns.target must be set when spec.metrics is not empty",
                field_path=".data.columns.target",
                reason="FieldValueRequired",
            ),
            rule(
                "!has(self.metrics) || size(self.metrics) == 0 || "
                "self.metrics.all(m, m.name in "
                f"{_quoted(SCORE_METRICS)}) || (has(self.data.columns) && has(self.data.columns.prediction))",
                "spec.data.columns.prediction must be set when spec.metrics has a metric of predicted labels or values",
                field_path=".data.columns.prediction",
                reason="FieldValueRequired",
            ),
            rule(
                "!has(self.data.labels) || (has(self.metrics) && size(self.metrics) > 0)",
                "spec.data.labels must only be set when spec.metrics uses labels",
                field_path=".data.labels",
            ),
            rule(
                "!has(self.rollback) || !has(self.rollback.target) || !has(self.rollback.target.mlflowAlias) "
                "|| (has(self.model.registry) && has(self.model.registry.mlflow))",
                "spec.model.registry.mlflow must be set when spec.rollback.target.mlflowAlias is",
                field_path=".model.registry",
                reason="FieldValueRequired",
            ),
            rule(
                "!has(self.segments) || !has(self.segments.discover) || !self.segments.discover.enabled || "
                "(has(self.data.columns) && has(self.data.columns.target) && has(self.data.columns.prediction))",
                "spec.data.columns.target and prediction must be set when spec.segments.discover is enabled "
                "(slices are compared on labelled rows)",
                field_path=".data.columns",
                reason="FieldValueRequired",
            ),
            rule(
                f"!has(self.challenger) || ({task_regression} ? "
                f"self.challenger.metrics.all(m, m in {_quoted(_CHALLENGER_REGRESSION_METRICS)}) : "
                f"self.challenger.metrics.all(m, !(m in {_quoted(_CHALLENGER_REGRESSION_METRICS)})))",
                "spec.challenger.metrics must suit spec.model.task: mae, mse and rmse only for regression, the "
                "others only for classification",
                field_path=".challenger.metrics",
            ),
            rule(
                "!has(self.challenger) || self.model.task == 'binary-classification' || "
                f"!self.challenger.metrics.exists(m, m in {_quoted(_CHALLENGER_SCORE_METRICS)})",
                "spec.challenger.metrics must not have roc_auc, log_loss or brier unless spec.model.task is "
                "binary-classification",
                field_path=".challenger.metrics",
            ),
            rule(
                "!has(self.challenger) || (has(self.data.columns) && has(self.data.columns.target))",
                "spec.data.columns.target must be set when spec.challenger is (comparisons need labels)",
                field_path=".data.columns.target",
                reason="FieldValueRequired",
            ),
            rule(
                "!has(self.challenger) || !has(self.challenger.action) || !has(self.challenger.action.promote) "
                "|| (has(self.rollback) && has(self.rollback.target))",
                "spec.rollback.target must be set when spec.challenger.action.promote is (promotion patches it)",
                field_path=".rollback.target",
                reason="FieldValueRequired",
            ),
        ],
    )


# --- status ------------------------------------------------------------------------------------------------


def _condition_schema() -> Schema:
    return obj(
        "A condition (Kubernetes API conventions).",
        {
            "type": string(
                "Ready, PerformanceDegraded, DataDrift, EvaluationFailed, RolledBack, AlertDeliveryFailed, ...",
                max_length=316,
            ),
            "status": string("True, False or Unknown.", enum=["True", "False", "Unknown"]),
            "reason": string("CamelCase reason.", max_length=1024),
            "message": string("Human-readable details.", max_length=32768),
            "lastTransitionTime": string("When status last changed.", string_format="date-time", max_length=64),
            "observedGeneration": integer("The spec generation the condition was set for.", minimum=0),
        },
        required=["type", "status"],
    )


def status_schema() -> Schema:
    """The schema of ``status``, written only by the operator (through the status subresource)."""
    return obj(
        "Observed state, written by the operator.",
        {
            "observedGeneration": integer("The spec generation last acted upon.", minimum=0),
            "phase": string(
                "Pending, Healthy, Warning, Degraded or Error.",
                enum=["Pending", "Healthy", "Warning", "Degraded", "Error"],
            ),
            "conditions": array(
                "Conditions, one per type.",
                _condition_schema(),
                max_items=32,
                list_type="map",
                list_map_keys=["type"],
            ),
            "summary": obj(
                "Flat values for `kubectl get mm` columns.",
                {
                    "modelVersion": string("Model version of the last evaluation.", max_length=128),
                    "firstMetric": string("The first metric and its value, e.g. accuracy=0.912.", max_length=128),
                    "driftShare": number("Share of drifted features in the last evaluation."),
                    "verdict": string("healthy, warning, critical, pending or error.", max_length=32),
                    "lastEvaluated": string(
                        "When the last evaluation finished.", string_format="date-time", max_length=64
                    ),
                },
            ),
            "lastEvaluation": open_object(
                "The last evaluation: id, job, startedAt, finishedAt, modelVersion, rows, metrics, drift, "
                "violations, reportUri."
            ),
            "history": {
                "type": "array",
                "description": "Past verdicts, newest first (bounded by the operator).",
                "items": open_object("One past evaluation's verdict."),
            },
            "versions": {
                "type": "array",
                "description": "Every model version seen, with its last verdicts: the rollback memory.",
                "items": open_object("One model version."),
            },
            "alerts": open_object("Active alerts and their deliveries per channel."),
            "comparison": open_object(
                "spec.challenger's comparison: decision, reason, both versions, labelledRows, rowsNeeded, "
                "evidenceSince, runs, decisionSince, and per metric champion, challenger, difference, interval."
            ),
            "rollback": open_object("Rollbacks done or proposed, and their bookkeeping."),
            "promotion": open_object(
                "spec.challenger.action.promote: the last promotion decision and the decisions that changed "
                "something (lastDecision, history)."
            ),
            "registry": open_object(
                "The model registry as last seen: mlflow.{model, alias, version, resolvedAt, lastRunId, error}."
            ),
            "kopf": open_object("The operator framework's own bookkeeping."),
        },
    )


def monitor_schema() -> Schema:
    """The schema of the whole object (``openAPIV3Schema``)."""
    return {
        "type": "object",
        "description": "Evaluates a deployed model on a schedule: quality metrics, data drift, alerts and rollback.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion of the object."},
            "kind": {"type": "string", "description": "Kind of the object."},
            "metadata": {"type": "object"},
            "spec": spec_schema(),
            "status": status_schema(),
        },
        "x-kubernetes-validations": [
            rule(
                f"size(self.metadata.name) <= {MAX_MONITOR_NAME_LENGTH}",
                f"metadata.name must be at most {MAX_MONITOR_NAME_LENGTH} characters (its CronJob's name "
                "adds a suffix)",
            )
        ],
    }
