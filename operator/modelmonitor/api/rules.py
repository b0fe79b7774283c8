"""The CRD's CEL rules, evaluated in Python: a spec the API server refuses, ``parse_spec`` refuses too.

The cross-field rules of a ModelMonitor (min <= max, e-mail channels need ``to``, a rollback needs a target,
...) are CEL expressions in the schema (``x-kubernetes-validations``). Rewriting them in Python would give a
second copy that drifts from the first, so the expressions themselves are evaluated here with a CEL library
(``common-expression-language``, the Python bindings of the Rust CEL implementation: every rule of the schema
compiles with it, and it is fast enough to run on every reconcile). A unit test checks every rule compiles and
an integration test sends each rule's accepting and refusing example to the real API server and here.

What the API server does before it evaluates a rule, this module does too:

- nulls are dropped and the schema's defaults applied (``defaulted``), so ``self.versionFrom`` exists when
  the schema defaults it;
- values are typed as the schema says (a ``number`` is a double even when written ``1``).

An error names the field as the API server does: the node's path plus the rule's ``fieldPath``.
"""

from __future__ import annotations

import copy
import functools
import sys
import types
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from modelmonitor.api.errors import SpecError
from modelmonitor.api.schema import Schema

__all__ = ["check_rules", "defaulted", "schema_rules"]


def defaulted(value: Any, schema: Schema) -> Any:
    """A copy of ``value`` with nulls dropped and the schema's defaults applied, as the API server stores it."""
    if isinstance(value, Mapping):
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        values_schema = schema.get("additionalProperties")
        result: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            if key in properties:
                result[key] = defaulted(item, properties[key])
            elif isinstance(values_schema, dict):
                result[key] = defaulted(item, values_schema)
            else:
                result[key] = copy.deepcopy(item)
        for key, child in properties.items():
            if key not in result and "default" in child:
                result[key] = defaulted(copy.deepcopy(child["default"]), child)
        return result
    if isinstance(value, list):
        items = schema.get("items")
        return [defaulted(item, items) if isinstance(items, dict) else item for item in value]
    return value


def _cel_value(value: Any, schema: Schema) -> Any:
    """``value`` as CEL sees it: numbers typed by the schema (``number`` -> double, ``integer`` -> int)."""
    kind = schema.get("type")
    if isinstance(value, Mapping):
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        values_schema = schema.get("additionalProperties")
        fallback: Schema = values_schema if isinstance(values_schema, dict) else {}
        return {str(key): _cel_value(item, properties.get(key, fallback)) for key, item in value.items()}
    if isinstance(value, list):
        items = schema.get("items")
        return [_cel_value(item, items if isinstance(items, dict) else {}) for item in value]
    if isinstance(value, bool):
        return value
    if kind == "number" and isinstance(value, int | float):
        return float(value)
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime):  # YAML turns unquoted times into datetimes; the API server sees strings
        return value.isoformat().replace("+00:00", "Z")
    return value


@functools.cache
def _program(expression: str) -> Any:
    return _cel().compile(expression)


def _cel() -> Any:
    """The ``cel`` module, imported on first use, without its REPL.

    ``cel/__init__`` imports ``cel.cli``, an interactive shell (typer, rich, prompt_toolkit, pygments: 0.23 s
    of every evaluation Job's start-up, 0.05 s without), which nothing here uses. A stand-in is put in its
    place for the import and taken out after it, so a later ``import cel.cli`` would load the real one.
    """
    if "cel" not in sys.modules:
        stand_in = types.ModuleType("cel.cli")
        sys.modules.setdefault("cel.cli", stand_in)
        try:
            import cel
        finally:
            if sys.modules.get("cel.cli") is stand_in:
                del sys.modules["cel.cli"]
    import cel

    return cel


def schema_rules(schema: Schema, path: str = "spec") -> Iterator[tuple[str, Schema]]:
    """Every CEL rule of ``schema`` with the path of the node it is declared on (``spec.metrics[]``)."""
    for declared in schema.get("x-kubernetes-validations") or ():
        yield path, declared
    for name, child in (schema.get("properties") or {}).items():
        yield from schema_rules(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from schema_rules(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from schema_rules(schema["additionalProperties"], f"{path}.*")


def check_rules(value: Any, schema: Schema, path: str) -> None:
    """Evaluate every CEL rule of ``schema`` on ``value`` (already defaulted); ``SpecError`` for the first broken.

    Children are checked before their parent, so the error is about the most specific field; a node the API
    server would not evaluate (absent) is not evaluated here either.
    """
    if isinstance(value, Mapping):
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        values_schema = schema.get("additionalProperties")
        for key, item in value.items():
            child = properties.get(key, values_schema if isinstance(values_schema, dict) else None)
            if child is not None:
                check_rules(item, child, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            check_rules(item, schema["items"], f"{path}[{index}]")
    declared = schema.get("x-kubernetes-validations") or ()
    if not declared:
        return
    context = {"self": _cel_value(value, schema)}
    for rule in declared:
        try:
            holds = _program(rule["rule"]).execute(context)
        except (RuntimeError, ValueError, TypeError, KeyError) as error:  # the API server refuses these too
            raise SpecError(path, f"{rule['message']} (the rule could not be evaluated: {error})") from None
        if holds is not True:
            raise SpecError(path + str(rule.get("fieldPath") or ""), str(rule["message"]))
