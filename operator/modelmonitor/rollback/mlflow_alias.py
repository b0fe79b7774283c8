"""Rollback target ``mlflowAlias``: move a registry alias (``@champion``) back to the last healthy version.

For teams whose serving follows the registry (a deployment that loads ``models:/credit@champion``), the alias
is the thing to roll back, not a Deployment. The same call promotes a better challenger: ``move_to`` is "point
the alias at version X".

MLflow has no compare-and-set for aliases, so the move re-reads the alias just before setting it and refuses
(RollbackConflict) when it no longer points at the version the policy decided on; the window between that read
and the write is one HTTP round trip. The version moved away from is tagged ``modelmonitor.rolledBack`` so the
registry shows why the alias moved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from modelmonitor.reconcile.rollback_policy import TargetState
from modelmonitor.registry.errors import RegistryError, RegistryNotFound, RegistryUnauthorized
from modelmonitor.registry.mlflow import MlflowClient
from modelmonitor.rollback.errors import (
    RollbackApiError,
    RollbackConflict,
    RollbackError,
    RollbackForbidden,
    RollbackVersionUnknown,
)
from modelmonitor.rollback.external import PlannedMove

__all__ = ["ROLLED_BACK_TAG", "MlflowAliasTarget"]

ROLLED_BACK_TAG = "modelmonitor.rolledBack"
log = logging.getLogger("modelmonitor.rollback")


def _rollback_error(error: RegistryError) -> RollbackError:
    if isinstance(error, RegistryUnauthorized):
        return RollbackForbidden(error.message)
    return RollbackApiError(error.message)


@dataclass(frozen=True)
class MlflowAliasTarget:
    """``alias`` of registered model ``model``; ``open_client`` makes a client with the monitor's credentials."""

    open_client: Callable[[], MlflowClient]
    model: str
    alias: str

    @property
    def description(self) -> str:
        return f"alias @{self.alias} of MLflow model {self.model}"

    def inspect(self) -> TargetState:
        try:
            with self.open_client() as client:
                version = client.version_by_alias(self.model, self.alias).version
        except RegistryError as error:
            return TargetState(current_version=None, description=self.description, problem=error.message)
        return TargetState(current_version=version or None, description=self.description,
                           problem=None if version else "the registry answered without a version")

    def move_to(self, version: str, *, dry_run: bool = False, expected_from: str | None = None,
                reason: str | None = None, now: datetime | None = None) -> PlannedMove:
        now = now or datetime.now(UTC)
        try:
            with self.open_client() as client:
                try:
                    restored = client.model_version(self.model, version)
                except RegistryNotFound:
                    raise RollbackVersionUnknown(
                        f"version {version} of MLflow model {self.model} does not exist (deleted from the registry?)"
                    ) from None
                try:
                    current: str | None = client.version_by_alias(self.model, self.alias).version
                except RegistryNotFound:
                    current = None
                if expected_from is not None and current != expected_from:
                    raise RollbackConflict(
                        f"{self.description} now points at version {current}, not {expected_from} as when the "
                        "rollback was decided; nothing was changed"
                    )
                verb = "would move" if dry_run else "moved"
                plan = PlannedMove(
                    kind="mlflowAlias", target=self.description, to_version=version, from_version=current,
                    description=f"{verb} {self.description} from version {current} to {version}",
                    details={"model": self.model, "alias": self.alias, "artifact": restored.artifact()},
                )
                if dry_run or current == version:
                    return plan
                client.set_alias(self.model, self.alias, version)
                if current is not None:
                    try:  # a note for people browsing the registry; the move itself has been made
                        client.set_version_tag(self.model, current, ROLLED_BACK_TAG,
                                               f"@{self.alias} moved to version {version} at "
                                               f"{now.strftime('%Y-%m-%dT%H:%M:%SZ')}")
                    except RegistryError as error:
                        log.warning("%s moved, but version %s was not tagged: %s", self.description, current,
                                    error.message)
                return plan
        except RegistryError as error:
            raise _rollback_error(error) from None
