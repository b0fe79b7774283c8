"""SMS through AWS SNS (any SNS-compatible endpoint) or a Twilio-style HTTP API.

The text is one GSM-7 segment (``render.sms_text``), so it arrives as one message on every phone.

Secret keys (the Secret named by ``secret``):
- ``provider: sns``: ``region``, ``endpoint`` (optional: an SNS-compatible service), ``accessKeyId`` and
  ``secretAccessKey`` (or ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``), ``sessionToken`` (optional).
  Without a Secret, boto3's default credential chain is used (e.g. IRSA on EKS). ``to`` entries are phone
  numbers in E.164 form (``+15550100``) or SNS topic ARNs (``arn:...``).
- ``provider: twilio``: ``accountSid``, ``authToken``, ``from``, ``baseUrl`` (optional, default
  ``https://api.twilio.com``). One POST of the form ``To``/``From``/``Body`` with basic auth per recipient to
  ``{baseUrl}/2010-04-01/Accounts/{accountSid}/Messages.json``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from modelmonitor.alerts import render
from modelmonitor.alerts.base import ChannelSettings, DeliveryResult, Redactor
from modelmonitor.alerts.errors import ChannelConfigError, HostNotAllowedError
from modelmonitor.alerts.http_post import post_with_retries
from modelmonitor.alerts.notification import Notification
from modelmonitor.alerts.spec import optional_key, recipients, required_key, secret_data
from modelmonitor.api import AlertChannel
from modelmonitor.api.model import DEFAULT_SMS_PROVIDER

__all__ = ["SnsSmsChannel", "TwilioSmsChannel", "build_sms_channel"]

TWILIO_DEFAULT_BASE_URL = "https://api.twilio.com"


class SnsSmsChannel:
    """Publishes the SMS text to each phone number (or topic ARN) in ``to``."""

    def __init__(self, *, name: str, to: list[str], client: Any, redactor: Redactor) -> None:
        self._name = name
        self._to = to
        self._client = client
        self._redact = redactor

    @property
    def name(self) -> str:
        return self._name

    def send(self, notification: Notification) -> DeliveryResult:
        text = render.sms_text(notification)
        failures: list[str] = []
        retryable = True
        for recipient in self._to:
            target = {"TopicArn": recipient} if recipient.startswith("arn:") else {"PhoneNumber": recipient}
            try:
                self._client.publish(Message=text, **target)
            except botocore.exceptions.ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", "ClientError"))
                status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
                retryable = retryable and (status >= 500 or status == 429 or code == "Throttling")
                failures.append(f"{recipient}: SNS refused ({code})")
            except botocore.exceptions.BotoCoreError as error:
                failures.append(f"{recipient}: {type(error).__name__}")
        if failures:
            message = f"channel {self._name!r}: {len(failures)} of {len(self._to)} SMS failed: " + "; ".join(failures)
            return DeliveryResult.failure(self._name, self._redact(message), retryable=retryable)
        return DeliveryResult.success(self._name)


class TwilioSmsChannel:
    """POSTs one Twilio ``Messages`` request per recipient."""

    def __init__(
        self,
        *,
        name: str,
        to: list[str],
        base_url: str,
        account_sid: str,
        auth_token: str,
        sender: str,
        settings: ChannelSettings,
        redactor: Redactor,
    ) -> None:
        self._name = name
        self._to = to
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{urllib.parse.quote(account_sid)}/Messages.json"
        self._auth = (account_sid, auth_token)
        self._sender = sender
        self._settings = settings
        self._redact = redactor

    @property
    def name(self) -> str:
        return self._name

    def send(self, notification: Notification) -> DeliveryResult:
        text = render.sms_text(notification)
        attempts = 0
        for recipient in self._to:
            body = urllib.parse.urlencode({"To": recipient, "From": self._sender, "Body": text}).encode()
            result = post_with_retries(
                channel=self._name,
                url=self._url,
                body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
                settings=self._settings,
                timeout=self._settings.http_timeout,
                redactor=self._redact,
                auth=self._auth,
            )
            attempts += result.attempts
            if not result.ok:
                return result
        return DeliveryResult.success(self._name, attempts=attempts)


def _build_sns(name: str, to: list[str], data: Mapping[str, str] | None, settings: ChannelSettings) -> SnsSmsChannel:
    region = optional_key(data, "region") or settings.sns_region
    endpoint = optional_key(data, "endpoint") or settings.sns_endpoint_url
    access_key = optional_key(data, "accessKeyId") or optional_key(data, "AWS_ACCESS_KEY_ID")
    secret_key = optional_key(data, "secretAccessKey") or optional_key(data, "AWS_SECRET_ACCESS_KEY")
    session_token = optional_key(data, "sessionToken") or optional_key(data, "AWS_SESSION_TOKEN")
    if bool(access_key) != bool(secret_key):
        raise ChannelConfigError(
            f"channel {name!r}: the Secret named by secret must have both accessKeyId and secretAccessKey, or neither"
        )
    for recipient in to:
        if not (recipient.startswith("arn:") or (recipient.startswith("+") and recipient[1:].isdigit())):
            raise ChannelConfigError(
                f"channel {name!r}: alerts.channels[].to entry {recipient!r} must be an E.164 number or a topic ARN"
            )
    if settings.outbound is not None:
        if not access_key and not settings.outbound.cloud_identity_allowed(settings.namespace):
            raise HostNotAllowedError(
                f"channel {name!r}: SNS without credentials in the channel's Secret would use the operator's own "
                f"cloud identity, which namespace {settings.namespace!r} is not allowed to use "
                "(chart value operator.outbound.cloudIdentityNamespaces)", reason="CloudIdentityNotAllowed")
        settings.outbound.check_url("sms", endpoint or f"https://sns.{region or 'us-east-1'}.amazonaws.com",
                                    channel=name)
    client = boto3.client(
        "sns",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        config=botocore.config.Config(
            connect_timeout=settings.http_timeout,
            read_timeout=settings.http_timeout,
            retries={"max_attempts": settings.retry.max_attempts, "mode": "standard"},
        ),
    )
    secrets = [value for value in (secret_key, session_token) if value]
    return SnsSmsChannel(name=name, to=to, client=client, redactor=Redactor(secrets))


def build_sms_channel(
    channel: AlertChannel, secrets: Mapping[str, Mapping[str, str]], settings: ChannelSettings
) -> SnsSmsChannel | TwilioSmsChannel:
    name = channel.name
    to = recipients(channel)
    provider = channel.provider or DEFAULT_SMS_PROVIDER
    if provider == "sns":
        return _build_sns(name, to, secret_data(channel, "secret", secrets, required=False), settings)
    if provider == "twilio":
        data = secret_data(channel, "secret", secrets, required=True)
        assert data is not None  # required=True raises instead
        account_sid = required_key(data, "accountSid", name, "secret")
        auth_token = required_key(data, "authToken", name, "secret")
        base_url = optional_key(data, "baseUrl") or TWILIO_DEFAULT_BASE_URL
        if settings.outbound is not None:
            settings.outbound.check_url("sms", base_url, channel=name)
        return TwilioSmsChannel(
            name=name,
            to=to,
            base_url=base_url,
            account_sid=account_sid,
            auth_token=auth_token,
            sender=required_key(data, "from", name, "secret"),
            settings=settings,
            redactor=Redactor([auth_token]),
        )
    raise ChannelConfigError(f"channel {name!r}: alerts.channels[].provider must be sns or twilio, not {provider!r}")
