"""Change one scalar in a YAML file by its dotted path, keeping every other byte (comments, order, quoting).

A GitOps rollback commits a one-line change a reviewer can read (``image.tag: "2"`` -> ``"1"``), not a file
re-serialised by a YAML library that drops comments and reorders keys. So the value is located by walking block
mappings line by line (indentation), replaced in place, and the result is parsed again to prove that exactly
that path changed. Flow mappings, multi-line scalars and anchors at the path are refused with a message naming
the file and the path, never guessed.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["YamlPathError", "read_yaml_value", "set_yaml_value"]

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[^#\s][^:#]*?|\"[^\"]*\"|'[^']*')\s*:(?:\s+|$)(?P<rest>.*)$")
_PLAIN_VALUE = re.compile(r"^(?P<value>\"[^\"]*\"|'[^']*'|[^#&*!|>{\[\s][^#]*?)?(?P<comment>\s+#.*)?$")


class YamlPathError(ValueError):
    """The path does not exist or does not hold a plain scalar the editor can change safely."""


def _lookup(document: Any, path: list[str]) -> Any:
    node = document
    for key in path:
        if not isinstance(node, dict) or key not in node:
            raise YamlPathError(f"has no {'.'.join(path)} (no key {key!r})")
        node = node[key]
    return node


def read_yaml_value(text: str, dotted_path: str) -> str | None:
    """The scalar at ``dotted_path`` as a string (None for null)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise YamlPathError(f"is not valid YAML ({error.__class__.__name__})") from None
    value = _lookup(document, dotted_path.split("."))
    if isinstance(value, dict | list):
        raise YamlPathError(f"holds a {type(value).__name__} at {dotted_path}, not a scalar")
    return None if value is None else str(value)


def _quoted_like(old: str, new: str) -> str:
    if old.startswith('"'):
        return '"' + new.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if old.startswith("'"):
        return "'" + new.replace("'", "''") + "'"
    # A plain scalar that YAML would read as another type (1.10 as a float, yes as a bool) is quoted.
    return new if isinstance(yaml.safe_load(f"v: {new}")["v"], str) and new.strip() == new and new else f'"{new}"'


def set_yaml_value(text: str, dotted_path: str, new_value: str) -> str:
    """``text`` with the scalar at ``dotted_path`` replaced by ``new_value`` (as a string)."""
    path = dotted_path.split(".")
    read_yaml_value(text, dotted_path)  # exists and is a scalar
    lines = text.splitlines(keepends=True)
    depth, parent_indent, child_indent = 0, -1, -1
    for number in range(len(lines)):
        line = lines[number]
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        match = _KEY.match(line.rstrip("\r\n"))
        if match is None:
            continue
        indent = len(match.group("indent"))
        if indent <= parent_indent:
            break  # left the mapping that should have held the key
        if child_indent < 0:
            child_indent = indent  # the first key of a mapping sets its children's indentation
        key = match.group("key").strip().strip("\"'")
        if indent != child_indent or key != path[depth]:
            continue  # deeper (a grandchild) or another key of the same mapping
        if depth < len(path) - 1:
            depth, parent_indent, child_indent = depth + 1, indent, -1
            continue
        rest = match.group("rest")
        value = _PLAIN_VALUE.match(rest)
        if value is None or not value.group("value"):
            raise YamlPathError(f"holds no single-line plain or quoted scalar at {dotted_path}")
        old = value.group("value")
        ending = line[len(line.rstrip("\r\n")):]
        head = line.rstrip("\r\n")[: len(line.rstrip("\r\n")) - len(rest)]
        lines[number] = head + _quoted_like(old, new_value) + (value.group("comment") or "") + ending
        changed = "".join(lines)
        if read_yaml_value(changed, dotted_path) != new_value:
            raise YamlPathError(f"could not be changed safely at {dotted_path}")
        before, after = yaml.safe_load(text), yaml.safe_load(changed)
        _assign(before, path, new_value)
        if before != after:
            raise YamlPathError(f"would change more than {dotted_path}")
        return changed
    raise YamlPathError(f"has {dotted_path} only in a form the editor does not change (flow style?)")


def _assign(document: Any, path: list[str], value: str) -> None:
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
