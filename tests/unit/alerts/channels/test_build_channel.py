"""Building channels from a parsed spec and Secret data: errors name the field or key, never a value."""

from __future__ import annotations

import pytest

from modelmonitor.alerts import (
    ChannelConfigError,
    ChannelSettings,
    Redactor,
    build_channel,
    required_secrets,
)
from modelmonitor.api import SpecError
from tests.unit.alerts.policy.builders import channel_of

SECRET_VALUE = "super-secret-value-123"


@pytest.mark.parametrize(
    ("spec", "secrets", "message"),
    [
        (
            {"name": "m", "type": "email", "to": ["a@b"]},
            {},
            "channel 'm': alerts.channels[].smtpSecret must name a Secret",
        ),
        (
            {"name": "m", "type": "email", "to": ["a@b"], "smtpSecret": "smtp"},
            {},
            "channel 'm': Secret 'smtp' (from smtpSecret) was not provided",
        ),
        (
            {"name": "m", "type": "email", "to": ["a@b"], "smtpSecret": "smtp"},
            {"smtp": {"password": SECRET_VALUE}},
            "channel 'm': the Secret named by smtpSecret must have a non-empty key 'host'",
        ),
        (
            {"name": "m", "type": "email", "to": ["a@b"], "smtpSecret": "smtp"},
            {"smtp": {"host": "mail", "password": SECRET_VALUE}},
            "channel 'm': set alerts.channels[].from or the key 'from' in the Secret named by smtpSecret",
        ),
        (
            {"name": "m", "type": "email", "smtpSecret": "smtp", "from": "a@b"},
            {"smtp": {"host": "mail"}},
            "channel 'm': alerts.channels[].to must list at least one recipient",
        ),
        (
            {"name": "m", "type": "email", "to": ["a@b"], "smtpSecret": "smtp", "from": "a@b", "tls": "none"},
            {"smtp": {"host": "mail", "username": "u", "password": SECRET_VALUE}},
            "channel 'm': alerts.channels[].tls must be starttls or tls when the Secret named by smtpSecret "
            "has a password (it would cross the network in clear text)",
        ),
        (
            {"name": "s", "type": "sms", "provider": "twilio", "to": ["+1555"], "secret": "tw"},
            {"tw": {"accountSid": "AC1", "authToken": SECRET_VALUE}},
            "channel 's': the Secret named by secret must have a non-empty key 'from'",
        ),
        (
            {"name": "s", "type": "sms", "provider": "sns", "to": ["555-0100"]},
            {},
            "channel 's': alerts.channels[].to entry '555-0100' must be an E.164 number or a topic ARN",
        ),
        (
            {"name": "w", "type": "webhook", "urlSecret": "hook"},
            {"hook": {"url": f"ftp://example.com/{SECRET_VALUE}"}},
            "channel 'w': the key 'url' in the Secret named by urlSecret must be an http(s) URL",
        ),
        (
            {"name": "w", "type": "webhook", "urlSecret": "hook", "format": "pagerduty"},
            {"hook": {}},
            "channel 'w': the Secret named by urlSecret must have a non-empty key 'routingKey'",
        ),
        (
            {"name": "w", "type": "webhook", "urlSecret": "hook", "headersSecret": "h"},
            {"hook": {"url": "https://example.com/x"}, "h": {"Bad Header": SECRET_VALUE}},
            "channel 'w': key 'Bad Header' in the Secret named by headersSecret is not a valid header",
        ),
    ],
)
def test_unusable_channels_are_refused_with_a_message_naming_the_field(
    spec: dict[str, object], secrets: dict[str, dict[str, str]], message: str
) -> None:
    with pytest.raises(ChannelConfigError) as refused:
        build_channel(channel_of(spec), secrets, ChannelSettings())
    assert refused.value.message == message
    assert SECRET_VALUE not in str(refused.value)


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"name": "x", "type": "pigeon"}, "spec.alerts.channels[0].type", "must be one of email, sms, webhook"),
        ({"name": "m", "type": "email", "to": []}, "spec.alerts.channels[0].to", "must have at least 1 items"),
        ({"name": "w", "type": "webhook", "timeout": "fast"}, "spec.alerts.channels[0].timeout", "must be a duration"),
        ({"name": "w", "type": "webhook", "timeout": 5}, "spec.alerts.channels[0].timeout", "must be a string"),
    ],
)
def test_a_malformed_channel_is_refused_by_the_spec_parser_before_any_channel_is_built(
    spec: dict[str, object], field: str, words: str
) -> None:
    """The builders take only parsed channels: the one spec reader names the field (it was the builders' job)."""
    with pytest.raises(SpecError) as refused:
        channel_of(dict(spec))
    assert refused.value.field == field and words in refused.value.message


def test_required_secrets_lists_each_secret_once_in_reading_order() -> None:
    spec = {"name": "w", "type": "webhook", "urlSecret": "hook", "signingSecret": "sig", "headersSecret": "hook"}
    assert required_secrets(channel_of(spec)) == ["hook", "sig"]
    assert required_secrets(channel_of({"name": "s", "type": "sms", "provider": "sns"})) == []


def test_the_redactor_removes_secrets_in_plain_url_encoded_and_url_path_forms() -> None:
    redact = Redactor(["https://hooks.example.com/services/T0/B0/XYZ?k=v w", "p@ss/word", "25"])
    assert redact("POST https://hooks.example.com/services/T0/B0/XYZ?k=v w failed") == "POST *** failed"
    assert redact("Max retries exceeded with url: /services/T0/B0/XYZ?k=v w") == "Max retries exceeded with url: ***"
    assert redact("login p%40ss%2Fword refused on port 25") == "login *** refused on port 25"
