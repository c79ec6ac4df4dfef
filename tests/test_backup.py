"""Backup and restore as the README documents them: SQLite's online backup plus a copy of the
artifact folder; `pg_dump` / `pg_restore` plus a bucket sync. A server started on the restored
copy answers the MLflow client exactly as the original did."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import uuid

import pytest

from tests.databases import ADMIN_URIS, TempDatabase
from tests.server import LiveServer
from tests.test_ops import _download_all, _log_mlflow_project, _snapshot

pytestmark = pytest.mark.timeout(600)


def _pg_args(db: TempDatabase) -> list[str]:
    from sqlalchemy.engine import make_url

    admin = make_url(ADMIN_URIS["postgresql"])
    return ["-h", admin.host or "127.0.0.1", "-p", str(admin.port or 5432), "-U", admin.username or "postgres"]


def _sync_bucket(s3, src: str, dst: str) -> int:
    """What `aws s3 sync s3://src s3://dst` (or `mc mirror`) does, for the test."""
    n = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=src):
        for obj in page.get("Contents", []):
            s3.copy_object(Bucket=dst, Key=obj["Key"], CopySource={"Bucket": src, "Key": obj["Key"]})
            n += 1
    return n


def test_sqlite_online_backup_and_artifact_copy_restore(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    srv = LiveServer(tmp_path / "live").start()
    try:
        client = MlflowClient(srv.url)
        name = f"backup-{uuid.uuid4().hex[:6]}"
        import mlflow

        mlflow.set_tracking_uri(srv.url)
        _log_mlflow_project(client, name, tmp_path)
        before = _snapshot(client, name)
        # while the server runs: SQLite's online backup API (`sqlite3 swan.db ".backup backup.db"`)
        backup = tmp_path / "backup" / "swan.db"
        backup.parent.mkdir()
        with sqlite3.connect(srv.home / "swan.db") as live, sqlite3.connect(backup) as copy:
            live.backup(copy)
        shutil.copytree(srv.artifacts_destination, tmp_path / "backup" / "artifacts")
        # a write after the backup must not be in the restored copy
        client.create_experiment(f"{name}-after")
    finally:
        srv.stop()

    restored = LiveServer(tmp_path / "restored", backend_store_uri=f"sqlite:///{backup}",
                          artifacts_destination=str(tmp_path / "backup" / "artifacts")).start()
    try:
        rclient = MlflowClient(restored.url)
        assert _snapshot(rclient, name) == before
        assert rclient.get_experiment_by_name(f"{name}-after") is None
        rid = next(r for r, v in before["runs"].items() if v["files"])
        assert _download_all(rclient, rid, tmp_path / "dl")
    finally:
        restored.stop()


def test_pg_dump_restore_and_bucket_sync(tmp_path, moto_s3, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    s3 = moto_s3.client()
    bucket, backup_bucket = f"live-{uuid.uuid4().hex[:8]}", f"backup-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=backup_bucket)
    db, restored_db = TempDatabase("postgresql").create(), TempDatabase("postgresql").create()
    try:
        srv = LiveServer(tmp_path / "live", backend_store_uri=db.uri, artifacts_destination=f"s3://{bucket}/swan",
                         extra_env=moto_s3.env).start()
        try:
            client = MlflowClient(srv.url)
            name = f"pgbackup-{uuid.uuid4().hex[:6]}"
            import mlflow

            mlflow.set_tracking_uri(srv.url)
            _log_mlflow_project(client, name, tmp_path)
            before = _snapshot(client, name)
            originals = {rid: _download_all(client, rid, tmp_path / "a" / rid)
                         for rid, v in before["runs"].items() if v["files"]}
            dump = tmp_path / "swan.dump"
            subprocess.run(["pg_dump", *_pg_args(db), "-Fc", "-f", str(dump), db.name], check=True, timeout=300)
            assert _sync_bucket(s3, bucket, backup_bucket) > 0
        finally:
            srv.stop()
        subprocess.run(["pg_restore", *_pg_args(restored_db), "--no-owner", "-d", restored_db.name, str(dump)],
                       check=True, timeout=300)
        restored = LiveServer(tmp_path / "restored", backend_store_uri=restored_db.uri,
                              artifacts_destination=f"s3://{backup_bucket}/swan", extra_env=moto_s3.env).start()
        try:
            rclient = MlflowClient(restored.url)
            assert _snapshot(rclient, name) == before
            for rid, files in originals.items():
                assert _download_all(rclient, rid, tmp_path / "b" / rid) == files
            # the restored database keeps issuing ids after the restored ones
            new_run = rclient.create_run(rclient.get_experiment_by_name(name).experiment_id)
            assert new_run.info.run_id not in before["runs"]
            assert rclient.create_experiment(f"{name}-new") != rclient.get_experiment_by_name(name).experiment_id
        finally:
            restored.stop()
    finally:
        db.drop()
        restored_db.drop()
