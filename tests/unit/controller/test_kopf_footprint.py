"""What kopf keeps per object, and how many objects it works on at once, decide the operator's memory at fleet
scale (bench/operator_load/README.md, 5,000 monitors): no timer or daemon on ModelMonitors (with one, kopf
keeps every monitor's latest body for the operator's life), a bounded number of kopf workers, and alert
retries from a dict of the monitors that have queued alerts (not a kopf index: it deadlocks limited workers).
The retries end to end: tests/integration/operator/test_alerting.py and test_alert_lifecycle.py."""

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


def test_no_kopf_index_which_would_deadlock_limited_workers() -> None:
    # kopf holds each object's worker until every object is indexed: with more monitors than worker_limit,
    # never (a 5,000-monitor bench run sat idle with an index and a limit of 200).
    assert kopf.get_default_registry()._indexing.get_all_handlers() == []


def test_monitors_with_queued_alerts_are_tracked_until_their_queue_empties_or_they_go() -> None:
    memo: Any = kopf.Memo(pending_alerts={})

    def seen(event_type: str | None, status: dict[str, Any]) -> None:
        body = kopf.Body({"metadata": {"namespace": "ns", "name": "m"}, "status": status})
        asyncio.run(handlers.track_pending_alerts(event={"type": event_type}, body=body, memo=memo))

    seen(None, {})
    assert memo.pending_alerts == {}
    queued = {"alerts": {"pending": [{"id": "d1"}]}}
    seen("MODIFIED", queued)
    assert memo.pending_alerts[("ns", "m")]["status"] == queued
    seen("MODIFIED", {"alerts": {"pending": []}})
    assert memo.pending_alerts == {}
    seen("MODIFIED", queued)
    seen("DELETED", queued)
    assert memo.pending_alerts == {}


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
    pending = {("ns", name): body for name, body in monitors.items()}
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
                handlers.retry_alerts_forever(kopf.Memo(), pending, executor, first_delay=0))
            while len(visited) < 6:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(two_rounds())
    assert visited[:6] == ["a", "b", "c", "a", "b", "c"]
