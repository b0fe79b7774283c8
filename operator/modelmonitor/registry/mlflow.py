"""A small MLflow REST client: the few registry and tracking calls the operator makes, over ``requests``.

Why not the ``mlflow`` package: it weighs ~850 MB with its dependencies and would enter the operator's image for
a dozen HTTP calls. MLflow's REST API (``/api/2.0/mlflow/...``) is stable and documented; this module speaks it
directly, and the tests run it against a real ``mlflow server`` (``hack/mlflow/install.sh``).

Every call goes through one method (``_call``) that applies the outbound check (a hook: the operator's host
allow-list), sends credentials (a bearer token or basic auth, as MLflow's ``MLFLOW_TRACKING_TOKEN`` /
``MLFLOW_TRACKING_USERNAME`` + ``MLFLOW_TRACKING_PASSWORD``), follows no redirect (credentials must not leak
to another host), and turns every failure into a :mod:`modelmonitor.registry.errors` error whose message
names the host and the object, never the credentials.

"Move to version X" is one call, :meth:`MlflowClient.set_alias`: it serves rollback and promotion alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from modelmonitor.registry.errors import (
    RegistryConfigError,
    RegistryError,
    RegistryNotFound,
    RegistryRefused,
    RegistryUnauthorized,
    RegistryUnreachable,
)

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "MlflowClient",
    "MlflowCredentials",
    "ModelVersion",
    "OutboundCheck",
]

DEFAULT_TIMEOUT_SECONDS = 10.0
#: Model-version tags that carry the content hash of a DVC-tracked artifact.
DVC_HASH_TAGS = ("dvc.md5", "dvc_md5", "dvc.hash")
API = "/api/2.0/mlflow"

#: Called with every URL before it is requested; raises to refuse it (the operator's outbound allow-list).
OutboundCheck = Callable[[str], None]


@dataclass(frozen=True)
class MlflowCredentials:
    """Credentials from the monitor's Secret: a token (Bearer) or a user name and password (Basic)."""

    token: str | None = None
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_secret(cls, data: Mapping[str, str], secret_name: str) -> MlflowCredentials:
        """Read MLflow's own variable names from a Secret's decoded data."""
        token = data.get("MLFLOW_TRACKING_TOKEN") or None
        username = data.get("MLFLOW_TRACKING_USERNAME") or None
        password = data.get("MLFLOW_TRACKING_PASSWORD") or None
        if not token and not (username and password):
            raise RegistryConfigError(
                f"Secret {secret_name} must hold MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD"
            )
        return cls(token=token, username=username, password=password)

    def __repr__(self) -> str:  # never print a credential, even in a traceback
        return "MlflowCredentials(<redacted>)"


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version, as the registry describes it."""

    name: str
    version: str
    run_id: str | None = None
    source: str | None = None
    aliases: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)

    def artifact(self) -> dict[str, str]:
        """What the version is: its source URI, its run, and the content hash of a DVC-tracked artifact when the
        version is tagged with one (``dvc.md5``, as DVC names it; ``dvc.path`` for the file)."""
        artifact = {"source": self.source or "", "runId": self.run_id or ""}
        digest = next((self.tags[tag] for tag in DVC_HASH_TAGS if self.tags.get(tag)), "")
        if digest:
            artifact["dvcMd5"] = digest
            artifact["dvcPath"] = self.tags.get("dvc.path", "")
        return {key: value for key, value in artifact.items() if value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelVersion:
        return cls(
            name=str(data.get("name", "")),
            version=str(data.get("version", "")),
            run_id=str(data["run_id"]) if data.get("run_id") else None,
            source=str(data["source"]) if data.get("source") else None,
            aliases=tuple(str(alias) for alias in data.get("aliases") or ()),
            tags={str(tag["key"]): str(tag.get("value", "")) for tag in data.get("tags") or ()},
        )


class MlflowClient:
    """The operator's view of one MLflow tracking server (registry and runs)."""

    def __init__(
        self,
        tracking_uri: str,
        credentials: MlflowCredentials | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        outbound_check: OutboundCheck | None = None,
        session: requests.Session | None = None,
    ) -> None:
        parts = urlsplit(tracking_uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RegistryConfigError(
                f"spec.model.registry.mlflow.trackingUri must be an http(s) URL (got {tracking_uri[:200]!r})"
            )
        self.base_url = tracking_uri.rstrip("/")
        self.host = parts.hostname
        self.credentials = credentials
        self.timeout = timeout
        self.outbound_check = outbound_check
        self.session = session or requests.Session()

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> MlflowClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- the one HTTP edge ---------------------------------------------------------------------------------

    def _call(self, method: str, endpoint: str, *, what: str, params: Mapping[str, str] | None = None,
              body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.base_url}{API}/{endpoint}"
        if self.outbound_check is not None:
            self.outbound_check(url)
        headers = {"Accept": "application/json"}
        auth: tuple[str, str] | None = None
        if self.credentials is not None:
            if self.credentials.token:
                headers["Authorization"] = f"Bearer {self.credentials.token}"
            elif self.credentials.username and self.credentials.password:
                auth = (self.credentials.username, self.credentials.password)
        try:
            response = self.session.request(
                method, url, params=dict(params) if params else None, json=dict(body) if body is not None else None,
                headers=headers, auth=auth, timeout=self.timeout, allow_redirects=False,
            )
        except requests.RequestException as error:
            raise RegistryUnreachable(
                f"cannot {what}: MLflow at {self.host} did not answer ({type(error).__name__})"
            ) from None
        if response.status_code >= 300:
            raise _error_of(response, what, self.host)
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            raise RegistryRefused(f"cannot {what}: MLflow at {self.host} answered with something not JSON") from None
        if not isinstance(answer, dict):
            raise RegistryRefused(f"cannot {what}: MLflow at {self.host} answered with unexpected JSON")
        return answer

    # --- registry --------------------------------------------------------------------------------------------

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version the alias points at (``@champion``); RegistryNotFound if the model or alias is absent."""
        answer = self._call("GET", "registered-models/alias", params={"name": name, "alias": alias},
                            what=f"resolve alias {alias!r} of model {name!r}")
        return ModelVersion.from_json(answer.get("model_version") or {})

    def model_version(self, name: str, version: str) -> ModelVersion:
        answer = self._call("GET", "model-versions/get", params={"name": name, "version": version},
                            what=f"read version {version} of model {name!r}")
        return ModelVersion.from_json(answer.get("model_version") or {})

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version`` (creates or moves it): rollback and promotion are this one call."""
        self._call("POST", "registered-models/alias", body={"name": name, "alias": alias, "version": version},
                   what=f"point alias {alias!r} of model {name!r} at version {version}")

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self._call("POST", "model-versions/set-tag",
                   body={"name": name, "version": version, "key": key, "value": value},
                   what=f"tag version {version} of model {name!r} with {key}")

    def create_registered_model(self, name: str) -> None:
        self._call("POST", "registered-models/create", body={"name": name}, what=f"create model {name!r}")

    def create_model_version(self, name: str, source: str, run_id: str | None = None) -> ModelVersion:
        body: dict[str, Any] = {"name": name, "source": source}
        if run_id:
            body["run_id"] = run_id
        answer = self._call("POST", "model-versions/create", body=body, what=f"create a version of model {name!r}")
        return ModelVersion.from_json(answer.get("model_version") or {})

    def create_webhook(self, name: str, url: str, secret: str) -> str:
        """An MLflow registry webhook on alias moves (``MODEL_VERSION_ALIAS`` ``CREATED``) to ``url``."""
        answer = self._call("POST", "webhooks", body={
            "name": name, "url": url, "secret": secret,
            "events": [{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}],  # REST takes the enum names
        }, what=f"create webhook {name!r}")
        return str((answer.get("webhook") or {}).get("webhook_id", ""))

    # --- tracking --------------------------------------------------------------------------------------------

    def experiment_id(self, name: str, *, create: bool = True) -> str:
        """The id of the experiment named ``name``, created when absent (and ``create``)."""
        try:
            answer = self._call("GET", "experiments/get-by-name", params={"experiment_name": name},
                                what=f"read experiment {name!r}")
            return str(answer["experiment"]["experiment_id"])
        except RegistryNotFound:
            if not create:
                raise
        try:
            answer = self._call("POST", "experiments/create", body={"name": name},
                                what=f"create experiment {name!r}")
            return str(answer["experiment_id"])
        except RegistryRefused:  # created meanwhile by another operator replica
            answer = self._call("GET", "experiments/get-by-name", params={"experiment_name": name},
                                what=f"read experiment {name!r}")
            return str(answer["experiment"]["experiment_id"])

    def find_run_by_tag(self, experiment_id: str, key: str, value: str) -> str | None:
        """The id of a run of the experiment tagged ``key=value`` (the operator's idempotency key), if any."""
        quoted = value.replace("'", "")
        answer = self._call("POST", "runs/search", body={
            "experiment_ids": [experiment_id], "filter": f"tags.`{key}` = '{quoted}'", "max_results": 1,
        }, what=f"search runs of experiment {experiment_id}")
        runs = answer.get("runs") or []
        return str(runs[0]["info"]["run_id"]) if runs else None

    def create_run(self, experiment_id: str, run_name: str, start_time_ms: int, tags: Mapping[str, str]) -> str:
        answer = self._call("POST", "runs/create", body={
            "experiment_id": experiment_id, "run_name": run_name, "start_time": start_time_ms,
            "tags": [{"key": key, "value": value} for key, value in tags.items()],
        }, what=f"create run {run_name!r}")
        return str(answer["run"]["info"]["run_id"])

    def log_batch(self, run_id: str, metrics: Mapping[str, float], params: Mapping[str, str],
                  tags: Mapping[str, str], timestamp_ms: int) -> None:
        self._call("POST", "runs/log-batch", body={
            "run_id": run_id,
            "metrics": [{"key": key, "value": value, "timestamp": timestamp_ms, "step": 0}
                        for key, value in metrics.items()],
            "params": [{"key": key, "value": value} for key, value in params.items()],
            "tags": [{"key": key, "value": value} for key, value in tags.items()],
        }, what=f"log results to run {run_id}")

    def finish_run(self, run_id: str, end_time_ms: int, status: str = "FINISHED") -> None:
        self._call("POST", "runs/update", body={"run_id": run_id, "status": status, "end_time": end_time_ms},
                   what=f"finish run {run_id}")

    def get_run(self, run_id: str) -> dict[str, Any]:
        answer = self._call("GET", "runs/get", params={"run_id": run_id}, what=f"read run {run_id}")
        run: dict[str, Any] = answer.get("run") or {}
        return run


def _error_of(response: requests.Response, what: str, host: str) -> RegistryError:
    try:
        payload = response.json()
        code = str(payload.get("error_code") or "")
        detail = str(payload.get("message") or "")[:300]
    except (ValueError, AttributeError):
        code, detail = "", ""
    said = f" ({code}: {detail})" if code or detail else ""
    if response.status_code in (401, 403) or code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return RegistryUnauthorized(
            f"cannot {what}: MLflow at {host} refused the credentials (HTTP {response.status_code}){said}; "
            "check spec.model.registry.mlflow.credentialsSecret"
        )
    # A missing alias is answered 400 INVALID_PARAMETER_VALUE "... alias x not found" (MLflow 3.17).
    if response.status_code == 404 or code == "RESOURCE_DOES_NOT_EXIST" or "not found" in detail.lower():
        return RegistryNotFound(f"cannot {what}: it does not exist in MLflow at {host}{said}")
    if 300 <= response.status_code < 400:
        return RegistryRefused(
            f"cannot {what}: MLflow at {host} answered with a redirect (HTTP {response.status_code}), which is "
            "not followed; give the final URL as trackingUri"
        )
    return RegistryRefused(f"cannot {what}: MLflow at {host} answered HTTP {response.status_code}{said}")


def metric_items(values: Sequence[tuple[str, Any]]) -> dict[str, float]:
    """Finite numbers only (MLflow stores NaN, but a missing metric should be absent, not a NaN point)."""
    result: dict[str, float] = {}
    for key, value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        number = float(value)
        if number == number and number not in (float("inf"), float("-inf")):
            result[key] = number
    return result
