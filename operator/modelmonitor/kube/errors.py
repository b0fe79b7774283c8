"""Errors of the Kubernetes edge.

KubeError
├── NotFound      the object does not exist (404)
├── Conflict      someone changed it first (409), or it already exists
└── Forbidden     the operator's RBAC does not allow the call (403)
"""

from __future__ import annotations

import json

from kubernetes.client.exceptions import ApiException


class KubeError(Exception):
    """A Kubernetes API call failed; the message names the object and the verb."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(KubeError):
    pass


class Conflict(KubeError):
    pass


class Forbidden(KubeError):
    pass


def translate(error: ApiException, verb: str, what: str) -> KubeError:
    reason = str(error.reason or "")
    message = f"{verb} {what}: {error.status} {reason}".strip()
    if error.status == 404:
        return NotFound(message, 404)
    if error.status == 409:
        return Conflict(message, 409)
    if error.status == 403:
        return Forbidden(message, 403)
    if error.status == 422:  # Invalid: the API server's message names the refused field
        try:
            detail = str(json.loads(error.body or "{}").get("message") or "")
        except (ValueError, AttributeError):
            detail = ""
        if detail:
            message = f"{message}: {detail[:1000]}"
    return KubeError(message, error.status)
