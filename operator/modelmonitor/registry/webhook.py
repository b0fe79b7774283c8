"""MLflow registry webhooks: verify a delivery (HMAC, freshness) and read which alias moved. Pure.

MLflow signs a delivery as ``X-MLflow-Signature: v1,<base64 HMAC-SHA256(secret, "<delivery id>.<timestamp>.<body>")>``
with ``X-MLflow-Delivery-Id`` and ``X-MLflow-Timestamp`` (Unix seconds). A delivery is accepted only with a valid
signature over the exact bytes received and a timestamp within ``tolerance`` of now (a captured delivery cannot
be replayed later); the comparison is constant-time. The body of an alias move is
``{"entity": "model_version_alias", "action": "created", "data": {"name", "alias", "version"}}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["SIGNATURE_HEADER", "AliasMove", "WebhookRejected", "parse_alias_move", "sign", "verify"]

SIGNATURE_HEADER = "X-MLflow-Signature"
DELIVERY_HEADER = "X-MLflow-Delivery-Id"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookRejected(ValueError):
    """The delivery is not accepted; the message says why (never echoing the secret)."""


@dataclass(frozen=True)
class AliasMove:
    model: str
    alias: str
    version: str


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The ``X-MLflow-Signature`` value MLflow sends for this delivery."""
    content = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(secret.encode("utf-8"), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float,
           tolerance: float = DEFAULT_TOLERANCE_SECONDS) -> str:
    """Check signature and freshness; returns the delivery id. Header names are matched case-insensitively."""
    folded = {key.lower(): value for key, value in headers.items()}
    signature = folded.get(SIGNATURE_HEADER.lower(), "")
    delivery_id = folded.get(DELIVERY_HEADER.lower(), "")
    timestamp = folded.get(TIMESTAMP_HEADER.lower(), "")
    if not signature or not delivery_id or not timestamp:
        raise WebhookRejected(f"missing {SIGNATURE_HEADER}, {DELIVERY_HEADER} or {TIMESTAMP_HEADER}")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookRejected(f"{TIMESTAMP_HEADER} is not Unix seconds") from None
    if abs(now - sent_at) > tolerance:
        raise WebhookRejected(f"{TIMESTAMP_HEADER} is {int(now - sent_at)} s away from now (at most {tolerance:.0f})")
    expected = sign(secret, delivery_id, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise WebhookRejected("the signature does not match the body and the monitor's webhook secret")
    return delivery_id


def parse_alias_move(body: bytes) -> AliasMove | None:
    """The alias move a delivery announces; None for other events (a tag set, a new version, a test)."""
    try:
        event = json.loads(body)
    except ValueError:
        raise WebhookRejected("the body is not JSON") from None
    if not isinstance(event, dict) or event.get("entity") != "model_version_alias" \
            or event.get("action") not in ("created", "updated"):
        return None
    data = event.get("data") or {}
    if not all(isinstance(data.get(key), str | int) for key in ("name", "alias", "version")):
        raise WebhookRejected("an alias event without data.name, data.alias and data.version")
    return AliasMove(str(data["name"]), str(data["alias"]), str(data["version"]))
