"""The evaluator's input: the config document (docs/contracts.md §1) read into a ``MonitorSpec`` by ``parse_spec``.

The spec is read by ``modelmonitor.api.parse_spec``, the one reader (and the one place defaults live) that
the operator uses too; this module adds only what is the evaluator's own:

- the envelope of the mounted document (``monitor`` identity, ``output.uri``), which the operator writes;
- local use: data and output may be local paths (the CRD only allows ``s3://`` URIs), and a local file's
  format may be implied by its suffix when the document does not declare one;
- refusals of rules that can never be computed (``api.metrics.unmeasurable_rules``).

A document without the ``spec:`` wrapper, with an unknown key anywhere or a bad value is a configuration error
naming the field, never a traceback.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from modelmonitor.api import MonitorSpec, SpecError, parse_spec
from modelmonitor.api.metrics import unmeasurable_rules
from modelmonitor.evaluator.errors import ConfigError

__all__ = [
    "DOCUMENT_KEYS",
    "EvaluationInput",
    "format_of_path",
    "load_config_file",
    "read_config_document",
]

#: Top-level keys of the mounted config document.
DOCUMENT_KEYS = ("apiVersion", "monitor", "spec", "output")
_MONITOR_KEYS = ("namespace", "name", "uid")
#: Stands in for a local path while the spec is checked (the CRD's URI pattern allows only s3:// URIs).
_LOCAL_PLACEHOLDER = "s3://local-path/"
_DATA_SECTIONS = ("reference", "current", "labels")

_EXTENSION_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def format_of_path(path: str) -> str | None:
    """The format a file name implies (``None`` when its suffix says nothing: a prefix, say)."""
    return _EXTENSION_FORMATS.get(Path(path.rstrip("/")).suffix.lower())


def _local_format(path: str) -> str | None:
    """The format of a local file, or of the first file with a known suffix in a local folder."""
    implied = format_of_path(path)
    if implied is not None or not os.path.isdir(path):
        return implied
    for _root, _folders, files in os.walk(path):
        for name in sorted(files):
            implied = format_of_path(name)
            if implied is not None:
                return implied
    return None


def _is_local(uri: object) -> bool:
    return isinstance(uri, str) and bool(uri) and "://" not in uri


@dataclass(frozen=True)
class EvaluationInput:
    """The typed spec and what the evaluator adds to it: the monitor's identity, output and local paths."""

    spec: MonitorSpec
    namespace: str
    name: str
    output_uri: str | None = None
    local_paths: Mapping[str, str] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.spec.model.task

    @property
    def reference_uri(self) -> str:
        return self.local_paths.get("reference", self.spec.data.reference.uri)

    @property
    def current_uri(self) -> str:
        return self.local_paths.get("current", self.spec.data.current.uri)

    @property
    def labels_uri(self) -> str | None:
        labels = self.spec.data.labels
        return None if labels is None else self.local_paths.get("labels", labels.uri)

    @property
    def window(self) -> timedelta | None:
        """The current data's window; none without a timestamp column (the CRD: every row is in the window)."""
        current = self.spec.data.current
        return current.window if current.timestamp_column is not None else None

    @property
    def label_column(self) -> str | None:
        """The ground-truth column, in the current data or (with ``spec.data.labels``) in the labels."""
        return self.spec.data.columns.target


def _refuse(error: SpecError) -> ConfigError:
    return ConfigError(str(error))


def read_config_document(document: Mapping[str, Any]) -> EvaluationInput:
    """The config document as an :class:`EvaluationInput`; a ``ConfigError`` names the first bad field."""
    if not isinstance(document, Mapping):
        raise ConfigError("config: must be an object with a spec", reason="ConfigFileInvalid")
    unknown = [str(key) for key in document if key not in DOCUMENT_KEYS]
    if "spec" not in document:
        hint = (
            " (the document looks like a bare spec: put it under a top-level `spec:` key)"
            if {"model", "data"} & set(map(str, document))
            else ""
        )
        raise ConfigError(f"spec: must be set at the top level of the config document{hint}")
    if unknown:
        raise ConfigError(
            f"{unknown[0]}: is not a key of the config document (known: {', '.join(DOCUMENT_KEYS)})",
        )
    raw_spec = copy.deepcopy(document["spec"])
    if not isinstance(raw_spec, dict):
        raise ConfigError("spec: must be an object")
    monitor = _mapping(document.get("monitor"), "monitor")
    for key in monitor:
        if key not in _MONITOR_KEYS:
            raise ConfigError(f"monitor.{key}: is not a key of monitor (known: {', '.join(_MONITOR_KEYS)})")
    output = _mapping(document.get("output"), "output")
    for key in output:
        if key != "uri":
            raise ConfigError(f"output.{key}: is not a key of output (known: uri)")
    local_paths = _take_local_paths(raw_spec)
    try:
        spec = parse_spec(raw_spec)
    except SpecError as error:
        raise _refuse(error) from None
    problems = unmeasurable_rules(spec)
    if problems:
        raise _refuse(problems[0])
    output_uri = _string(output.get("uri"), "output.uri")
    if output_uri is None and spec.output is not None:
        output_uri = local_paths.get("output", spec.output.uri)
    if output_uri is not None and "://" in output_uri and not output_uri.startswith("s3://"):
        raise ConfigError(f"output.uri: must be an s3:// URI or a path, not {output_uri!r}")
    return EvaluationInput(
        spec=spec,
        namespace=_string(monitor.get("namespace"), "monitor.namespace") or "default",
        name=_string(monitor.get("name"), "monitor.name") or spec.model.name,
        output_uri=output_uri,
        local_paths=local_paths,
    )


def _take_local_paths(raw_spec: dict[str, Any]) -> dict[str, str]:
    """Replace local paths in ``raw_spec`` by a placeholder URI (in place); returns them by section.

    A local data file without a declared format gets the format its suffix (or its folder's files) implies;
    the CRD's default (parquet) applies to everything else.
    """
    local: dict[str, str] = {}
    data = raw_spec.get("data")
    if isinstance(data, dict):
        for section_name in _DATA_SECTIONS:
            section = data.get(section_name)
            if isinstance(section, dict) and _is_local(section.get("uri")):
                path = str(section["uri"])
                local[section_name] = path
                section["uri"] = _LOCAL_PLACEHOLDER + section_name
                if "format" not in section and (implied := _local_format(path)) is not None:
                    section["format"] = implied
    output = raw_spec.get("output")
    if isinstance(output, dict) and _is_local(output.get("uri")):
        local["output"] = str(output["uri"])
        output["uri"] = _LOCAL_PLACEHOLDER + "output"
    return local


def _mapping(value: object, field_path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{field_path}: must be an object")
    return value


def _string(value: object, field_path: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{field_path}: must be a string, not {value!r}")
    return value


def load_config_file(path: str) -> dict[str, Any]:
    """Read a JSON or YAML config file; a missing or malformed file is a configuration error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path!r} does not exist", reason="ConfigFileMissing") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"config file {path!r} is not UTF-8 text (byte {error.start})", reason="ConfigFileInvalid"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"config file {path!r} cannot be read: {error.strerror}", reason="ConfigFileUnreadable"
        ) from None
    try:
        document = json.loads(text) if path.endswith(".json") else _yaml_document(text)
    except ValueError as error:  # json.JSONDecodeError, or the YAML error re-raised by _yaml_document
        raise ConfigError(f"config file {path!r} is not valid JSON/YAML: {error}", reason="ConfigFileInvalid") from None
    if not isinstance(document, dict):
        raise ConfigError(f"config file {path!r}: must hold an object at the top level", reason="ConfigFileInvalid")
    return document


def _yaml_document(text: str) -> Any:
    """PyYAML, imported only for a YAML config (the operator's Job mounts ``config.json``; ~0.01 CPU s)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from None
