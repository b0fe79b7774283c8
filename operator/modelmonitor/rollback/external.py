"""Rollback targets outside the cluster: a pointer to a version that is read and moved, one call each.

A workload (``targets.py``) is read and patched through the API server; a registry alias or a line in a Git
repository is not, so those targets answer two questions themselves: which version do you point at now
(``inspect``, for the policy), and point at version X (``move_to``). Rollback and promotion are both
``move_to``: the caller says which version, the target checks it still points where the caller saw it
(``expected_from``, the equivalent of a JSON patch's ``test``) and moves, or, with ``dry_run``, only checks
that it could. Failures are :mod:`modelmonitor.rollback.errors` errors, as for workloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from modelmonitor.reconcile.rollback_policy import TargetState
from modelmonitor.rollback.errors import RollbackError

__all__ = ["PlannedMove", "UnusableTarget", "VersionPointer"]


@dataclass(frozen=True)
class PlannedMove:
    """A move of an external pointer from one version to another, as stored in status (dry runs show it)."""

    kind: str  # "mlflowAlias", "git"
    target: str  # a sentence naming the pointer, e.g. "alias @champion of MLflow model credit"
    to_version: str
    from_version: str | None
    description: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "target": self.target,
            "description": self.description,
            "fromVersion": self.from_version,
            "toVersion": self.to_version,
            **self.details,
        }


@runtime_checkable
class VersionPointer(Protocol):
    """A rollback (or promotion) target outside the cluster."""

    @property
    def description(self) -> str:
        """Names the pointer for messages, e.g. ``alias @champion of MLflow model credit``."""
        ...

    def inspect(self) -> TargetState:
        """The version pointed at now; a failure goes into ``TargetState.problem``, never raised."""
        ...

    def move_to(self, version: str, *, dry_run: bool = False, expected_from: str | None = None,
                reason: str | None = None) -> PlannedMove:
        """Point at ``version``; refuse with RollbackConflict if it no longer points at ``expected_from``.

        ``reason`` is the change record's text where the target keeps one (a Git commit message).
        """
        ...


@dataclass(frozen=True)
class UnusableTarget:
    """A target that cannot even be built (its credentials Secret is missing): a refusal, not a crash."""

    description: str
    problem: RollbackError

    def inspect(self) -> TargetState:
        return TargetState(current_version=None, description=self.description, problem=self.problem.message)

    def move_to(self, version: str, *, dry_run: bool = False, expected_from: str | None = None,
                reason: str | None = None) -> PlannedMove:
        raise self.problem
