"""Alert channels (email, SMS, webhooks) behind one ``Channel`` interface, and what their messages say.

The operator resolves each channel's Secrets (``required_secrets``), builds the channel (``build_channel``)
and calls ``send`` with a ``Notification`` planned by ``modelmonitor.reconcile.alert_policy``. Channels do
no Kubernetes I/O and never raise on a failed delivery; they return a ``DeliveryResult`` with a redacted
error. Secret keys and the generic webhook payload are documented in ``alerts/README.md``.
"""

from modelmonitor.alerts.base import Channel, ChannelSettings, DeliveryResult, Redactor, RetryPolicy
from modelmonitor.alerts.errors import (
    AlertError,
    AlertPolicyError,
    ChannelConfigError,
    HostNotAllowedError,
    SilenceFormatError,
)
from modelmonitor.alerts.factory import CHANNEL_TYPES, build_channel
from modelmonitor.alerts.notification import (
    DriftedFeature,
    Notification,
    NotificationKind,
    Severity,
    Violation,
    make_dedup_key,
    severity_at_least,
)
from modelmonitor.alerts.spec import required_secrets
from modelmonitor.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_body, verify_signature

__all__ = [
    "CHANNEL_TYPES",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AlertError",
    "AlertPolicyError",
    "Channel",
    "ChannelConfigError",
    "ChannelSettings",
    "DeliveryResult",
    "DriftedFeature",
    "HostNotAllowedError",
    "Notification",
    "NotificationKind",
    "Redactor",
    "RetryPolicy",
    "Severity",
    "SilenceFormatError",
    "Violation",
    "build_channel",
    "make_dedup_key",
    "required_secrets",
    "severity_at_least",
    "sign_body",
    "verify_signature",
]
