"""The registry package's exception tree: every way talking to a model registry can fail.

The operator turns these into status conditions (``reason`` is the CamelCase word) and never into a crash loop;
messages name the registry URL's host, the model and the alias or version, never a credential.

    RegistryError                     the registry could not answer what was asked
    ├── RegistryUnreachable           no HTTP answer (DNS, refused, timeout, TLS)
    ├── RegistryUnauthorized          401/403: the credentials Secret is missing, wrong or lacks a permission
    ├── RegistryNotFound              the model, version, alias or experiment does not exist
    ├── RegistryRefused               the registry rejected the request (4xx/5xx other than the above)
    ├── RegistryNotAllowed            the operator's outbound allow-list does not allow the registry's host
    └── RegistryConfigError           the spec or its credentials Secret cannot be used (bad URL, missing key)
"""

from __future__ import annotations

__all__ = [
    "RegistryConfigError",
    "RegistryError",
    "RegistryNotAllowed",
    "RegistryNotFound",
    "RegistryRefused",
    "RegistryUnauthorized",
    "RegistryUnreachable",
]


class RegistryError(Exception):
    """Base of the registry errors; ``reason`` is a CamelCase word for conditions and events."""

    reason = "RegistryError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RegistryUnreachable(RegistryError):
    reason = "RegistryUnreachable"


class RegistryUnauthorized(RegistryError):
    reason = "RegistryUnauthorized"


class RegistryNotFound(RegistryError):
    reason = "RegistryNotFound"


class RegistryRefused(RegistryError):
    reason = "RegistryRefused"


class RegistryNotAllowed(RegistryError):
    reason = "DestinationNotAllowed"


class RegistryConfigError(RegistryError):
    reason = "RegistryConfigError"
