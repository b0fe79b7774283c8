"""spec.challenger through ``modelmonitor evaluate`` on a real S3-compatible server: evidence grows run by run.

Each run reads a fresh window of current data (the object under the current prefix is replaced, as new
traffic would be) holding the champion's and a shadow challenger's outputs. The comparison's evidence is
stored beside the results and merged, so the labelled rows add up across runs and the decision can change;
a new challenger version starts afresh. Values are checked against scikit-learn on the same rows.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn import metrics

from modelmonitor.cli import main
from tests.integration.evaluator.conftest import AS_OF, base_config, make_table

pytestmark = pytest.mark.s3


def put_parquet(client: Any, bucket: str, key: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    client.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())


@pytest.fixture
def bucket(s3_env: Any) -> str:
    return str(s3_env.create_bucket(f"mm-{uuid.uuid4().hex[:10]}"))


def with_challenger(table: pa.Table, seed: int, noise: float) -> pa.Table:
    """Add a shadow challenger: the champion's score with extra noise on the logit (a worse model)."""
    rng = np.random.default_rng(seed)
    score = np.clip(table.column("score").to_numpy(), 1e-9, 1 - 1e-9)
    logit = np.log(score / (1 - score)) + rng.normal(0.0, noise, len(score))
    challenger = 1.0 / (1.0 + np.exp(-logit))
    table = table.append_column("score_v8", pa.array(challenger))
    return table.append_column("pred_v8", pa.array((challenger >= 0.5).astype(np.int64)))


CHALLENGER = {"version": "8", "prediction": "pred_v8", "score": "score_v8", "metrics": ["accuracy", "roc_auc"]}


def _document(bucket: str, challenger: dict[str, Any]) -> dict[str, Any]:
    document = base_config(f"s3://{bucket}/ref.parquet", f"s3://{bucket}/prod/")
    document["spec"]["challenger"] = challenger
    document["output"] = {"uri": f"s3://{bucket}/results/"}
    return document


def compare_gate(directory: Path, document: dict[str, Any]) -> int:
    """``modelmonitor compare`` on the monitor's config: the exit code a rollout's AnalysisRun would see."""
    config = directory / f"gate-{uuid.uuid4().hex[:6]}.json"
    config.write_text(json.dumps(document))
    return main(["compare", "--config", str(config)])


def test_shadow_evidence_accumulates_across_runs_until_worse(
    s3_env: Any, bucket: str, evaluate: Any, tmp_path: Path
) -> None:
    client = s3_env.client()
    put_parquet(client, bucket, "ref.parquet", make_table(2000, seed=1))
    document = _document(bucket, CHALLENGER)
    seen: list[pa.Table] = []
    comparisons = []
    gate_exits = []
    for run in range(4):
        window = with_challenger(make_table(1000, seed=100 + run), seed=200 + run, noise=0.4)
        seen.append(window)
        put_parquet(client, bucket, "prod/part.parquet", window)
        result = evaluate(document, output="")
        assert result.exit_code == 0, result.summary
        comparisons.append(result.summary["comparison"])
        gate_exits.append(compare_gate(tmp_path, document))
    # the rollout gate reads the same evidence: inconclusive (2) after the first run, worse (1) after
    assert gate_exits == [2, 1, 1, 1]
    assert [c["labelledRows"] for c in comparisons] == [1000, 2000, 3000, 4000]
    assert [c["runs"] for c in comparisons] == [1, 2, 3, 4]
    assert len({c["since"] for c in comparisons}) == 1
    assert comparisons[-1]["decision"] == "challenger-worse"
    # the first run's 1000 rows do not separate the models yet; the accumulated evidence does
    assert comparisons[0]["decision"] == "inconclusive"
    assert comparisons[0]["rowsNeeded"] > 0
    assert comparisons[1]["decision"] == "challenger-worse"
    # the accumulated values are those of all rows seen, by scikit-learn
    everything = pa.concat_tables(seen)
    truth = everything.column("label").to_numpy()
    accuracy = {item["metric"]: item for item in comparisons[-1]["metrics"]}["accuracy"]
    assert accuracy["champion"] == pytest.approx(
        metrics.accuracy_score(truth, everything.column("pred").to_numpy()), abs=1e-6
    )
    assert accuracy["challenger"] == pytest.approx(
        metrics.accuracy_score(truth, everything.column("pred_v8").to_numpy()), abs=1e-6
    )
    # the full comparison is in the result document; the challenger's columns are not drift features
    run_id = f"run-{3}"
    stored = json.loads(client.get_object(Bucket=bucket, Key=f"results/{run_id}/result.json")["Body"].read())
    assert stored["comparison"]["decision"] == "challenger-worse"
    assert stored["comparison"]["stateUri"] == f"s3://{bucket}/results/comparison/state.json"
    features = {feature["feature"] for feature in stored["drift"]["features"]}
    assert not features & {"pred_v8", "score_v8"}
    assert not set(stored["dataQuality"].get("addedColumns") or []) & {"pred_v8", "score_v8"}
    state = json.loads(client.get_object(Bucket=bucket, Key="results/comparison/state.json")["Body"].read())
    assert (state["championVersion"], state["challengerVersion"], state["runs"]) == ("7", "8", 4)
    # the evidence over time: one point per run, in the result and plotted in the report
    assert [point["labelledRows"] for point in stored["comparison"]["history"]] == [1000, 2000, 3000, 4000]
    assert [point["decision"] for point in stored["comparison"]["history"]][:2] == ["inconclusive", "challenger-worse"]
    report = client.get_object(Bucket=bucket, Key=f"results/{run_id}/report.html")["Body"].read().decode()
    section = report[report.index("Champion vs challenger") :]
    assert "challenger-worse" in section and "exact McNemar" in section and "DeLong" in section
    assert section.count("<circle") == 8  # 2 metrics x 4 runs

    # a new challenger version: the evidence starts afresh and says why; until then the gate has none for it
    document = _document(bucket, dict(CHALLENGER, version="9"))
    assert compare_gate(tmp_path, document) == 2
    result = evaluate(document, output="")
    assert result.exit_code == 0, result.summary
    fresh = result.summary["comparison"]
    assert (fresh["runs"], fresh["labelledRows"], fresh["challengerVersion"]) == (1, 1000, "9")


def test_ab_mode_compares_the_traffic_split_by_a_column(s3_env: Any, bucket: str, evaluate: Any) -> None:
    client = s3_env.client()
    put_parquet(client, bucket, "ref.parquet", make_table(2000, seed=1))
    window = with_challenger(make_table(4000, seed=7), seed=8, noise=2.0)
    rng = np.random.default_rng(9)
    variant = np.where(rng.random(window.num_rows) < 0.5, "v7", "v8")
    served_pred = np.where(variant == "v8", window.column("pred_v8").to_numpy(), window.column("pred").to_numpy())
    served_score = np.where(variant == "v8", window.column("score_v8").to_numpy(), window.column("score").to_numpy())
    table = window.drop_columns(["pred", "score", "pred_v8", "score_v8"])
    table = table.append_column("pred", pa.array(served_pred)).append_column("score", pa.array(served_score))
    table = table.append_column("variant", pa.array(variant.tolist()))
    put_parquet(client, bucket, "prod/part.parquet", table)
    challenger = {
        "version": "8",
        "mode": "ab",
        "variantColumn": "variant",
        "championVariant": "v7",
        "challengerVariant": "v8",
        "metrics": ["accuracy"],
    }
    result = evaluate(_document(bucket, challenger), output="")
    assert result.exit_code == 0, result.summary
    comparison = result.summary["comparison"]
    assert comparison["mode"] == "ab"
    assert comparison["labelledRows"] == 4000
    truth = table.column("label").to_numpy()
    accuracy = comparison["metrics"][0]
    for name, arm in (("champion", "v7"), ("challenger", "v8")):
        rows = variant == arm
        assert accuracy[name] == pytest.approx(metrics.accuracy_score(truth[rows], served_pred[rows]), abs=1e-6)
    assert comparison["decision"] in ("challenger-worse", "inconclusive")


def test_a_missing_challenger_column_is_a_data_error_naming_the_field(s3_env: Any, bucket: str, evaluate: Any) -> None:
    client = s3_env.client()
    put_parquet(client, bucket, "ref.parquet", make_table(500, seed=1))
    put_parquet(client, bucket, "prod/part.parquet", make_table(500, seed=2))
    result = evaluate(_document(bucket, CHALLENGER), output="")
    assert result.exit_code == 3, result.summary
    assert "spec.challenger.prediction" in result.summary["error"]["message"]


def test_challenger_outputs_logged_apart_are_joined_on_an_id(
    s3_env: Any, bucket: str, evaluate: Any, tmp_path: Path
) -> None:
    """spec.challenger.data: the challenger's outputs logged apart, joined on request_id; rows without a logged
    output are left out and counted; values equal scikit-learn's on the answered rows."""
    client = s3_env.client()
    put_parquet(client, bucket, "ref.parquet", make_table(2000, seed=1))
    window = with_challenger(make_table(3000, seed=5), seed=6, noise=0.4)
    logged = window.select(["request_id", "pred_v8", "score_v8"])
    shuffled = logged.take(np.random.default_rng(7).permutation(logged.num_rows)[: logged.num_rows - 100])
    put_parquet(client, bucket, "shadow/part.parquet", shuffled)  # 100 requests the challenger never answered
    put_parquet(client, bucket, "prod/part.parquet", window.drop_columns(["pred_v8", "score_v8"]))
    joined_document = _document(
        bucket, dict(CHALLENGER, data={"uri": f"s3://{bucket}/shadow/", "joinOn": "request_id"})
    )
    joined = evaluate(joined_document, output="")
    assert joined.exit_code == 0, joined.summary
    comparison = joined.summary["comparison"]
    assert comparison["labelledRows"] == 2900
    run_id = joined.summary["runId"]
    stored = json.loads(client.get_object(Bucket=bucket, Key=f"results/{run_id}/result.json")["Body"].read())
    assert stored["comparison"]["rowsMissingOutputs"] == 100
    answered = np.isin(window.column("request_id").to_numpy(), shuffled.column("request_id").to_numpy())
    truth = window.column("label").to_numpy()[answered]
    accuracy = {item["metric"]: item for item in comparison["metrics"]}["accuracy"]
    assert accuracy["challenger"] == pytest.approx(
        metrics.accuracy_score(truth, window.column("pred_v8").to_numpy()[answered]), abs=1e-6
    )
    assert not {"request_id", "pred_v8", "score_v8"} & {feature["feature"] for feature in stored["drift"]["features"]}


def test_a_challenger_data_without_its_columns_is_a_config_or_data_error(
    s3_env: Any, bucket: str, evaluate: Any
) -> None:
    client = s3_env.client()
    put_parquet(client, bucket, "ref.parquet", make_table(500, seed=1))
    put_parquet(client, bucket, "prod/part.parquet", make_table(500, seed=2))
    put_parquet(client, bucket, "shadow/part.parquet", make_table(500, seed=2).select(["request_id", "pred"]))
    document = _document(bucket, dict(CHALLENGER, data={"uri": f"s3://{bucket}/shadow/", "joinOn": "request_id"}))
    result = evaluate(document, output="")
    assert result.exit_code in (2, 3), result.summary
    assert "spec.challenger.prediction" in result.summary["error"]["message"]


def test_overlapping_windows_count_each_row_once(s3_env: Any, bucket: str, evaluate: Any) -> None:
    """A 24h window evaluated every 12h overlaps the last run's by half: the evidence adds only the new rows."""
    client = s3_env.client()
    put_parquet(client, bucket, "ref.parquet", make_table(2000, seed=1))
    window = with_challenger(make_table(4000, seed=9), seed=10, noise=0.4)  # timestamps over the 48h before AS_OF
    put_parquet(client, bucket, "prod/part.parquet", window)
    document = _document(bucket, CHALLENGER)
    document["spec"]["data"]["current"].update(timestampColumn="ts", window="24h")
    stamps = window.column("ts").to_pylist()

    def rows_between(start: datetime, end: datetime) -> int:
        return sum(1 for stamp in stamps if start <= stamp < end)

    first = evaluate(document, "--as-of", (AS_OF - timedelta(hours=12)).isoformat(), output="")
    assert first.exit_code == 0, first.summary
    expected = rows_between(AS_OF - timedelta(hours=36), AS_OF - timedelta(hours=12))
    assert first.summary["comparison"]["labelledRows"] == expected
    second = evaluate(document, output="")  # as of AS_OF: the window [AS_OF - 24h, AS_OF) half overlaps
    assert second.exit_code == 0, second.summary
    expected += rows_between(AS_OF - timedelta(hours=12), AS_OF)
    assert second.summary["comparison"]["labelledRows"] == expected
    assert second.summary["rows"]["current"] == rows_between(AS_OF - timedelta(hours=24), AS_OF)  # drift: whole window
    again = evaluate(document, output="")  # the same window again adds nothing
    assert again.summary["comparison"]["labelledRows"] == expected
    assert again.summary["comparison"]["runs"] == 3
