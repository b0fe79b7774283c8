"""bench/same_result.py, the check that a speed change left results equal, finds what differs and only that."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "bench" / "same_result.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_same_result", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BEFORE = {
    "runId": "a", "startedAt": "t1", "rows": {"current": 10}, "verdict": "ok",
    "drift": {"features": [{"feature": "x", "statistic": 0.25, "pValue": 0.5, "reason": None}]},
}


def _differences(after: dict[str, object], rtol: float = 0.0) -> list[tuple[str, str, float]]:
    found: list[tuple[str, str, float]] = []
    _module().compare(BEFORE, after, rtol, "$", found)
    return found


def test_run_identity_and_times_are_not_compared_but_everything_else_is() -> None:
    assert _differences({**BEFORE, "runId": "b", "startedAt": "t2"}) == []
    assert [path for path, _, _ in _differences({**BEFORE, "rows": {"current": 11}})] == ["$.rows.current"]
    assert _differences({**BEFORE, "verdict": "critical"})[0][2] == float("inf")


def test_floats_within_rtol_pass_and_beyond_it_fail(tmp_path: Path) -> None:
    moved = json.loads(json.dumps(BEFORE))
    moved["drift"]["features"][0]["statistic"] = 0.25 * (1 + 1e-14)
    (tmp_path / "before.json").write_text(json.dumps(BEFORE))
    (tmp_path / "after.json").write_text(json.dumps(moved))
    command = [sys.executable, str(SCRIPT), str(tmp_path / "before.json"), str(tmp_path / "after.json")]
    exact = subprocess.run(command, capture_output=True, text=True, check=False)
    tolerant = subprocess.run([*command, "--rtol", "1e-12"], capture_output=True, text=True, check=False)
    assert exact.returncode == 1 and "BEYOND $.drift.features[0].statistic" in exact.stdout
    assert tolerant.returncode == 0 and "0 beyond rtol 1e-12" in tolerant.stdout


def test_a_field_added_as_null_is_not_a_difference() -> None:
    assert _differences({**BEFORE, "stepProfiles": None}) == []
    assert _differences({**BEFORE, "stepProfiles": {"reused": []}})[0][0] == "$.stepProfiles"
