"""An MLflow registry webhook delivery for one monitor: verified, then an evaluation started at once.

A tenant points an MLflow webhook (event ``model_version_alias`` ``created``) at the operator's
``/mlflow/<namespace>/<monitor>`` with the secret held in the monitor's ``spec.model.registry.mlflow.webhookSecret``
Secret (key ``secret``). The secret is per monitor, so one tenant cannot start another's evaluations. A delivery
that is signed, fresh, and announces a move of the monitor's own alias of its own model sets the
``modelmonitor.io/run-now`` annotation (to the delivery id, so MLflow's retries of one delivery start one
evaluation); the run-now handler does the rest. Every other delivery is answered and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from modelmonitor.kube.errors import KubeError, NotFound
from modelmonitor.kube.store import KubeStore
from modelmonitor.registry.webhook import WebhookRejected, parse_alias_move, verify
from modelmonitor.services.monitors import RUN_NOW_ANNOTATION
from modelmonitor.services.registry import mlflow_spec

__all__ = ["WebhookAnswer", "handle_delivery"]

log = logging.getLogger("modelmonitor.registry")


@dataclass(frozen=True)
class WebhookAnswer:
    """The HTTP status and a short text for the sender (never a secret, never whether a Secret exists)."""

    status: int
    message: str


def handle_delivery(store: KubeStore, namespace: str, name: str, headers: Mapping[str, str], body: bytes,
                    now: float) -> WebhookAnswer:
    try:
        monitor = store.read_monitor(namespace, name)
    except NotFound:
        return WebhookAnswer(404, "no such monitor")
    spec = mlflow_spec(monitor)
    if spec is None or not spec.webhook_secret:
        return WebhookAnswer(404, "this monitor takes no MLflow webhooks (spec.model.registry.mlflow.webhookSecret)")
    try:
        secret = store.read_secret(namespace, spec.webhook_secret).get("secret") or ""
    except KubeError:
        secret = ""
    if not secret:
        log.warning("webhook for %s/%s refused: Secret %s has no key secret", namespace, name, spec.webhook_secret)
        return WebhookAnswer(401, "not verified")
    try:
        delivery_id = verify(secret, headers, body, now)
        move = parse_alias_move(body)
    except WebhookRejected as rejected:
        log.warning("webhook for %s/%s refused: %s", namespace, name, rejected)
        return WebhookAnswer(401, f"not verified: {rejected}")
    if move is None:
        return WebhookAnswer(202, "accepted; not an alias move, nothing to do")
    if (move.model, move.alias) != (spec.name, spec.alias):
        return WebhookAnswer(202, f"accepted; {move.model}@{move.alias} is not this monitor's alias")
    annotations = (monitor.get("metadata") or {}).get("annotations") or {}
    run_now = f"mlflow-{delivery_id}"[:63]
    if annotations.get(RUN_NOW_ANNOTATION) == run_now:
        return WebhookAnswer(200, "already started for this delivery")
    store.patch_monitor_metadata(namespace, name, {"annotations": {RUN_NOW_ANNOTATION: run_now}})
    log.info("%s/%s: %s@%s moved to version %s; evaluation requested", namespace, name, move.model, move.alias,
             move.version)
    return WebhookAnswer(200, f"evaluation requested for version {move.version}")
