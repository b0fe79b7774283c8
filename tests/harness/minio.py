"""MinIO on loopback: the S3-compatible server the S3 tests and the demo use.

Built from its Go module by `hack/control-plane/build.sh minio` (cached by version) unless `MINIO_BINARY`
names one. Each server gets fresh random credentials, a free port and a temporary data folder.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.controlplane import BUILD_SCRIPT, ControlPlaneError
from tests.harness.processes import ManagedProcess, free_port, wait_until


def find_minio() -> Path:
    explicit = os.environ.get("MINIO_BINARY")
    if explicit:
        return Path(explicit)
    result = subprocess.run([str(BUILD_SCRIPT), "minio"], check=False, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise ControlPlaneError(f"{BUILD_SCRIPT} minio failed with exit code {result.returncode}")
    return Path(result.stdout.splitlines()[1]) / "minio"


@dataclass
class MinioServer:
    workdir: Path
    binary: Path
    region: str = "us-east-1"
    # Loopback, or for pods on a real node the gateway address of its bridge (tests/harness/node.py).
    host: str = "127.0.0.1"
    access_key: str = field(default_factory=lambda: "mm-" + secrets.token_hex(6))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    endpoint: str = ""
    process: ManagedProcess | None = None
    port: int = 0  # 0: a free port, chosen at the first start and kept, so a restart serves the same endpoint

    def outbound_flags(self) -> list[str]:
        """The operator's ``--allow-outbound`` flags that let evaluation pods reach this server (deny by default)."""
        allowed = self.chart_outbound()
        return [*(f"--allow-outbound=s3:cidr={cidr}" for cidr in allowed["cidrs"]),
                *(f"--allow-outbound=s3:scheme={scheme}" for scheme in allowed["schemes"])]

    def chart_outbound(self) -> dict[str, list[str]]:
        """The chart's ``operator.outbound.s3`` value that allows exactly this server's address and scheme."""
        return {"cidrs": [str(ipaddress.ip_network(self.host))], "schemes": ["http"]}

    def __enter__(self) -> MinioServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self.port = port = self.port or free_port()
        console_port = free_port()
        self.endpoint = f"http://{self.host}:{port}"
        data = self.workdir / "minio-data"
        data.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, MINIO_ROOT_USER=self.access_key, MINIO_ROOT_PASSWORD=self.secret_key,
                   MINIO_BROWSER="off", MINIO_CI_CD="1", MINIO_UPDATE="off", MINIO_REGION=self.region,
                   HOME=str(self.workdir))
        self.process = ManagedProcess("minio", [
            str(self.binary), "server", str(data), "--address", f"{self.host}:{port}",
            "--console-address", f"{self.host}:{console_port}", "--quiet",
        ], self.workdir / "minio.log", env=env)
        try:
            wait_until(self._ready, 60, interval=0.2, what="MinIO /minio/health/ready")
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        assert self.process is not None
        if not self.process.running():
            raise ControlPlaneError(f"minio exited:\n{self.process.log_tail()}")
        with urllib.request.urlopen(f"{self.endpoint}/minio/health/ready", timeout=2) as response:
            return bool(response.status == 200)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    @property
    def env(self) -> dict[str, str]:
        """The AWS_* variables that point boto3 / pyarrow / the evaluator at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL_S3": self.endpoint, "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region,
        }

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def create_bucket(self, name: str) -> str:
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)
        return name
