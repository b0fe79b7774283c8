"""spec.data.store.endpoint against the operator's outbound allow-list (kind s3), before any Job is built."""

from __future__ import annotations

from typing import Any

import pytest

from modelmonitor.alerts.errors import HostNotAllowedError
from modelmonitor.alerts.outbound import parse_allow_flags
from modelmonitor.api.parsing import parse_spec
from modelmonitor.services.monitors import check_store_endpoint

ADDRESSES = {"minio.example.com": ["203.0.113.7"], "metadata.example.com": ["169.254.169.254"]}


def resolve(host: str, port: int) -> list[str]:
    if host in ADDRESSES:
        return ADDRESSES[host]
    if host.replace(".", "").isdigit():
        return [host]
    raise OSError("Name or service not known")


def spec(endpoint: str) -> Any:
    return parse_spec({
        "model": {"name": "m", "task": "regression"},
        "data": {"store": {"endpoint": endpoint}, "reference": {"uri": "s3://b/ref/"},
                 "current": {"uri": "s3://b/cur/"}, "columns": {"target": "y", "prediction": "p"}},
        "metrics": [{"name": "rmse", "max": 1.0}],
    })


def test_an_allowed_endpoint_passes_and_aws_itself_is_not_a_tenant_destination() -> None:
    policy = parse_allow_flags(["s3:host=minio.example.com"], resolve=resolve)
    check_store_endpoint(spec("https://minio.example.com:9000"), policy)
    check_store_endpoint(spec(""), parse_allow_flags([], resolve=resolve))  # the SDK's own AWS endpoint


@pytest.mark.parametrize(
    ("flags", "endpoint", "reason", "says"),
    [
        ([], "https://minio.example.com", "DestinationNotAllowed", "host 'minio.example.com' is not an allowed"),
        (["s3:host=minio.example.com"], "http://minio.example.com", "DestinationNotAllowed", "scheme 'http'"),
        (["s3:host=metadata.example.com"], "https://metadata.example.com", "DestinationNotAllowed",
         "resolves to 169.254.169.254, an internal address"),
        (["s3:scheme=http"], "http://169.254.169.254", "DestinationNotAllowed", "host '169.254.169.254'"),
        (["s3:host=*.example.com"], "https://nowhere.example.com", "DestinationUnresolved", "cannot be resolved"),
        (["webhook:host=minio.example.com"], "https://minio.example.com", "DestinationNotAllowed", "for s3"),
    ],
)
def test_an_endpoint_off_the_list_is_refused_naming_the_field_and_host(flags: list[str], endpoint: str, reason: str,
                                                                      says: str) -> None:
    with pytest.raises(HostNotAllowedError) as refused:
        check_store_endpoint(spec(endpoint), parse_allow_flags(flags, resolve=resolve))
    assert refused.value.reason == reason
    assert "spec.data.store.endpoint" in str(refused.value) and says in str(refused.value)


def test_an_endpoint_with_credentials_in_it_is_refused_without_showing_them() -> None:
    with pytest.raises(HostNotAllowedError) as refused:
        check_store_endpoint(spec("https://key:s3cr3t@minio.example.com"), parse_allow_flags([], resolve=resolve))
    assert "s3cr3t" not in str(refused.value)


def test_library_callers_without_a_policy_are_not_checked() -> None:
    check_store_endpoint(spec("http://169.254.169.254"), None)
