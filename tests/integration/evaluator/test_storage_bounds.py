"""Storage failures are bounded and named: a silent endpoint fails within the budget, a bad endpoint URL is config.

The silent endpoint is a TCP server on loopback that accepts connections and never answers (what a stuck
proxy or a firewall that drops replies looks like); nothing leaves the machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from modelmonitor.evaluator.storage import DEFAULT_STORAGE_TIMEOUT, STORAGE_ATTEMPTS, s3_client, storage_timeout
from tests.harness import silent_server
from tests.integration.evaluator.conftest import base_config


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    with silent_server.silent_endpoint() as url:
        yield url


@pytest.fixture
def s3_environment(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("MODELMONITOR_STORAGE_TIMEOUT", raising=False)
    return monkeypatch


def test_a_silent_endpoint_fails_within_the_budget_naming_it(
    silent_endpoint: str, s3_environment: pytest.MonkeyPatch, evaluate: Any
) -> None:
    s3_environment.setenv("AWS_ENDPOINT_URL_S3", silent_endpoint)
    document = base_config("s3://ml/reference.parquet", "s3://ml/current.parquet")
    s3_client()  # boto3's imports and endpoint data load once (a second), outside the measured time
    started = time.monotonic()
    run = evaluate(document, "--storage-timeout", "2.5")
    elapsed = time.monotonic() - started
    assert run.exit_code == 4, run.summary
    assert run.summary["error"]["reason"] == "EndpointTimeout"
    assert silent_endpoint in run.summary["error"]["message"]
    assert "s3://ml/reference.parquet" in run.summary["error"]["message"]
    # two attempts of at most 0.5 s to connect and 0.5 s to answer, plus the retry's back-off (at most 1 s)
    assert elapsed < 2.5 + 1.0, elapsed


def test_the_default_budget_bounds_every_request_to_30_seconds(s3_environment: pytest.MonkeyPatch) -> None:
    s3_environment.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    assert storage_timeout() == DEFAULT_STORAGE_TIMEOUT == 30.0
    config = s3_client().meta.config
    retries: dict[str, Any] = config.retries or {}
    assert retries["total_max_attempts"] == STORAGE_ATTEMPTS
    worst_case = STORAGE_ATTEMPTS * (config.connect_timeout + config.read_timeout) + 1.0  # + standard back-off
    assert worst_case <= 30.0
    s3_environment.setenv("MODELMONITOR_STORAGE_TIMEOUT", "10")
    assert s3_client().meta.config.connect_timeout == 2.0


@pytest.mark.parametrize("endpoint", ["minio:9000", "http://exa mple:9000", "ftp://minio:21", "http://:9000"])
def test_an_invalid_endpoint_url_is_a_config_error_naming_it(
    endpoint: str, s3_environment: pytest.MonkeyPatch, evaluate: Any
) -> None:
    s3_environment.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    run = evaluate(base_config("s3://ml/reference.parquet", "s3://ml/current.parquet"))
    assert run.exit_code == 2, run.summary
    assert run.summary["error"]["reason"] == "InvalidEndpoint"
    assert "spec.data.store.endpoint" in run.summary["error"]["message"]
    assert repr(endpoint) in run.summary["error"]["message"]


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_a_bad_storage_timeout_is_refused(value: str, s3_environment: pytest.MonkeyPatch, evaluate: Any) -> None:
    s3_environment.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    s3_environment.setenv("MODELMONITOR_STORAGE_TIMEOUT", value)
    run = evaluate(base_config("s3://ml/reference.parquet", "s3://ml/current.parquet"))
    assert run.exit_code == 2, run.summary
    assert "MODELMONITOR_STORAGE_TIMEOUT" in run.summary["error"]["message"]
