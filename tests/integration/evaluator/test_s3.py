"""``modelmonitor evaluate`` against a real S3-compatible server on loopback (MinIO, else moto's server)."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sklearn import metrics

from tests.integration.evaluator.conftest import AS_OF, base_config, make_table

pytestmark = pytest.mark.s3


def put_parquet(client: Any, bucket: str, key: str, table: Any) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    client.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())


@pytest.fixture
def bucket(s3_env: Any) -> str:
    return str(s3_env.create_bucket(f"mm-{uuid.uuid4().hex[:10]}"))


def test_evaluates_a_prefix_of_objects_and_writes_outputs_to_s3(s3_env: Any, bucket: str, evaluate: Any) -> None:
    client = s3_env.client()
    reference = make_table(3000, seed=11)
    current = make_table(2500, seed=12, drift=1.0)
    for part in range(3):
        put_parquet(client, bucket, f"credit/prod/part-{part}.parquet", current.slice(part * 1000, 1000))
    csv = io.BytesIO()
    pacsv.write_csv(reference, csv)
    client.put_object(Bucket=bucket, Key="credit/train.csv", Body=csv.getvalue())
    client.put_object(Bucket=bucket, Key="credit/prod/_SUCCESS", Body=b"")
    document = base_config(f"s3://{bucket}/credit/train.csv", f"s3://{bucket}/credit/prod/")
    document["spec"]["data"]["reference"]["format"] = "csv"  # an s3:// URI's format is declared (default parquet)
    document["output"] = {"uri": f"s3://{bucket}/results/"}
    run = evaluate(document, output="")
    assert run.exit_code == 0, run.summary
    assert run.summary["rows"] == {"reference": 3000, "current": 2500, "labelled": 2500}
    truth, predicted = current.column("label").to_numpy(), current.column("pred").to_numpy()
    assert run.summary["metrics"]["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted), abs=1e-6)
    run_id = run.summary["runId"]
    assert run.summary["resultUri"] == f"s3://{bucket}/results/{run_id}/result.json"
    result = json.loads(client.get_object(Bucket=bucket, Key=f"results/{run_id}/result.json")["Body"].read())
    assert result["verdict"] == run.summary["verdict"]
    report = client.get_object(Bucket=bucket, Key=f"results/{run_id}/report.html")
    assert report["ContentType"].startswith("text/html")


def test_outputs_default_to_the_reference_bucket(s3_env: Any, bucket: str, evaluate: Any) -> None:
    client = s3_env.client()
    put_parquet(client, bucket, "ref.parquet", make_table(500, seed=1))
    put_parquet(client, bucket, "cur.parquet", make_table(500, seed=2))
    run = evaluate(base_config(f"s3://{bucket}/ref.parquet", f"s3://{bucket}/cur.parquet"), output="")
    assert run.exit_code == 0, run.summary
    key = f"modelmonitor/risk/credit/{run.summary['runId']}/result.json"
    assert client.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0


def test_a_missing_bucket(s3_env: Any, bucket: str, evaluate: Any) -> None:
    put_parquet(s3_env.client(), bucket, "ref.parquet", make_table(200, seed=1))
    run = evaluate(base_config(f"s3://{bucket}/ref.parquet", "s3://no-such-bucket-mm/current/"))
    assert run.exit_code == 4
    assert run.summary["error"]["reason"] == "NoSuchBucket"
    assert "'no-such-bucket-mm'" in run.summary["error"]["message"]


def test_a_missing_object_and_an_empty_prefix(s3_env: Any, bucket: str, evaluate: Any) -> None:
    put_parquet(s3_env.client(), bucket, "ref.parquet", make_table(200, seed=1))
    run = evaluate(base_config(f"s3://{bucket}/ref.parquet", f"s3://{bucket}/cur.parquet"))
    assert (run.exit_code, run.summary["error"]["reason"]) == (4, "NoSuchKey")
    assert f"s3://{bucket}/cur.parquet" in run.summary["error"]["message"]
    run = evaluate(base_config(f"s3://{bucket}/ref.parquet", f"s3://{bucket}/empty/"))
    assert (run.exit_code, run.summary["error"]["reason"]) == (3, "NoFiles")
    assert f"s3://{bucket}/empty/" in run.summary["error"]["message"]


def test_rejected_credentials_never_show_the_secret(
    s3_env: Any, bucket: str, evaluate: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    put_parquet(s3_env.client(), bucket, "ref.parquet", make_table(200, seed=1))
    secret = "wrong-secret-" + uuid.uuid4().hex
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "not-a-user")
    run = evaluate(base_config(f"s3://{bucket}/ref.parquet", f"s3://{bucket}/ref.parquet"))
    if run.exit_code == 0:
        pytest.skip("this S3 server does not check credentials (moto)")
    assert run.exit_code == 4
    assert run.summary["error"]["reason"] in ("InvalidCredentials", "AccessDenied")
    captured = capsys.readouterr()
    assert secret not in json.dumps(run.summary) + captured.out + captured.err


def test_one_client_serves_every_request_of_the_process(
    s3_env: Any, bucket: str, evaluate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelmonitor.evaluator import storage

    made: list[str | None] = []
    make = storage._new_client

    def counted(endpoint: str | None, region: str, budget: float) -> Any:
        made.append(endpoint)
        return make(endpoint, region, budget)

    monkeypatch.setattr(storage, "_CLIENTS", {})
    monkeypatch.setattr(storage, "_new_client", counted)
    client = s3_env.client()
    put_parquet(client, bucket, "ref.parquet", make_table(400, seed=1))
    put_parquet(client, bucket, "cur.parquet", make_table(400, seed=2, drift=1.0))
    document = base_config(f"s3://{bucket}/ref.parquet", f"s3://{bucket}/cur.parquet")
    document["output"] = {"uri": f"s3://{bucket}/out/"}
    first = evaluate(document, output="")  # lists, builds and writes the profile, writes the results
    second = evaluate(document, output="")  # reads the cached profile
    assert (first.exit_code, second.exit_code) == (0, 0), second.summary
    assert second.summary["metrics"] == first.summary["metrics"]
    for run in (first, second):
        key = f"out/{run.summary['runId']}/result.json"
        assert json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())["verdict"] == run.summary["verdict"]
    assert made == [s3_env.endpoint]


def test_shards_and_their_reduce_in_one_process_share_the_client_and_equal_the_single_run(
    s3_env: Any, bucket: str, evaluate: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The plan written if absent, the partials and the reduce's reads go through one client (storage.py)."""
    from modelmonitor.evaluator import storage
    from modelmonitor.evaluator.cli import main

    monkeypatch.setattr(storage, "_CLIENTS", {})
    client = s3_env.client()
    put_parquet(client, bucket, "ref.parquet", make_table(1200, seed=1))
    current = make_table(1500, seed=2, drift=0.5)
    for part in range(3):
        put_parquet(client, bucket, f"cur/part-{part}.parquet", current.slice(part * 500, 500))
    document = base_config(f"s3://{bucket}/ref.parquet", f"s3://{bucket}/cur/")
    document["output"] = {"uri": f"s3://{bucket}/out/"}
    config = tmp_path / "sharded.json"
    config.write_text(json.dumps(document))
    monkeypatch.setenv("MODELMONITOR_TERMINATION_LOG", str(tmp_path / "termination-log"))
    monkeypatch.setenv("MODELMONITOR_SHARD_COUNT", "3")
    for index in range(3):
        monkeypatch.setenv("MODELMONITOR_SHARD_INDEX", str(index))
        assert main(["evaluate", "--config", str(config), "--run-id", "sharded", "--quiet",
                     "--as-of", AS_OF.isoformat()]) == 0
    monkeypatch.delenv("MODELMONITOR_SHARD_INDEX")
    monkeypatch.delenv("MODELMONITOR_SHARD_COUNT")
    assert main(["reduce", "--config", str(config), "--run-id", "sharded", "--quiet"]) == 0
    single = evaluate(document, output="")
    assert single.exit_code == 0, single.summary
    assert len(storage._CLIENTS) == 1

    def result(run_id: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(
            client.get_object(Bucket=bucket, Key=f"out/{run_id}/result.json")["Body"].read())
        return document

    sharded, alone = result("sharded"), result(single.summary["runId"])
    for key in ("rows", "metrics", "drift", "verdict", "confusionMatrix"):
        assert sharded[key] == alone[key], key
    assert sharded["rows"]["current"] == 1500
