"""``build_channel``: the one place that maps a channel spec's ``type`` to an implementation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelmonitor.alerts.base import Channel, ChannelSettings
from modelmonitor.alerts.errors import ChannelConfigError
from modelmonitor.alerts.sms import build_sms_channel
from modelmonitor.alerts.smtp import build_email_channel
from modelmonitor.alerts.spec import channel_name
from modelmonitor.alerts.webhook import build_webhook_channel

__all__ = ["CHANNEL_TYPES", "build_channel"]

CHANNEL_TYPES = ("email", "sms", "webhook")


def build_channel(
    channel_spec: Mapping[str, Any],
    secrets: Mapping[str, Mapping[str, str]],
    settings: ChannelSettings | None = None,
) -> Channel:
    """Build the channel described by one ``spec.alerts.channels[]`` entry.

    ``secrets`` maps each Secret name listed by ``required_secrets(channel_spec)`` to its decoded data.
    Raises ``ChannelConfigError`` (naming the field or Secret key, never a value) when unusable.
    """
    settings = settings or ChannelSettings()
    name = channel_name(channel_spec)
    channel_type = channel_spec.get("type")
    if channel_type == "email":
        return build_email_channel(channel_spec, secrets, settings)
    if channel_type == "sms":
        return build_sms_channel(channel_spec, secrets, settings)
    if channel_type == "webhook":
        return build_webhook_channel(channel_spec, secrets, settings)
    raise ChannelConfigError(f"channel {name!r}: alerts.channels[].type must be one of {', '.join(CHANNEL_TYPES)}")
