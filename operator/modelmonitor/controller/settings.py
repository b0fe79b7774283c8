"""The operator's own configuration, from its command line (and the Helm chart that writes it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelmonitor.api.model import DEFAULT_EVALUATOR_SERVICE_ACCOUNT


@dataclass(frozen=True)
class OperatorSettings:
    evaluator_image: str = "modelmonitor:0.1.0"
    evaluator_service_account: str = DEFAULT_EVALUATOR_SERVICE_ACCOUNT
    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = True
    metrics_port: int = 9090
    webhook_allowed_hosts: tuple[str, ...] = field(default_factory=tuple)
    max_workers: int = 20
    # How long a claim on an alert delivery holds (services/alerting.py): past it, a crashed sender's delivery
    # is taken over by the retry timer.
    delivery_claim_seconds: float = 300.0
