"""Run one command and report its wall time and peak RSS (of the child process tree's largest member).

python bench/measure.py -- COMMAND...   -> prints {"seconds": ..., "peakRssMiB": ..., "exitCode": ...}
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
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {"seconds": round(seconds, 2), "peakRssMiB": round(peak_kib / 1024, 1), "exitCode": completed.returncode}
        )
    )


if __name__ == "__main__":
    main()
