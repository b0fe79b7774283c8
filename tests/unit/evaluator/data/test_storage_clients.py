"""One S3 client per configuration for the whole process, a new one when the configuration changes.

Creating a client parses the S3 service model and endpoint rules (~0.08 CPU s); a run makes a dozen
requests. Making a client opens no connection, so these tests need no server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from modelmonitor.evaluator import storage


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_PROFILE", "MODELMONITOR_STORAGE_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "first-secret")
    monkeypatch.setattr(storage, "_CLIENTS", {})
    return monkeypatch


def access_key(client: Any) -> str:
    credentials = client._request_signer._credentials
    return str(credentials.get_frozen_credentials().access_key)


def test_the_same_configuration_reuses_one_client(environment: pytest.MonkeyPatch) -> None:
    first = storage.s3_client()
    assert storage.s3_client() is first
    assert first.meta.endpoint_url == "http://127.0.0.1:9"
    assert first.meta.region_name == "eu-west-1"
    config: Any = first.meta.config
    assert (config.connect_timeout, config.read_timeout) == (6.0, 6.0)
    assert (config.retries or {})["total_max_attempts"] == storage.STORAGE_ATTEMPTS
    assert access_key(first) == "first-key"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AWS_ACCESS_KEY_ID", "second-key"),
        ("AWS_SECRET_ACCESS_KEY", "second-secret"),
        ("AWS_SESSION_TOKEN", "a-token"),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:10"),
        ("AWS_REGION", "us-east-2"),
        ("MODELMONITOR_STORAGE_TIMEOUT", "10"),
    ],
)
def test_a_changed_configuration_gets_a_client_of_its_own(
    environment: pytest.MonkeyPatch, name: str, value: str
) -> None:
    first = storage.s3_client()
    environment.setenv(name, value)
    second = storage.s3_client()
    assert second is not first
    assert storage.s3_client() is second
    if name == "AWS_ACCESS_KEY_ID":
        assert access_key(second) == "second-key"  # not the credentials an earlier client resolved
    if name == "MODELMONITOR_STORAGE_TIMEOUT":
        config: Any = second.meta.config
        assert config.connect_timeout == 2.0
    environment.undo()


def test_no_secret_is_kept_in_the_clients_keys(environment: pytest.MonkeyPatch) -> None:
    storage.s3_client()
    assert all("first-secret" not in key and "first-key" not in key for key in storage._CLIENTS)


def test_threads_asking_at_once_share_one_client(environment: pytest.MonkeyPatch) -> None:
    made: list[Any] = []
    start = threading.Barrier(6)

    def ask() -> None:
        start.wait()
        made.append(storage.s3_client())

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(made) == 6
    assert all(client is made[0] for client in made)


def test_the_number_of_clients_kept_is_bounded(environment: pytest.MonkeyPatch) -> None:
    for index in range(storage._CLIENTS_KEPT + 3):
        environment.setenv("AWS_ACCESS_KEY_ID", f"key-{index}")
        storage.s3_client()
    assert len(storage._CLIENTS) == storage._CLIENTS_KEPT


def test_an_evaluation_imports_neither_boto3_nor_pyyaml(tmp_path: Path) -> None:
    """boto3 (resources, s3transfer) and PyYAML cost ~0.06 CPU s at start-up that no S3 request or JSON
    config needs."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"spec": {"model": {"name": "m", "task": "regression"}}}))
    code = (
        "import sys\n"
        "from modelmonitor.evaluator import cli, run, storage, inputs\n"
        f"inputs.load_config_file({str(config)!r})\n"
        "storage.s3_client().meta.endpoint_url\n"
        "print(sorted(name for name in ('boto3', 's3transfer', 'yaml') if name in sys.modules))\n"
        "print('botocore' in sys.modules)"
    )
    environment = dict(os.environ, AWS_ENDPOINT_URL_S3="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="key",
                       AWS_SECRET_ACCESS_KEY="secret", AWS_REGION="us-east-1")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                               check=True, timeout=120)
    assert completed.stdout.split("\n")[:2] == ["[]", "True"]

