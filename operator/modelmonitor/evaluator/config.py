"""The evaluation config: the mounted JSON/YAML (docs/contracts.md §1) or local flags, parsed once.

Everything downstream works on these frozen dataclasses, never on raw dictionaries, so a typo in a spec
fails here with a message naming the field (``spec.data.current.uri: must be ...``) instead of deep inside
a computation. The parser is defensive on purpose: the evaluator runs without the operator's spec model and
must refuse what the CRD would refuse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from modelmonitor.api.durations import parse_duration as spec_duration
from modelmonitor.api.errors import SpecError
from modelmonitor.evaluator.errors import ConfigError

__all__ = [
    "FORMATS",
    "METRICS_BY_TASK",
    "TASKS",
    "ColumnMapping",
    "DataSource",
    "DriftConfig",
    "EvaluationConfig",
    "LabelSource",
    "MetricRule",
    "format_of_path",
    "load_config_file",
    "parse_config",
    "parse_duration",
]

TASKS = ("binary-classification", "multiclass-classification", "regression")
FORMATS = ("parquet", "csv", "jsonl")
SEVERITIES = ("warning", "critical")
METRICS_BY_TASK: dict[str, tuple[str, ...]] = {
    "binary-classification": ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "brier"),
    "multiclass-classification": (
        "accuracy",
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "weighted_precision",
        "weighted_recall",
        "weighted_f1",
        "log_loss",
    ),
    "regression": ("mae", "rmse", "mape", "r2"),
}
DRIFT_TESTS = (
    "ks",
    "chi2",
    "psi",
    "ttest",
    "wasserstein",
    "jensen_shannon",
    "classifier",
    "isolation_forest",
)
CORRECTIONS = ("none", "bonferroni", "benjamini_hochberg")

_EXTENSION_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


@dataclass(frozen=True)
class DataSource:
    """One dataset: a local path or ``s3://bucket/key``; a single file or a prefix of many."""

    uri: str
    format: str | None
    field_path: str
    timestamp_column: str | None = None
    window: timedelta | None = None


@dataclass(frozen=True)
class LabelSource:
    """Delayed ground truth joined to the current data on ``join_on``."""

    uri: str
    format: str | None
    join_on: str
    column: str
    delay: timedelta | None = None
    min_coverage: float = 0.0


@dataclass(frozen=True)
class ColumnMapping:
    """Which column plays which role; features are every other column that is not excluded."""

    target: str | None = None
    prediction: str | None = None
    score: str | None = None
    probabilities: dict[str, str] = field(default_factory=dict)
    categorical: tuple[str, ...] = ()
    numerical: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetricRule:
    name: str
    minimum: float | None
    maximum: float | None
    severity: str


@dataclass(frozen=True)
class DriftConfig:
    tests: tuple[str, ...] = ("ks", "chi2", "psi")
    p_value: float = 0.05
    psi_warning: float = 0.1
    psi_critical: float = 0.25
    dataset_drift_share: float = 0.5
    min_sample_size: int = 30
    wasserstein: float = 0.1
    jensen_shannon: float = 0.1
    features: tuple[str, ...] = ()
    severity: str = "warning"
    correction: str = "none"
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationConfig:
    namespace: str
    name: str
    model_name: str
    model_version: str | None
    task: str
    reference: DataSource
    current: DataSource
    labels: LabelSource | None
    columns: ColumnMapping
    metrics: tuple[MetricRule, ...]
    drift: DriftConfig
    output_uri: str | None


def parse_duration(value: object, field_path: str) -> timedelta:
    """``"24h"``, ``"1h30m"``, ``"7d"`` (read by `api.durations`, as the CRD checks them) or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise ConfigError(f"{field_path}: must be positive, got {value!r}")
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        try:
            duration = spec_duration(value.strip().lower(), field_path)
        except SpecError:
            duration = timedelta(0)
        if duration > timedelta(0):
            return duration
    raise ConfigError(f"{field_path}: must be a duration like 24h or 30m, got {value!r}")


def _mapping(value: object, field_path: str, *, required: bool = False) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{field_path}: must be an object, got {_type_name(value)}")
    return value


def _string(value: object, field_path: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise ConfigError(f"{field_path}: is required")
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ConfigError(f"{field_path}: must be a string, got {_type_name(value)}")
    return value


def _strings(value: object, field_path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"{field_path}: must be a list of strings, got {_type_name(value)}")
    result = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{field_path}[{index}]: must be a non-empty string, got {item!r}")
        result.append(item)
    return tuple(result)


def _number(value: object, field_path: str, *, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{field_path}: must be a number, got {_type_name(value)}")
    number = float(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ConfigError(f"{field_path}: must be between {low} and {high}, got {value!r}")
    return number


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "list", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)


def _check_uri(uri: str, field_path: str) -> str:
    if uri.startswith("s3://"):
        bucket = uri[len("s3://") :].split("/", 1)[0]
        if not bucket:
            raise ConfigError(f"{field_path}: must name a bucket, as in s3://bucket/prefix/, got {uri!r}")
        return uri
    if "://" in uri:
        raise ConfigError(f"{field_path}: must be an s3:// URI or a path, got {uri!r}")
    return uri


def _format(value: object, uri: str, field_path: str) -> str | None:
    declared = _string(value, field_path)
    if declared is not None:
        declared = declared.lower()
        if declared not in FORMATS:
            raise ConfigError(f"{field_path}: must be one of {', '.join(FORMATS)}, got {declared!r}")
        return declared
    return format_of_path(uri)


def format_of_path(path: str) -> str | None:
    """The format a file name implies (``None`` when its suffix says nothing: a prefix, say)."""
    return _EXTENSION_FORMATS.get(Path(path.rstrip("/")).suffix.lower())


def _data_source(raw: object, field_path: str, *, windowed: bool) -> DataSource:
    section = _mapping(raw, field_path, required=True)
    uri = _check_uri(_string(section.get("uri"), f"{field_path}.uri", required=True) or "", f"{field_path}.uri")
    timestamp_column = _string(section.get("timestampColumn"), f"{field_path}.timestampColumn")
    window = None
    # The CRD defaults the window to 24h and documents "timestampColumn absent: every row is in the window",
    # so a window without a timestamp column selects every row rather than failing the evaluation.
    if windowed and section.get("window") is not None and timestamp_column is not None:
        window = parse_duration(section["window"], f"{field_path}.window")
    return DataSource(
        uri=uri,
        format=_format(section.get("format"), uri, f"{field_path}.format"),
        field_path=field_path,
        timestamp_column=timestamp_column,
        window=window,
    )


def _label_source(raw: object, field_path: str, target: str | None) -> LabelSource | None:
    if raw is None:
        return None
    section = _mapping(raw, field_path)
    uri = _check_uri(_string(section.get("uri"), f"{field_path}.uri", required=True) or "", f"{field_path}.uri")
    join_on = _string(section.get("joinOn"), f"{field_path}.joinOn", required=True) or ""
    column = _string(section.get("column"), f"{field_path}.column") or target
    if column is None:
        raise ConfigError(f"{field_path}.column: is required when spec.data.columns.target is not set")
    delay = None
    if section.get("delay") is not None:
        delay = parse_duration(section["delay"], f"{field_path}.delay")
    min_coverage = 0.0
    if section.get("minCoverage") is not None:
        min_coverage = _number(section["minCoverage"], f"{field_path}.minCoverage", low=0.0, high=1.0)
    return LabelSource(
        uri=uri,
        format=_format(section.get("format"), uri, f"{field_path}.format"),
        join_on=join_on,
        column=column,
        delay=delay,
        min_coverage=min_coverage,
    )


def _columns(raw: object, field_path: str) -> ColumnMapping:
    section = _mapping(raw, field_path)
    score_raw = section.get("score")
    probabilities_raw = section.get("probabilities")
    probabilities: dict[str, str] = {}
    if probabilities_raw is not None:
        table = _mapping(probabilities_raw, f"{field_path}.probabilities")
        for label, column in table.items():
            probabilities[str(label)] = _string(column, f"{field_path}.probabilities.{label}", required=True) or ""
    score = None
    if isinstance(score_raw, Mapping):
        for label, column in score_raw.items():
            probabilities[str(label)] = _string(column, f"{field_path}.score.{label}", required=True) or ""
    else:
        score = _string(score_raw, f"{field_path}.score")
    return ColumnMapping(
        target=_string(section.get("target"), f"{field_path}.target"),
        prediction=_string(section.get("prediction"), f"{field_path}.prediction"),
        score=score,
        probabilities=probabilities,
        categorical=_strings(section.get("categorical"), f"{field_path}.categorical"),
        numerical=_strings(section.get("numerical"), f"{field_path}.numerical"),
        exclude=_strings(section.get("exclude"), f"{field_path}.exclude"),
    )


def _metric_rules(raw: object, field_path: str, task: str) -> tuple[MetricRule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ConfigError(f"{field_path}: must be a list of {{name, min, max, severity}}")
    known = METRICS_BY_TASK[task]
    rules = []
    for index, item in enumerate(raw):
        item_path = f"{field_path}[{index}]"
        section = _mapping(item, item_path, required=True)
        name = _string(section.get("name"), f"{item_path}.name", required=True) or ""
        if name not in known:
            raise ConfigError(
                f"{item_path}.name: unknown metric {name!r} for task {task}; must be one of {', '.join(known)}"
            )
        minimum = None if section.get("min") is None else _number(section["min"], f"{item_path}.min")
        maximum = None if section.get("max") is None else _number(section["max"], f"{item_path}.max")
        if minimum is None and maximum is None:
            raise ConfigError(f"{item_path}: must set min or max")
        severity = _string(section.get("severity"), f"{item_path}.severity") or "warning"
        if severity not in SEVERITIES:
            raise ConfigError(f"{item_path}.severity: must be warning or critical, got {severity!r}")
        rules.append(MetricRule(name=name, minimum=minimum, maximum=maximum, severity=severity))
    return tuple(rules)


def _drift(raw: object, field_path: str) -> DriftConfig:
    section = _mapping(raw, field_path)
    defaults = DriftConfig()
    tests = _strings(section.get("tests"), f"{field_path}.tests") or defaults.tests
    for index, test in enumerate(tests):
        if test not in DRIFT_TESTS:
            raise ConfigError(
                f"{field_path}.tests[{index}]: unknown test {test!r}; must be one of {', '.join(DRIFT_TESTS)}"
            )
    psi = _mapping(section.get("psi"), f"{field_path}.psi")
    psi_warning = (
        defaults.psi_warning
        if psi.get("warning") is None
        else _number(psi["warning"], f"{field_path}.psi.warning", low=0.0)
    )
    psi_critical = (
        defaults.psi_critical
        if psi.get("critical") is None
        else _number(psi["critical"], f"{field_path}.psi.critical", low=0.0)
    )
    if psi_critical < psi_warning:
        raise ConfigError(f"{field_path}.psi.critical: must not be below {field_path}.psi.warning")
    severity = _string(section.get("severity"), f"{field_path}.severity") or defaults.severity
    if severity not in SEVERITIES:
        raise ConfigError(f"{field_path}.severity: must be warning or critical, got {severity!r}")
    correction = (_string(section.get("correction"), f"{field_path}.correction") or "none").lower()
    correction = correction.replace("-", "_")
    if correction not in CORRECTIONS:
        raise ConfigError(f"{field_path}.correction: must be one of {', '.join(CORRECTIONS)}, got {correction!r}")
    return DriftConfig(
        tests=tests,
        p_value=(
            defaults.p_value
            if section.get("pValue") is None
            else _number(section["pValue"], f"{field_path}.pValue", low=0.0, high=1.0)
        ),
        psi_warning=psi_warning,
        psi_critical=psi_critical,
        dataset_drift_share=(
            defaults.dataset_drift_share
            if section.get("datasetDriftShare") is None
            else _number(section["datasetDriftShare"], f"{field_path}.datasetDriftShare", low=0.0, high=1.0)
        ),
        severity=severity,
        correction=correction,
        min_sample_size=(
            defaults.min_sample_size
            if section.get("minSampleSize") is None
            else int(_number(section["minSampleSize"], f"{field_path}.minSampleSize", low=1))
        ),
        wasserstein=_effect_threshold(section.get("wasserstein"), f"{field_path}.wasserstein", defaults.wasserstein),
        jensen_shannon=_effect_threshold(
            section.get("jensenShannon"), f"{field_path}.jensenShannon", defaults.jensen_shannon
        ),
        features=_strings(section.get("features"), f"{field_path}.features"),
        raw=dict(section),
    )


def _effect_threshold(raw: object, field_path: str, default: float) -> float:
    """The level at which an effect size counts as drift: ``{warning, critical}`` -> its warning level."""
    if raw is None:
        return default
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return _number(raw, field_path, low=0.0)
    section = _mapping(raw, field_path)
    if section.get("warning") is None:
        return default
    return _number(section["warning"], f"{field_path}.warning", low=0.0)


def parse_config(document: object) -> EvaluationConfig:
    """Turn the mounted config document into an :class:`EvaluationConfig`, naming the first bad field."""
    root = _mapping(document, "config", required=True)
    monitor = _mapping(root.get("monitor"), "monitor")
    spec = _mapping(root.get("spec"), "spec", required=True)
    model = _mapping(spec.get("model"), "spec.model", required=True)
    task = _string(model.get("task"), "spec.model.task") or "binary-classification"
    if task not in TASKS:
        raise ConfigError(f"spec.model.task: must be one of {', '.join(TASKS)}, got {task!r}")
    data = _mapping(spec.get("data"), "spec.data", required=True)
    columns = _columns(data.get("columns"), "spec.data.columns")
    output = _mapping(root.get("output"), "output")
    spec_output = _mapping(spec.get("output"), "spec.output")
    output_uri = _string(output.get("uri"), "output.uri") or _string(spec_output.get("uri"), "spec.output.uri")
    if output_uri is not None:
        _check_uri(output_uri, "output.uri")
    name = _string(monitor.get("name"), "monitor.name") or _string(model.get("name"), "spec.model.name") or "model"
    return EvaluationConfig(
        namespace=_string(monitor.get("namespace"), "monitor.namespace") or "default",
        name=name,
        model_name=_string(model.get("name"), "spec.model.name") or name,
        model_version=_string(model.get("version"), "spec.model.version"),
        task=task,
        reference=_data_source(data.get("reference"), "spec.data.reference", windowed=False),
        current=_data_source(data.get("current"), "spec.data.current", windowed=True),
        labels=_label_source(data.get("labels"), "spec.data.labels", columns.target),
        columns=columns,
        metrics=_metric_rules(spec.get("metrics"), "spec.metrics", task),
        drift=_drift(spec.get("drift"), "spec.drift"),
        output_uri=output_uri,
    )


def load_config_file(path: str) -> dict[str, Any]:
    """Read a JSON or YAML config file; a missing or malformed file is a configuration error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path!r} does not exist", reason="ConfigFileMissing") from None
    except OSError as error:
        raise ConfigError(
            f"config file {path!r} cannot be read: {error.strerror}", reason="ConfigFileUnreadable"
        ) from None
    try:
        document = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"config file {path!r} is not valid JSON/YAML: {error}", reason="ConfigFileInvalid") from None
    if not isinstance(document, dict):
        raise ConfigError(f"config file {path!r}: must hold an object at the top level", reason="ConfigFileInvalid")
    return document
