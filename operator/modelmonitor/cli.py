"""The ``modelmonitor`` command: one entry point for the operator and the evaluator.

``modelmonitor evaluate`` / ``modelmonitor baseline`` run inside evaluation Jobs (or locally) and import
nothing of Kubernetes; ``modelmonitor operator`` runs the kopf operator. Imports are lazy so that the
evaluator's start-up does not pay for kopf and the Kubernetes client.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "operator":
        from modelmonitor.controller.main import main as operator_main

        return operator_main(args[1:])
    from modelmonitor.evaluator.cli import main as evaluator_main

    return evaluator_main(args)


if __name__ == "__main__":
    sys.exit(main())
