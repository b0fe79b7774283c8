"""The typed model of a ModelMonitor spec: what the operator and the evaluator read after parsing.

Every dataclass here mirrors one object of the CRD schema (``schema.py``) field for field: the JSON name of a
field is its camelCase spelling unless ``metadata={"json": ...}`` says otherwise. A unit test walks both and
fails when they differ, and ``parse_spec`` (``parsing.py``) takes defaults and ranges from the schema, so the
schema stays the single source of truth. Enumerations are ``Literal`` types whose values the schema reuses.

Durations are ``timedelta`` (written "30m", "6h" in the spec); times are aware ``datetime``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

__all__ = [
    "DEFAULT_CONSECUTIVE_VIOLATIONS",
    "DEFAULT_EMAIL_TLS",
    "DEFAULT_EVALUATOR_SERVICE_ACCOUNT",
    "DEFAULT_SMS_PROVIDER",
    "DEFAULT_WEBHOOK_FORMAT",
    "AlertChannel",
    "AlertPolicy",
    "AlertSeverity",
    "AlertsSpec",
    "ChallengerAction",
    "ChallengerData",
    "ChallengerMetric",
    "ChallengerMode",
    "ChallengerSpec",
    "ChannelPolicy",
    "ChannelType",
    "ColumnsSpec",
    "CurrentDataSpec",
    "DataFormat",
    "DataSpec",
    "DriftCorrection",
    "DriftSpec",
    "DriftTest",
    "DriftThresholds",
    "EmailTls",
    "EvaluationSpec",
    "GitTarget",
    "LabelsSpec",
    "MOfN",
    "MaxRollbacks",
    "MetricName",
    "MetricThreshold",
    "MlflowAliasTarget",
    "MlflowRegistrySpec",
    "ModelRegistrySpec",
    "ModelSpec",
    "ModelTask",
    "MonitorSpec",
    "OutputSpec",
    "PromoteAction",
    "ReferenceDataSpec",
    "ResourceRequirements",
    "RollbackMode",
    "RollbackSeverity",
    "RollbackSpec",
    "RollbackTarget",
    "SegmentColumn",
    "SegmentCombination",
    "SegmentDiscovery",
    "SegmentOverride",
    "SegmentsSpec",
    "Silence",
    "SmsProvider",
    "StoreSpec",
    "TimestampUnit",
    "VersionSource",
    "WebhookFormat",
]

ModelTask = Literal["binary-classification", "multiclass-classification", "regression"]
DataFormat = Literal["parquet", "csv", "jsonl"]
AlertSeverity = Literal["warning", "critical"]
MetricName = Literal[
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
    "mae",
    "rmse",
    "mape",
    "r2",
]
DriftTest = Literal["ks", "chi2", "psi", "ttest", "wasserstein", "jensen_shannon", "classifier", "isolation_forest"]
DriftCorrection = Literal["none", "bonferroni", "benjamini_hochberg"]
ChannelType = Literal["email", "sms", "webhook"]
EmailTls = Literal["starttls", "tls", "none"]
SmsProvider = Literal["sns", "twilio"]
WebhookFormat = Literal["generic", "slack", "teams", "pagerduty"]
#: What an unset ``tls`` / ``provider`` / ``format`` of a channel means. The CRD cannot default these (each
#: must stay unset on the other channel types), so the channels apply them; the reference shows them.
DEFAULT_EMAIL_TLS: EmailTls = "starttls"
DEFAULT_SMS_PROVIDER: SmsProvider = "sns"
DEFAULT_WEBHOOK_FORMAT: WebhookFormat = "generic"
#: The ServiceAccount of evaluation pods when ``spec.evaluation.serviceAccountName`` is unset: the operator's
#: ``--evaluator-service-account`` (the chart's ``evaluator.serviceAccount.name``) defaults to it.
DEFAULT_EVALUATOR_SERVICE_ACCOUNT = "modelmonitor-evaluator"
#: What an unset ``spec.alerts.policy.consecutiveViolations`` means (without ``mOfN``); the CRD cannot default
#: it because the two exclude each other.
DEFAULT_CONSECUTIVE_VIOLATIONS = 1
RollbackMode = Literal["Automatic", "Manual", "NotifyOnly"]
RollbackSeverity = Literal["critical", "warning"]
VersionSource = Literal["image", "env", "annotation", "field"]
TimestampUnit = Literal["s", "ms", "us", "ns"]


@dataclass(frozen=True)
class MlflowRegistrySpec:
    tracking_uri: str
    name: str
    alias: str = "champion"
    credentials_secret: str | None = None
    log_evaluations: bool = True
    experiment: str | None = None
    webhook_secret: str | None = None


@dataclass(frozen=True)
class ModelRegistrySpec:
    mlflow: MlflowRegistrySpec | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: ModelTask
    version: str | None = None
    registry: ModelRegistrySpec | None = None


@dataclass(frozen=True)
class StoreSpec:
    endpoint: str = ""
    region: str | None = None
    credentials_secret: str | None = None


@dataclass(frozen=True)
class ReferenceDataSpec:
    uri: str
    format: DataFormat = "parquet"


@dataclass(frozen=True)
class CurrentDataSpec:
    uri: str
    format: DataFormat = "parquet"
    window: timedelta = timedelta(hours=24)
    timestamp_column: str | None = None
    timestamp_unit: TimestampUnit = "s"


@dataclass(frozen=True)
class LabelsSpec:
    uri: str
    join_on: str
    format: DataFormat = "parquet"
    delay: timedelta | None = None
    min_coverage: float = 0.0


@dataclass(frozen=True)
class ColumnsSpec:
    target: str | None = None
    prediction: str | None = None
    score: str | None = None
    categorical: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    version: str | None = None  # the model version that served each current row (version attribution)


@dataclass(frozen=True)
class DataSpec:
    reference: ReferenceDataSpec
    current: CurrentDataSpec
    store: StoreSpec = field(default_factory=StoreSpec)
    labels: LabelsSpec | None = None
    columns: ColumnsSpec = field(default_factory=ColumnsSpec)


@dataclass(frozen=True)
class MetricThreshold:
    name: MetricName
    min: float | None = None
    max: float | None = None
    severity: AlertSeverity = "warning"


@dataclass(frozen=True)
class DriftThresholds:
    warning: float
    critical: float


@dataclass(frozen=True)
class DriftSpec:
    tests: list[DriftTest] = field(default_factory=lambda: ["ks", "chi2", "psi"])
    p_value: float = 0.05
    psi: DriftThresholds = field(default_factory=lambda: DriftThresholds(warning=0.1, critical=0.25))
    wasserstein: DriftThresholds | None = None
    jensen_shannon: DriftThresholds | None = None
    min_sample_size: int = 30
    correction: DriftCorrection = "none"
    dataset_drift_share: float = 0.5
    features: list[str] = field(default_factory=list)
    severity: AlertSeverity = "warning"


@dataclass(frozen=True)
class ChannelPolicy:
    """Per-channel overrides of ``spec.alerts.policy``; ``None`` means "as the monitor's policy"."""

    repeat_interval: timedelta | None = None
    send_resolved: bool | None = None


@dataclass(frozen=True)
class AlertChannel:
    name: str
    type: ChannelType
    min_severity: AlertSeverity = "warning"
    to: list[str] = field(default_factory=list)
    smtp_secret: str | None = None
    from_address: str | None = field(default=None, metadata={"json": "from"})
    tls: EmailTls | None = None
    provider: SmsProvider | None = None
    secret: str | None = None
    url_secret: str | None = None
    format: WebhookFormat | None = None
    signing_secret: str | None = None
    headers_secret: str | None = None
    timeout: timedelta | None = None
    policy: ChannelPolicy | None = None


@dataclass(frozen=True)
class MOfN:
    violations: int
    evaluations: int


@dataclass(frozen=True)
class Silence:
    rule: str
    until: datetime
    reason: str | None = None


@dataclass(frozen=True)
class AlertPolicy:
    consecutive_violations: int | None = None
    m_of_n: MOfN | None = None
    repeat_interval: timedelta = timedelta(hours=6)
    send_resolved: bool = True
    silences: list[Silence] = field(default_factory=list)


@dataclass(frozen=True)
class AlertsSpec:
    channels: list[AlertChannel] = field(default_factory=list)
    policy: AlertPolicy = field(default_factory=AlertPolicy)


@dataclass(frozen=True)
class MaxRollbacks:
    count: int = 3
    window: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class MlflowAliasTarget:
    alias: str | None = None


@dataclass(frozen=True)
class GitTarget:
    url: str
    path: str
    yaml_path: str
    branch: str = "main"
    value_template: str | None = None
    credentials_secret: str | None = None


@dataclass(frozen=True)
class RollbackTarget:
    name: str | None = None  # a workload's name; None when the target is mlflowAlias
    api_version: str = "apps/v1"
    kind: str = "Deployment"
    container: str | None = None
    version_from: VersionSource = "image"
    env: str | None = None
    annotation: str | None = None
    field_path: str | None = None
    json_patch_template: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    value_template: str | None = None
    mlflow_alias: MlflowAliasTarget | None = None
    git: GitTarget | None = None


@dataclass(frozen=True)
class RollbackSpec:
    enabled: bool = False
    mode: RollbackMode = "Automatic"
    min_severity: RollbackSeverity = "critical"
    rules: list[str] = field(default_factory=list)
    consecutive_violations: int = 1
    cooldown: timedelta = timedelta(hours=1)
    max_rollbacks: MaxRollbacks = field(default_factory=MaxRollbacks)
    dry_run: bool = False
    target: RollbackTarget | None = None


@dataclass(frozen=True)
class ResourceRequirements:
    requests: dict[str, str | int] = field(default_factory=dict)
    limits: dict[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationSpec:
    image: str | None = None
    resources: ResourceRequirements = field(
        default_factory=lambda: ResourceRequirements(
            requests={"cpu": "250m", "memory": "512Mi"}, limits={"memory": "2Gi"}
        )
    )
    timeout: timedelta = timedelta(minutes=30)
    backoff_limit: int = 2
    shards: int = 1
    parallelism: int | None = None
    service_account_name: str | None = None


@dataclass(frozen=True)
class OutputSpec:
    uri: str


ChallengerMode = Literal["shadow", "ab"]
ChallengerMetric = Literal["accuracy", "error_rate", "f1", "roc_auc", "log_loss", "brier", "mae", "mse", "rmse"]


@dataclass(frozen=True)
class ChallengerData:
    uri: str
    join_on: str
    format: DataFormat = "parquet"


@dataclass(frozen=True)
class PromoteAction:
    mode: RollbackMode = "Manual"
    dry_run: bool = False


@dataclass(frozen=True)
class ChallengerAction:
    promote: PromoteAction | None = None


@dataclass(frozen=True)
class ChallengerSpec:
    version: str
    metrics: list[ChallengerMetric]
    mode: ChallengerMode = "shadow"
    prediction: str | None = None
    score: str | None = None
    data: ChallengerData | None = None
    variant_column: str | None = None
    champion_variant: str | None = None
    challenger_variant: str | None = None
    min_effect: float = 0.0
    alpha: float = 0.05
    power: float = 0.8
    action: ChallengerAction | None = None


@dataclass(frozen=True)
class SegmentColumn:
    """A column that splits the rows: by its values (categorical), or by ``bins`` edges (numeric)."""

    column: str
    bins: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class SegmentCombination:
    columns: list[str]


@dataclass(frozen=True)
class SegmentOverride:
    """``spec.metrics`` rules replaced (same name) or added for one segment, e.g. ``region=EU``."""

    segment: str
    metrics: list[MetricThreshold]


@dataclass(frozen=True)
class SegmentDiscovery:
    enabled: bool = True
    max_slices: int = 10
    fdr: float = 0.05
    min_size: int = 200
    bins: int = 5
    pairs: bool = True
    columns: list[str] = field(default_factory=list)
    severity: AlertSeverity = "warning"


@dataclass(frozen=True)
class SegmentsSpec:
    columns: list[SegmentColumn] = field(default_factory=list)
    combinations: list[SegmentCombination] = field(default_factory=list)
    min_size: int = 100
    max_segments: int = 20
    overrides: list[SegmentOverride] = field(default_factory=list)
    discover: SegmentDiscovery | None = None


@dataclass(frozen=True)
class MonitorSpec:
    model: ModelSpec
    data: DataSpec
    schedule: str = "0 * * * *"
    time_zone: str | None = None
    suspend: bool = False
    metrics: list[MetricThreshold] = field(default_factory=list)
    drift: DriftSpec | None = None
    alerts: AlertsSpec = field(default_factory=AlertsSpec)
    rollback: RollbackSpec = field(default_factory=RollbackSpec)
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    output: OutputSpec | None = None
    challenger: ChallengerSpec | None = None
    segments: SegmentsSpec | None = None
