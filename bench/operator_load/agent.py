"""The test node agent in its own process, so that running pods does not compete with the bench's watches for
one interpreter lock: `python bench/operator_load/agent.py KUBECONFIG WORKDIR SERVER`."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import kubernetes
from tests.harness.node_agent import run_forever


def main(argv: list[str]) -> int:
    kubeconfig, workdir, server = argv
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=kubeconfig,  # type: ignore[no-untyped-call]
                                       client_configuration=configuration)
    configuration.connection_pool_maxsize = 32  # one status patch per pod thread
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    host, _, port = server.removeprefix("https://").rpartition(":")
    run_forever(kubernetes.client.ApiClient(configuration), Path(workdir), host, int(port), stop.is_set)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
