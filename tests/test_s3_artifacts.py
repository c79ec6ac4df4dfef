"""Artifacts in S3: the MLflow artifact routes backed by a real S3 protocol endpoint."""

import hashlib
import os
import subprocess
import sys
import uuid

import pytest

from tests.server import LiveServer, free_port


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory, moto_s3):
    bucket = f"swan-{uuid.uuid4().hex[:8]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    srv = LiveServer(
        tmp_path_factory.mktemp("s3-home"),
        artifacts_destination=f"s3://{bucket}/team/artifacts",
        extra_env=moto_s3.env,
    ).start()
    yield srv, bucket
    srv.stop()


@pytest.fixture()
def s3_client(s3_server, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    srv, _ = s3_server
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(srv.url)
    return MlflowClient(srv.url)


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_round_trip_through_s3(s3_server, s3_client, moto_s3, tmp_path):
    import mlflow

    _, bucket = s3_server
    src = tmp_path / "src"
    (src / "nested" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "nested" / "b.bin").write_bytes(os.urandom(300_000))
    (src / "nested" / "deeper" / "c.json").write_text('{"c": 1}')
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))  # above the multipart threshold

    exp = s3_client.create_experiment(f"s3-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_artifacts(str(src), "tree")
        mlflow.log_artifact(str(big))
    run_id = run.info.run_id

    top = {f.path: f for f in s3_client.list_artifacts(run_id)}
    assert set(top) == {"tree", "big.bin"} and top["tree"].is_dir and top["big.bin"].file_size == big.stat().st_size
    nested = {f.path for f in s3_client.list_artifacts(run_id, "tree/nested")}
    assert nested == {"tree/nested/b.bin", "tree/nested/deeper"}

    out = tmp_path / "out"
    out.mkdir()
    got = s3_client.download_artifacts(run_id, "", str(out))
    for rel in ("a.txt", "nested/b.bin", "nested/deeper/c.json"):
        assert _sha(os.path.join(got, "tree", rel)) == _sha(src / rel)
    assert _sha(os.path.join(got, "big.bin")) == _sha(big)

    # The bytes really are in the bucket, under the configured prefix.
    keys = {o["Key"] for o in moto_s3.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert f"team/artifacts/{exp}/{run_id}/artifacts/tree/nested/deeper/c.json" in keys
    assert f"team/artifacts/{exp}/{run_id}/artifacts/big.bin" in keys


def test_delete_and_missing_and_traversal(s3_server, s3_client, moto_s3, tmp_path):
    import requests

    srv, bucket = s3_server
    base = f"{srv.url}/api/2.0/mlflow-artifacts/artifacts"
    assert requests.put(f"{base}/x/dir/one.txt", data=b"1").status_code == 200
    assert requests.put(f"{base}/x/dir/two.txt", data=b"2").status_code == 200
    assert requests.get(f"{base}/x/dir/one.txt").content == b"1"
    listing = requests.get(base, params={"path": "x/dir"}).json()["files"]
    assert {f["path"] for f in listing} == {"one.txt", "two.txt"}
    assert requests.delete(f"{base}/x/dir").status_code == 200
    assert requests.get(f"{base}/x/dir/one.txt").status_code == 404
    assert requests.get(f"{base}/x/dir/one.txt").json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert requests.delete(f"{base}/x/nothing").status_code == 404
    assert requests.get(base, params={"path": "../../etc"}).status_code == 400
    assert requests.put(f"{base}/x/%2e%2e/%2e%2e/escape.txt", data=b"no").status_code == 400
    keys = {o["Key"] for o in moto_s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert not any("escape" in k for k in keys)


def test_missing_bucket_fails_fast_with_one_line(tmp_path, moto_s3):
    env = {**os.environ, **moto_s3.env, "SWAN_HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "swan_client.cli", "server", "--port", str(free_port()),
         "--artifacts-destination", "s3://no-such-bucket-here/x"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    err_lines = [line for line in proc.stderr.splitlines() if line.startswith("swan:")]
    assert len(err_lines) == 1 and "no-such-bucket-here" in err_lines[0]
    assert "Traceback" not in proc.stderr
