#!/usr/bin/env python3
"""Writes the ModelMonitor CRD, rendered from operator/modelmonitor/api/schema.py, to its committed copies.

    .venv/bin/python hack/generate_crd.py           # rewrite crds/ and the chart's crds/
    .venv/bin/python hack/generate_crd.py --check   # exit 1 if a copy differs (for CI)

The schema is written once in Python; the YAML files exist for kubectl and helm, which cannot read Python.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "operator"))

from modelmonitor.api.crd import render_crd_yaml  # noqa: E402

OUTPUTS = (
    ROOT / "crds" / "modelmonitors.yaml",
    ROOT / "charts" / "modelmonitor-operator" / "crds" / "modelmonitors.yaml",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the copies are up to date")
    arguments = parser.parse_args(argv)
    text = render_crd_yaml()
    stale = [path for path in OUTPUTS if not path.exists() or path.read_text(encoding="utf-8") != text]
    if arguments.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run hack/generate_crd.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
