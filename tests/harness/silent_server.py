"""An HTTP endpoint that accepts connections and never answers: what a stuck proxy or a firewall dropping
replies looks like. Tests use it where only a time bound (a client's budget, a Job's deadline) may end a call."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def silent_endpoint(host: str = "127.0.0.1") -> Iterator[str]:
    """`http://<host>:<port>` of a listener whose connections are held open, never answered, until exit."""
    server = socket.create_server((host, 0), backlog=16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(connection)  # held open, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        server.close()
