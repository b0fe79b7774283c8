"""The evaluator reads its config with ``api.parse_spec``: the operator's ConfigMap round-trips, bad input is named.

Every refusal is a ``ConfigError`` (exit code 2) whose message names the field; none is a traceback.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from modelmonitor.api import parse_spec
from modelmonitor.evaluator.errors import EXIT_CONFIG_ERROR, ConfigError
from modelmonitor.evaluator.inputs import load_config_file, read_config_document
from modelmonitor.manifests import build_config_map
from modelmonitor.manifests.config_map import CONFIG_KEY
from tests.unit.manifests.builders import sample_monitor

VALID: dict[str, Any] = {
    "apiVersion": "modelmonitor.io/v1alpha1",
    "monitor": {"namespace": "risk", "name": "credit-scoring", "uid": "u-1"},
    "spec": {
        "model": {"name": "credit-scoring", "version": "7", "task": "binary-classification"},
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
        "drift": {"tests": ["ks", "chi2", "psi"], "pValue": 0.01, "psi": {"warning": 0.1, "critical": 0.3}},
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


@pytest.mark.parametrize(
    "fixture", ["valid-binary-classification.yaml", "valid-drift-only.yaml", "valid-regression.yaml"]
)
def test_the_config_map_the_operator_writes_gives_the_evaluator_the_same_spec(fixture: str) -> None:
    monitor = sample_monitor(fixture)
    spec = parse_spec(monitor["spec"])
    config_map = build_config_map(monitor, spec)
    document = json.loads(config_map["data"][CONFIG_KEY])
    evaluation = read_config_document(document)
    assert evaluation.spec == spec
    assert (evaluation.namespace, evaluation.name) == ("risk", monitor["metadata"]["name"])
    assert evaluation.output_uri == (spec.output.uri if spec.output is not None else None)


def test_a_full_config_reads_into_the_typed_spec() -> None:
    evaluation = read_config_document(VALID)
    spec = evaluation.spec
    assert evaluation.namespace == "risk" and evaluation.name == "credit-scoring"
    assert spec.model.version == "7"
    assert evaluation.window == timedelta(hours=24)
    assert spec.data.labels is not None and spec.data.labels.delay == timedelta(days=2)
    assert evaluation.label_column == "label"
    assert [rule.severity for rule in spec.metrics] == ["critical", "warning"]
    assert spec.drift is not None and spec.drift.p_value == 0.01 and spec.drift.psi.critical == 0.3
    assert evaluation.output_uri == "s3://results/credit/"


def test_defaults_come_from_the_api_and_absent_drift_means_no_drift_tests() -> None:
    document = with_change("spec.drift", _DELETE)
    evaluation = read_config_document(document)
    assert evaluation.spec.drift is None
    document = with_change("spec.drift", {})
    drift = read_config_document(document).spec.drift
    assert drift is not None
    assert (drift.tests, drift.min_sample_size, drift.dataset_drift_share) == (["ks", "chi2", "psi"], 30, 0.5)


def test_a_window_without_a_timestamp_column_selects_every_row() -> None:
    evaluation = read_config_document(with_change("spec.data.current.timestampColumn", _DELETE))
    assert evaluation.window is None


def test_local_paths_are_read_and_their_format_implied(tmp_path: Path) -> None:
    folder = tmp_path / "current"
    folder.mkdir()
    (folder / "part-0.csv").write_text("a\n1\n")
    document = with_change("spec.data.reference", {"uri": str(tmp_path / "reference.jsonl")})
    document["spec"]["data"]["current"] = {"uri": str(folder) + "/"}
    evaluation = read_config_document(document)
    assert evaluation.reference_uri == str(tmp_path / "reference.jsonl")
    assert evaluation.spec.data.reference.format == "jsonl"
    assert evaluation.current_uri == str(folder) + "/"
    assert evaluation.spec.data.current.format == "csv"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("spec.data.current.uri", "http://example.com/x", "spec.data.current.uri: must match"),
        ("spec.data.reference", _DELETE, "spec.data.reference: must be set"),
        ("spec.data.current.format", "xlsx", "spec.data.current.format: must be one of parquet, csv, jsonl"),
        ("spec.data.current.window", "soon", "spec.data.current.window: must be a duration"),
        ("spec.data.labels.joinOn", _DELETE, "spec.data.labels.joinOn: must be set"),
        ("spec.data.labels.minCoverage", 1.5, "spec.data.labels.minCoverage: must be at most 1"),
        ("spec.data.columns.categorical", "region", "spec.data.columns.categorical: must be a list"),
        ("spec.metrics.0.name", "accuracy_macro", "spec.metrics[0].name: must be one of"),
        ("spec.metrics.1.severity", "fatal", "spec.metrics[1].severity: must be one of"),
        ("spec.metrics.1.max", "high", "spec.metrics[1].max: must be a number"),
        ("spec.drift.tests", ["ks", "magic"], "spec.drift.tests[1]: must be one of"),
        ("spec.drift.pValue", 2, "spec.drift.pValue: must be less than 1"),
        ("spec.model.task", "ranking", "spec.model.task: must be one of"),
        ("spec.model.version", 7, "spec.model.version: must be a string"),
        ("output.uri", "ftp://x/y", "output.uri: must be an s3:// URI or a path"),
    ],
)
def test_a_bad_field_is_named(path: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_config_document(with_change(path, value))
    assert message in caught.value.message
    assert caught.value.exit_code == EXIT_CONFIG_ERROR


@pytest.mark.parametrize(
    ("path", "key", "named"),
    [
        ("spec", "metrcs", "spec.metrcs"),
        ("spec.drift", "pvalue", "spec.drift.pvalue"),
        ("spec.data.columns", "traget", "spec.data.columns.traget"),
    ],
)
def test_a_misspelled_key_is_refused_naming_it(path: str, key: str, named: str) -> None:
    document = copy.deepcopy(VALID)
    node: Any = document
    for part in path.split("."):
        node = node[part]
    node[key] = 1
    with pytest.raises(ConfigError) as caught:
        read_config_document(document)
    assert caught.value.message.startswith(named)


def test_a_config_without_the_spec_wrapper_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigError, match=r"spec: must be set .*put it under a top-level `spec:` key"):
        read_config_document(dict(VALID["spec"]))
    with pytest.raises(ConfigError, match=r"^monitr: is not a key of the config document"):
        read_config_document({**VALID, "monitr": {}})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "accuracy", "min": math.nan}, r"spec.metrics\[0\].min: must be a finite number"),
        ({"name": "accuracy", "max": math.inf}, r"spec.metrics\[0\].max: must be a finite number"),
        ({"name": "accuracy", "min": 0.9, "max": 0.5}, r"spec.metrics\[0\].min: .*must be less than or equal to max"),
        ({"name": "accuracy", "severity": "critical"}, r"spec.metrics\[0\].*must set min or max"),
    ],
)
def test_nan_and_inverted_thresholds_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read_config_document(with_change("spec.metrics.0", change))


def test_a_nan_threshold_written_in_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(VALID).replace('"max": 0.45', '"max": NaN'))
    with pytest.raises(ConfigError, match=r"spec.metrics\[1\].max: must be a finite number"):
        read_config_document(load_config_file(str(path)))


MULTICLASS_REFUSAL = r"spec.metrics: spec.metrics of a multiclass-classification model must not have precision"


@pytest.mark.parametrize(
    ("task", "metric", "score", "message"),
    [
        ("binary-classification", "roc_auc", None, "spec.data.columns.score must be set when spec.metrics has roc_auc"),
        ("binary-classification", "brier", None, "spec.data.columns.score must be set"),
        ("multiclass-classification", "precision", "proba", MULTICLASS_REFUSAL),
        ("multiclass-classification", "log_loss", "proba", MULTICLASS_REFUSAL),
        ("multiclass-classification", "roc_auc", "proba", MULTICLASS_REFUSAL),
    ],
)
def test_a_rule_that_can_never_be_computed_is_refused(task: str, metric: str, score: str | None, message: str) -> None:
    document = with_change("spec.model.task", task)
    document["spec"]["metrics"] = [{"name": metric, "min": 0.5}]
    if score is None:
        del document["spec"]["data"]["columns"]["score"]
    with pytest.raises(ConfigError, match=message):
        read_config_document(document)


def test_config_files_json_and_yaml(tmp_path: Path) -> None:
    json_file = tmp_path / "config.json"
    json_file.write_text(json.dumps(VALID))
    yaml_file = tmp_path / "config.yaml"
    yaml_file.write_text("spec:\n  model: {name: m, task: regression}\n")
    assert load_config_file(str(json_file))["monitor"]["name"] == "credit-scoring"
    assert load_config_file(str(yaml_file))["spec"]["model"]["task"] == "regression"


def test_a_malformed_yaml_config_file_is_a_config_error_naming_the_place(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("spec:\n  model: [unclosed\n")
    with pytest.raises(ConfigError, match=r"(?s)is not valid JSON/YAML: .*line 2, column 10") as caught:
        load_config_file(str(path))
    assert caught.value.reason == "ConfigFileInvalid"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "ConfigFileMissing"),
        (b"{not json", "ConfigFileInvalid"),
        (b"[1]", "ConfigFileInvalid"),
        (b'{"spec": "caf\xe9"}', "ConfigFileInvalid"),
    ],
)
def test_bad_config_files(tmp_path: Path, content: bytes | None, reason: str) -> None:
    path = tmp_path / "config.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config_file(str(path))
    assert caught.value.reason == reason
    assert str(path) in caught.value.message
