"""The operator's HTTP endpoint for MLflow registry webhooks: ``POST /mlflow/<namespace>/<monitor>``.

Thin: it reads at most 1 MiB, hands the exact bytes and headers to :mod:`modelmonitor.services.registry_webhook`
(which verifies the HMAC signature with the monitor's own secret) and writes the answer. Off unless
``--registry-webhook-port`` is given; it runs in a thread beside kopf, as the metrics endpoint does.
"""

from __future__ import annotations

import http.server
import logging
import re
import threading
import time

from modelmonitor.kube.store import KubeStore
from modelmonitor.services.registry_webhook import WebhookAnswer, handle_delivery

__all__ = ["RegistryWebhookServer"]

log = logging.getLogger("modelmonitor.registry")
MAX_BODY_BYTES = 1 << 20
_PATH = re.compile(r"^/mlflow/(?P<namespace>[a-z0-9]([-a-z0-9]*[a-z0-9])?)/(?P<name>[a-z0-9]([-a-z0-9]*[a-z0-9])?)$")


class RegistryWebhookServer:
    def __init__(self, store: KubeStore, host: str, port: int) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                log.debug("registry webhook: " + format, *args)

            def do_POST(self) -> None:
                match = _PATH.match(self.path.split("?", 1)[0])
                length = int(self.headers.get("Content-Length") or 0)
                if match is None:
                    answer = WebhookAnswer(404, "POST /mlflow/<namespace>/<monitor>")
                elif length > MAX_BODY_BYTES:
                    answer = WebhookAnswer(413, "body too large")
                else:
                    body = self.rfile.read(length)
                    try:
                        answer = handle_delivery(store, match["namespace"], match["name"], dict(self.headers),
                                                 body, time.time())
                    except Exception:  # an API hiccup must answer 503 (MLflow retries), not kill the thread
                        log.exception("registry webhook for %s/%s failed", match["namespace"], match["name"])
                        answer = WebhookAnswer(503, "try again")
                payload = answer.message.encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="registry-webhook", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
