"""What kopf keeps per object, and how many objects it works on at once, decide the operator's memory at fleet
scale (bench/operator_load/README.md, 5,000 monitors): no timer or daemon on ModelMonitors (with one, kopf
keeps every monitor's latest body for the operator's life), a bounded number of kopf workers, and alert retries
from an index of the monitors that have queued alerts. The retries end to end: tests/integration/operator/
test_alerting.py and test_alert_lifecycle.py."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
import kubernetes
import pytest

from modelmonitor.controller import handlers, sharding_handlers
from modelmonitor.controller.settings import OperatorSettings
from modelmonitor.kube.store import KubeStore


def test_no_timer_or_daemon_makes_kopf_keep_every_monitors_body() -> None:
    assert sharding_handlers.__name__  # its handlers are registered too
    spawning = kopf.get_default_registry()._spawning.get_all_handlers()
    assert [handler.id for handler in spawning] == []


def test_the_pending_alerts_index_is_filtered_to_monitors_with_queued_alerts() -> None:
    indexing = kopf.get_default_registry()._indexing.get_all_handlers()
    (index,) = [handler for handler in indexing if handler.id == "pending_alerts"]
    assert index.when is not None
    assert index.when(status={"alerts": {"pending": [{"id": "d1"}]}})
    assert not index.when(status={"alerts": {"pending": []}})
    assert not index.when(status={})


def test_kopf_workers_are_bounded_by_ten_per_executor_thread() -> None:
    settings = kopf.OperatorSettings()
    memo: Any = kopf.Memo(store=KubeStore(kubernetes.client.ApiClient()),
                          operator_settings=OperatorSettings(max_workers=7))
    handlers.configure(settings=settings, memo=memo)
    assert settings.execution.max_workers == 7
    assert settings.queueing.worker_limit == 70


def test_the_retry_loop_visits_every_indexed_monitor_and_survives_one_failing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monitors = {name: {"metadata": {"namespace": "ns", "name": name}} for name in ("a", "b", "c")}
    index = {("ns", name): [body] for name, body in monitors.items()}
    visited: list[str] = []

    def retry(body: dict[str, Any], memo: Any) -> None:
        visited.append(body["metadata"]["name"])
        if body["metadata"]["name"] == "a":
            raise RuntimeError("API server unreachable")

    monkeypatch.setattr(handlers, "alert_retries", retry)
    monkeypatch.setattr(handlers, "ALERT_RETRY_SECONDS", 0.05)

    async def two_rounds() -> None:
        with ThreadPoolExecutor(2) as executor:
            task = asyncio.get_running_loop().create_task(
                handlers.retry_alerts_forever(kopf.Memo(), index, executor, first_delay=0))  # type: ignore[arg-type]
            while len(visited) < 6:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(two_rounds())
    assert visited[:6] == ["a", "b", "c", "a", "b", "c"]
