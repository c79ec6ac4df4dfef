"""`swan import swan` of a newer export of the same project brings the target up to date (and
importing the same export twice changes nothing), and users with their API keys move with an
export: after export → import into a fresh PostgreSQL server with authentication on, the same
keys authenticate with the same rights. Live servers, the real MLflow client."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import requests

from tests.auth_support import bearer, create_user, start_auth_server
from tests.databases import TempDatabase
from tests.server import LiveServer
from tests.test_ops import _download_all, _log_mlflow_project, _snapshot, swan

pytestmark = pytest.mark.timeout(900)


def _full_snapshot(client, name: str) -> dict:
    """`_snapshot` plus the project's logged models, traces and registered models."""
    from mlflow.entities import ViewType

    out = _snapshot(client, name)
    exp = client.get_experiment_by_name(name)
    models = {}
    for m in client.search_logged_models([exp.experiment_id]):
        files = sorted((f.path, f.file_size) for f in client.list_logged_model_artifacts(m.model_id))
        models[m.model_id] = (m.name, str(m.status), m.tags, m.params, m.source_run_id, m.model_type,
                              sorted((x.key, x.value, x.step) for x in m.metrics or []), files)
    out["logged_models"] = models
    traces = {}
    for tr in client.search_traces(locations=[exp.experiment_id]):
        info = tr.info
        traces[info.trace_id] = ({k: v for k, v in info.tags.items()}, info.state.value,
                                 sorted(s.name for s in tr.data.spans))
    out["traces"] = traces
    registry = {}
    for rm in client.search_registered_models(f"name LIKE '{name}%'"):
        versions = {v.version: (v.current_stage, v.description, v.tags, v.run_id, v.source, v.status, v.model_id,
                                sorted(v.aliases))
                    for v in client.search_model_versions(f"name='{rm.name}'")}
        registry[rm.name] = (rm.description, rm.tags, rm.aliases, versions)
    out["registry"] = registry
    out["deleted_runs"] = sorted(r.info.run_id for r in client.search_runs(
        [exp.experiment_id], run_view_type=ViewType.DELETED_ONLY))
    # The target issues its own experiment id, which artifact locations carry.
    root = f"mlflow-artifacts:/{exp.experiment_id}"
    return _replace(out, root, "mlflow-artifacts:/<experiment>")


def _replace(value, old: str, new: str):
    if isinstance(value, str):
        return new + value[len(old):] if value == old or value.startswith(old + "/") else value
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_replace(v, old, new) for v in value)
    return value


def _export(srv: LiveServer, name: str, out: Path, *extra) -> dict:
    swan("export", name, str(out), "--backend-store-uri", srv.backend_store_uri,
         "--artifacts-destination", srv.artifacts_destination, *extra)
    return json.loads((out / "manifest.json").read_text())


def _changed(stdout: str) -> tuple[int, int]:
    """(runs updated, rows changed in all) from the import's summary line."""
    line = next(x for x in stdout.splitlines() if x.startswith("Imported into project"))
    tail = line.split(";", 1)[1]
    runs = int(tail.split("run(s) updated")[0].split()[-1])
    rows = int(tail.split("row(s) changed")[0].split()[-1])
    return runs, rows


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_reimport_of_a_newer_export_updates_the_target(backend, tmp_path, monkeypatch):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelStatus, Metric, Param, RunTag

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    src = LiveServer(tmp_path / "source").start()
    db = TempDatabase(backend).create()
    target = None
    try:
        client = MlflowClient(src.url)
        mlflow.set_tracking_uri(src.url)
        name = f"sync-{uuid.uuid4().hex[:6]}"
        exp_id = _log_mlflow_project(client, name, tmp_path / "first")["experiment_id"]
        runs = {r.info.run_name: r.info.run_id for r in client.search_runs([exp_id], run_view_type=3)}
        files = tmp_path / "model"
        files.mkdir()
        (files / "MLmodel").write_text("flavors: {}\n")
        model = client.create_logged_model(exp_id, name="clf", source_run_id=runs["run-0"],
                                           tags={"keep": "1", "drop": "x"}, params={"depth": "3"})
        client.log_model_artifacts(model.model_id, str(files))
        client.log_metric(runs["run-0"], "val_acc", 0.5, step=1, model_id=model.model_id)
        mlflow.set_experiment(experiment_id=exp_id)
        with mlflow.start_span(name="answer") as span:
            span.set_inputs({"q": 1})
            span.set_outputs({"a": 2})
        mlflow.flush_trace_async_logging()
        trace_id = mlflow.get_last_active_trace_id()
        client.set_trace_tag(trace_id, "reviewed", "no")
        client.set_trace_tag(trace_id, "temp", "x")
        first = _export(src, name, tmp_path / "e1")

        home = tmp_path / "target"
        env = {"SWAN_BACKEND_STORE_URI": db.uri, "SWAN_ARTIFACTS_DESTINATION": str(home / "artifacts")}
        proc = swan("import", "swan", str(tmp_path / "e1"), env=env)
        assert f"{first['counts']['runs']} new run(s)" in proc.stdout, proc.stdout
        target = LiveServer(home, backend_store_uri=db.uri).start()
        dst = MlflowClient(target.url)
        assert _full_snapshot(dst, name) == _full_snapshot(client, name)

        # -- the source moves on ------------------------------------------------------------------
        r0, r1, r2 = runs["run-0"], runs["run-1"], runs["run-2"]
        client.set_terminated(r1, "KILLED", end_time=1_700_000_300_000)
        client.update_run(r2, name="renamed-run")
        client.set_tag(r1, "i", "changed")
        client.set_tag(r1, "added", "new")
        client.delete_tag(r1, "kind")
        client.log_batch(r1, metrics=[Metric("loss", 5.0 + s, 1_700_000_400_000 + s, s) for s in range(1500, 1600)]
                         + [Metric("fresh", 1.0, 1_700_000_400_000, 0)],
                         params=[Param("late", "yes")], tags=[RunTag("mlflow.note.content", "edited")])
        client.delete_run(r2)
        client.restore_run(runs["deleted-one"])
        client.set_experiment_tag(exp_id, "team", "audio")
        client.delete_experiment_tag(exp_id, "note")
        (tmp_path / "changed").mkdir()
        (tmp_path / "changed" / "a.txt").write_text("alpha 0, rewritten with another length")
        client.log_artifact(r0, str(tmp_path / "changed" / "a.txt"), "tree")
        new_run = client.create_run(exp_id, run_name="after-first-export").info.run_id
        client.log_metric(new_run, "loss", 0.25, step=7)
        client.log_artifact(new_run, str(files / "MLmodel"))
        client.set_logged_model_tags(model.model_id, {"keep": "2"})
        client.delete_logged_model_tag(model.model_id, "drop")
        client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
        client.log_metric(r0, "val_acc", 0.75, step=2, model_id=model.model_id)
        late_model = client.create_logged_model(exp_id, name="late", source_run_id=new_run)
        client.log_model_artifacts(late_model.model_id, str(files))
        client.set_trace_tag(trace_id, "reviewed", "yes")
        client.delete_trace_tag(trace_id, "temp")
        rm = f"{name}-model"
        client.update_registered_model(rm, description="updated")
        client.set_registered_model_tag(rm, "owner", "team-a")
        client.delete_registered_model_tag(rm, "stage")
        v2 = client.create_model_version(rm, f"models:/{model.model_id}", model_id=model.model_id, tags={"v": "2"})
        client.set_registered_model_alias(rm, "champion", v2.version)
        client.set_registered_model_alias(rm, "previous", "1")
        client.set_model_version_tag(rm, "1", "v", "one")
        client.transition_model_version_stage(rm, "1", "Archived")
        client.update_model_version(rm, "1", description="the first")
        second = _export(src, name, tmp_path / "e2")
        assert second["counts"]["runs"] == first["counts"]["runs"] + 1

        before = _full_snapshot(client, name)
        assert before != _full_snapshot(dst, name)  # the target is behind
        proc = swan("import", "swan", str(tmp_path / "e2"), env=env)
        # 100 + 1 points of r1, 1 of the new run, 1 of r0 (logged with the model)
        assert "1 new run(s), 103 new point(s)" in proc.stdout, proc.stdout
        runs_updated, changed = _changed(proc.stdout)
        assert runs_updated == 3 and changed > 10, proc.stdout  # r1 (killed), r2 (renamed, deleted), restored
        after = _full_snapshot(dst, name)
        assert after == before
        assert len(dst.get_metric_history(r1, "loss")) == 1600
        assert _download_all(dst, r0, tmp_path / "d0") == _download_all(client, r0, tmp_path / "s0")
        assert dst.get_model_version_by_alias(rm, "champion").source == f"models:/{model.model_id}"

        # -- the same export again: nothing changes -----------------------------------------------
        proc = swan("import", "swan", str(tmp_path / "e2"), env=env)
        assert "0 new run(s), 0 new point(s), 0 artifact file(s) copied; 0 run(s) updated, 0 row(s) changed" \
            in proc.stdout, proc.stdout
        assert _full_snapshot(dst, name) == before
        # (points were not duplicated: the history has each point once)
        hist = dst.get_metric_history(r1, "loss")
        assert len({(m.step, m.timestamp) for m in hist}) == len(hist) == 1600
    finally:
        if target is not None:
            target.stop()
        src.stop()
        db.drop()


# ------------------------------------------------------------------------------------------------
# users and API keys
# ------------------------------------------------------------------------------------------------
def _mlflow_as(url: str, key: str, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", key)
    return MlflowClient(url)


def _status(url: str, key: str, path: str = "/api/2.0/mlflow/experiments/search?max_results=10") -> int:
    return requests.get(url + path, headers=bearer(key), timeout=30).status_code


def test_users_and_api_keys_move_with_an_export_into_postgresql(tmp_path, monkeypatch):
    from mlflow.exceptions import MlflowException

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    source = start_auth_server(tmp_path / "source")
    db = TempDatabase("postgresql").create()
    target = kept_target = None
    try:
        member, viewer, other = (source.names[r] for r in ("member", "viewer", "other"))
        # the viewer reads the member's workspace; a second key of the member is revoked
        r = requests.put(f"{source.url}/api/v1/workspaces/{member}/members/{viewer}", json={"role": "viewer"},
                         headers=bearer(source.keys["admin"]), timeout=30)
        assert r.status_code == 200, r.text
        r = requests.post(f"{source.url}/api/v1/users/{member}/keys", json={"description": "old"},
                          headers=bearer(source.keys["admin"]), timeout=30)
        revoked = r.json()["api_key"]
        assert requests.delete(f"{source.url}/api/v1/keys/{revoked[:11]}", headers=bearer(source.keys["admin"]),
                               timeout=30).status_code == 200
        owner = _mlflow_as(source.url, source.keys["member"], monkeypatch)
        private = f"{member}/proj-{uuid.uuid4().hex[:6]}"
        exp_id = owner.create_experiment(private)
        rid = owner.create_run(exp_id, run_name="secret-run").info.run_id
        owner.log_metric(rid, "m", 1.0)

        out = tmp_path / "export"
        proc = swan("export", private, str(out), "--backend-store-uri", source.server.backend_store_uri,
                    "--artifacts-destination", source.server.artifacts_destination)
        assert "and 4 user(s)" in proc.stdout, proc.stdout
        # digests only: no plain key anywhere in the export
        blob = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
        for key in [*source.keys.values(), revoked]:
            assert key.encode() not in blob
        users = [json.loads(x) for p in (out / "tables").glob("users-*.jsonl") for x in p.read_text().splitlines()]
        assert {u["name"] for u in users} == {"admin", member, viewer, other}
        assert all(len(k["key_hash"]) == 64 for u in users for k in u["api_keys"])

        # -- a fresh PostgreSQL server: import first, then start it with authentication on ----------
        home = tmp_path / "target"
        env = {"SWAN_BACKEND_STORE_URI": db.uri, "SWAN_ARTIFACTS_DESTINATION": str(home / "artifacts")}
        proc = swan("import", "swan", str(out), env=env)
        assert "Users: 4 created, 0 replaced, 0 already here and kept" in proc.stdout, proc.stdout
        again = swan("import", "swan", str(out), env=env)
        assert "Users: 0 created, 0 replaced, 4 already here and kept" in again.stdout, again.stdout
        target = LiveServer(home, backend_store_uri=db.uri,
                            extra_env={"SWAN_AUTH": "true", "SWAN_LOGIN_MAX_FAILURES": "100000"}).start()
        for role in ("admin", "member", "viewer", "other"):
            assert _status(target.url, source.keys[role]) == 200, role
        assert _status(target.url, revoked) == 401
        assert _status(target.url, "swan_" + "x" * 40) == 401
        mine = _mlflow_as(target.url, source.keys["member"], monkeypatch)
        got = mine.get_experiment_by_name(private)
        assert got is not None and mine.get_run(rid).data.metrics == {"m": 1.0}
        mine.log_metric(rid, "m2", 2.0)  # the member still writes its workspace
        reader = _mlflow_as(target.url, source.keys["viewer"], monkeypatch)
        assert reader.get_run(rid).info.run_name == "secret-run"  # through the imported membership
        with pytest.raises(MlflowException) as err:
            reader.log_metric(rid, "nope", 0.0)
        assert err.value.error_code == "PERMISSION_DENIED"
        stranger = _mlflow_as(target.url, source.keys["other"], monkeypatch)
        with pytest.raises(MlflowException) as err:
            stranger.get_run(rid)
        assert err.value.error_code == "PERMISSION_DENIED"
        r = requests.get(f"{target.url}/api/v1/users", headers=bearer(source.keys["admin"]), timeout=30)
        assert r.status_code == 200 and {u["name"] for u in r.json()["users"]} >= {member, viewer, other}

        # -- a target that already has users of the same names: kept unless --replace-users -----------
        kept_target = LiveServer(tmp_path / "kept", extra_env={"SWAN_AUTH": "true"}).start()
        local_key = create_user(kept_target, member, "viewer")
        local_admin = (kept_target.home / "admin_api_key").read_text().strip()
        kenv = {"SWAN_BACKEND_STORE_URI": kept_target.backend_store_uri,
                "SWAN_ARTIFACTS_DESTINATION": kept_target.artifacts_destination}
        proc = swan("import", "swan", str(out), env=kenv)
        assert "Users: 2 created, 0 replaced, 2 already here and kept" in proc.stdout, proc.stdout
        assert _status(kept_target.url, source.keys["member"]) == 401  # the target's user, untouched
        assert _status(kept_target.url, source.keys["admin"]) == 401
        assert _status(kept_target.url, local_key) == 200 and _status(kept_target.url, local_admin) == 200
        local = _mlflow_as(kept_target.url, local_key, monkeypatch)
        with pytest.raises(MlflowException) as err:  # still a viewer here
            local.create_experiment(f"shared-{uuid.uuid4().hex[:6]}")
        assert err.value.error_code == "PERMISSION_DENIED"
        proc = swan("import", "swan", str(out), "--replace-users", env=kenv)
        assert "Users: 0 created, 4 replaced, 0 already here and kept" in proc.stdout, proc.stdout
        assert _status(kept_target.url, source.keys["member"]) == 200
        assert _status(kept_target.url, source.keys["admin"]) == 200
        assert _status(kept_target.url, local_key) == 200 and _status(kept_target.url, local_admin) == 200
        assert _status(kept_target.url, revoked) == 401
        now_member = _mlflow_as(kept_target.url, local_key, monkeypatch)
        assert now_member.create_experiment(f"shared-{uuid.uuid4().hex[:6]}")  # the export's role: member
        proc = swan("import", "swan", str(out), "--replace-users", "--no-users", env=kenv, check=False)
        assert proc.returncode == 1 and "exclude each other" in proc.stderr
    finally:
        for srv in (target, kept_target):
            if srv is not None:
                srv.stop()
        source.stop()
        db.drop()
