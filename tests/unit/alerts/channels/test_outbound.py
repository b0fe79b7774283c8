"""The operator's outbound allow-list: deny by default, checked after DNS resolution, internal ranges refused.

Resolution is injected (a table of names to addresses), so every case is exact and no test touches DNS.
Through the running operator the same refusals are tested in tests/integration/operator/test_outbound.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from modelmonitor.alerts import ChannelSettings, HostNotAllowedError, build_channel
from modelmonitor.alerts.outbound import OutboundPolicy, parse_allow_flags
from tests.unit.alerts.policy.builders import channel_of

TABLE = {
    "hooks.slack.com": ["52.1.2.3"],
    "rebound.example.com": ["169.254.169.254"],  # an allowed name whose DNS points at cloud metadata
    "mixed.example.com": ["52.1.2.4", "10.0.0.7"],
    "relay.internal": ["10.20.0.5"],
    "mapped.example.com": ["::ffff:169.254.169.254"],
    "localhost": ["127.0.0.1", "::1"],
    "sns.eu-west-1.amazonaws.com": ["52.94.1.1"],
}


def resolve(host: str, port: int) -> list[str]:
    if host in TABLE:
        return TABLE[host]
    if host.replace(".", "").isdigit() or ":" in host:
        return [host]
    raise OSError("Name or service not known")


def policy(*flags: str, namespaces: tuple[str, ...] = ()) -> OutboundPolicy:
    return parse_allow_flags(flags, namespaces, resolve=resolve)


def refused(check: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(HostNotAllowedError) as caught:
        check(*args, **kwargs)
    return caught.value.message


def test_nothing_is_allowed_by_default() -> None:
    empty = policy()
    message = refused(empty.check_url, "webhook", "https://hooks.slack.com/services/T/B/X", channel="chat")
    assert "channel 'chat'" in message and "'hooks.slack.com'" in message and "/services/" not in message
    refused(empty.check_host, "email", "relay.internal", 587, channel="mail")


def test_an_allowed_public_host_passes_and_only_for_its_kind() -> None:
    allowed = policy("webhook:host=hooks.slack.com", "webhook:host=*.example.com")
    allowed.check_url("webhook", "https://hooks.slack.com/services/T/B/X", channel="chat")
    refused(allowed.check_url, "sms", "https://hooks.slack.com/x", channel="sms")  # per channel type


@pytest.mark.parametrize("url", [
    "https://rebound.example.com/hook",  # allowed by name, resolves to link-local metadata
    "https://mixed.example.com/hook",  # one of its addresses is private
    "https://mapped.example.com/hook",  # IPv4-mapped IPv6 form of the metadata address
])
def test_an_allowed_name_resolving_inside_is_refused(url: str) -> None:
    message = refused(policy("webhook:host=*.example.com").check_url, "webhook", url, channel="hook")
    assert "internal address" in message


@pytest.mark.parametrize("url", ["https://169.254.169.254/latest/meta-data/", "https://127.0.0.1:6443/api",
                                 "https://[::1]/", "https://10.96.0.1/", "https://localhost/"])
def test_internal_literals_are_refused_even_when_listed_by_name(url: str) -> None:
    listed = policy("webhook:host=169.254.169.254", "webhook:host=127.0.0.1", "webhook:host=[::1]",
                    "webhook:host=10.96.0.1", "webhook:host=localhost")
    refused(listed.check_url, "webhook", url, channel="hook")


def test_a_cidr_allows_internal_addresses_it_covers() -> None:
    internal = policy("email:cidr=10.20.0.0/16", "webhook:cidr=127.0.0.0/8", "webhook:cidr=::1/128",
                      "webhook:scheme=http")
    internal.check_host("email", "relay.internal", 587, channel="mail")
    internal.check_url("webhook", "http://127.0.0.1:8080/hook", channel="hook")
    internal.check_url("webhook", "http://localhost:8080/hook", channel="hook")  # both its addresses covered
    refused(internal.check_url, "webhook", "http://169.254.169.254/", channel="hook")


def test_schemes_default_to_https() -> None:
    allowed = policy("webhook:host=hooks.slack.com")
    assert "scheme 'http'" in refused(allowed.check_url, "webhook", "http://hooks.slack.com/x", channel="c")
    refused(allowed.check_url, "webhook", "file:///etc/passwd", channel="c")
    refused(allowed.check_url, "webhook", "gopher://hooks.slack.com/x", channel="c")


def test_unresolvable_hosts_are_not_contacted() -> None:
    allowed = policy("webhook:host=*.example.com")
    with pytest.raises(HostNotAllowedError) as caught:
        allowed.check_url("webhook", "https://nowhere.example.com/", channel="c")
    assert caught.value.reason == "DestinationUnresolved"


@pytest.mark.parametrize("flag", ["webhook", "pager:host=x", "webhook:port=1", "email:cidr=not-a-cidr",
                                  "webhook:host="])
def test_bad_flags_are_named(flag: str) -> None:
    with pytest.raises(ValueError, match="--allow-outbound"):
        policy(flag)


def build(raw: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    return build_channel(channel_of(raw), *args, **kwargs)


def settings(outbound: OutboundPolicy, namespace: str = "team-a") -> ChannelSettings:
    return ChannelSettings(outbound=outbound, namespace=namespace)


def test_channels_check_their_destinations_when_built() -> None:
    none = policy()
    webhook = {"name": "hook", "type": "webhook", "urlSecret": "u"}
    refused(build, webhook, {"u": {"url": "https://hooks.slack.com/x"}}, settings(none))
    twilio = {"name": "sms", "type": "sms", "provider": "twilio", "to": ["+15550100"], "secret": "t"}
    twilio_data = {"accountSid": "AC1", "authToken": "tok-123456", "from": "+15550199",
                   "baseUrl": "https://169.254.169.254"}
    message = refused(build, twilio, {"t": twilio_data}, settings(policy("sms:host=169.254.169.254")))
    assert "internal address" in message
    sns = {"name": "sns", "type": "sms", "provider": "sns", "to": ["+15550100"], "secret": "s"}
    sns_data = {"accessKeyId": "AKIA1", "secretAccessKey": "secret-key-1", "region": "eu-west-1",
                "endpoint": "http://10.0.0.9:4566"}
    refused(build, sns, {"s": sns_data}, settings(policy("sms:host=*.amazonaws.com")))
    email = {"name": "mail", "type": "email", "to": ["a@b.c"], "smtpSecret": "m"}
    message = refused(build, email, {"m": {"host": "relay.internal", "from": "x@y.z"}}, settings(none))
    assert "'relay.internal'" in message


def test_the_operators_cloud_identity_is_used_only_where_opted_in() -> None:
    sns = {"name": "sns", "type": "sms", "provider": "sns", "to": ["+15550100"]}
    allowed = policy("sms:host=sns.*.amazonaws.com", namespaces=("trusted",))
    message = refused(build, sns, {}, settings(allowed, "team-a"))
    assert "cloud identity" in message and "'team-a'" in message
    channel = build({**sns, "secret": None}, {}, ChannelSettings(outbound=allowed, namespace="trusted",
                                                                           sns_region="eu-west-1"))
    assert channel.name == "sns"
