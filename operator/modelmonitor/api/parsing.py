"""Reading a spec dict into the typed model, checked against the CRD schema.

The API server already applied the schema's defaults and rules to every monitor the operator sees; this reader
exists so that code never handles raw dicts, and so that a config file that never passed the API server (a
local ``modelmonitor evaluate --config``) is checked exactly as ``kubectl apply`` checks a monitor: types,
enums, ranges, lengths, patterns, required fields, and then every CEL rule of the schema on the defaulted spec
(``rules.py``). Two checks are stricter than the API server's only where it cannot be reached: an unknown key
is an error (``kubectl apply`` refuses one too; the answer names the closest known key, as in "did you mean
metrics?"), and so is a NaN or infinite number (JSON, the API server's input, cannot even write one).

The reader is generic: it walks a dataclass of ``model.py`` and its schema node side by side, so a field added
to one and not the other fails loudly (and the unit tests check both trees are the same).
"""

from __future__ import annotations

import collections
import dataclasses
import difflib
import functools
import json
import math
import re
import threading
import types
import typing
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from modelmonitor.api.durations import format_duration, parse_duration
from modelmonitor.api.errors import SpecError
from modelmonitor.api.model import MonitorSpec
from modelmonitor.api.rules import check_rules, defaulted
from modelmonitor.api.schema import Schema, spec_schema

__all__ = [
    "MANIFEST_KEYS",
    "dump_spec",
    "json_name",
    "parse_monitor",
    "parse_part",
    "parse_spec",
    "parse_value",
    "schema_at",
    "unknown_key_error",
]

T = TypeVar("T")


def json_name(spec_field: dataclasses.Field[Any]) -> str:
    """The field's name in the spec: ``metadata["json"]`` or the camelCase of the Python name."""
    explicit = spec_field.metadata.get("json")
    if explicit:
        return str(explicit)
    head, *rest = spec_field.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@functools.cache
def _spec_schema() -> Schema:
    return spec_schema()


_TYPE_HINTS: dict[type, dict[str, Any]] = {}


def _type_hints(cls: type) -> dict[str, Any]:
    if cls not in _TYPE_HINTS:
        _TYPE_HINTS[cls] = typing.get_type_hints(cls)
    return _TYPE_HINTS[cls]


def parse_spec(data: Mapping[str, Any]) -> MonitorSpec:
    """The typed spec of a ModelMonitor (``data`` is its ``spec``); ``SpecError`` names the first bad field.

    The only reader of a spec: the operator, the evaluator, the alert and the rollback policies all take the
    ``MonitorSpec`` it returns. It refuses what the API server refuses (the schema and its CEL rules).
    """
    if isinstance(data, Mapping) and "spec" in data and "model" not in data:
        raise SpecError("spec.spec", "the spec's fields (model, data, metrics, ...) go directly under spec:")
    spec: MonitorSpec = parse_value(MonitorSpec, data, _spec_schema(), "spec")
    _check_rules_once(data)
    return spec


_RULES_HELD: collections.OrderedDict[str, None] = collections.OrderedDict()  # specs (canonical JSON) that passed
_RULES_HELD_SIZE = 1024
_RULES_HELD_LOCK = threading.Lock()


def _check_rules_once(data: Mapping[str, Any]) -> None:
    """The CEL rules of a spec, skipped for a spec (same JSON) whose rules held before. Evaluating them is most
    of parse_spec's time (2 of 2.2 ms for the bench's spec), and the operator parses the same monitor's spec
    several times per evaluation (bench/operator_load). Only successes are remembered, bounded (least recently
    used goes)."""
    try:
        key: str | None = json.dumps(data, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):  # not JSON (a YAML datetime, NaN): always checked
        key = None
    if key is not None:
        with _RULES_HELD_LOCK:
            if key in _RULES_HELD:
                _RULES_HELD.move_to_end(key)
                return
    check_rules(defaulted(data, _spec_schema()), _spec_schema(), "spec")
    if key is not None:
        with _RULES_HELD_LOCK:
            _RULES_HELD[key] = None
            while len(_RULES_HELD) > _RULES_HELD_SIZE:
                _RULES_HELD.popitem(last=False)


#: Top-level keys of a ModelMonitor manifest.
MANIFEST_KEYS = ("apiVersion", "kind", "metadata", "spec", "status")


def parse_monitor(document: Mapping[str, Any], known: Iterable[str] = MANIFEST_KEYS) -> MonitorSpec:
    """The typed spec of a document holding a spec under ``spec:`` (a ModelMonitor manifest, a config file).

    ``known`` are the document's top-level keys; any other is an error, and a spec field found at the top
    (``model:``, ``data:``, ... without the ``spec:`` wrapper) is named as such instead of being dropped.
    """
    if not isinstance(document, Mapping):
        raise SpecError("document", f"must be an object, not {document!r}")
    allowed = tuple(known)
    spec_fields = {json_name(spec_field) for spec_field in dataclasses.fields(MonitorSpec)}
    for key in document:
        if key in allowed:
            continue
        if key in spec_fields:
            misplaced = ", ".join(sorted(str(name) for name in document if name in spec_fields))
            raise SpecError(str(key), f"is a field of the spec, not of the document: put {misplaced} under spec:")
        raise SpecError(str(key), f"is not a top-level key; {_closest(key, allowed)}")
    if document.get("spec") is None:
        raise SpecError("spec", "must be set (the monitor's spec: model, data, metrics, ...)")
    return parse_spec(document["spec"])


def parse_part(cls: type[T], data: Any, path: str) -> T:
    """One part of a spec (``parse_part(RollbackSpec, {...}, "spec.rollback")``), checked against its schema node.

    For tests and tools that hold a part, not a whole spec: the structural checks and defaults are those of
    ``parse_spec``; the CEL rules, which may look at the rest of the spec, are left to ``parse_spec``.
    """
    parsed: T = parse_value(cls, data, schema_at(path), path)
    return parsed


def schema_at(path: str) -> Schema:
    """The schema node of a spec path: ``spec.alerts.channels[0]`` (or ``[]``) is one channel's."""
    schema = _spec_schema()
    for part in path.removeprefix("spec").split("."):
        if not part:
            continue
        name, _, rest = part.partition("[")
        schema = schema["properties"][name]
        if rest:
            schema = schema["items"]
    return schema


def unknown_key_error(path: str, key: str, known: Iterable[str]) -> SpecError:
    """The error for ``key`` under ``path`` that is none of ``known``, naming the closest known key."""
    return SpecError(f"{path}.{key}", f"is not a field of {path}; {_closest(key, known)}")


def _closest(key: Any, known: Iterable[str]) -> str:
    """The hint "did you mean metrics?" for the known name closest to ``key`` (case aside), else the known names."""
    names = sorted(known)
    by_folded = {name.lower(): name for name in names}
    close = difflib.get_close_matches(str(key).lower(), list(by_folded), n=1, cutoff=0.6)
    if close:
        return f"did you mean {by_folded[close[0]]}?"
    return f"known: {', '.join(names)}"


def parse_value(hint: Any, value: Any, schema: Schema, path: str) -> Any:
    """Converts ``value`` to the type ``hint``, checking it against ``schema``; ``path`` names it in errors."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        if value is None:
            if len(options) < len(typing.get_args(hint)):
                return None
            raise SpecError(path, "must be set")
        if len(options) == 1:
            return parse_value(options[0], value, schema, path)
        for option in options:  # unions of scalars, e.g. a quantity `str | int`
            if _is_scalar_of(option, value):
                return parse_value(option, value, schema, path)
        raise SpecError(path, f"must be a {' or '.join(_type_word(option) for option in options)}")
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise SpecError(path, f"must be one of {', '.join(map(str, allowed))}, not {value!r}")
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _parse_object(hint, value, schema, path)
    if origin is list:
        return _parse_list(typing.get_args(hint)[0], value, schema, path)
    if origin is dict:
        return _parse_map(typing.get_args(hint)[1], value, schema, path)
    if hint is timedelta:
        _check_string(value, schema, path)
        return parse_duration(value, path)
    if hint is datetime:
        return _parse_time(value, schema, path)
    if hint is bool:
        if not isinstance(value, bool):
            raise SpecError(path, f"must be true or false, not {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(path, f"must be an integer, not {value!r}")
        _check_range(value, schema, path)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(path, f"must be a number, not {value!r}")
        if not math.isfinite(value):
            raise SpecError(path, f"must be a finite number, not {value!r}")
        _check_range(value, schema, path)
        return float(value)
    if hint is str:
        _check_string(value, schema, path)
        return value
    raise TypeError(f"{path}: the spec reader does not know the type {hint!r}")


def _is_scalar_of(hint: Any, value: Any) -> bool:
    if hint is int or hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(hint, type) and isinstance(value, hint)


def _type_word(hint: Any) -> str:
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(hint, str(hint))


def _parse_object(cls: type[T], value: Any, schema: Schema, path: str) -> T:
    if not isinstance(value, Mapping):
        raise SpecError(path, f"must be an object, not {value!r}")
    properties: Mapping[str, Schema] = schema.get("properties", {})
    fields = {json_name(spec_field): spec_field for spec_field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in value:
        if key not in fields:
            raise unknown_key_error(path, key, fields)
    hints = _type_hints(cls)
    arguments: dict[str, Any] = {}
    for name, spec_field in fields.items():
        field_path = f"{path}.{name}"
        if name in value and value[name] is not None:
            arguments[spec_field.name] = parse_value(hints[spec_field.name], value[name], properties[name], field_path)
        elif spec_field.default is dataclasses.MISSING and spec_field.default_factory is dataclasses.MISSING:
            raise SpecError(field_path, "must be set")
    return cls(**arguments)


def _parse_list(item_hint: Any, value: Any, schema: Schema, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise SpecError(path, f"must be a list, not {value!r}")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise SpecError(path, f"must have at most {schema['maxItems']} items")
    if "minItems" in schema and len(value) < schema["minItems"]:
        raise SpecError(path, f"must have at least {schema['minItems']} items")
    items = [parse_value(item_hint, item, schema["items"], f"{path}[{index}]") for index, item in enumerate(value)]
    list_type = schema.get("x-kubernetes-list-type")
    keys = schema.get("x-kubernetes-list-map-keys", [])
    identities = [tuple(raw.get(key) for key in keys) if list_type == "map" else repr(raw) for raw in value]
    if list_type in ("set", "map"):
        for index, identity in enumerate(identities):
            if identity in identities[:index]:
                raise SpecError(f"{path}[{index}]", f"must be unique in {path}, duplicate {identity!r}")
    return items


def _parse_map(value_hint: Any, value: Any, schema: Schema, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(path, f"must be an object, not {value!r}")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        raise SpecError(path, f"must have at most {schema['maxProperties']} entries")
    values_schema: Schema = schema.get("additionalProperties", {})
    return {str(key): parse_value(value_hint, item, values_schema, f"{path}.{key}") for key, item in value.items()}


def _check_string(value: Any, schema: Schema, path: str) -> None:
    if not isinstance(value, str):
        raise SpecError(path, f"must be a string, not {value!r}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise SpecError(path, f"must be at most {schema['maxLength']} characters")
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise SpecError(path, f"must be at least {schema['minLength']} characters")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        raise SpecError(path, f"must match {schema['pattern']}, not {value!r}")


def _check_range(value: float, schema: Schema, path: str) -> None:
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if minimum is not None:
        if schema.get("exclusiveMinimum") and value <= minimum:
            raise SpecError(path, f"must be greater than {minimum}")
        if value < minimum:
            raise SpecError(path, f"must be at least {minimum}")
    if maximum is not None:
        if schema.get("exclusiveMaximum") and value >= maximum:
            raise SpecError(path, f"must be less than {maximum}")
        if value > maximum:
            raise SpecError(path, f"must be at most {maximum}")


def _parse_time(value: Any, schema: Schema, path: str) -> datetime:
    if isinstance(value, datetime):  # YAML loaders turn unquoted timestamps into datetimes
        parsed = value
    else:
        _check_string(value, schema, path)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise SpecError(path, f"must be an RFC 3339 time such as 2026-01-31T12:00:00Z, not {value!r}") from None
    if parsed.tzinfo is None:
        raise SpecError(path, "must be an RFC 3339 time with a time zone (e.g. ending in Z)")
    return parsed


def dump_spec(spec: MonitorSpec) -> dict[str, Any]:
    """The spec dict of a typed spec, the inverse of ``parse_spec``; ``None`` and empty lists are omitted."""
    dumped = dump_value(spec)
    assert isinstance(dumped, dict)
    return dumped


def dump_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            json_name(spec_field): dump_value(getattr(value, spec_field.name))
            for spec_field in dataclasses.fields(value)
            if getattr(value, spec_field.name) not in (None, [], {})
        }
    if isinstance(value, list):
        return [dump_value(item) for item in value]
    if isinstance(value, dict):
        return {key: dump_value(item) for key, item in value.items()}
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value
