"""The CLI's spec check (``parse_spec``) and the real API server agree on every rule, in both directions.

Each CEL rule of the CRD has a refusing and an accepting example (tests/unit/api/rule_cases.py); each is sent
to the kube-apiserver with the generated CRD (server dry run, strict field validation as ``kubectl apply``
uses) and to ``parse_spec``. Both must refuse the refusing one, naming the same field and message, and both
must accept the accepting one. The structural refusals of test_admission.py and unknown keys are checked too.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import kubernetes
import pytest

from modelmonitor.api import SpecError, parse_spec
from modelmonitor.api.crd import GROUP, PLURAL, VERSION
from tests.integration.api.test_admission import INVALID, Invalid
from tests.unit.api.rule_cases import BINARY, RULE_CASES, RuleCase, load_monitor

pytestmark = pytest.mark.cluster


def _api_server_refusal(kube_cluster: Any, namespace: str, monitor: dict[str, Any]) -> str | None:
    """The API server's refusal message, or None when it accepts the monitor."""
    monitor = copy.deepcopy(monitor)
    monitor["metadata"]["name"] = f"{monitor['metadata']['name'][:30]}-{uuid.uuid4().hex[:6]}"
    with kube_cluster.api_client() as client:
        objects = kubernetes.client.CustomObjectsApi(client)
        try:
            objects.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, monitor, dry_run="All", field_validation="Strict"
            )
        except kubernetes.client.ApiException as error:
            assert error.status in (400, 422), error.body  # 400: strict decoding (unknown field); 422: invalid
            return str(json.loads(str(error.body))["message"])
    return None


def _cli_refusal(monitor: dict[str, Any]) -> SpecError | None:
    try:
        parse_spec(monitor["spec"])
    except SpecError as error:
        return error
    return None


@pytest.mark.parametrize("case", RULE_CASES, ids=[case.id for case in RULE_CASES])
def test_api_server_and_parse_spec_refuse_a_rule_breach_alike(
    kube_cluster: Any, monitor_namespace: str, case: RuleCase
) -> None:
    monitor = case.monitor(accepting=False)
    server = _api_server_refusal(kube_cluster, monitor_namespace, monitor)
    cli = _cli_refusal(monitor)
    assert server is not None, f"the API server accepted {case.id}"
    assert cli is not None, f"parse_spec accepted {case.id}"
    assert case.field in server and case.message in server, server


@pytest.mark.parametrize("case", RULE_CASES, ids=[case.id for case in RULE_CASES])
def test_api_server_and_parse_spec_accept_a_rule_kept(
    kube_cluster: Any, monitor_namespace: str, case: RuleCase
) -> None:
    monitor = case.monitor(accepting=True)
    assert _api_server_refusal(kube_cluster, monitor_namespace, monitor) is None
    assert _cli_refusal(monitor) is None


@pytest.mark.parametrize(
    "invalid", [i for i in INVALID if i.case != "name too long for its CronJob"], ids=lambda invalid: invalid.case
)
def test_parse_spec_refuses_every_monitor_the_api_server_refuses(invalid: Invalid) -> None:
    """Structural refusals too (enums, patterns, ranges, required): test_admission proves the API server's side."""
    monitor = copy.deepcopy(load_monitor(invalid.fixture))
    invalid.breaks(monitor)
    refusal = _cli_refusal(monitor)
    assert refusal is not None
    assert refusal.field.startswith(invalid.expected[0]), refusal


@pytest.mark.parametrize(
    ("where", "key"), [((), "metrcs"), (("drift",), "pvalue"), (("alerts", "channels", 0), "smtp_secret")]
)
def test_unknown_keys_are_refused_by_both(
    kube_cluster: Any, monitor_namespace: str, where: tuple[str | int, ...], key: str
) -> None:
    monitor = copy.deepcopy(load_monitor(BINARY))
    node: Any = monitor["spec"]
    for part in where:
        node = node[part]
    node[key] = 1
    path = "spec" + "".join(f".{part}" if isinstance(part, str) else f"[{part}]" for part in where) + f".{key}"
    server = _api_server_refusal(kube_cluster, monitor_namespace, monitor)
    assert server is not None and f'unknown field "{path}"' in server, server
    cli = _cli_refusal(monitor)
    assert cli is not None and cli.field == path and "did you mean" in cli.message
