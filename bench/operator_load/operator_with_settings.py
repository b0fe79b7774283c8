"""`modelmonitor operator` with kopf settings overridden after the operator's own `configure`, to try a setting
before proposing it: `python bench/operator_load/operator_with_settings.py --worker-limit N -- OPERATOR ARGS`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import kopf

import modelmonitor.controller.handlers  # noqa: F401 - registers `configure` first, so it runs first
from modelmonitor.controller.main import main as operator_main


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker-limit", type=int, default=0, help="kopf queueing.worker_limit (0: none)")
    parser.add_argument("--idle-timeout", type=float, default=5.0, help="kopf queueing.idle_timeout")
    parser.add_argument("operator_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    @kopf.on.startup(id="bench-settings")
    def override(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.queueing.worker_limit = args.worker_limit or None
        settings.queueing.idle_timeout = args.idle_timeout

    return operator_main([a for a in args.operator_args if a != "--"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
