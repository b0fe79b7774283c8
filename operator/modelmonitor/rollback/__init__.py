"""Rollback targets behind one interface, and the thin edge that reads and patches them.

``targets`` (pure) knows where each kind of workload keeps its model version and plans JSON patches;
``apply`` is the only module here that calls the API server; ``errors`` is the exception tree. The policy
that decides *whether* to roll back is pure and lives in :mod:`modelmonitor.reconcile.rollback_policy`.
"""

from modelmonitor.rollback.errors import (
    RollbackApiError,
    RollbackConflict,
    RollbackError,
    RollbackForbidden,
    RollbackTargetInvalid,
    RollbackTargetNotFound,
    RollbackVersionUnknown,
)
from modelmonitor.rollback.targets import PlannedPatch, RollbackTarget, build_target, split_image

__all__ = [
    "PlannedPatch",
    "RollbackApiError",
    "RollbackConflict",
    "RollbackError",
    "RollbackForbidden",
    "RollbackTarget",
    "RollbackTargetInvalid",
    "RollbackTargetNotFound",
    "RollbackVersionUnknown",
    "build_target",
    "split_image",
]
