"""The model registry in the operator's loop: which version is in service, and results written back.

With ``spec.model.registry.mlflow`` the registry, not the spec or the workload, says which version an evaluation
measured: when the evaluation is recorded the operator resolves the alias (``@champion``) and that version goes
into ``status.lastEvaluation``, ``status.history`` and ``status.versions`` (the rollback memory). Once the
evaluation is in status it is logged to MLflow as a run linked to that version, and the version is tagged with
its verdict (``registry.runs``).

A registry that cannot be reached never loses an evaluation: it is recorded with the version the spec or the
rollback target names, and the ``RegistrySynced`` condition (False, reason naming the failure) says what did not
happen. Credentials come from the Secret the spec names and never enter status, events or logs.

Every URL is checked against the operator's outbound allow-list (``--allow-outbound mlflow:...`` and
``git:...``, deny by default) before it is requested, when the operator passes its policy.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelmonitor.alerts.errors import HostNotAllowedError
from modelmonitor.alerts.outbound import OutboundPolicy
from modelmonitor.api import SpecError, parse_spec
from modelmonitor.api.model import MlflowRegistrySpec
from modelmonitor.api.model import RollbackTarget as RollbackTargetSpec
from modelmonitor.kube.errors import Conflict, KubeError
from modelmonitor.kube.store import KubeStore
from modelmonitor.reconcile.status import replacing_patch, set_condition
from modelmonitor.reconcile.versions import format_timestamp, with_artifact
from modelmonitor.registry.errors import RegistryConfigError, RegistryError, RegistryNotAllowed
from modelmonitor.registry.mlflow import MlflowClient, MlflowCredentials, OutboundCheck
from modelmonitor.registry.runs import build_evaluation_run, default_experiment, log_evaluation
from modelmonitor.rollback.errors import RollbackError, RollbackForbidden, RollbackTargetInvalid
from modelmonitor.rollback.external import UnusableTarget, VersionPointer
from modelmonitor.rollback.gitops import GitFileTarget
from modelmonitor.rollback.mlflow_alias import MlflowAliasTarget
from modelmonitor.rollback.targets import external_kind

__all__ = [
    "CONDITION",
    "Resolution",
    "alias_target",
    "change_message",
    "external_version",
    "git_check",
    "git_target",
    "has_registry",
    "log_evaluation_run",
    "mlflow_check",
    "mlflow_spec",
    "open_client",
    "proposal_branch",
    "propose_change",
    "resolve_version",
    "with_resolution",
]

log = logging.getLogger("modelmonitor.registry")
CONDITION = "RegistrySynced"
MAX_CONFLICT_RETRIES = 8


@dataclass(frozen=True)
class Resolution:
    """The alias as resolved just now: a version, or the error that prevented it."""

    spec: MlflowRegistrySpec
    version: str | None
    error: RegistryError | None
    at: datetime
    artifact: Mapping[str, str] | None = None


def mlflow_check(outbound: OutboundPolicy | None) -> OutboundCheck | None:
    """The allow-list check for MLflow URLs (kind ``mlflow``); None without a policy (library callers)."""
    if outbound is None:
        return None

    def check(url: str) -> None:
        try:
            outbound.check_url("mlflow", url, channel="spec.model.registry.mlflow")
        except HostNotAllowedError as error:
            raise RegistryNotAllowed(str(error)) from None

    return check


def git_check(outbound: OutboundPolicy | None) -> OutboundCheck | None:
    """The allow-list check for Git URLs (kind ``git``); a refusal is a RollbackForbidden."""
    if outbound is None:
        return None

    def check(url: str) -> None:
        try:
            outbound.check_url("git", url, channel="spec.rollback.target.git")
        except HostNotAllowedError as error:
            raise RollbackForbidden(str(error)) from None

    return check


def has_registry(monitor: Mapping[str, Any]) -> bool:
    """A cheap presence test, so monitors without a registry pay no spec parsing on the evaluation path."""
    model = (monitor.get("spec") or {}).get("model") or {}
    return bool((model.get("registry") or {}).get("mlflow"))


def mlflow_spec(monitor: Mapping[str, Any]) -> MlflowRegistrySpec | None:
    """``spec.model.registry.mlflow`` of the monitor, typed; None when absent (or the spec does not parse)."""
    if not has_registry(monitor):
        return None
    try:
        spec = parse_spec(monitor.get("spec") or {})
    except SpecError:
        return None  # the Ready condition already says why; nothing to resolve
    registry = spec.model.registry
    return registry.mlflow if registry is not None else None


def open_client(store: KubeStore, namespace: str, spec: MlflowRegistrySpec,
                outbound: OutboundPolicy | None = None) -> MlflowClient:
    """A client for the registry, with the credentials of ``spec.credentialsSecret`` (read from the API)."""
    credentials = None
    if spec.credentials_secret:
        try:
            data = store.read_secret(namespace, spec.credentials_secret)
        except KubeError as error:
            raise RegistryConfigError(
                f"cannot read Secret {namespace}/{spec.credentials_secret} named by "
                f"spec.model.registry.mlflow.credentialsSecret: {error}"
            ) from None
        credentials = MlflowCredentials.from_secret(data, f"{namespace}/{spec.credentials_secret}")
    return MlflowClient(spec.tracking_uri, credentials, outbound_check=mlflow_check(outbound))


def resolve_version(store: KubeStore, monitor: Mapping[str, Any], *, outbound: OutboundPolicy | None = None,
                    now: datetime | None = None) -> Resolution | None:
    """Resolve the registry alias of ``monitor``; None without a registry. Never raises a RegistryError."""
    spec = mlflow_spec(monitor)
    if spec is None:
        return None
    now = now or datetime.now(UTC)
    try:
        with open_client(store, monitor["metadata"]["namespace"], spec, outbound) as client:
            version = client.version_by_alias(spec.name, spec.alias)
    except RegistryError as error:
        return Resolution(spec, None, error, now)
    return Resolution(spec, version.version or None, None, now, version.artifact())


def with_resolution(patch: dict[str, Any], status: Mapping[str, Any], resolution: Resolution,
                    generation: int | None) -> dict[str, Any]:
    """Add ``status.registry.mlflow`` and the RegistrySynced condition to an evaluation's status patch."""
    spec = resolution.spec
    previous = ((status.get("registry") or {}).get("mlflow")) or {}
    record: dict[str, Any] = {
        "model": spec.name, "alias": spec.alias,
        "version": resolution.version or previous.get("version"),
        "resolvedAt": format_timestamp(resolution.at) if resolution.version else previous.get("resolvedAt"),
    }
    if previous.get("lastRunId"):
        record["lastRunId"] = previous["lastRunId"]
    if resolution.error is not None:
        record["error"] = resolution.error.message
    patch["registry"] = {"mlflow": {key: value for key, value in record.items() if value is not None}}
    if resolution.version and resolution.artifact and patch.get("versions"):
        patch["versions"] = with_artifact(patch["versions"], resolution.version, resolution.artifact)
    conditions = patch.get("conditions") or list(status.get("conditions") or [])
    if resolution.error is not None:
        message = (f"alias {spec.alias!r} of MLflow model {spec.name!r} could not be resolved; the evaluation "
                   f"was recorded with the version the spec names: {resolution.error.message}")
        patch["conditions"] = set_condition(conditions, CONDITION, False, resolution.error.reason, message,
                                            generation, resolution.at)
    else:
        patch["conditions"] = set_condition(
            conditions, CONDITION, True, "AliasResolved",
            f"alias {spec.alias!r} of MLflow model {spec.name!r} points at version {resolution.version}",
            generation, resolution.at)
    return patch


def log_evaluation_run(store: KubeStore, namespace: str, name: str, summary: Mapping[str, Any], *,
                       outbound: OutboundPolicy | None = None, now: datetime | None = None) -> str | None:
    """Log the recorded evaluation ``summary`` to MLflow and record the run (or the failure) in status.

    Returns the MLflow run id, or None when nothing was logged (no registry, logging off, no version, failure).
    """
    now = now or datetime.now(UTC)
    monitor = store.read_monitor(namespace, name)
    spec = mlflow_spec(monitor)
    version = str(summary.get("modelVersion") or "")
    if spec is None or not spec.log_evaluations or not version:
        return None
    run = build_evaluation_run(summary, namespace=namespace, monitor=name, model_name=spec.name, version=version,
                               now=now)
    experiment = spec.experiment or default_experiment(namespace, name)
    run_id: str | None = None
    error: RegistryError | None = None
    try:
        with open_client(store, namespace, spec, outbound) as client:
            run_id = log_evaluation(client, experiment, spec.name, version, run)
    except RegistryError as failure:
        error = failure
        log.warning("evaluation %s of %s/%s not logged to MLflow: %s", run.evaluation_id, namespace, name,
                    failure.message)
    for _ in range(MAX_CONFLICT_RETRIES):
        status = monitor.get("status") or {}
        registry_status = dict(((status.get("registry") or {}).get("mlflow")) or {})
        generation = monitor["metadata"].get("generation")
        if error is None:
            registry_status.update(lastRunId=run_id, lastLoggedEvaluation=run.evaluation_id)
            registry_status.pop("error", None)
            conditions = set_condition(status.get("conditions") or [], CONDITION, True, "EvaluationLogged",
                                       f"evaluation {run.evaluation_id} logged as MLflow run {run_id} of model "
                                       f"{spec.name!r} version {version}", generation, now)
        else:
            registry_status["error"] = error.message
            conditions = set_condition(status.get("conditions") or [], CONDITION, False, error.reason,
                                       f"evaluation {run.evaluation_id} was not logged to MLflow: {error.message}",
                                       generation, now)
        fields = {"registry": {**(status.get("registry") or {}), "mlflow": registry_status},
                  "conditions": conditions}
        try:
            store.patch_monitor_status(namespace, name, replacing_patch(status, fields),
                                       monitor["metadata"]["resourceVersion"])
            break
        except Conflict:
            monitor = store.read_monitor(namespace, name)
    return run_id


def _rollback_target(monitor: Mapping[str, Any], *, enabled_only: bool = False) -> RollbackTargetSpec | None:
    """The typed ``spec.rollback.target`` (None when absent, rollback is off and ``enabled_only``, or the spec
    does not parse: the Ready condition says why)."""
    try:
        rollback = parse_spec(monitor.get("spec") or {}).rollback
    except SpecError:
        return None
    return rollback.target if rollback.enabled or not enabled_only else None


def alias_target(store: KubeStore, monitor: Mapping[str, Any], *,
                 outbound: OutboundPolicy | None = None) -> VersionPointer | None:
    """The rollback target of ``monitor`` outside the cluster: an MLflow alias or a file in Git.

    None when the target is a workload (patched through the API server) or absent.
    """
    return _pointer(store, monitor, _rollback_target(monitor), outbound)


def _pointer(store: KubeStore, monitor: Mapping[str, Any], target: RollbackTargetSpec | None,
             outbound: OutboundPolicy | None) -> VersionPointer | None:
    kind = external_kind(target)
    if kind == "git":
        try:
            return git_target(store, monitor, outbound=outbound)
        except RollbackError as error:
            return UnusableTarget("the git rollback target", error)
    if kind != "mlflowAlias":
        return None
    spec = mlflow_spec(monitor)
    if spec is None:  # the CRD refuses this; a spec that does not parse is reported by Ready
        return None
    alias = (target.mlflow_alias.alias if target and target.mlflow_alias else None) or spec.alias
    namespace = monitor["metadata"]["namespace"]

    def client() -> MlflowClient:
        return open_client(store, namespace, spec, outbound)

    return MlflowAliasTarget(client, spec.name, alias)


def git_target(store: KubeStore, monitor: Mapping[str, Any], *,
               outbound: OutboundPolicy | None = None) -> GitFileTarget | None:
    """The ``git`` rollback target, with the token of its credentials Secret (keys ``token``, ``username``)."""
    rollback = parse_spec(monitor.get("spec") or {}).rollback
    git = rollback.target.git if rollback.target is not None else None
    if git is None:
        return None
    username = password = None
    if git.credentials_secret:
        namespace = monitor["metadata"]["namespace"]
        try:
            data = store.read_secret(namespace, git.credentials_secret)
        except KubeError as error:
            raise RollbackTargetInvalid(
                f"cannot read Secret {namespace}/{git.credentials_secret} named by "
                f"spec.rollback.target.git.credentialsSecret: {error}"
            ) from None
        password = data.get("token") or None
        if password is None:
            raise RollbackTargetInvalid(
                f"Secret {namespace}/{git.credentials_secret} must hold key token (an HTTPS access token)"
            )
        username = data.get("username") or "x-access-token"
    return GitFileTarget(git.url, git.branch, git.path, git.yaml_path, value_template=git.value_template or
                         "{version}", username=username, password=password, outbound_check=git_check(outbound))


def change_message(monitor: Mapping[str, Any], from_version: str | None, to_version: str,
                   evaluation_id: str | None, explanation: str) -> str:
    """The commit message of a rollback through Git: monitor, evaluation and the rules that were violated."""
    metadata = monitor["metadata"]
    status = monitor.get("status") or {}
    last = status.get("lastEvaluation") or {}
    rules = sorted({str(item.get("rule")) for item in last.get("violations") or [] if item.get("rule")})
    model = ((monitor.get("spec") or {}).get("model") or {}).get("name", "model")
    return (
        f"Roll back {model} from {from_version} to {to_version}\n\n"
        f"ModelMonitor {metadata['namespace']}/{metadata['name']} rolled the model back: {explanation}\n\n"
        f"Monitor: {metadata['namespace']}/{metadata['name']}\n"
        f"Evaluation: {evaluation_id or 'approval'}\n"
        f"Violated rules: {', '.join(rules) or 'none recorded'}\n"
        f"Report: {last.get('reportUri') or '-'}\n"
    )


def external_version(store: KubeStore, monitor: Mapping[str, Any], *,
                     outbound: OutboundPolicy | None = None) -> str | None:
    """The version a rollback target outside the cluster names now (a Git file's value); None otherwise.

    With such a target the version in service is what the repository says (after a rollback the spec still
    names the newer one), as for a workload target.
    """
    target_spec = _rollback_target(monitor, enabled_only=True)
    if external_kind(target_spec) is None:
        return None
    target = _pointer(store, monitor, target_spec, outbound)
    return target.inspect().current_version if target is not None else None


def proposal_branch(namespace: str, name: str, from_version: str | None, to_version: str) -> str:
    """``modelmonitor/<namespace>/<monitor>/rollback-<from>-to-<to>``, characters a ref may not hold replaced."""
    def clean(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-") or "x"

    return f"modelmonitor/{clean(namespace)}/{clean(name)}/rollback-{clean(from_version or 'unknown')}-to-" \
           f"{clean(to_version)}"


def propose_change(external: VersionPointer, monitor: Mapping[str, Any], from_version: str | None,
                   to_version: str, evaluation_id: str | None, explanation: str) -> dict[str, Any] | None:
    """Manual mode with a Git target: the rollback pushed to its own branch for a pull request (recorded in the
    proposal); None for targets without such a review step (an MLflow alias is proposed in status only)."""
    if not isinstance(external, GitFileTarget):
        return None
    metadata = monitor["metadata"]
    message = change_message(monitor, from_version, to_version, evaluation_id, explanation)
    branch = proposal_branch(metadata["namespace"], metadata["name"], from_version, to_version)
    return external.propose(to_version, proposal_branch=branch, expected_from=from_version,
                            reason=message).to_dict()
