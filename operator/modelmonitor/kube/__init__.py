"""The only code that calls the Kubernetes API. Everything else builds objects and decides; this moves them.

Client exceptions are turned into the domain errors of `modelmonitor.kube.errors`, so callers never see
`ApiException` and every message names the object it is about.
"""

from modelmonitor.kube.client import load_api_client
from modelmonitor.kube.errors import Conflict, Forbidden, KubeError, NotFound
from modelmonitor.kube.store import GROUP, PLURAL, VERSION, KubeStore

__all__ = [
    "GROUP",
    "PLURAL",
    "VERSION",
    "Conflict",
    "Forbidden",
    "KubeError",
    "KubeStore",
    "NotFound",
    "load_api_client",
]
