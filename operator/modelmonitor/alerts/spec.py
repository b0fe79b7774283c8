"""A channel's parsed spec (``api.AlertChannel``) and its Secret data, as the channel builders read them.

The spec is read once, by ``modelmonitor.api.parse_spec`` (the CRD's schema and CEL rules: an e-mail channel
has ``to`` and ``smtpSecret``, a webhook ``urlSecret``, ...); channels take the typed ``AlertChannel``. What
is left to check here is what the spec cannot say: the keys inside the Secrets. Secret data arrives decoded
(``str`` values) from the operator's kube layer: channels never read the Kubernetes API.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from modelmonitor.alerts.errors import ChannelConfigError
from modelmonitor.api import AlertChannel
from modelmonitor.api.parsing import json_name
from modelmonitor.api.secrets import secret_references

__all__ = ["optional_key", "recipients", "required_key", "required_secrets", "secret_data"]


def required_secrets(channel: AlertChannel) -> list[str]:
    """Names of the Secrets (in the monitor's namespace) the operator must read before ``build_channel``."""
    names: list[str] = []
    for _, name in secret_references(channel, "spec.alerts.channels[]"):
        if name not in names:
            names.append(name)
    return names


def _field_value(channel: AlertChannel, field: str) -> str | None:
    for spec_field in dataclasses.fields(channel):
        if json_name(spec_field) == field:
            value = getattr(channel, spec_field.name)
            return str(value) if value else None
    raise KeyError(field)


def secret_data(
    channel: AlertChannel,
    field: str,
    secrets: Mapping[str, Mapping[str, str]],
    *,
    required: bool,
) -> Mapping[str, str] | None:
    """The decoded data of the Secret named by the channel's ``field`` (e.g. ``smtpSecret``), None when unset."""
    secret_name = _field_value(channel, field)
    if not secret_name:
        if required:
            raise ChannelConfigError(f"channel {channel.name!r}: alerts.channels[].{field} must name a Secret")
        return None
    data = secrets.get(secret_name)
    if data is None:
        raise ChannelConfigError(
            f"channel {channel.name!r}: Secret {secret_name!r} (from {field}) was not provided",
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


def recipients(channel: AlertChannel) -> list[str]:
    """``to`` (the CRD requires it for e-mail and SMS; a channel built without the parser is checked here)."""
    if not channel.to:
        raise ChannelConfigError(f"channel {channel.name!r}: alerts.channels[].to must list at least one recipient")
    return list(channel.to)
