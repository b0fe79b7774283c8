"""The rollback package's exception tree: every way putting an old version back can fail.

The operator turns these into a ``RolledBack=False`` condition (``reason`` is the CamelCase word) and an
alert, never into a crash; so each message names the object, container, field or version concerned.

    RollbackError                     a rollback could not be planned or applied
    ├── RollbackTargetInvalid         spec.rollback.target does not fit the object (no such container, field)
    ├── RollbackVersionUnknown        the target cannot express that version (absent from the versions map)
    ├── RollbackTargetNotFound        the object, or its kind, does not exist in the cluster (HTTP 404)
    ├── RollbackForbidden             the operator's RBAC does not allow reading or patching it (HTTP 403)
    ├── RollbackConflict              the object changed between reading and patching (HTTP 409 / 422)
    └── RollbackApiError              any other refusal of the API server
"""

from __future__ import annotations

__all__ = [
    "RollbackApiError",
    "RollbackConflict",
    "RollbackError",
    "RollbackForbidden",
    "RollbackTargetInvalid",
    "RollbackTargetNotFound",
    "RollbackVersionUnknown",
]


class RollbackError(Exception):
    """Base of the rollback errors; ``reason`` is a CamelCase word for conditions and events."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or type(self).__name__.removeprefix("Rollback")


class RollbackTargetInvalid(RollbackError):
    """``spec.rollback.target`` does not match the object: a missing container, env var or field."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="RollbackTargetInvalid")


class RollbackVersionUnknown(RollbackError):
    """The target has no value for the requested version (it is not in ``target.versions``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="RollbackVersionUnknown")


class RollbackTargetNotFound(RollbackError):
    """The target object, or its kind, does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="RollbackTargetNotFound")


class RollbackForbidden(RollbackError):
    """The operator may not read or patch the target: grant it in the chart's rollback RBAC values."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="RollbackForbidden")


class RollbackConflict(RollbackError):
    """The target changed after it was read (someone deployed meanwhile); the patch was not applied."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="RollbackConflict")


class RollbackApiError(RollbackError):
    """The API server refused the request for another reason; the message carries its answer."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="RollbackApiError")
