"""Fencing: a replica that is no longer sure it leads makes no more changes, it exits.

Leader election alone is not enough. A leader frozen for longer than its lease (a long GC pause, SIGSTOP, a
network partition that heals) wakes up with watch events it has not handled yet, and would act on them while
the standby, which took the Lease over meanwhile, acts too: the frozen leader of the failover test created a
second evaluation Job for a run-now the new leader had already served. So every handler first asks
`ensure_leader()`: when the Lease is not known to be held (its last renewal older than the lease minus one
renewal period, on the monotonic clock, which runs on while the process is frozen), the process exits at once,
without kopf's bookkeeping writes; the Deployment restarts it as a standby.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

log = logging.getLogger("modelmonitor.leader")
EXIT_CODE = 3
_holds: Callable[[], bool] | None = None


def install(holds: Callable[[], bool]) -> None:
    """Called once the Lease is held (with `--leader-election-lease`); without it there is nothing to fence."""
    global _holds
    _holds = holds


def ensure_leader() -> None:
    if _holds is not None and not _holds():
        log.error("no longer sure to hold the leader Lease: exiting before acting (a standby has taken over)")
        logging.shutdown()
        os._exit(EXIT_CODE)
