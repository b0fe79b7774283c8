"""The config parser refuses what the CRD would refuse, naming the field, and fills documented defaults."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from modelmonitor.evaluator.config import load_config_file, parse_config, parse_duration
from modelmonitor.evaluator.errors import EXIT_CONFIG_ERROR, ConfigError

VALID: dict[str, Any] = {
    "apiVersion": "modelmonitor.io/v1alpha1",
    "monitor": {"namespace": "risk", "name": "credit-scoring", "uid": "u-1"},
    "spec": {
        "model": {"name": "credit-scoring", "version": 7, "task": "binary-classification"},
        "data": {
            "reference": {"uri": "s3://ml/credit/train/", "format": "parquet"},
            "current": {"uri": "s3://ml/credit/prod/", "window": "24h", "timestampColumn": "ts"},
            "labels": {"uri": "s3://ml/credit/labels/", "joinOn": "request_id", "delay": "2d", "minCoverage": 0.5},
            "columns": {
                "target": "label",
                "prediction": "pred",
                "score": "proba",
                "categorical": ["region"],
                "exclude": ["request_id"],
            },
        },
        "metrics": [{"name": "accuracy", "min": 0.9, "severity": "critical"}, {"name": "log_loss", "max": 0.45}],
        "drift": {
            "tests": ["ks", "chi2", "psi"],
            "pValue": 0.01,
            "psi": {"warning": 0.1, "critical": 0.3},
            "datasetDriftShare": 0.3,
        },
    },
    "output": {"uri": "s3://results/credit/"},
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    node: Any = document
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is _DELETE:
        del node[keys[-1]]
    elif isinstance(node, list):
        node[int(keys[-1])] = value
    else:
        node[keys[-1]] = value
    return document


_DELETE = object()


def test_a_full_config_parses_into_typed_fields() -> None:
    config = parse_config(VALID)
    assert config.namespace == "risk" and config.name == "credit-scoring"
    assert config.model_version == "7"
    assert config.current.window == timedelta(hours=24)
    assert config.current.timestamp_column == "ts"
    assert config.current.format is None  # a prefix: the files' suffixes decide
    assert config.labels is not None
    assert config.labels.column == "label"
    assert config.labels.delay == timedelta(days=2)
    assert config.labels.min_coverage == 0.5
    assert config.columns.categorical == ("region",)
    assert [rule.severity for rule in config.metrics] == ["critical", "warning"]
    assert config.metrics[1].maximum == 0.45
    assert config.drift.p_value == 0.01 and config.drift.psi_critical == 0.3
    assert config.output_uri == "s3://results/credit/"


def test_defaults_when_sections_are_absent() -> None:
    document = with_change("spec.drift", _DELETE)
    document["spec"].pop("metrics")
    document["spec"]["data"]["reference"] = {"uri": "/data/reference.csv"}
    config = parse_config(document)
    assert config.reference.format == "csv"
    assert config.drift.tests == ("ks", "chi2", "psi")
    assert config.drift.p_value == 0.05
    assert config.drift.dataset_drift_share == 0.5
    assert config.metrics == ()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("spec.data.current.uri", "http://example.com/x", "spec.data.current.uri: must be an s3:// URI or a path"),
        ("spec.data.current.uri", "s3:///no-bucket", "spec.data.current.uri: must name a bucket"),
        ("spec.data.reference", _DELETE, "spec.data.reference: must be an object"),
        ("spec.data.current.format", "xlsx", "spec.data.current.format: must be one of parquet, csv, jsonl"),
        ("spec.data.current.window", "soon", "spec.data.current.window: must be a duration"),
        ("spec.data.labels.joinOn", _DELETE, "spec.data.labels.joinOn: is required"),
        ("spec.data.labels.minCoverage", 1.5, "spec.data.labels.minCoverage: must be between"),
        ("spec.data.columns.categorical", "region", "spec.data.columns.categorical: must be a list of strings"),
        ("spec.metrics.0.name", "accuracy_macro", "spec.metrics[0].name: unknown metric 'accuracy_macro'"),
        ("spec.metrics.1.severity", "fatal", "spec.metrics[1].severity: must be warning or critical"),
        ("spec.metrics.1.max", "high", "spec.metrics[1].max: must be a number, got string"),
        ("spec.drift.tests", ["ks", "magic"], "spec.drift.tests[1]: unknown test 'magic'"),
        ("spec.drift.psi", {"warning": 0.3, "critical": 0.1}, "spec.drift.psi.critical: must not be below"),
        ("spec.drift.pValue", 2, "spec.drift.pValue: must be between"),
        ("spec.model.task", "ranking", "spec.model.task: must be one of"),
        ("output.uri", "ftp://x/y", "output.uri: must be an s3:// URI or a path"),
    ],
)
def test_a_bad_field_is_named(path: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(with_change(path, value))
    assert message in caught.value.message
    assert caught.value.exit_code == EXIT_CONFIG_ERROR


def test_a_window_without_a_timestamp_column_selects_every_row() -> None:
    config = parse_config(with_change("spec.data.current.timestampColumn", _DELETE))
    assert config.current.window is None and config.current.timestamp_column is None


def test_a_metric_of_another_task_is_refused() -> None:
    document = with_change("spec.model.task", "regression")
    with pytest.raises(ConfigError, match=r"spec.metrics\[0\].name: unknown metric 'accuracy' for task regression"):
        parse_config(document)


@pytest.mark.parametrize(
    ("text", "seconds"), [("24h", 86400), ("1h30m", 5400), ("7d", 604800), ("90s", 90), (3600, 3600)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text, "field").total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "h", "24x", "-1h", "1h 30m", True, 0])
def test_bad_durations_name_the_field(text: object) -> None:
    with pytest.raises(ConfigError, match=r"my\.field: must"):
        parse_duration(text, "my.field")


def test_config_files_json_and_yaml(tmp_path: Path) -> None:
    json_file = tmp_path / "config.json"
    json_file.write_text(json.dumps(VALID))
    yaml_file = tmp_path / "config.yaml"
    yaml_file.write_text("spec:\n  model: {name: m, task: regression}\n")
    assert load_config_file(str(json_file))["monitor"]["name"] == "credit-scoring"
    assert load_config_file(str(yaml_file))["spec"]["model"]["task"] == "regression"


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "ConfigFileMissing"), ("{not json", "ConfigFileInvalid"), ("[1]", "ConfigFileInvalid")],
)
def test_bad_config_files(tmp_path: Path, content: str | None, reason: str) -> None:
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_config_file(str(path))
    assert caught.value.reason == reason
    assert str(path) in caught.value.message
