"""MLflow webhook deliveries: accepted only signed over the exact bytes, fresh, with every header; alias moves read.

The signing scheme is checked end to end against a real MLflow server in tests/integration/registry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from modelmonitor.registry.webhook import AliasMove, WebhookRejected, parse_alias_move, sign, verify

BODY = json.dumps({"entity": "model_version_alias", "action": "created", "timestamp": "2026-12-01T12:00:00Z",
                   "data": {"name": "credit", "alias": "champion", "version": "2"}}).encode()
NOW = 1_796_126_400.0


def headers(secret: str = "s3cret", body: bytes = BODY, timestamp: int = int(NOW)) -> dict[str, str]:
    return {"X-MLflow-Delivery-Id": "d-1", "X-MLflow-Timestamp": str(timestamp),
            "X-MLflow-Signature": sign(secret, "d-1", str(timestamp), body)}


def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body() -> None:
    expected = base64.b64encode(hmac.new(b"k", b"d-1.100.{}", hashlib.sha256).digest()).decode()
    assert sign("k", "d-1", "100", b"{}") == f"v1,{expected}"


def test_a_signed_fresh_delivery_is_accepted_and_its_alias_move_read() -> None:
    lowered = {key.lower(): value for key, value in headers().items()}
    assert verify("s3cret", lowered, BODY, NOW + 10) == "d-1"
    assert parse_alias_move(BODY) == AliasMove("credit", "champion", "2")


@pytest.mark.parametrize(("given", "body", "now", "message"), [
    (headers("other"), BODY, NOW, "signature does not match"),
    (headers(), BODY.replace(b'"2"', b'"1"'), NOW, "signature does not match"),  # tampered body
    (headers(), BODY, NOW + 301, "away from now"),  # a replay after the tolerance
    ({"X-MLflow-Signature": "v1,xx"}, BODY, NOW, "missing"),
    ({**headers(), "X-MLflow-Timestamp": "yesterday"}, BODY, NOW, "not Unix seconds"),
])
def test_everything_else_is_refused_with_a_reason(given: dict[str, str], body: bytes, now: float,
                                                  message: str) -> None:
    with pytest.raises(WebhookRejected, match=message):
        verify("s3cret", given, body, now)


def test_other_events_are_not_alias_moves() -> None:
    assert parse_alias_move(json.dumps({"entity": "model_version_tag", "action": "set", "data": {}}).encode()) is None
    with pytest.raises(WebhookRejected, match=r"not JSON"):
        parse_alias_move(b"<html>")
    with pytest.raises(WebhookRejected, match=r"without data\.name"):
        parse_alias_move(json.dumps({"entity": "model_version_alias", "action": "created", "data": {}}).encode())
