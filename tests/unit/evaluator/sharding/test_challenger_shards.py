"""spec.challenger in a sharded run: the shards' comparison evidence merges to the single run's comparison."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from modelmonitor.evaluator.cli import main
from tests.unit.evaluator.sharding.test_partial_merge import _config, _evaluate, _result, _sharded, _table, _write_parts

CHALLENGER = {
    "version": "4",
    "prediction": "pred_v4",
    "score": "score_v4",
    "metrics": ["accuracy", "f1", "roc_auc", "log_loss"],
}


def _with_challenger(table: pa.Table, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    score = np.clip(table.column("score").to_numpy(), 1e-9, 1 - 1e-9)
    challenger = 1 / (1 + np.exp(-(np.log(score / (1 - score)) + rng.normal(0, 0.6, len(score)))))
    table = table.append_column("score_v4", pa.array(challenger))
    return table.append_column("pred_v4", pa.array((challenger >= 0.5).astype(np.int64)))


def test_sharded_comparison_equals_the_single_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELMONITOR_TERMINATION_LOG", str(tmp_path / "termination-log"))
    _write_parts(tmp_path / "reference", _table(6000, seed=1), files=2, row_group_size=1000)
    _write_parts(tmp_path / "current", _with_challenger(_table(9000, seed=2), seed=3), files=3, row_group_size=700)
    config = _config(tmp_path, challenger=CHALLENGER)
    document = json.loads(config.read_text())
    # the single run and the sharded run each keep their own evidence (they must not add up with each other)
    document["output"] = {"uri": str(tmp_path / "single-out")}
    single_config = tmp_path / "single.json"
    single_config.write_text(json.dumps(document))
    assert _evaluate(single_config, "single") == 0
    _sharded(config, "sharded", 3, monkeypatch, tmp_path)
    assert (
        main(
            [
                "reduce",
                "--config",
                str(config),
                "--run-id",
                "sharded",
                "--quiet",
                "--summary",
                str(tmp_path / "reduce.json"),
            ]
        )
        == 0
    )
    single = json.loads((tmp_path / "single-out" / "single" / "result.json").read_text())["comparison"]
    sharded = _result(tmp_path, "sharded")["comparison"]
    assert sharded["labelledRows"] == single["labelledRows"] > 0
    assert sharded["metrics"] == single["metrics"]
    assert sharded["decision"] == single["decision"]
    assert json.loads((tmp_path / "reduce.json").read_text())["comparison"]["decision"] == single["decision"]
