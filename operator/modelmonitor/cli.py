"""The ``modelmonitor`` command: one entry point for the operator and the evaluator.

``modelmonitor evaluate`` / ``modelmonitor baseline`` run inside evaluation Jobs (or locally) and import
nothing of Kubernetes, nor does ``modelmonitor compare`` (the challenger decision as a rollout gate);
``modelmonitor operator`` runs the kopf operator. Imports are lazy so that the evaluator's start-up does not
pay for kopf and the Kubernetes client.
"""

from __future__ import annotations

import os
import sys

#: Arrow's allocator for the evaluator: jemalloc (bundled in Linux wheels; elsewhere the C library's), not
#: the default mimalloc, which keeps freed pages per thread while the evaluator's decoding thread frees what
#: its caller's thread used. Peak RSS, cold: 1M rows 458 (mimalloc) / 387 (system) / 397 MiB (jemalloc);
#: 10M rows in one row group 533 (system) / 429 MiB (jemalloc); same CPU seconds (bench/README.md).
#: Arrow reads the variable once, when pyarrow is first imported, so it is set here, before any evaluator
#: import; a value already in the environment wins.
EVALUATOR_ARROW_MEMORY_POOL = "jemalloc" if sys.platform == "linux" else "system"

#: One OpenBLAS thread in the evaluator. Its only BLAS calls are dot products of a batch's columns (Brier
#: sums, AUC pair counts), far too small to gain from threads, but each call wakes OpenBLAS's pool, whose
#: threads then spin waiting for more work: on 2 cores they took ~0.7 CPU s of a 1M-row cold run (2.3-3.0
#: CPU s against 1.6-1.7 s with one thread) from Arrow's decoding thread, and in a Job they would spend the
#: pod's CPU quota. OpenBLAS reads the variable when numpy loads it, so it is set before any evaluator
#: import; a value already in the environment wins.
EVALUATOR_BLAS_THREADS = "1"


def evaluator_environment() -> None:
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", EVALUATOR_ARROW_MEMORY_POOL)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", EVALUATOR_BLAS_THREADS)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "operator":
        from modelmonitor.controller.main import main as operator_main

        return operator_main(args[1:])
    if args and args[0] == "compare":  # the challenger comparison as a rollout gate (exit code)
        from modelmonitor.evaluator.gate import main as compare_main

        return compare_main(args[1:])
    evaluator_environment()
    from modelmonitor.evaluator.cli import main as evaluator_main

    return evaluator_main(args)


if __name__ == "__main__":
    sys.exit(main())
