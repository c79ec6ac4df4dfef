"""`swan import mlflow` from the three kinds of source: an mlruns/ file store and a SQLite store
written by the real MLflow client, and a live MLflow server (Swan's own MLflow face, seeded by the
MLflow client). Every metric point, param, tag, time, status, parent link, dataset input and
artifact is checked against what the writer logged; re-import, bad input."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest

from tests.import_support import (
    client,
    project_exists,
    run_script,
    runs_by_name,
    server_counts,
    swan_import,
)

T0 = 1_700_000_000_000

WRITER = r"""
import json, sys
import pandas as pd
import mlflow
from mlflow import MlflowClient
from mlflow.entities import DatasetInput, InputTag, Metric, Param

uri, exp_name = sys.argv[1], sys.argv[2]
c = MlflowClient(uri)
T0 = 1_700_000_000_000
exp = c.create_experiment(exp_name, tags={"team": "vision"})
r = c.create_run(exp, start_time=T0, run_name="parent", tags={"mlflow.note.content": "a note", "k": "v"})
rid = r.info.run_id
c.log_batch(rid, metrics=[Metric("loss", 1.0 / (i + 1), T0 + i * 10, i) for i in range(1500)],
            params=[Param("lr", "0.01"), Param("opt", "adam")])
c.log_metric(rid, "acc", 0.5, timestamp=T0 + 5, step=3)
c.log_metric(rid, "acc", 0.6, timestamp=T0 + 6, step=3)
c.log_metric(rid, "weird/name with space", float("nan"), timestamp=T0 + 7, step=1)
open("a.txt", "w").write("hello artifact")
c.log_artifact(rid, "a.txt")
c.log_artifact(rid, "a.txt", artifact_path="sub/dir")
ds = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2]}), source="file:///data.csv", name="ds1")
c.log_inputs(rid, [DatasetInput(ds._to_mlflow_entity(), [InputTag("mlflow.data.context", "train")])])
child = c.create_run(exp, start_time=T0 + 100, run_name="child", tags={"mlflow.parentRunId": rid})
c.log_metric(child.info.run_id, "m", 2.0, timestamp=T0 + 101, step=0)
c.set_terminated(child.info.run_id, "FAILED", end_time=T0 + 200)
c.set_terminated(rid, "FINISHED", end_time=T0 + 1000)
d = c.create_run(exp, run_name="deleted-one", start_time=T0 + 300)
c.log_param(d.info.run_id, "p", "1")
c.delete_run(d.info.run_id)
print(json.dumps({"parent": rid, "child": child.info.run_id, "deleted": d.info.run_id}))
"""


def _write(tmp, uri, exp_name, env=None):
    proc = run_script(tmp, WRITER, env=env, args=[uri, exp_name])
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def file_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlruns")
    ids = _write(tmp, (tmp / "mlruns").as_uri(), "exp-file", env={"MLFLOW_ALLOW_FILE_STORE": "true"})
    return tmp / "mlruns", ids


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow-sqlite")
    ids = _write(tmp, f"sqlite:///{tmp / 'mlflow.db'}", "exp-sqlite")
    return f"sqlite:///{tmp / 'mlflow.db'}", ids


def _history(c, rid, key):
    h = c.get_history(rid, key)
    return list(zip(h["step"], h["timestamp"], h["value"]))


def check_import(server, c, project: str, ids: dict, source_uri: str, artifacts: bool = True):
    runs = runs_by_name(c, project)
    assert set(runs) == {"parent", "child", "deleted-one"}
    parent = c.get_run(runs["parent"]["run_id"])
    child = c.get_run(runs["child"]["run_id"])
    deleted = c.get_run(runs["deleted-one"]["run_id"])
    pid = parent["run_id"]
    # every point, with its step and timestamp
    assert _history(c, pid, "loss") == [(i, T0 + i * 10, 1.0 / (i + 1)) for i in range(1500)]
    assert _history(c, pid, "acc") == [(3, T0 + 5, 0.5), (3, T0 + 6, 0.6)]
    (nan_point,) = _history(c, pid, "weird/name with space")
    assert nan_point[:2] == (1, T0 + 7) and math.isnan(nan_point[2])
    assert _history(c, child["run_id"], "m") == [(0, T0 + 101, 2.0)]
    # params, tags, notes, times, status
    assert parent["params"] == {"lr": "0.01", "opt": "adam"}
    assert parent["tags"]["k"] == "v" and parent["tags"]["mlflow.note.content"] == "a note"
    assert parent["tags"]["swan.import.source"] == f"mlflow:{source_uri}/{ids['parent']}"
    assert parent["tags"]["swan.import.source_run_id"] == ids["parent"]
    assert (parent["start_time"], parent["end_time"], parent["status"]) == (T0, T0 + 1000, "FINISHED")
    assert (child["start_time"], child["end_time"], child["status"]) == (T0 + 100, T0 + 200, "FAILED")
    # the parent link points at the imported parent
    assert child["tags"]["mlflow.parentRunId"] == pid
    assert child["tags"]["swan.import.source_parent_run_id"] == ids["parent"]
    # the deleted run is imported and deleted
    assert deleted["lifecycle_stage"] == "deleted" and deleted["params"] == {"p": "1"}
    # artifacts, byte for byte
    if artifacts:
        assert c.download_artifact(pid, "a.txt") == b"hello artifact"
        assert c.download_artifact(pid, "sub/dir/a.txt") == b"hello artifact"
    # dataset inputs, as the MLflow client sees them on Swan
    from mlflow import MlflowClient

    inputs = MlflowClient(server.url).get_run(pid).inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("ds1", inputs[0].dataset.digest)]
    assert {t.key: t.value for t in inputs[0].tags} == {"mlflow.data.context": "train"}
    assert json.loads(inputs[0].dataset.source) == {"uri": "file:///data.csv"}
    return runs


def test_file_store(server, file_store, unique_name):
    c = client(server)
    path, ids = file_store
    _, summary, _ = swan_import(server, "mlflow", path, "--project", unique_name)
    assert sorted(r["state"] for r in summary["runs"]) == ["imported"] * 3
    check_import(server, c, unique_name, ids, path.resolve().as_uri())
    before = server_counts(c, unique_name)
    _, summary, _ = swan_import(server, "mlflow", path, "--project", unique_name)
    assert [r["state"] for r in summary["runs"]] == ["already imported"] * 3
    assert server_counts(c, unique_name) == before


def test_sqlite_store(server, sqlite_store, unique_name):
    c = client(server)
    uri, ids = sqlite_store
    _, summary, _ = swan_import(server, "mlflow", uri, "--project", unique_name)
    assert summary["totals"]["points"] == 1500 + 2 + 1 + 1
    check_import(server, c, unique_name, ids, uri)
    before = server_counts(c, unique_name)
    _, summary, _ = swan_import(server, "mlflow", uri, "--project", unique_name)
    assert [r["state"] for r in summary["runs"]] == ["already imported"] * 3
    assert server_counts(c, unique_name) == before


def test_experiments_become_projects_with_their_tags(server, file_store, unique_name):
    c = client(server)
    path, _ = file_store
    swan_import(server, "mlflow", path, "--workspace", unique_name, "--experiment", "exp-file")
    project = c.project_by_name(f"{unique_name}/exp-file")
    assert project["tags"]["team"] == "vision"
    assert set(runs_by_name(c, f"{unique_name}/exp-file")) == {"parent", "child", "deleted-one"}


def test_live_server_paged(server, tmp_path, unique_name):
    """A live MLflow server (Swan's MLflow face) as the source, with pages of 2 on every list."""
    from importers.cli import run_import
    from importers.mlflow import MlflowServerSource

    c = client(server)
    source_exp = f"{unique_name}-src"
    ids = _write(tmp_path, server.url, source_exp)
    from mlflow import MlflowClient

    mc = MlflowClient(server.url)
    mc.create_registered_model(f"{unique_name}-model")
    mc.create_model_version(f"{unique_name}-model", f"runs:/{ids['parent']}/a.txt", run_id=ids["parent"])

    def source():
        return MlflowServerSource(server.url, page_size=2, experiments=[source_exp])

    with pytest.raises(SystemExit) as done:
        run_import(source, project=unique_name, workspace=None, dry_run=False, tracking_uri=server.url, api_key=None,
                   as_json=True, default_project="Default")
        raise SystemExit(0)
    assert done.value.code == 0
    runs = check_import(server, c, unique_name, ids, server.url)
    registered = json.loads(c.download_artifact(runs["parent"]["run_id"], "mlflow/registered_models.json"))
    assert registered[f"{unique_name}-model"]["versions"][0]["run_id"] == ids["parent"]
    before = server_counts(c, unique_name)
    _, summary, _ = swan_import(server, "mlflow", server.url, "--project", unique_name, "--experiment", source_exp)
    assert [r["state"] for r in summary["runs"]] == ["already imported"] * 3
    assert server_counts(c, unique_name) == before


def test_bad_input_is_a_clear_error_and_writes_nothing(server, tmp_path, file_store, unique_name):
    c = client(server)
    folder = tmp_path / "not-mlruns"
    folder.mkdir()
    (folder / "x.txt").write_text("x")
    _, _, out = swan_import(server, "mlflow", folder, "--project", unique_name, expect_exit=1)
    assert "not an MLflow mlruns/ folder" in out
    db = tmp_path / "other.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.commit()
    _, _, out = swan_import(server, "mlflow", f"sqlite:///{db}", "--project", unique_name, expect_exit=1)
    assert "not an MLflow database" in out
    _, _, out = swan_import(server, "mlflow", f"sqlite:///{tmp_path / 'missing.db'}", "--project", unique_name,
                            expect_exit=1)
    assert "no such SQLite database file" in out
    from tests.server import free_port

    _, _, out = swan_import(server, "mlflow", f"http://127.0.0.1:{free_port()}", "--project", unique_name,
                            expect_exit=1)
    assert "not a reachable MLflow server" in out
    path, _ = file_store
    _, _, out = swan_import(server, "mlflow", path, "--project", unique_name, "--experiment", "nope", expect_exit=1)
    assert "no experiment named 'nope'" in out
    assert not project_exists(c, unique_name)
