"""The ``modelmonitor`` command: one entry point for the operator and the evaluator.

``modelmonitor evaluate`` / ``modelmonitor baseline`` run inside evaluation Jobs (or locally) and import
nothing of Kubernetes, nor does ``modelmonitor compare`` (the challenger decision as a rollout gate);
``modelmonitor operator`` runs the kopf operator. Imports are lazy so that the evaluator's start-up does not
pay for kopf and the Kubernetes client.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "operator":
        from modelmonitor.controller.main import main as operator_main

        return operator_main(args[1:])
    if args and args[0] == "compare":  # the challenger comparison as a rollout gate (exit code)
        from modelmonitor.evaluator.gate import main as compare_main

        return compare_main(args[1:])
    from modelmonitor.evaluator.cli import main as evaluator_main

    return evaluator_main(args)


if __name__ == "__main__":
    sys.exit(main())
