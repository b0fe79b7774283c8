"""A real `mlflow server` on loopback for the registry tests: SQLite backend, a free port, a temporary folder.

MLflow runs from its own virtualenv (``hack/mlflow/install.sh``, cached under
``~/.cache/modelmonitor/mlflow/<version>``), never from the project's: the operator talks to it over REST and
must not depend on the ``mlflow`` package. ``MLFLOW_VENV`` names a prepared virtualenv instead.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.processes import ManagedProcess, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "hack" / "mlflow" / "install.sh"


class MlflowUnavailable(RuntimeError):
    """The server exited or could not be installed; the message holds its log's tail."""


def find_mlflow() -> Path:
    """The ``mlflow`` executable of the pinned virtualenv (installed on first use, minutes on a cold machine)."""
    explicit = os.environ.get("MLFLOW_VENV")
    if explicit:
        return Path(explicit) / "bin" / "mlflow"
    result = subprocess.run([str(INSTALL_SCRIPT)], check=False, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise MlflowUnavailable(f"{INSTALL_SCRIPT} failed with exit code {result.returncode}")
    return Path(result.stdout.strip().splitlines()[-1]) / "bin" / "mlflow"


@dataclass
class MlflowServer:
    """``auth=True`` runs MLflow's basic-auth app: anonymous requests are refused, ``admin_password`` is the
    admin's, and every other user (``add_user``) may read but not change anything unless granted."""

    workdir: Path
    executable: Path
    auth: bool = False
    url: str = ""
    admin_user: str = "admin"
    admin_password: str = field(default_factory=lambda: "Adm1n-" + secrets.token_urlsafe(12))
    process: ManagedProcess | None = None

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, HOME=str(self.workdir), MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true",
                   # registry webhooks to the operator on loopback over http (MLflow refuses both by default)
                   MLFLOW_WEBHOOK_ALLOWED_SCHEMES="http,https", MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS="true",
                   # MLflow caches each event's webhook list (60 s by default): a webhook created by a test
                   # would miss alias moves for a minute after an earlier test's move cached an empty list
                   MLFLOW_WEBHOOK_CACHE_TTL="1")
        extra: list[str] = []
        if self.auth:
            config = self.workdir / "auth.ini"
            config.write_text(
                "[mlflow]\ndefault_permission = READ\n"
                f"database_uri = sqlite:///{self.workdir / 'auth.db'}\n"
                f"admin_username = {self.admin_user}\nadmin_password = {self.admin_password}\n"
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            )
            env["MLFLOW_AUTH_CONFIG_PATH"] = str(config)
            env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = secrets.token_hex(16)  # the auth app's CSRF key
            extra = ["--app-name", "basic-auth"]
        self.process = ManagedProcess("mlflow", [
            str(self.executable), "server", *extra,
            "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
            "--default-artifact-root", str(self.workdir / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ], self.workdir / "mlflow.log", env=env)
        deadline = time.monotonic() + 180  # the auth app migrates two databases on a cold start
        while not self._healthy():
            if time.monotonic() > deadline:
                self.stop()
                raise MlflowUnavailable(f"mlflow server did not answer /health within 180 s (log: {self.workdir})")
            time.sleep(0.5)

    def add_user(self, username: str, password: str) -> None:
        """A user of the basic-auth app (READ on everything, the server's default permission)."""
        request = urllib.request.Request(
            f"{self.url}/api/2.0/mlflow/users/create", method="POST",
            data=json.dumps({"username": username, "password": password}).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Basic " + base64.b64encode(
                f"{self.admin_user}:{self.admin_password}".encode()).decode()})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def _healthy(self) -> bool:
        assert self.process is not None
        if not self.process.running():
            tail = self.process.log_tail(40)
            self.stop()
            raise MlflowUnavailable(f"mlflow server exited:\n{tail}")
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
