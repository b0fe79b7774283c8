"""The only rollback code that talks to the API server: read a target, apply a planned patch.

Targets may be of any kind (Deployments, KServe InferenceServices, other custom resources), so the calls go
through ``kubernetes.dynamic.DynamicClient``, built once per ``ApiClient`` (its discovery is not free).
Client exceptions are translated here into :mod:`modelmonitor.rollback.errors`, with messages that name the
object and say what to do, so that a missing permission becomes a clear condition rather than a crash.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError
from urllib3.exceptions import HTTPError

from modelmonitor.api.model import RollbackTarget as RollbackTargetSpec
from modelmonitor.reconcile.rollback_policy import TargetState
from modelmonitor.rollback.errors import (
    RollbackApiError,
    RollbackConflict,
    RollbackError,
    RollbackForbidden,
    RollbackTargetNotFound,
)
from modelmonitor.rollback.targets import PlannedPatch, RollbackTarget, build_target

__all__ = [
    "AppliedRollback",
    "TargetReference",
    "apply_patch",
    "inspect_target",
    "read_target",
    "roll_back",
]

Result = TypeVar("Result")

_dynamic_clients: weakref.WeakKeyDictionary[ApiClient, DynamicClient] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class TargetReference:
    """Which object to read or patch; rollback targets live in the monitor's own namespace."""

    api_version: str
    kind: str
    name: str
    namespace: str

    @classmethod
    def of(cls, target: RollbackTarget, namespace: str) -> TargetReference:
        return cls(target.api_version, target.kind, target.name, namespace)

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name} ({self.api_version})"


@dataclass(frozen=True)
class AppliedRollback:
    """What :func:`roll_back` did: the patch it planned and the object as the server returned it."""

    patch: PlannedPatch
    object: dict[str, Any]
    applied: bool


def _dynamic_client(api_client: ApiClient) -> DynamicClient:
    client = _dynamic_clients.get(api_client)
    if client is None:
        client = _call(_discover(api_client), "discover the API of", "the cluster", "discover")
        _dynamic_clients[api_client] = client
    return client


def _discover(api_client: ApiClient) -> Callable[[], DynamicClient]:
    def discover() -> DynamicClient:
        client: DynamicClient = DynamicClient(api_client)  # type: ignore[no-untyped-call]
        return client

    return discover


def _server_message(error: ApiException) -> str:
    body = getattr(error, "body", None)
    if body:
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        if message:
            return str(message)
    return f"HTTP {error.status} {error.reason}"


def _call(action: Callable[[], Result], doing: str, subject: str, verb: str) -> Result:
    try:
        return action()
    except ResourceNotFoundError:
        raise RollbackTargetNotFound(
            f"cannot {doing} {subject}: the API server does not serve this kind (is its CRD installed?)"
        ) from None
    except ResourceNotUniqueError:
        raise RollbackTargetNotFound(
            f"cannot {doing} {subject}: its kind is ambiguous; give spec.rollback.target.apiVersion with a group"
        ) from None
    except ApiException as error:
        message = _server_message(error)
        if error.status == 403:
            raise RollbackForbidden(
                f"the operator may not {verb} {subject}: {message}. Grant it in the chart's rollback RBAC "
                "values (rollback.targets) or disable spec.rollback"
            ) from None
        if error.status == 404:
            raise RollbackTargetNotFound(f"cannot {doing} {subject}: it does not exist ({message})") from None
        if error.status == 409:
            raise RollbackConflict(
                f"{subject} changed after it was read, so the rollback patch was not applied ({message}); "
                "it will be planned again from the new state"
            ) from None
        raise RollbackApiError(f"cannot {doing} {subject}: {message}") from None
    except HTTPError as error:
        raise RollbackApiError(f"cannot {doing} {subject}: the API server is unreachable ({error})") from None


def read_target(api_client: ApiClient, reference: TargetReference) -> dict[str, Any]:
    """The target object as a plain dict."""
    client = _dynamic_client(api_client)
    subject = str(reference)

    def get() -> dict[str, Any]:
        resource = client.resources.get(api_version=reference.api_version, kind=reference.kind)
        found = resource.get(name=reference.name, namespace=reference.namespace)
        result: dict[str, Any] = found.to_dict()
        return result

    return _call(get, "read", subject, "read (get)")


def apply_patch(
    api_client: ApiClient,
    reference: TargetReference,
    planned: PlannedPatch,
    *,
    server_dry_run: bool = False,
    field_manager: str = "modelmonitor-rollback",
) -> dict[str, Any]:
    """Send ``planned`` to the target; with ``server_dry_run`` the server validates it and changes nothing.

    A server-side dry run also checks the operator's permission, so a dry-run rollback reports a missing
    ``patch`` right as the real one would.
    """
    client = _dynamic_client(api_client)
    subject = str(reference)

    def patch() -> dict[str, Any]:
        resource = client.resources.get(api_version=reference.api_version, kind=reference.kind)
        options: dict[str, Any] = {"field_manager": field_manager}
        if server_dry_run:
            options["dry_run"] = "All"
        try:
            patched = resource.patch(
                body=planned.operations,
                name=reference.name,
                namespace=reference.namespace,
                content_type=planned.content_type,
                **options,
            )
        except ApiException as error:
            if error.status == 422 and _is_unexplained(error):
                raise _explain_unapplicable_patch(api_client, reference, planned) from None
            raise
        result: dict[str, Any] = patched.to_dict()
        return result

    return _call(patch, "patch", subject, "patch")


def _is_unexplained(error: ApiException) -> bool:
    """A JSON patch that cannot be applied (a failed ``test``, a missing path) gets a 422 without causes."""
    try:
        details = json.loads(error.body or "{}").get("details") or {}
    except (ValueError, AttributeError):
        return False
    return not details.get("causes")


def _explain_unapplicable_patch(
    api_client: ApiClient, reference: TargetReference, planned: PlannedPatch
) -> RollbackError:
    current = read_target(api_client, reference)
    if not planned.guards_hold(current):
        return RollbackConflict(
            f"{reference} changed after it was read, so the rollback patch was not applied; "
            "it will be planned again from the new state"
        )
    return RollbackApiError(
        f"the rollback patch cannot be applied to {reference}: one of its paths does not exist in the object "
        f"(check spec.rollback.target; patch: {json.dumps(planned.operations)})"
    )


def inspect_target(
    api_client: ApiClient, target_spec: RollbackTargetSpec, namespace: str
) -> tuple[TargetState, dict[str, Any] | None]:
    """Read the target and describe it for the policy; a failure becomes ``TargetState.problem``, not a crash.

    Returns the state and the object read (None when it could not be read). An unusable
    ``spec.rollback.target`` also ends up in ``problem``.
    """
    description = f"{target_spec.kind} {namespace}/{target_spec.name or '?'}"
    try:
        target = build_target(target_spec)
        obj = read_target(api_client, TargetReference.of(target, namespace))
        version = target.read_version(obj)
    except RollbackError as error:
        return TargetState(current_version=None, description=description, problem=error.message), None
    return (
        TargetState(
            current_version=version,
            mid_rollout_reason=target.mid_rollout_reason(obj),
            servable_versions=target.servable_versions(),
            description=description,
            problem=None if version is not None else "the version it serves cannot be read (see spec.rollback.target)",
        ),
        obj,
    )


def roll_back(
    api_client: ApiClient,
    target_spec: RollbackTargetSpec,
    namespace: str,
    to_version: str,
    *,
    dry_run: bool = False,
    observed: Mapping[str, Any] | None = None,
) -> AppliedRollback:
    """Plan the patch to ``to_version`` and apply it (a server-side dry run if ``dry_run``).

    Pass as ``observed`` the object :func:`inspect_target` returned, the one the policy decided on: the patch
    then tests the values read from it, and fails with RollbackConflict if the target changed since. Without
    it the target is read again. Raises a :class:`~modelmonitor.rollback.errors.RollbackError`.
    """
    target = build_target(target_spec)
    reference = TargetReference.of(target, namespace)
    obj = observed if observed is not None else read_target(api_client, reference)
    planned = target.plan_patch(obj, to_version)
    result = apply_patch(api_client, reference, planned, server_dry_run=dry_run)
    return AppliedRollback(patch=planned, object=result, applied=not dry_run)
