"""SMS through moto's standalone SNS server and through a Twilio-style endpoint, both on loopback."""

from __future__ import annotations

import urllib.parse
from dataclasses import replace

import requests

from modelmonitor.alerts import ChannelSettings, NotificationKind, RetryPolicy, build_channel
from modelmonitor.alerts.render import SMS_SEGMENT_LIMIT, gsm7_length
from tests.integration.alerts.notifications import firing_notification
from tests.integration.alerts.servers import HttpRecorder, free_port
from tests.unit.alerts.policy.builders import channel_of

AWS_SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
TWILIO_TOKEN = "twilio-auth-token-0123456789"
FAST = ChannelSettings(http_timeout=2.0, retry=RetryPolicy(max_attempts=1), sleep=lambda _: None)


def sns_secret(endpoint: str) -> dict[str, str]:
    return {"region": "eu-west-1", "endpoint": endpoint, "accessKeyId": "AKIDEXAMPLE", "secretAccessKey": AWS_SECRET}


def sms_sent(endpoint: str) -> list[dict[str, str]]:
    """What moto's SNS recorded (its /moto-api/data.json lists every SMS published)."""
    data = requests.get(f"{endpoint}/moto-api/data.json", timeout=5).json()
    return list(data["sns"]["SMS"])


def test_sns_delivers_one_segment_to_every_number(moto_endpoint: str) -> None:
    spec = {"name": "oncall-sms", "type": "sms", "provider": "sns", "to": ["+15550100", "+15550101"], "secret": "sns"}
    channel = build_channel(channel_of(spec), {"sns": sns_secret(moto_endpoint)}, FAST)

    result = channel.send(firing_notification())

    assert result.ok, result.error
    messages = [m for m in sms_sent(moto_endpoint) if m["phone_number"] in {"+15550100", "+15550101"}]
    assert sorted(m["phone_number"] for m in messages) == ["+15550100", "+15550101"]
    text = messages[0]["message"]
    assert text.startswith("CRITICAL risk/credit-scoring v7: 2 violations: metric:accuracy, drift:age")
    assert text.endswith("See kubectl -n risk describe mm credit-scoring")
    assert gsm7_length(text) <= SMS_SEGMENT_LIMIT


def test_sns_unreachable_is_a_clean_retryable_failure() -> None:
    spec = {"name": "oncall-sms", "type": "sms", "provider": "sns", "to": ["+15550100"], "secret": "sns"}
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = build_channel(channel_of(spec), {"sns": sns_secret(endpoint)}, FAST).send(firing_notification())
    assert not result.ok and result.retryable
    assert result.error == "channel 'oncall-sms': 1 of 1 SMS failed: +15550100: EndpointConnectionError"
    assert AWS_SECRET not in repr(result)


def test_twilio_style_api_gets_one_form_post_per_recipient_with_basic_auth(http_recorder: HttpRecorder) -> None:
    path = "/2010-04-01/Accounts/AC0123456789/Messages.json"
    http_recorder.script(path, [201], body=b'{"sid": "SM1", "status": "queued"}')
    spec = {"name": "twilio", "type": "sms", "provider": "twilio", "to": ["+15550100", "+15550101"], "secret": "tw"}
    secret = {
        "accountSid": "AC0123456789",
        "authToken": TWILIO_TOKEN,
        "from": "+15550199",
        "baseUrl": http_recorder.url(""),
    }
    channel = build_channel(channel_of(spec), {"tw": secret}, FAST)

    resolved = replace(firing_notification(), kind=NotificationKind.RESOLVED, violations=())
    assert channel.send(resolved).ok

    requests_made = http_recorder.requests_to(path)
    assert len(requests_made) == 2
    forms = [dict(urllib.parse.parse_qsl(request.body.decode())) for request in requests_made]
    assert [form["To"] for form in forms] == ["+15550100", "+15550101"]
    assert {form["From"] for form in forms} == {"+15550199"}
    assert forms[0]["Body"] == (
        "RESOLVED risk/credit-scoring v7: resolved. See kubectl -n risk describe mm credit-scoring"
    )
    assert requests_made[0].basic_auth() == ("AC0123456789", TWILIO_TOKEN)
    assert requests_made[0].headers["content-type"] == "application/x-www-form-urlencoded"


def test_twilio_refusal_is_reported_without_the_token(http_recorder: HttpRecorder) -> None:
    path = "/2010-04-01/Accounts/AC0123456789/Messages.json"
    http_recorder.script(path, [401])
    spec = {"name": "twilio", "type": "sms", "provider": "twilio", "to": ["+15550100"], "secret": "tw"}
    secret = {
        "accountSid": "AC0123456789",
        "authToken": TWILIO_TOKEN,
        "from": "+15550199",
        "baseUrl": http_recorder.url(""),
    }
    result = build_channel(channel_of(spec), {"tw": secret}, FAST).send(firing_notification())
    assert not result.ok and not result.retryable
    assert result.error == "channel 'twilio': POST to 127.0.0.1 answered HTTP 401"
