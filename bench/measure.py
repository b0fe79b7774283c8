"""Run one command and report its wall time and peak RSS (of the child process tree's largest member).

python bench/measure.py -- COMMAND...  -> {"seconds": ..., "cpuSeconds": ..., "peakRssMiB": ..., "exitCode": ...}

CPU seconds (user + system, every thread) say more than wall time on a shared, busy machine.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main() -> None:
    command = sys.argv[sys.argv.index("--") + 1 :]
    started = time.perf_counter()
    completed = subprocess.run(command, check=False)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "cpuSeconds": round(usage.ru_utime + usage.ru_stime, 2),
                "peakRssMiB": round(usage.ru_maxrss / 1024, 1),
                "exitCode": completed.returncode,
            }
        )
    )


if __name__ == "__main__":
    main()
