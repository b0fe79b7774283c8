"""Hypothesis-generated ModelMonitor specs, valid and invalid, through the real API server and the running operator.

Each example is a working monitor with up to four hostile edits (wrong types, out-of-range numbers, unknown
names, missing Secrets, broken channels, ...). Promised: the API server refuses it with a message naming a
`spec.` field, or the operator reconciles it into a Ready condition (True, or False with a reason) for the
current generation: no handler crash, no crash loop. Then every place a secret could leak is scanned for the
values of the Secrets the specs reference: monitor status, Events, ConfigMaps, CronJobs, the operator's log.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes.client.exceptions import ApiException

from tests.harness.processes import wait_until
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess

pytestmark = [pytest.mark.cluster, pytest.mark.s3]
EXAMPLES = 60
TOKEN = "tok-FUZZ-" + secrets.token_hex(8)
SMTP_PASSWORD = "pw-FUZZ-" + secrets.token_hex(8)
WEBHOOK = {"name": "hook", "type": "webhook", "urlSecret": "fuzz-hook"}
EMAIL = {"name": "mail", "type": "email", "to": ["oncall@example.com"], "smtpSecret": "fuzz-smtp"}

# (path in spec, candidate values); None removes the key.
EDITS: list[tuple[str, list[Any]]] = [
    ("schedule", ["*/5 * * * *", "61 * * * *", "@hourly", "", 5, None]),
    ("suspend", [True, "yes", None]),
    ("model.task", ["regression", "multiclass-classification", "nonsense", None]),
    ("model.version", ["", 7, "v" * 300]),
    ("metrics", [[{"name": "accuracy", "min": 2}], [{"name": "nope", "min": 0.1}], [], "x",
                 [{"name": "accuracy", "min": 0.9, "max": 0.1}], [{"name": "rmse", "max": 1.0}]]),
    ("drift.tests", [["ks"], ["nope"], [], None, ["psi", "chi2", "wasserstein"]]),
    ("drift.pValue", [0, 1.5, -1, "0.05", 0.05]),
    ("data.current.window", ["24h", "-1h", "forever", 0, None]),
    ("data.reference.format", ["csv", "xml", None]),
    ("data.store.credentialsSecret", ["missing-secret", "", None]),
    ("data.columns.target", ["", None, 3]),
    ("alerts.channels", [[WEBHOOK], [EMAIL], [WEBHOOK, EMAIL], [{**WEBHOOK, "type": "pigeon"}],
                         [WEBHOOK, WEBHOOK], [{**EMAIL, "smtpSecret": "missing-smtp"}], [{**EMAIL, "to": []}]]),
    ("alerts.policy", [{"repeatInterval": "6h"}, {"repeatInterval": "-5m"}, {"repeatInterval": "soon"},
                       {"consecutiveViolations": 0}, {"mOfN": {"violations": 3, "evaluations": 2}}]),
    ("evaluation.backoffLimit", [0, 11, -1, "2"]),
    ("rollback", [{"enabled": True}, {"enabled": "true"}, {"enabled": True, "target": {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "served", "container": "server"}}]),
]


def edited(spec: dict[str, Any], edits: list[tuple[str, Any]]) -> dict[str, Any]:
    result = copy.deepcopy(spec)
    for path, value in edits:
        *parents, leaf = path.split(".")
        node = result
        for key in parents:
            node = node.setdefault(key, {}) if isinstance(node.get(key, {}), dict) else {}
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = copy.deepcopy(value)
    return result


edit_lists = st.lists(st.sampled_from(EDITS).flatmap(
    lambda edit: st.tuples(st.just(edit[0]), st.sampled_from(edit[1]))), max_size=4)


@pytest.fixture
def fuzz_world(world: MonitorWorld) -> MonitorWorld:
    for name, data in (("fuzz-hook", {"url": f"https://hooks.example.com/services/{TOKEN}", "token": TOKEN}),
                       ("fuzz-smtp", {"host": "smtp.example.com", "username": "u", "password": SMTP_PASSWORD,
                                      "from": "mm@example.com"})):
        world.core.create_namespaced_secret(world.namespace, {"metadata": {"name": name}, "data": {
            key: base64.b64encode(value.encode()).decode() for key, value in data.items()}})
    return world


def test_fuzzed_specs_are_refused_naming_a_field_or_reconciled_and_no_secret_leaks(
    fuzz_world: MonitorWorld, operator: OperatorProcess
) -> None:
    world = fuzz_world
    outcomes = {"refused": 0, "ready": 0, "not-ready": 0}
    statuses: list[str] = []
    base = world.monitor("base")["spec"]
    base["alerts"] = {"channels": [WEBHOOK, EMAIL]}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(edits=edit_lists)
    def one_spec(edits: list[tuple[str, Any]]) -> None:
        name = f"fz-{secrets.token_hex(4)}"
        body = {"apiVersion": "modelmonitor.io/v1alpha1", "kind": "ModelMonitor",
                "metadata": {"name": name, "namespace": world.namespace}, "spec": edited(base, edits)}
        try:
            world.custom.create_namespaced_custom_object("modelmonitor.io", "v1alpha1", world.namespace,
                                                         "modelmonitors", body)
        except ApiException as error:
            assert error.status == 422, (error.status, error.body)
            message = json.loads(error.body)["message"]
            assert "spec." in message, (edits, message)  # the refusal names the field
            outcomes["refused"] += 1
            return
        found: dict[str, Any] = {}

        def reconciled() -> bool:
            monitor = world.read(name)
            found["monitor"] = monitor
            ready = [c for c in (monitor.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"]
            return bool(ready) and monitor["status"].get("observedGeneration") == monitor["metadata"]["generation"]

        wait_until(reconciled, 60, interval=0.2, what=f"the operator to reconcile {name} ({edits})")
        status = found["monitor"]["status"]
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert ready["reason"] and ready["message"], ready
        outcomes["ready" if ready["status"] == "True" else "not-ready"] += 1
        statuses.append(json.dumps(status))
        world.custom.delete_namespaced_custom_object("modelmonitor.io", "v1alpha1", world.namespace,
                                                     "modelmonitors", name)

    one_spec()
    assert sum(outcomes.values()) == EXAMPLES and outcomes["refused"] and outcomes["ready"], outcomes
    assert not operator.exited()
    log = operator.log()
    assert "failed with an exception" not in log  # kopf's words for a handler that raised

    leaks = [TOKEN, SMTP_PASSWORD, world.s3.secret_key]
    places = {
        "status": "\n".join(statuses),
        "events": json.dumps(world.client.sanitize_for_serialization(
            world.core.list_namespaced_event(world.namespace))),
        "configmaps": json.dumps(world.client.sanitize_for_serialization(
            world.core.list_namespaced_config_map(world.namespace))),
        "cronjobs": json.dumps(world.client.sanitize_for_serialization(
            world.batch.list_namespaced_cron_job(world.namespace))),
        "operator log": log,
    }
    for place, text in places.items():
        for secret_value in leaks:
            assert secret_value not in text, f"a secret value leaked into {place}"
    print(f"fuzzed {EXAMPLES} specs: {outcomes}")
