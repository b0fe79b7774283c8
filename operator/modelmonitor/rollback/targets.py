"""Rollback targets: where a workload keeps its model version, and the patch that puts another one back.

Every kind of target answers the same three questions, so the operator never branches on the kind:
which version does this object serve (``read_version``), which patch would make it serve another one
(``plan_patch``), and is a rollout still under way (``mid_rollout_reason``), in which case nothing may be
patched. An adapter is assembled from three independent parts, because they vary independently:

- a *location*: where the value lives in the object (a container's image, an env var, a pod-template
  annotation, any field by path);
- a *codec*: how that value relates to a version (an image tag; a ``versions`` map; a ``valueTemplate``
  with ``{version}``; or the value itself);
- a *rollout probe* chosen by kind (Deployment, StatefulSet, KServe InferenceService, any other resource).

Everything here is pure: adapters read plain object dicts (as the dynamic client returns them) and return
JSON patches. The API calls live in :mod:`modelmonitor.rollback.apply`. Planned patches start with a JSON
patch ``test`` of the value that was read, so a patch planned from a stale read fails instead of
overwriting someone else's deployment.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from modelmonitor.api.model import RollbackTarget as RollbackTargetSpec
from modelmonitor.api.model import VersionSource
from modelmonitor.rollback.errors import RollbackTargetInvalid, RollbackVersionUnknown

__all__ = [
    "JSON_PATCH",
    "VERSION_SOURCES",
    "PlannedPatch",
    "RollbackTarget",
    "build_target",
    "external_kind",
    "split_image",
]

JSON_PATCH = "application/json-patch+json"
VERSION_SOURCES: tuple[str, ...] = typing.get_args(VersionSource)
SPEC_PREFIX = "spec.rollback.target"
WORKLOAD_KINDS = frozenset({("apps", "Deployment"), ("apps", "StatefulSet")})
KSERVE_GROUP = "serving.kserve.io"
INFERENCE_SERVICE = (KSERVE_GROUP, "InferenceService")

JsonObject = Mapping[str, Any]


@dataclass(frozen=True)
class PlannedPatch:
    """A JSON patch that moves the target to ``to_version``, with a sentence a person can read."""

    operations: list[dict[str, Any]]
    description: str
    to_version: str
    from_version: str | None = None
    content_type: str = JSON_PATCH

    def guards_hold(self, obj: JsonObject) -> bool:
        """Whether every ``test`` operation of the patch still holds on ``obj`` (it has not changed since)."""
        return all(
            _lookup(obj, parse_field_path(operation["path"])) == operation.get("value")
            for operation in self.operations
            if operation.get("op") == "test"
        )

    def to_dict(self) -> dict[str, Any]:
        """The form stored in status (dry runs and proposals show exactly what would be sent)."""
        return {
            "type": "json",
            "patch": [dict(operation) for operation in self.operations],
            "description": self.description,
            "fromVersion": self.from_version,
            "toVersion": self.to_version,
        }


@runtime_checkable
class RollbackTarget(Protocol):
    """One object that serves a model version, seen through ``spec.rollback.target``."""

    @property
    def api_version(self) -> str:
        """``apiVersion`` of the target, e.g. ``apps/v1``."""
        ...

    @property
    def kind(self) -> str:
        """``kind`` of the target, e.g. ``Deployment``."""
        ...

    @property
    def name(self) -> str:
        """Name of the target object, in the monitor's namespace."""
        ...

    def read_version(self, obj: JsonObject) -> str | None:
        """The version the object serves now, or None when it cannot be told (no tag, unmapped value)."""
        ...

    def plan_patch(self, obj: JsonObject, to_version: str) -> PlannedPatch:
        """The patch that makes ``obj`` serve ``to_version``; raises a RollbackError when impossible."""
        ...

    def mid_rollout_reason(self, obj: JsonObject) -> str | None:
        """Why a rollout is still under way (so patching must wait), or None when the object is settled."""
        ...

    def is_mid_rollout(self, obj: JsonObject) -> bool:
        """Whether a rollout is still under way."""
        ...

    def servable_versions(self) -> frozenset[str] | None:
        """The versions this target can express (the ``versions`` map), or None when any version can be."""
        ...


# --- JSON pointers and field paths -------------------------------------------------------------------


def _escape_pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(tokens: Sequence[str | int]) -> str:
    return "".join("/" + _escape_pointer_token(str(token)) for token in tokens)


_DOTTED_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_field_path(path: str) -> list[str | int]:
    """Read ``spec.predictor.model.storageUri`` / ``spec.containers[0].image`` or a JSON pointer."""
    if not path:
        raise RollbackTargetInvalid(f"{SPEC_PREFIX}.fieldPath must not be empty")
    if path.startswith("/"):
        tokens: list[str | int] = []
        for raw in path[1:].split("/"):
            token = raw.replace("~1", "/").replace("~0", "~")
            tokens.append(int(token) if token.isdigit() else token)
        return tokens
    tokens = []
    position = 0
    for match in _DOTTED_SEGMENT.finditer(path):
        between = path[position : match.start()]
        if between not in ("", "."):
            raise RollbackTargetInvalid(f"{SPEC_PREFIX}.fieldPath {path!r} is not a valid path")
        key, index = match.groups()
        tokens.append(int(index) if index is not None else key)
        position = match.end()
    if position != len(path) or not tokens:
        raise RollbackTargetInvalid(f"{SPEC_PREFIX}.fieldPath {path!r} is not a valid path")
    return tokens


def _lookup(obj: Any, tokens: Sequence[str | int]) -> Any:
    current = obj
    for token in tokens:
        if isinstance(token, int) and isinstance(current, list) and 0 <= token < len(current):
            current = current[token]
        elif isinstance(current, Mapping) and str(token) in current:
            current = current[str(token)]
        else:
            return None
    return current


def _describe(obj: JsonObject, kind: str) -> str:
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    name = metadata.get("name", "?")
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


# --- locations: where the value lives ---------------------------------------------------------------


class _Location(Protocol):
    def tokens(self, obj: JsonObject) -> list[str | int] | None: ...

    def describe(self) -> str: ...


def _container_index(obj: JsonObject, container: str | None, kind: str) -> int:
    containers = _lookup(obj, ["spec", "template", "spec", "containers"]) or []
    names = [str(item.get("name", "")) for item in containers]
    if container is None:
        if names:
            return 0  # the CRD documents the first container as the default
        raise RollbackTargetInvalid(f"{_describe(obj, kind)} has no containers")
    if container not in names:
        raise RollbackTargetInvalid(
            f"{_describe(obj, kind)} has no container {container!r} "
            f"(named in {SPEC_PREFIX}.container; it has: {', '.join(names) or 'none'})"
        )
    return names.index(container)


@dataclass(frozen=True)
class _ImageLocation:
    container: str | None
    kind: str

    def tokens(self, obj: JsonObject) -> list[str | int] | None:
        index = _container_index(obj, self.container, self.kind)
        return ["spec", "template", "spec", "containers", index, "image"]

    def describe(self) -> str:
        return f"the image of container {self.container}" if self.container else "the container image"


@dataclass(frozen=True)
class _EnvLocation:
    container: str | None
    variable: str
    kind: str

    def tokens(self, obj: JsonObject) -> list[str | int] | None:
        index = _container_index(obj, self.container, self.kind)
        environment = _lookup(obj, ["spec", "template", "spec", "containers", index, "env"]) or []
        for position, entry in enumerate(environment):
            if entry.get("name") == self.variable:
                if "value" not in entry:
                    raise RollbackTargetInvalid(
                        f"env var {self.variable} of {_describe(obj, self.kind)} is set with valueFrom, "
                        f"not a literal value; rollback can only change a literal (see {SPEC_PREFIX}.env)"
                    )
                return ["spec", "template", "spec", "containers", index, "env", position, "value"]
        return None

    def describe(self) -> str:
        return f"env var {self.variable}"


@dataclass(frozen=True)
class _AnnotationLocation:
    key: str

    def tokens(self, obj: JsonObject) -> list[str | int] | None:
        return ["spec", "template", "metadata", "annotations", self.key]

    def describe(self) -> str:
        return f"pod-template annotation {self.key}"


@dataclass(frozen=True)
class _FieldLocation:
    path: tuple[str | int, ...]
    label: str

    def tokens(self, obj: JsonObject) -> list[str | int] | None:
        return list(self.path)

    def describe(self) -> str:
        return self.label


@dataclass(frozen=True)
class _InferenceServiceStorageLocation:
    """``spec.predictor.model.storageUri``, or the storageUri of the one framework key (older KServe form)."""

    def tokens(self, obj: JsonObject) -> list[str | int] | None:
        predictor = _lookup(obj, ["spec", "predictor"]) or {}
        if isinstance(_lookup(predictor, ["model", "storageUri"]), str):
            return ["spec", "predictor", "model", "storageUri"]
        holders = [
            key
            for key, value in predictor.items()
            if isinstance(value, Mapping) and isinstance(value.get("storageUri"), str)
        ]
        if len(holders) == 1:
            return ["spec", "predictor", holders[0], "storageUri"]
        return None

    def describe(self) -> str:
        return "the predictor's storageUri"


# --- codecs: how a value relates to a version ---------------------------------------------------------


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """``registry:5000/team/model:7@sha256:...`` -> ``("registry:5000/team/model", "7", "sha256:...")``."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :] or None, digest or None
    return name, None, digest or None


class _Codec(Protocol):
    def to_version(self, value: str) -> str | None: ...

    def to_value(self, version: str, current_value: str | None) -> str: ...

    def servable_versions(self) -> frozenset[str] | None: ...


class _IdentityCodec:
    def to_version(self, value: str) -> str | None:
        return value or None

    def to_value(self, version: str, current_value: str | None) -> str:
        return version

    def servable_versions(self) -> frozenset[str] | None:
        return None


class _ImageTagCodec:
    """The version is the image tag; rolling back keeps the repository and drops any digest pin."""

    def to_version(self, value: str) -> str | None:
        return split_image(value)[1]

    def to_value(self, version: str, current_value: str | None) -> str:
        if not current_value:
            raise RollbackTargetInvalid("cannot build an image reference: the container has no image")
        repository, _, _ = split_image(current_value)
        return f"{repository}:{version}"

    def servable_versions(self) -> frozenset[str] | None:
        return None


@dataclass(frozen=True)
class _MapCodec:
    versions: Mapping[str, str]

    def to_version(self, value: str) -> str | None:
        for version, mapped in self.versions.items():
            if mapped == value:
                return version
        return None

    def to_value(self, version: str, current_value: str | None) -> str:
        if version not in self.versions:
            raise RollbackVersionUnknown(
                f"version {version!r} has no entry in {SPEC_PREFIX}.versions "
                f"(known: {', '.join(sorted(self.versions)) or 'none'})"
            )
        return self.versions[version]

    def servable_versions(self) -> frozenset[str] | None:
        return frozenset(self.versions)


@dataclass(frozen=True)
class _TemplateCodec:
    template: str
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if "{version}" not in self.template:
            raise RollbackTargetInvalid(f"{SPEC_PREFIX}.valueTemplate must contain {{version}}")
        head, _, tail = self.template.partition("{version}")
        pattern = re.compile(re.escape(head) + r"(?P<version>.+?)" + re.escape(tail) + r"\Z")
        object.__setattr__(self, "pattern", pattern)

    def to_version(self, value: str) -> str | None:
        match = self.pattern.match(value)
        return match.group("version") if match else None

    def to_value(self, version: str, current_value: str | None) -> str:
        return self.template.replace("{version}", version)

    def servable_versions(self) -> frozenset[str] | None:
        return None


# --- rollout probes: is a rollout under way? -----------------------------------------------------------


def _generation_lag(obj: JsonObject, kind: str) -> str | None:
    generation = _lookup(obj, ["metadata", "generation"])
    observed = _lookup(obj, ["status", "observedGeneration"])
    if generation is not None and (observed is None or int(observed) < int(generation)):
        return (
            f"{_describe(obj, kind)} has not yet observed generation {generation} "
            f"(status.observedGeneration is {observed})"
        )
    return None


def _deployment_rollout(obj: JsonObject) -> str | None:
    lag = _generation_lag(obj, "Deployment")
    if lag:
        return lag
    wanted = int(_lookup(obj, ["spec", "replicas"]) if _lookup(obj, ["spec", "replicas"]) is not None else 1)
    status = obj.get("status") or {}
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)
    where = _describe(obj, "Deployment")
    if updated < wanted:
        return f"{where}: {updated} of {wanted} replicas run the new pod template"
    if total > updated:
        return f"{where}: {total - updated} old replicas are still running"
    if available < wanted:
        return f"{where}: {available} of {wanted} replicas are available"
    return None


def _stateful_set_rollout(obj: JsonObject) -> str | None:
    lag = _generation_lag(obj, "StatefulSet")
    if lag:
        return lag
    wanted = int(_lookup(obj, ["spec", "replicas"]) if _lookup(obj, ["spec", "replicas"]) is not None else 1)
    status = obj.get("status") or {}
    updated = int(status.get("updatedReplicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    where = _describe(obj, "StatefulSet")
    strategy = _lookup(obj, ["spec", "updateStrategy", "type"]) or "RollingUpdate"
    current_revision = status.get("currentRevision")
    update_revision = status.get("updateRevision")
    if strategy == "RollingUpdate" and updated < wanted:
        return f"{where}: {updated} of {wanted} replicas run the new pod template"
    if strategy == "RollingUpdate" and current_revision and update_revision and current_revision != update_revision:
        return f"{where}: revision {update_revision} is still replacing {current_revision}"
    if ready < wanted:
        return f"{where}: {ready} of {wanted} replicas are ready"
    return None


def _ready_condition_rollout(obj: JsonObject, kind: str, *, required: bool) -> str | None:
    conditions = _lookup(obj, ["status", "conditions"]) or []
    ready = next((item for item in conditions if item.get("type") == "Ready"), None)
    if ready is None:
        return f"{_describe(obj, kind)} reports no Ready condition yet" if required else None
    if ready.get("status") != "True":
        detail = ready.get("message") or ready.get("reason") or "no reason given"
        return f"{_describe(obj, kind)} is not Ready ({detail})"
    return None


def _inference_service_rollout(obj: JsonObject) -> str | None:
    observed = _lookup(obj, ["status", "observedGeneration"])
    if observed is not None:
        lag = _generation_lag(obj, "InferenceService")
        if lag:
            return lag
    return _ready_condition_rollout(obj, "InferenceService", required=True)


def _custom_rollout(kind: str) -> Callable[[JsonObject], str | None]:
    def probe(obj: JsonObject) -> str | None:
        if _lookup(obj, ["status", "observedGeneration"]) is not None:
            lag = _generation_lag(obj, kind)
            if lag:
                return lag
        return _ready_condition_rollout(obj, kind, required=False)

    return probe


# --- the composed adapter -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    api_version: str
    kind: str
    name: str
    location: _Location | None
    codec: _Codec
    rollout: Callable[[JsonObject], str | None]
    patch_template: tuple[Mapping[str, Any], ...] | None = None

    def _current_value(self, obj: JsonObject) -> tuple[list[str | int] | None, str | None]:
        if self.location is None:
            return None, None
        tokens = self.location.tokens(obj)
        if tokens is None:
            return None, None
        value = _lookup(obj, tokens)
        return tokens, (str(value) if value is not None else None)

    def read_version(self, obj: JsonObject) -> str | None:
        _, value = self._current_value(obj)
        return self.codec.to_version(value) if value is not None else None

    def plan_patch(self, obj: JsonObject, to_version: str) -> PlannedPatch:
        tokens, current = self._current_value(obj)
        from_version = self.codec.to_version(current) if current is not None else None
        new_value = self.codec.to_value(to_version, current)
        where = _describe(obj, self.kind)
        guard: list[dict[str, Any]] = []
        if tokens is not None and current is not None:
            guard = [{"op": "test", "path": _pointer(tokens), "value": current}]
        if self.patch_template is not None:
            operations = [_render(operation, to_version, new_value) for operation in self.patch_template]
            description = f"apply {SPEC_PREFIX}.jsonPatchTemplate to {where} for version {to_version}"
            return PlannedPatch(guard + operations, description, to_version, from_version)
        if tokens is None or self.location is None:
            raise RollbackTargetInvalid(
                f"{where} has no {self.location.describe() if self.location else 'version field'} "
                f"to change (see {SPEC_PREFIX})"
            )
        operation = {"op": "replace" if current is not None else "add", "path": _pointer(tokens), "value": new_value}
        before = f" from {current!r}" if current is not None else ""
        description = (
            f"set {self.location.describe()} of {where}{before} to {new_value!r} (version {to_version})"
        )
        return PlannedPatch([*guard, operation], description, to_version, from_version)

    def mid_rollout_reason(self, obj: JsonObject) -> str | None:
        return self.rollout(obj)

    def is_mid_rollout(self, obj: JsonObject) -> bool:
        return self.rollout(obj) is not None

    def servable_versions(self) -> frozenset[str] | None:
        return self.codec.servable_versions()


def _render(template: Any, version: str, value: str) -> Any:
    if isinstance(template, str):
        return template.replace("{version}", version).replace("{value}", value)
    if isinstance(template, Mapping):
        return {key: _render(item, version, value) for key, item in template.items()}
    if isinstance(template, list):
        return [_render(item, version, value) for item in template]
    return template


def _required_text(value: str | None, key: str) -> str:
    if not value:
        raise RollbackTargetInvalid(f"{SPEC_PREFIX}.{key} must be a non-empty string")
    return value


def _optional_text(value: str | None, key: str) -> str | None:
    if value is not None and not value:
        raise RollbackTargetInvalid(f"{SPEC_PREFIX}.{key} must be a non-empty string when set")
    return value


def _build_codec(target_spec: RollbackTargetSpec, source: str) -> _Codec:
    versions = target_spec.versions  # the model's (and the CRD's) unset ``versions`` is the empty map
    template = _optional_text(target_spec.value_template, "valueTemplate")
    if versions and template is not None:
        raise RollbackTargetInvalid(f"{SPEC_PREFIX}.versions and {SPEC_PREFIX}.valueTemplate exclude each other")
    if versions:
        if len(set(versions.values())) != len(versions):
            raise RollbackTargetInvalid(
                f"{SPEC_PREFIX}.versions maps two versions to the same value; each value must be unique "
                "so that the version in service can be read back"
            )
        return _MapCodec(dict(versions))
    if template is not None:
        return _TemplateCodec(template)
    return _ImageTagCodec() if source == "image" else _IdentityCodec()


def _patch_template(template: str | None) -> tuple[Mapping[str, Any], ...] | None:
    """``jsonPatchTemplate`` as the CRD stores it: JSON text of a list of JSON patch operations."""
    if template is None:
        return None
    try:
        operations = json.loads(template)
    except ValueError as error:
        raise RollbackTargetInvalid(
            f"{SPEC_PREFIX}.jsonPatchTemplate must be a JSON array of JSON patch operations "
            f"with {{version}} inside strings ({error})"
        ) from None
    if not isinstance(operations, list) or not operations or not all(isinstance(op, Mapping) for op in operations):
        raise RollbackTargetInvalid(f"{SPEC_PREFIX}.jsonPatchTemplate must be a non-empty list of operations")
    return tuple(operations)


def external_kind(target_spec: RollbackTargetSpec | None) -> str | None:
    """``mlflowAlias`` (a registry alias) or ``git`` (a file in a repository) when the target is not a workload."""
    if target_spec is None:
        return None
    if target_spec.mlflow_alias is not None:
        return "mlflowAlias"
    return "git" if target_spec.git is not None else None


def build_target(target_spec: RollbackTargetSpec) -> RollbackTarget:
    """Assemble the adapter described by ``spec.rollback.target``; raises RollbackTargetInvalid if unusable.

    Takes the parsed model (``modelmonitor.api.RollbackTarget``, from ``parse_spec``), which holds every
    default: the CRD's (``apiVersion`` apps/v1, ``kind`` Deployment, ``versionFrom`` image) are the model's.

    Fields: ``apiVersion``, ``kind``, ``name``; ``versionFrom`` (image | env | annotation | field);
    ``container``; ``env`` (the variable's name, required with versionFrom env); ``annotation``; ``fieldPath``
    (dotted path or JSON pointer; for an InferenceService it defaults to the predictor's storageUri);
    ``versions`` (version -> value) or ``valueTemplate`` (with ``{version}``); ``jsonPatchTemplate`` (JSON text
    of JSON patch operations whose strings may hold ``{version}`` and ``{value}``), for resources whose version
    cannot be set through a single field. ``container`` defaults to the first container; ``versionFrom: image``
    on a kind without a pod template means the kind's version field.
    """
    kind_outside = external_kind(target_spec)
    if kind_outside is not None:
        raise RollbackTargetInvalid(
            f"{SPEC_PREFIX}.{kind_outside} is not a workload: it is moved by its own target, not patched"
        )
    api_version = _required_text(target_spec.api_version, "apiVersion")
    kind = _required_text(target_spec.kind, "kind")
    name = _required_text(target_spec.name, "name")
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    group_kind = (group, kind)
    source: str = target_spec.version_from
    if source not in VERSION_SOURCES:
        raise RollbackTargetInvalid(
            f"{SPEC_PREFIX}.versionFrom must be one of {', '.join(VERSION_SOURCES)} (got {source!r})"
        )
    container = _optional_text(target_spec.container, "container")
    template = _patch_template(target_spec.json_patch_template)
    is_workload = group_kind in WORKLOAD_KINDS
    if source == "image" and not is_workload:
        source = "field"  # the CRD defaults versionFrom to image; other kinds keep their version in a field
    if source in ("env", "annotation") and not is_workload:
        raise RollbackTargetInvalid(
            f"{SPEC_PREFIX}.versionFrom {source} needs a pod template: use it with apps/v1 Deployment or "
            f"StatefulSet, or use versionFrom field for {kind}"
        )

    location: _Location | None
    if source == "image":
        location = _ImageLocation(container, kind)
    elif source == "env":
        location = _EnvLocation(container, _required_text(target_spec.env, "env"), kind)
    elif source == "annotation":
        location = _AnnotationLocation(_required_text(target_spec.annotation, "annotation"))
    elif target_spec.field_path:
        path = target_spec.field_path
        location = _FieldLocation(tuple(parse_field_path(path)), f"field {path}")
    elif group_kind == INFERENCE_SERVICE:
        location = _InferenceServiceStorageLocation()
    elif template is not None:
        location = None
    else:
        raise RollbackTargetInvalid(
            f"{SPEC_PREFIX}.fieldPath or {SPEC_PREFIX}.jsonPatchTemplate is required for {kind}"
        )

    if group_kind == ("apps", "Deployment"):
        rollout: Callable[[JsonObject], str | None] = _deployment_rollout
    elif group_kind == ("apps", "StatefulSet"):
        rollout = _stateful_set_rollout
    elif group_kind == INFERENCE_SERVICE:
        rollout = _inference_service_rollout
    else:
        rollout = _custom_rollout(kind)

    return _Target(
        api_version=api_version,
        kind=kind,
        name=name,
        location=location,
        codec=_build_codec(target_spec, source),
        rollout=rollout,
        patch_template=template,
    )
