"""``build_channel``: the one place that maps a channel spec's ``type`` to an implementation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import get_args

from modelmonitor.alerts.base import Channel, ChannelSettings
from modelmonitor.alerts.sms import build_sms_channel
from modelmonitor.alerts.smtp import build_email_channel
from modelmonitor.alerts.webhook import build_webhook_channel
from modelmonitor.api import AlertChannel
from modelmonitor.api.model import ChannelType

__all__ = ["CHANNEL_TYPES", "build_channel"]

CHANNEL_TYPES: tuple[ChannelType, ...] = get_args(ChannelType)


def build_channel(
    channel: AlertChannel,
    secrets: Mapping[str, Mapping[str, str]],
    settings: ChannelSettings | None = None,
) -> Channel:
    """Build the channel of one parsed ``spec.alerts.channels[]`` entry (``MonitorSpec.alerts.channels``).

    ``secrets`` maps each Secret name listed by ``required_secrets(channel)`` to its decoded data.
    Raises ``ChannelConfigError`` (naming the field or Secret key, never a value) when unusable.
    """
    settings = settings or ChannelSettings()
    if channel.type == "email":
        return build_email_channel(channel, secrets, settings)
    if channel.type == "sms":
        return build_sms_channel(channel, secrets, settings)
    return build_webhook_channel(channel, secrets, settings)
