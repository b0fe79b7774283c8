"""Every Secret a spec names, found through the schema, so a Secret field added to the schema is covered too.

The schema builds each field that names a Secret with ``schema.secret_name`` (its description ends with
``SECRET_NAME_NOTE``). The operator checks those Secrets exist before it schedules evaluations and reports a
missing one by its field (``spec.alerts.channels[0].smtpSecret: Secret risk/smtp does not exist``); this walk
is the one list of them, instead of a hand-kept list of attribute names beside the schema.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from modelmonitor.api.parsing import json_name, schema_at
from modelmonitor.api.schema import SECRET_NAME_NOTE, Schema

__all__ = ["secret_references"]


def secret_references(value: Any, path: str = "spec") -> list[tuple[str, str]]:
    """``(field path, Secret name)`` for every Secret named in ``value``, in the order of the schema.

    ``value`` is a ``MonitorSpec`` or one of its parts at ``path`` (``AlertChannel`` at
    ``spec.alerts.channels[2]``).
    """
    return list(_walk(value, schema_at(path), path))


def _walk(value: Any, schema: Schema, path: str) -> Iterator[tuple[str, str]]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        properties = schema.get("properties") or {}
        for spec_field in dataclasses.fields(value):
            child = getattr(value, spec_field.name)
            name = json_name(spec_field)
            if child is not None and name in properties:
                yield from _walk(child, properties[name], f"{path}.{name}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _walk(item, schema["items"], f"{path}[{index}]")
    elif isinstance(value, str) and str(schema.get("description", "")).endswith(SECRET_NAME_NOTE):
        yield path, value
