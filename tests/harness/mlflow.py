"""A real `mlflow server` on loopback for the registry tests: SQLite backend, a free port, a temporary folder.

MLflow runs from its own virtualenv (``hack/mlflow/install.sh``, cached under
``~/.cache/modelmonitor/mlflow/<version>``), never from the project's: the operator talks to it over REST and
must not depend on the ``mlflow`` package. ``MLFLOW_VENV`` names a prepared virtualenv instead.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.harness.processes import ManagedProcess, free_port, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "hack" / "mlflow" / "install.sh"


class MlflowUnavailable(RuntimeError):
    pass


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
    workdir: Path
    executable: Path
    url: str = ""
    process: ManagedProcess | None = None

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, HOME=str(self.workdir), MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
        self.process = ManagedProcess("mlflow", [
            str(self.executable), "server",
            "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
            "--default-artifact-root", str(self.workdir / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ], self.workdir / "mlflow.log", env=env)
        wait_until(self._healthy, 120, interval=0.5, what="mlflow server answering /health")

    def _healthy(self) -> bool:
        assert self.process is not None
        if not self.process.running():
            raise MlflowUnavailable(f"mlflow server exited:\n{self.process.log_tail(40)}")
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
