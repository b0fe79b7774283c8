"""Are two evaluations' result.json the same? Exact, except floats within a stated relative tolerance.

    python bench/same_result.py before/result.json after/result.json [--rtol 1e-12]

A speed change must not change results. Counts, decisions, labels, chi-square statistics and everything that
is not a float must be equal exactly; a float may differ by at most ``--rtol`` relative (default 0: bit for
bit), which is the room a change of summation order needs (a moment's shift or a batch cut moves the last
bits of a mean or a standard deviation, and what is computed from them). Fields that differ between any two
runs by design (run id, start and finish times, where the outputs were written) are not compared. Prints
every difference, then a summary; exits 1 when any difference exceeds the tolerance.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

#: Differ between runs by design, not by computation.
IGNORED = {"runId", "asOf", "startedAt", "finishedAt", "reportUri", "resultUri"}


def compare(before: Any, after: Any, rtol: float, path: str, found: list[tuple[str, str, float]]) -> None:
    """Append (path, what, relative difference) for each difference; ``inf`` marks one beyond any tolerance.

    A key on one side only, with a null value, is a field added to the result since (not a difference).
    """
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            if key in IGNORED:
                continue
            if (key not in before and after[key] is None) or (key not in after and before[key] is None):
                continue
            if key not in before or key not in after:
                found.append((f"{path}.{key}", "present on one side only", math.inf))
                continue
            compare(before[key], after[key], rtol, f"{path}.{key}", found)
        return
    if isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            found.append((path, f"lengths {len(before)} / {len(after)}", math.inf))
            return
        for index, (left, right) in enumerate(zip(before, after, strict=True)):
            compare(left, right, rtol, f"{path}[{index}]", found)
        return
    if isinstance(before, float) and isinstance(after, float) and not isinstance(before, bool):
        if before == after or (math.isnan(before) and math.isnan(after)):
            return
        scale = max(abs(before), abs(after))
        relative = abs(before - after) / scale if scale else math.inf
        found.append((path, f"{before!r} / {after!r}", relative))
        return
    if type(before) is not type(after) or before != after:
        found.append((path, f"{before!r} / {after!r}", math.inf))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rtol", type=float, default=0.0, help="largest relative difference allowed in a float")
    arguments = parser.parse_args()
    found: list[tuple[str, str, float]] = []
    compare(json.loads(arguments.before.read_text()), json.loads(arguments.after.read_text()), arguments.rtol,
            "$", found)
    beyond = [item for item in found if item[2] > arguments.rtol]
    for path, what, relative in found:
        mark = "BEYOND" if relative > arguments.rtol else "within"
        print(f"{mark} {path}: {what} (relative {relative:.2e})")
    largest = max((relative for _, _, relative in found), default=0.0)
    print(f"{len(found)} difference(s), {len(beyond)} beyond rtol {arguments.rtol:g}; largest relative {largest:.2e}")
    sys.exit(1 if beyond else 0)


if __name__ == "__main__":
    main()
