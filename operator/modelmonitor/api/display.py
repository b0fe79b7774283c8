"""How values of a spec are shown to people, the same in alerts, events and reports.

A model version is shown as the user named it: ``v2`` stays ``v2`` (never ``vv2``), ``2024-06-01`` and
``champion`` stay as they are; only a bare number (``7``, ``1.2``) gets a ``v`` so that it reads as a version.
"""

from __future__ import annotations

import re

__all__ = ["version_label"]

_BARE_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)*")


def version_label(version: str | None, missing: str = "-") -> str:
    """``7`` -> ``v7``; ``v2`` -> ``v2``; ``2024-06-01`` -> ``2024-06-01``; empty -> ``missing``."""
    if not version:
        return missing
    return f"v{version}" if _BARE_NUMBER.fullmatch(version) else version
