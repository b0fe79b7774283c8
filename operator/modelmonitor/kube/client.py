"""One authenticated API client: in-cluster when running in a pod, else the current kubeconfig."""

from __future__ import annotations

import kubernetes


def load_api_client(max_connections: int = 10) -> kubernetes.client.ApiClient:
    """`max_connections`: as many as threads that call the API at once (the operator's workers), so none waits
    for a connection and urllib3 does not discard pooled ones ("connection pool is full")."""
    configuration = kubernetes.client.Configuration()
    configuration.connection_pool_maxsize = max_connections
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return kubernetes.client.ApiClient(configuration)
