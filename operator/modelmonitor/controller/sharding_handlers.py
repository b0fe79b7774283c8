"""kopf handler for the Indexed Jobs of sharded runs: reduce when they complete, record why when they fail.

Thin like the other handlers: the decision and the API calls are in ``services.sharding``. A failed run is
reported with the evaluation-finished handler's own reporting (Events, metrics, alert delivery), so it looks
the same as any failed evaluation.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from modelmonitor.controller import fencing, handlers
from modelmonitor.kube.errors import Conflict, KubeError
from modelmonitor.manifests import MONITOR_LABEL, ROLE_LABEL, SHARDS_ROLE
from modelmonitor.services.sharding import process_finished_shards, shards_need_processing

log = logging.getLogger("modelmonitor.operator")


@kopf.on.event("batch", "v1", "jobs", id="shards-finished",
               labels={ROLE_LABEL: SHARDS_ROLE, MONITOR_LABEL: kopf.PRESENT})
def shards_finished(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    if not shards_need_processing(body):
        return
    fencing.ensure_leader()  # a replica no longer sure to lead exits instead of acting
    try:
        outcome = process_finished_shards(memo.store, body, after_status=handlers.report_evaluation)
    except (Conflict, KubeError) as error:
        log.warning("sharded run %s: %s", body["metadata"]["name"], error)
        return
    if outcome.reduce_job is not None:
        log.info("sharded run %s completed; reduce Job %s started", outcome.job, outcome.reduce_job)
    if outcome.record is not None:
        handlers.act_on_evaluation(memo, body["metadata"]["namespace"], outcome.record)
