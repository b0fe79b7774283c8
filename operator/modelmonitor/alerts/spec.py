"""Reading a channel's spec (``spec.alerts.channels[i]``) and its Secret data into checked values.

The CRD schema already refuses most bad specs at ``kubectl apply`` time; these checks repeat the ones a
channel cannot work without, so a channel built from a hand-made dict fails with a message naming the field,
never half-way through a send. Secret data arrives decoded (``str`` values) from the operator's kube layer:
channels never read the Kubernetes API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelmonitor.alerts.errors import ChannelConfigError
from modelmonitor.api.durations import parse_duration as spec_duration
from modelmonitor.api.errors import SpecError

__all__ = [
    "SECRET_FIELDS",
    "channel_name",
    "optional_key",
    "parse_duration",
    "recipients",
    "required_key",
    "required_secrets",
    "secret_data",
]

# Spec fields that name a Secret, per channel type, in the order a channel reads them.
SECRET_FIELDS: Mapping[str, Sequence[str]] = {
    "email": ("smtpSecret",),
    "sms": ("secret",),
    "webhook": ("urlSecret", "signingSecret", "headersSecret"),
}

def parse_duration(value: str | int | float, field: str) -> float:
    """Seconds in a spec duration (``90s``, ``30m``, ``1h30m``, ``1d``: `api.durations`) or a number of seconds."""
    if isinstance(value, bool):
        raise ChannelConfigError(f"{field} must be a duration like '30s' or '6h', not {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        try:
            seconds = spec_duration(value.strip(), field).total_seconds()
        except SpecError:
            raise ChannelConfigError(f"{field} must be a duration like '30s', '6h' or '1h30m', not {value!r}") from None
    if seconds < 0:
        raise ChannelConfigError(f"{field} must not be negative")
    return seconds


def channel_name(channel_spec: Mapping[str, Any]) -> str:
    name = channel_spec.get("name")
    if not isinstance(name, str) or not name:
        raise ChannelConfigError("alerts.channels[].name must be a non-empty string")
    return name


def required_secrets(channel_spec: Mapping[str, Any]) -> list[str]:
    """Names of the Secrets (in the monitor's namespace) the operator must read before ``build_channel``."""
    names: list[str] = []
    for field in SECRET_FIELDS.get(str(channel_spec.get("type", "")), ()):
        value = channel_spec.get(field)
        if isinstance(value, str) and value and value not in names:
            names.append(value)
    return names


def secret_data(
    channel_spec: Mapping[str, Any],
    field: str,
    secrets: Mapping[str, Mapping[str, str]],
    *,
    required: bool,
) -> Mapping[str, str] | None:
    """The decoded data of the Secret named by ``channel_spec[field]``, or None when the field is unset."""
    name = channel_name(channel_spec)
    secret_name = channel_spec.get(field)
    if not secret_name:
        if required:
            raise ChannelConfigError(f"channel {name!r}: alerts.channels[].{field} must name a Secret")
        return None
    data = secrets.get(str(secret_name))
    if data is None:
        raise ChannelConfigError(
            f"channel {name!r}: Secret {secret_name!r} (from {field}) was not provided",
            reason="SecretNotFound",
        )
    return data


def required_key(data: Mapping[str, str], key: str, channel: str, secret_field: str) -> str:
    value = data.get(key)
    if not value:
        raise ChannelConfigError(
            f"channel {channel!r}: the Secret named by {secret_field} must have a non-empty key {key!r}",
            reason="SecretKeyMissing",
        )
    return value


def optional_key(data: Mapping[str, str] | None, key: str) -> str | None:
    if data is None:
        return None
    value = data.get(key)
    return value or None


def recipients(channel_spec: Mapping[str, Any], channel: str) -> list[str]:
    raw = channel_spec.get("to")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(item, str) and item for item in raw):
        raise ChannelConfigError(f"channel {channel!r}: alerts.channels[].to must be a non-empty list of strings")
    return list(raw)
