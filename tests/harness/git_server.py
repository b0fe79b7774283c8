"""A real Git server on loopback: `git http-backend` (smart HTTP) behind a small HTTP server with Basic auth.

The GitOps rollback target clones and pushes over HTTP(S) with a token; this server gives it the real protocol
(git's own receive-pack, hooks included) on 127.0.0.1 with a user and password, so a wrong token is a real 401
and a rejected push is a real refusal by a ``pre-receive`` hook. Each request runs `git http-backend` as a CGI
program; bare repositories live in a temporary folder the fixture removes.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.harness.processes import free_port

GIT = "git"


def _run_git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([GIT, *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return result.stdout


@dataclass
class GitServer:
    root: Path
    username: str = "robot"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    url: str = ""
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        handler = _handler(self.root, self.username, self.password)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="git-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def create_repository(self, name: str, files: dict[str, str], branch: str = "main") -> str:
        """A bare repository ``name.git`` whose ``branch`` has one commit with ``files``; returns its URL."""
        bare = self.root / f"{name}.git"
        _run_git("init", "--bare", "--initial-branch", branch, str(bare))
        _run_git("config", "http.receivepack", "true", cwd=bare)
        work = self.root / f"{name}.seed"
        _run_git("init", "--initial-branch", branch, str(work))
        for path, text in files.items():
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_text(text, encoding="utf-8")
        self.commit_all(work, "initial configuration")
        _run_git("push", str(bare), f"{branch}:{branch}", cwd=work)
        return f"{self.url}/{name}.git"

    def commit_all(self, work: Path, message: str) -> None:
        _run_git("add", "-A", cwd=work)
        _run_git("-c", "user.name=Someone", "-c", "user.email=someone@example.com", "commit", "-q", "-m", message,
                 cwd=work)

    def push_upstream_change(self, name: str, path: str, text: str, message: str, branch: str = "main") -> None:
        """Someone else's commit on ``branch`` (a concurrent change the target must rebase over)."""
        work = self.root / f"{name}.seed"
        _run_git("pull", "-q", str(self.root / f"{name}.git"), branch, cwd=work)
        (work / path).write_text(text, encoding="utf-8")
        self.commit_all(work, message)
        _run_git("push", "-q", str(self.root / f"{name}.git"), f"{branch}:{branch}", cwd=work)

    def log(self, name: str, branch: str = "main") -> list[str]:
        """Commit subjects on ``branch``, newest first."""
        return _run_git("log", "--format=%s", branch, cwd=self.root / f"{name}.git").splitlines()

    def message(self, name: str, ref: str) -> str:
        return _run_git("log", "-1", "--format=%B", ref, cwd=self.root / f"{name}.git")

    def show(self, name: str, ref: str, path: str) -> str:
        return _run_git("show", f"{ref}:{path}", cwd=self.root / f"{name}.git")

    def branches(self, name: str) -> list[str]:
        return _run_git("branch", "--format=%(refname:short)", cwd=self.root / f"{name}.git").split()

    def reject_pushes(self, name: str, times: int | None) -> None:
        """A pre-receive hook refusing the next ``times`` pushes (None: all of them)."""
        hook = self.root / f"{name}.git" / "hooks" / "pre-receive"
        counter = self.root / f"{name}.rejections"
        counter.write_text(str(times if times is not None else -1))
        hook.write_text(
            "#!/bin/sh\n"
            f'left=$(cat "{counter}")\n'
            'if [ "$left" = 0 ]; then exit 0; fi\n'
            f'if [ "$left" -gt 0 ]; then echo $((left - 1)) > "{counter}"; fi\n'
            'echo "push refused by policy (test hook)" >&2\nexit 1\n'
        )
        hook.chmod(0o755)


def _handler(root: Path, username: str, password: str) -> type[BaseHTTPRequestHandler]:
    def authorized(header: str | None) -> bool:
        """Basic auth whose password is the token; like hosted Git services, any user name goes with a token."""
        if not header or not header.startswith("Basic "):
            return False
        try:
            _, _, given = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(given, password)

    class GitHttpBackend(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            if not authorized(self.headers.get("Authorization")):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            body = self._body() if self.command == "POST" else b""
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": self.command, "PATH_INFO": path,
                "QUERY_STRING": query, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": username, "REMOTE_ADDR": "127.0.0.1",
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            result = subprocess.run([GIT, "http-backend"], input=body, env=env, capture_output=True, check=False)
            separator = b"\r\n\r\n" if b"\r\n\r\n" in result.stdout else b"\n\n"
            head, _, payload = result.stdout.partition(separator)
            status = 200
            headers: list[tuple[str, str]] = []
            for line in head.decode("latin-1").splitlines():
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.strip().split()[0])
                elif key:
                    headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return GitHttpBackend
