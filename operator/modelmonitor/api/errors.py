"""The api package's exception tree: a spec that cannot be read names the field that is wrong.

The API server refuses most bad monitors at apply time (the CRD's schema and CEL rules); these errors cover
what reaches Python without passing through it (a config file written by hand, a test) and the parse helpers.

    ApiError
    └── SpecError        (``field`` holds the dotted path, e.g. ``spec.metrics[1].min``)
"""

from __future__ import annotations

__all__ = ["ApiError", "SpecError"]


class ApiError(Exception):
    """Base of every error raised by ``modelmonitor.api``."""


class SpecError(ApiError, ValueError):
    """A ModelMonitor spec (or one of its values) is invalid; ``field`` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
