"""The alerts package's exception tree, so the operator can tell a bad channel spec from a failed send.

Channel construction raises; sending never does (it returns a ``DeliveryResult``), because a failed delivery
is an expected outcome the alert policy records and retries, not a bug. Messages name the channel and the
field or Secret key concerned and never contain a secret value.

    AlertError                     base of everything raised here
    ├── ChannelConfigError         a channel spec or its Secret data is unusable
    │   └── HostNotAllowedError    a webhook URL points outside the operator's host allow-list
    └── AlertPolicyError           spec.alerts.policy is unusable (raised by reconcile.alert_policy)
        └── SilenceFormatError     a silence (spec or annotation) cannot be parsed
"""

from __future__ import annotations

__all__ = ["AlertError", "AlertPolicyError", "ChannelConfigError", "HostNotAllowedError", "SilenceFormatError"]


class AlertError(Exception):
    """Base of every error raised by the alerts package; ``reason`` is a CamelCase word for machines."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or type(self).__name__


class ChannelConfigError(AlertError):
    """A channel cannot be built: a missing field, an unknown type, a Secret key absent or malformed."""


class HostNotAllowedError(ChannelConfigError):
    """A webhook URL's host is not in the operator's allow-list (the message names the host, not the URL)."""


class AlertPolicyError(AlertError):
    """``spec.alerts.policy`` (or a channel's policy override) cannot be used as written."""


class SilenceFormatError(AlertPolicyError):
    """The ``modelmonitor.io/silence`` annotation or a ``policy.silences`` entry is malformed."""
