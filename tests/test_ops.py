"""Operations: `swan export` → `swan import swan` into a fresh PostgreSQL server (read back with the
MLflow client), `swan gc` with S3 artifacts, and the new commands' one-line errors."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.databases import TempDatabase
from tests.server import LiveServer
from tests.swanlab_support import admin_key, run_script, sdk_env

pytestmark = pytest.mark.timeout(900)


def swan(*args, env=None, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "swan_client.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)
    if check:
        assert proc.returncode == 0, f"swan {args[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


SWANLAB_RUN = """
import sys, numpy as np, swanlab
swanlab.login(host={url!r}, api_key={key!r})
run = swanlab.init(project={project!r}, experiment_name="sdk-run", config={{"lr": 0.1, "model": {{"depth": 2}}}})
for i in range(50):
    swanlab.log({{"loss": 1.0 / (i + 1)}}, step=i)
print("hello from the console")
img = np.zeros((8, 8, 3), dtype=np.uint8)
swanlab.log({{"samples/img": swanlab.Image(img, caption="black"), "notes": swanlab.Text("kept")}}, step=3)
swanlab.finish()
print("CUID=" + run.id)
"""


def _log_mlflow_project(client, name: str, tmp: Path) -> dict:
    """A project with everything the MLflow client can put in it."""
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    exp_id = client.create_experiment(name, tags={"team": "vision", "note": "ünïcode ✓"})
    runs = {}
    for i in range(3):
        run = client.create_run(exp_id, run_name=f"run-{i}", start_time=1_700_000_000_000 + i,
                                tags={"kind": "mlflow", "i": str(i)})
        rid = run.info.run_id
        metrics = [Metric("loss", 1.0 / (s + 1), 1_700_000_000_000 + s, s) for s in range(1500)]
        metrics += [Metric("acc", s / 10, 1_700_000_000_500 + s, s) for s in range(10)]
        metrics += [Metric("weird", v, 1_700_000_000_900, k) for k, v in enumerate([math.nan, math.inf, -math.inf, 1e-300])]
        client.log_batch(rid, metrics=metrics, params=[Param("lr", str(0.01 * (i + 1))), Param("model", "tree")],
                         tags=[RunTag("mlflow.note.content", f"run {i} notes")])
        src = tmp / f"art-{i}"
        (src / "nested" / "deeper").mkdir(parents=True)
        (src / "a.txt").write_text(f"alpha {i}")
        (src / "nested" / "deeper" / "b.bin").write_bytes(os.urandom(100_000 + i))
        client.log_artifacts(rid, str(src), "tree")
        runs[rid] = run
    # dataset inputs, a nested run, a finished and a failed run, a deleted run
    first = next(iter(runs))
    with mlflow.start_run(run_id=first):
        import pandas as pd

        ds = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2, 3]}), name="train-set")
        mlflow.log_input(ds, context="training")
    child = client.create_run(exp_id, run_name="child", tags={"mlflow.parentRunId": first})
    client.set_terminated(child.info.run_id, "FAILED", end_time=1_700_000_100_000)
    client.set_terminated(first, "FINISHED", end_time=1_700_000_200_000)
    gone = client.create_run(exp_id, run_name="deleted-one")
    client.log_metric(gone.info.run_id, "x", 1.0, step=0)
    client.delete_run(gone.info.run_id)
    # a registered model made from a run
    client.create_registered_model(f"{name}-model", tags={"stage": "dev"}, description="from a run")
    mv = client.create_model_version(f"{name}-model", f"runs:/{first}/tree", run_id=first, tags={"v": "1"})
    client.set_registered_model_alias(f"{name}-model", "champion", mv.version)
    return {"experiment_id": exp_id}


def _snapshot(client, name: str) -> dict:
    """Everything the MLflow client can read about a project."""
    from mlflow.entities import ViewType

    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=1000)
    out = {"experiment": (exp.name, exp.lifecycle_stage, exp.tags, exp.artifact_location), "runs": {}}
    for run in runs:
        rid = run.info.run_id
        info = run.info
        histories = {k: [(m.step, m.timestamp, "nan" if math.isnan(m.value) else m.value)
                         for m in client.get_metric_history(rid, k)] for k in run.data.metrics}
        files = {}
        if info.lifecycle_stage == "active":
            stack = [None]
            while stack:
                for f in client.list_artifacts(rid, stack.pop()):
                    if f.is_dir:
                        stack.append(f.path)
                    else:
                        files[f.path] = f.file_size
        metrics = {k: ("nan" if math.isnan(v) else v) for k, v in run.data.metrics.items()}
        inputs = sorted((d.dataset.name, d.dataset.digest, d.dataset.source, tuple((t.key, t.value) for t in d.tags))
                        for d in run.inputs.dataset_inputs)
        out["runs"][rid] = {
            "info": (info.run_name, info.status, info.start_time, info.end_time, info.lifecycle_stage,
                     info.artifact_uri, info.user_id),
            "params": run.data.params, "tags": run.data.tags, "metrics": metrics,
            "histories": histories, "files": files, "inputs": inputs,
        }
    return out


def _download_all(client, run_id: str, dest: Path) -> dict[str, bytes]:
    local = Path(client.download_artifacts(run_id, "", str(dest)))
    return {str(p.relative_to(local)): p.read_bytes() for p in local.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A Swan server on SQLite with one project written by MLflow and by the SwanLab SDK."""
    from mlflow import MlflowClient

    home = tmp_path_factory.mktemp("ops-source")
    srv = LiveServer(home).start()
    name = f"moving-{uuid.uuid4().hex[:6]}"
    client = MlflowClient(srv.url)
    import mlflow

    mlflow.set_tracking_uri(srv.url)
    info = _log_mlflow_project(client, name, home)
    tmp = home / "sdk"
    proc = run_script(tmp, SWANLAB_RUN.format(url=srv.url, key=admin_key(srv), project=name), sdk_env(tmp))
    cuid = proc.stdout.rsplit("CUID=", 1)[1].split()[0]
    yield {"server": srv, "name": name, "cuid": cuid, **info}
    srv.stop()


def test_export_import_round_trip_into_fresh_postgresql(source, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from swan_server.db.engine import make_engine
    from swan_server.store.sql import SqlTrackingStore

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    srv, name = source["server"], source["name"]
    src_client = MlflowClient(srv.url)
    before = _snapshot(src_client, name)
    # 3 runs, a child, a deleted run, the SwanLab run
    assert len(before["runs"]) == 6, {r: (v["info"], sorted(v["metrics"])) for r, v in before["runs"].items()}

    out = tmp_path / "export"
    proc = swan("export", name, str(out), "--backend-store-uri", srv.backend_store_uri,
                "--artifacts-destination", srv.artifacts_destination)
    assert "Exported project" in proc.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["runs"] == 6 and manifest["counts"]["metric_points"] == 3 * 1514 + 1 + 50, \
        (manifest["counts"], {r: sorted(v["histories"]) for r, v in before["runs"].items()})
    assert any(f["path"].startswith("points/") for f in manifest["files"])
    assert any(f["path"].startswith("artifacts/") for f in manifest["files"])

    db = TempDatabase("postgresql").create()
    try:
        home = tmp_path / "target"
        env = {"SWAN_BACKEND_STORE_URI": db.uri, "SWAN_ARTIFACTS_DESTINATION": str(home / "artifacts")}
        first = swan("import", "swan", str(out), env=env)
        assert "6 new run(s)" in first.stdout, first.stdout
        again = swan("import", "swan", str(out), env=env)  # idempotent: nothing new
        assert "0 new run(s), 0 new point(s), 0 artifact file(s) copied" in again.stdout, again.stdout

        target = LiveServer(home, backend_store_uri=db.uri).start()
        try:
            dst_client = MlflowClient(target.url)
            after = _snapshot(dst_client, name)
            assert after == before
            for rid, run in before["runs"].items():
                if run["info"][4] == "active" and run["files"]:
                    assert _download_all(dst_client, rid, tmp_path / "dst" / rid) == \
                        _download_all(src_client, rid, tmp_path / "src" / rid)
            # the registry followed its run
            mv = dst_client.get_model_version_by_alias(f"{name}-model", "champion")
            assert mv.version == "1" and mv.tags == {"v": "1"} and mv.run_id in before["runs"]
            assert dst_client.get_registered_model(f"{name}-model").description == "from a run"
            # the SwanLab run's console lines, media index and profiles came along, row for row
            src_store = SqlTrackingStore(make_engine(srv.backend_store_uri))
            dst_store = SqlTrackingStore(make_engine(db.uri))
            sdk_run = [r for r, v in before["runs"].items() if v["tags"].get("swanlab.cuid") == source["cuid"]][0]
            assert dst_store.get_log_lines(sdk_run) == src_store.get_log_lines(sdk_run)
            assert any("hello from the console" in line.message for line in dst_store.get_log_lines(sdk_run))
            assert dst_store.list_media_items(sdk_run) == src_store.list_media_items(sdk_run)
            assert len(dst_store.list_media_items(sdk_run)) >= 2
            assert dst_store.get_run_profiles(sdk_run) == src_store.get_run_profiles(sdk_run)
            src_store.engine.dispose()
            dst_store.engine.dispose()
        finally:
            target.stop()
    finally:
        db.drop()


def test_import_refuses_a_damaged_or_incomplete_export(source, tmp_path):
    srv, name = source["server"], source["name"]
    out = tmp_path / "export"
    swan("export", name, str(out), "--backend-store-uri", srv.backend_store_uri,
         "--artifacts-destination", srv.artifacts_destination)
    victim = next(p for p in (out / "points").iterdir())
    victim.write_bytes(victim.read_bytes().replace(b"[", b"[ ", 1))
    env = {"SWAN_HOME": str(tmp_path / "t"), "SWAN_BACKEND_STORE_URI": f"sqlite:///{tmp_path / 't.db'}",
           "SWAN_ARTIFACTS_DESTINATION": str(tmp_path / "t-art")}
    proc = swan("import", "swan", str(out), env=env, check=False)
    assert proc.returncode == 1 and "does not match its checksum" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    (out / "manifest.json").unlink()
    proc = swan("import", "swan", str(out), env=env, check=False)
    assert proc.returncode == 1 and "not a complete Swan export" in proc.stderr
    # exporting into a non-empty folder, or an unknown project, is refused too
    proc = swan("export", name, str(out), "--backend-store-uri", srv.backend_store_uri, check=False)
    assert proc.returncode == 1 and "not empty" in proc.stderr
    proc = swan("export", "no-such-project", str(tmp_path / "x"), "--backend-store-uri", srv.backend_store_uri,
                check=False)
    assert proc.returncode == 1 and "No project" in proc.stderr


# ------------------------------------------------------------------------------------------------
# gc
# ------------------------------------------------------------------------------------------------
def _keys(moto_s3, bucket: str, prefix: str = "") -> list[str]:
    s3 = moto_s3.client()
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def test_gc_removes_deleted_runs_and_projects_with_their_s3_objects(tmp_path, moto_s3, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    bucket = f"gc-{uuid.uuid4().hex[:8]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    dest = f"s3://{bucket}/swan"
    srv = LiveServer(tmp_path / "home", artifacts_destination=dest, extra_env=moto_s3.env).start()
    try:
        client = MlflowClient(srv.url)
        art = tmp_path / "f.txt"
        art.write_text("payload")
        keep_exp = client.create_experiment("gc-keep")
        keep = client.create_run(keep_exp).info.run_id
        drop = client.create_run(keep_exp).info.run_id
        for rid in (keep, drop):
            client.log_artifact(rid, str(art), "d")
            client.log_batch(rid, metrics=[__import__("mlflow").entities.Metric("m", 1.0, 1, s) for s in range(100)])
        gone_exp = client.create_experiment("gc-gone")
        gone_run = client.create_run(gone_exp).info.run_id
        client.log_artifact(gone_run, str(art))
        client.delete_run(drop)
        client.delete_experiment(gone_exp)
        assert any(drop in k for k in _keys(moto_s3, bucket)) and any(gone_run in k for k in _keys(moto_s3, bucket))

        store_args = ["--backend-store-uri", srv.backend_store_uri, "--artifacts-destination", dest]
        # too recent for a 30-day retention: nothing goes
        proc = swan("gc", "--older-than", "30d", *store_args, env=moto_s3.env)
        assert "Removed 0 project(s) and 0 run(s)" in proc.stdout
        proc = swan("gc", "--older-than", "0s", "--dry-run", *store_args, env=moto_s3.env)
        assert "Would remove 1 project(s) and 2 run(s)" in proc.stdout
        assert client.get_run(drop).info.lifecycle_stage == "deleted"

        proc = swan("gc", "--older-than", "0s", *store_args, env=moto_s3.env)
        assert "Removed 1 project(s) and 2 run(s), 100 metric point(s)" in proc.stdout, proc.stdout
        keys = _keys(moto_s3, bucket)
        assert not any(drop in k or gone_run in k for k in keys), keys
        assert not any(k.startswith(f"swan/{gone_exp}/") for k in keys), keys
        assert any(keep in k for k in keys)
        for rid in (drop, gone_run):
            with pytest.raises(MlflowException, match="not found"):
                client.get_run(rid)
        with pytest.raises(MlflowException):
            client.get_experiment(gone_exp)
        assert client.get_experiment_by_name("gc-gone") is None  # the name is free again
        assert len(client.get_metric_history(keep, "m")) == 100
        import sqlite3

        with sqlite3.connect(srv.home / "swan.db") as db:  # no rows of a removed series are left behind
            for table in ("metric_chunks", "metric_rollups"):
                orphans = db.execute(f"SELECT count(*) FROM {table} WHERE series_id NOT IN "
                                     "(SELECT id FROM metric_series)").fetchone()[0]
                assert orphans == 0, table
            assert db.execute("SELECT count(*) FROM metric_rollups").fetchone()[0] > 0
        # a live run cannot be named for removal
        proc = swan("gc", "--run-ids", keep, *store_args, env=moto_s3.env, check=False)
        assert proc.returncode == 1 and "is not deleted" in proc.stderr
    finally:
        srv.stop()


# ------------------------------------------------------------------------------------------------
# bad input at start
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["gc"], ["export", "p", "/tmp/never-written"], ["import", "swan", "."]])
def test_unreachable_database_is_one_line_and_exit_1(command, tmp_path):
    proc = swan(*command, "--backend-store-uri", "postgresql://postgres@127.0.0.1:1/none",
                "--artifacts-destination", str(tmp_path), check=False)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("swan: cannot open the database")


@pytest.mark.parametrize("command", [["gc"], ["export", "p", "/tmp/never-written"], ["import", "swan", "."]])
def test_unreachable_bucket_is_one_line_and_exit_1(command, tmp_path):
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1"}
    proc = swan(*command, "--backend-store-uri", f"sqlite:///{tmp_path / 'x.db'}",
                "--artifacts-destination", "s3://no-such-bucket/x", env=env, check=False)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("swan: cannot use the artifacts destination")


# ------------------------------------------------------------------------------------------------
# gc of logged models, and the registry after gc
# ------------------------------------------------------------------------------------------------
def _artifact_paths(destination: str, moto_s3) -> list[str]:
    """Every file of the artifact store, relative to its root (local folder or S3 prefix)."""
    if destination.startswith("s3://"):
        bucket, prefix = destination[5:].split("/", 1)
        return [k[len(prefix) + 1:] for k in _keys(moto_s3, bucket, prefix + "/")]
    root = Path(destination)
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("where,backend", [("local", "sqlite"), ("s3", "postgresql")])
def test_gc_purges_deleted_logged_models_and_those_of_purged_runs(where, backend, tmp_path, moto_s3, monkeypatch):
    """Deleted logged models go (rows and files); so do the models a purged run produced, unless a
    registered model version was made from them. Every registry read still works afterwards,
    for versions made from the purged run and from the kept models."""
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelStatus
    from mlflow.exceptions import MlflowException

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    extra = {}
    if where == "s3":
        bucket = f"gcm-{uuid.uuid4().hex[:8]}"
        moto_s3.client().create_bucket(Bucket=bucket)
        dest, extra = f"s3://{bucket}/swan", moto_s3.env
    else:
        dest = str(tmp_path / "home" / "artifacts")
    db = TempDatabase(backend).create() if backend != "sqlite" else None
    srv = LiveServer(tmp_path / "home", artifacts_destination=dest, extra_env=extra,
                     backend_store_uri=db.uri if db else None).start()
    try:
        client = MlflowClient(srv.url)
        files = tmp_path / "model"
        files.mkdir()
        (files / "MLmodel").write_text("flavors: {}\n")
        (files / "weights.bin").write_bytes(os.urandom(5000))
        exp = client.create_experiment(f"gcm-{uuid.uuid4().hex[:6]}")
        doomed_run = client.create_run(exp).info.run_id
        live_run = client.create_run(exp).info.run_id
        client.log_artifact(doomed_run, str(files / "MLmodel"), "model")

        def model(run_id, name, **kw):
            m = client.create_logged_model(exp, name=name, source_run_id=run_id, tags={"t": name}, params={"p": "1"}, **kw)
            client.log_model_artifacts(m.model_id, str(files))
            client.finalize_logged_model(m.model_id, LoggedModelStatus.READY)
            return m.model_id

        of_doomed = model(doomed_run, "of-doomed")  # goes with its run
        of_doomed_registered = model(doomed_run, "of-doomed-registered")  # kept: a version uses it
        deleted = model(live_run, "deleted")  # deleted by the user: goes
        deleted_registered = model(live_run, "deleted-registered")  # deleted, but a version uses it: kept
        alive = model(live_run, "alive")  # untouched
        client.log_metric(doomed_run, "acc", 0.9, step=1, model_id=of_doomed)
        client.log_inputs(live_run, models=[__import__("mlflow").entities.LoggedModelInput(of_doomed)])

        rm = f"gcm-model-{uuid.uuid4().hex[:6]}"
        client.create_registered_model(rm)
        v_run = client.create_model_version(rm, f"runs:/{doomed_run}/model", run_id=doomed_run)
        v_lm = client.create_model_version(rm, f"models:/{of_doomed_registered}", model_id=of_doomed_registered)
        v_del = client.create_model_version(rm, f"models:/{deleted_registered}", model_id=deleted_registered)
        client.set_registered_model_alias(rm, "from-run", v_run.version)
        client.delete_logged_model(deleted)
        client.delete_logged_model(deleted_registered)
        client.delete_run(doomed_run)
        before_versions = {v.version: (v.run_id, v.source, v.model_id, v.tags, v.aliases)
                           for v in client.search_model_versions(f"name='{rm}'")}
        paths = _artifact_paths(dest, moto_s3)
        for mid in (of_doomed, of_doomed_registered, deleted, deleted_registered, alive):
            assert any(f"models/{mid}/artifacts/weights.bin" in p for p in paths), (mid, paths)

        store_args = ["--backend-store-uri", srv.backend_store_uri, "--artifacts-destination", dest]
        # a named model must be deleted, and not in use by the registry
        proc = swan("gc", "--logged-model-ids", alive, *store_args, env=extra, check=False)
        assert proc.returncode == 1 and "is not deleted" in proc.stderr, proc.stderr
        proc = swan("gc", "--logged-model-ids", deleted_registered, *store_args, env=extra, check=False)
        assert proc.returncode == 1 and "registered model version" in proc.stderr, proc.stderr
        proc = swan("gc", "--older-than", "0s", "--dry-run", *store_args, env=extra)
        assert "Would remove 0 project(s) and 1 run(s)" in proc.stdout, proc.stdout
        assert "Would remove 2 logged model(s); kept 2 used by registered model versions" in proc.stdout, proc.stdout
        assert client.get_logged_model(of_doomed).model_id == of_doomed

        proc = swan("gc", "--older-than", "0s", *store_args, env=extra)
        assert "Removed 0 project(s) and 1 run(s)" in proc.stdout, proc.stdout
        assert "Removed 2 logged model(s); kept 2" in proc.stdout, proc.stdout

        paths = _artifact_paths(dest, moto_s3)
        for mid in (of_doomed, deleted):
            assert not any(mid in p for p in paths), (mid, paths)
        for mid in (of_doomed_registered, deleted_registered, alive):
            assert any(f"models/{mid}/artifacts/weights.bin" in p for p in paths), (mid, paths)
        assert not any(doomed_run in p for p in paths)
        for mid in (of_doomed, deleted):
            with pytest.raises(MlflowException) as err:
                client.get_logged_model(mid)
            assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
        kept = client.get_logged_model(of_doomed_registered)
        assert kept.source_run_id == doomed_run and kept.tags["t"] == "of-doomed-registered"
        assert {f.path for f in client.list_logged_model_artifacts(of_doomed_registered)} == {"MLmodel", "weights.bin"}
        assert {m.model_id for m in client.search_logged_models([exp])} == {of_doomed_registered, alive}
        assert client.get_run(live_run).inputs.model_inputs == []  # the link to the purged model went too

        # the registry reads as before: versions from the purged run and from the kept models
        after_versions = {v.version: (v.run_id, v.source, v.model_id, v.tags, v.aliases)
                          for v in client.search_model_versions(f"name='{rm}'")}
        assert after_versions == before_versions and len(after_versions) == 3
        for v in (v_run, v_lm, v_del):
            got = client.get_model_version(rm, v.version)
            assert (got.run_id, got.model_id, got.source) == (v.run_id, v.model_id, v.source)
        assert client.get_model_version_by_alias(rm, "from-run").run_id == doomed_run
        # (a version made from a logged model takes the model's source run as its run_id)
        assert {v.version for v in client.search_model_versions(f"run_id='{doomed_run}'")} == {v_run.version, v_lm.version}
        assert len(client.get_registered_model(rm).latest_versions) == 1
        assert client.get_model_version_download_uri(rm, v_lm.version).endswith(f"{of_doomed_registered}/artifacts")
        # once its version is deleted, the deleted model goes at the next gc
        client.delete_model_version(rm, v_del.version)
        proc = swan("gc", "--logged-model-ids", deleted_registered, *store_args, env=extra)
        assert "Removed 1 logged model(s)" in proc.stdout, proc.stdout
        assert not any(deleted_registered in p for p in _artifact_paths(dest, moto_s3))
    finally:
        srv.stop()
        if db is not None:
            db.drop()
