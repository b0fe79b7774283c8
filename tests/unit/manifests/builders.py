"""The objects the builders make for each valid sample monitor, shared by the golden and property tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from modelmonitor.api import parse_spec
from modelmonitor.manifests import build_config_map, build_cron_job, build_job_from_cron_job, run_now_job_name

FIXTURES = Path(__file__).resolve().parents[1] / "api" / "fixtures"
SAMPLES = sorted(path.name for path in FIXTURES.glob("valid-*.yaml"))
IMAGE = "ghcr.io/example/modelmonitor:0.1.0"
UID = "0b5b3d0e-8f7e-4c39-9d0b-6f1f5c1e2a10"
RUN_NOW_AT = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def sample_monitor(name: str, namespace: str = "risk") -> dict[str, Any]:
    monitor: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))
    monitor["metadata"].update(namespace=namespace, uid=UID)
    return monitor


def build_all(monitor: dict[str, Any]) -> list[dict[str, Any]]:
    """ConfigMap, CronJob and a run-now Job of one monitor."""
    spec = parse_spec(monitor["spec"])
    cron_job = build_cron_job(monitor, spec, IMAGE)
    job = build_job_from_cron_job(cron_job, run_now_job_name(monitor["metadata"]["name"], RUN_NOW_AT), monitor)
    return [build_config_map(monitor, spec), cron_job, job]
