"""`modelmonitor operator` with kopf settings overridden after the operator's own `configure`, to try a setting
before proposing it: `python bench/operator_load/operator_with_settings.py --worker-limit N -- OPERATOR ARGS`.

`--memory-report FILE`: on SIGUSR1, append to FILE (JSON lines) where the operator's memory is: RSS, then RSS
after a full garbage collection and after glibc's malloc_trim (memory freed but kept by the allocator), live
objects by type, and with `--tracemalloc` the allocation sites holding the most (slow: for diagnosis only).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import gc
import json
import signal
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import kopf

import modelmonitor.controller.handlers  # noqa: F401 - registers `configure` first, so it runs first
from modelmonitor.controller.main import main as operator_main


def rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


def memory_report(path: Path, label: str) -> None:
    report: dict[str, Any] = {"label": label, "time": time.time(), "rss_mib": round(rss_mib(), 1)}
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot()
        stats = snapshot.statistics("traceback")
        report["traced_mib"] = round(sum(s.size for s in stats) / 2**20, 1)
        report["top_sites"] = [{"mib": round(s.size / 2**20, 2), "count": s.count,
                                "where": [f"{f.filename}:{f.lineno}" for f in s.traceback][-6:]}
                               for s in stats[:25]]
    collected = gc.collect()
    report["gc_collected"] = collected
    report["rss_after_gc_mib"] = round(rss_mib(), 1)
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        report["rss_after_malloc_trim_mib"] = round(rss_mib(), 1)
    except (OSError, AttributeError):
        pass
    counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    report["objects"] = len(gc.get_objects())
    report["top_types"] = counts.most_common(25)
    with path.open("a") as out:
        out.write(json.dumps(report) + "\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker-limit", type=int, default=-1,
                        help="kopf queueing.worker_limit (0: none; default: the operator's own)")
    parser.add_argument("--idle-timeout", type=float, default=0, help="kopf queueing.idle_timeout (0: kopf's)")
    parser.add_argument("--memory-report", type=Path, help="on SIGUSR1, append a memory report to this file")
    parser.add_argument("--tracemalloc", type=int, default=0, help="trace allocations, N frames (0: off)")
    parser.add_argument("--without-spawning", action="store_true",
                        help="drop kopf timers and daemons (to measure what kopf keeps per object for them)")
    parser.add_argument("operator_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.tracemalloc:
        tracemalloc.start(args.tracemalloc)
    if args.memory_report:
        reports = iter(range(1_000_000))

        def on_signal(*_: Any) -> None:  # report from a thread: the signal arrives in kopf's event loop thread
            threading.Thread(target=memory_report, args=(args.memory_report, f"report {next(reports)}"),
                             daemon=True).start()

        signal.signal(signal.SIGUSR1, on_signal)

    if args.without_spawning:
        kopf.get_default_registry()._spawning._handlers.clear()

    @kopf.on.startup(id="bench-settings")
    def override(settings: kopf.OperatorSettings, **_: Any) -> None:
        if args.worker_limit >= 0:
            settings.queueing.worker_limit = args.worker_limit or None
        if args.idle_timeout:
            settings.queueing.idle_timeout = args.idle_timeout

    return operator_main([a for a in args.operator_args if a != "--"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
