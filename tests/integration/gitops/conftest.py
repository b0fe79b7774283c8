"""A real Git server (git http-backend behind Basic auth) on loopback, one per test module."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.git_server import GitServer


@pytest.fixture(scope="module")
def git_server() -> Iterator[GitServer]:
    root = Path(tempfile.mkdtemp(prefix="modelmonitor-git-"))
    server = GitServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
