"""`swan import mlflow` from the three kinds of source: an mlruns/ file store, a SQLite store and a
PostgreSQL store written by the real MLflow client, and a live MLflow server (Swan's own MLflow
face, and a second, separate Swan server read with pages of 2 on every list). Every metric point,
param, tag, time, status, parent link, dataset input and artifact is checked against what the
writer logged; re-import, bad input, a damaged mlruns/ folder (every intact record recovered, the
rest named in the summary), a dry run of a source that fails mid-read. Models: MLflow 3 logged
models (files, params, tags, metrics, run links) and the registry (versions, aliases, stages,
prompts), checked by loading `models:/NAME/N` and `models:/NAME@alias` from Swan."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest

from tests.import_support import (
    client,
    cut_tail,
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
# Logged against a dataset: the file store writes the dataset's name and digest after the step.
c.log_metric(rid, "eval_acc", 0.75, timestamp=T0 + 8, step=4, dataset_name="eval_set_\u00e9t\u00e9",
             dataset_digest="d1g3st")
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
    assert _history(c, pid, "eval_acc") == [(4, T0 + 8, 0.75)]
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
    assert summary["totals"]["points"] == 1500 + 2 + 1 + 1 + 1
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


# -- models: MLflow 3 logged models and the model registry ------------------------------------------------
MODEL_WRITER = r"""
import json, sys
import numpy as np
import mlflow
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

uri, exp_name, name, prompt = sys.argv[1:5]
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
c = MlflowClient(uri, registry_uri=uri)
exp = c.create_experiment(exp_name)
mlflow.set_experiment(experiment_id=exp)
X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 2.0], [0.5, 0.25]])
a = LinearRegression().fit(X, X @ np.array([1.5, -2.0]) + 0.5)
b = LinearRegression().fit(X, X @ np.array([-0.25, 3.0]) - 1.0)
with mlflow.start_run(run_name="train-a") as run_a:
    mlflow.log_param("alpha", "1")
    lm_a = mlflow.sklearn.log_model(a, name="model-a", params={"fit": "ols"}, tags={"kind": "linear"},
                                    input_example=X[:2])
    mlflow.log_metric("rmse", 0.125, step=3, model_id=lm_a.model_id)
    mlflow.log_metric("rmse", 0.0625, step=4, model_id=lm_a.model_id)
with mlflow.start_run(run_name="train-b") as run_b:
    lm_b = mlflow.sklearn.log_model(b, name="model-b")
    mlflow.sklearn.save_model(b, "plain-b")
    mlflow.log_artifacts("plain-b", "plain_model")
v1 = mlflow.register_model(f"models:/{lm_a.model_id}", name, tags={"vt": "one"})
v2 = c.create_model_version(name, f"{run_b.info.artifact_uri}/plain_model", run_id=run_b.info.run_id,
                            description="from run artifacts")
v3 = c.create_model_version(name, f"models:/{lm_a.model_id}", run_id=run_a.info.run_id)
c.delete_model_version(name, v3.version)
v4 = c.create_model_version(name, f"models:/{lm_b.model_id}", run_id=run_b.info.run_id, tags={"vt": "four"},
                            model_id=lm_b.model_id)
c.set_registered_model_tag(name, "team", "ml")
c.update_registered_model(name, description="a regressor")
c.update_model_version(name, v1.version, description="first")
c.transition_model_version_stage(name, v1.version, "Staging")
c.transition_model_version_stage(name, v4.version, "Production")
c.set_registered_model_alias(name, "champion", v1.version)
c.set_registered_model_alias(name, "challenger", v4.version)
mlflow.genai.register_prompt(prompt, "Hello {{who}}", commit_message="first")
mlflow.genai.register_prompt(prompt, "Hi {{who}}!", commit_message="second")
preds = {ref: mlflow.pyfunc.load_model(f"models:/{name}/{ref}").predict(X).tolist() for ref in ("1", "2", "4")}
preds["@champion"] = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(X).tolist()
preds["@challenger"] = mlflow.pyfunc.load_model(f"models:/{name}@challenger").predict(X).tolist()
print(json.dumps({"runs": {"train-a": run_a.info.run_id, "train-b": run_b.info.run_id},
                  "models": {"model-a": lm_a.model_id, "model-b": lm_b.model_id}, "X": X.tolist(), "preds": preds}))
"""


@pytest.fixture(scope="module", params=["file", "sqlite"])
def model_store(request, tmp_path_factory):
    """A source with logged models, registered versions (one deleted), aliases and a prompt,
    written by the real MLflow client: an mlruns/ folder or a SQLite database."""
    import uuid

    tmp = tmp_path_factory.mktemp(f"mlflow-models-{request.param}")
    name, prompt = f"reg-{uuid.uuid4().hex[:8]}", f"prompt-{uuid.uuid4().hex[:8]}"
    if request.param == "file":
        uri, env = (tmp / "mlruns").as_uri(), {"MLFLOW_ALLOW_FILE_STORE": "true"}
        source = tmp / "mlruns"
    else:
        uri = source = f"sqlite:///{tmp / 'mlflow.db'}"
        env = {}
    proc = run_script(tmp, MODEL_WRITER, env=env, args=[uri, f"models-{request.param}", name, prompt])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"uri": uri, "source": source, "env": env, "name": name, "prompt": prompt, **out}


def _strip(tags: dict) -> dict:
    return {k: v for k, v in tags.items() if not k.startswith("swan.import.") and k != "mlflow.modelVersions"}


def _source_client(store, monkeypatch):
    from mlflow import MlflowClient

    for k, v in store["env"].items():
        monkeypatch.setenv(k, v)
    return MlflowClient(store["uri"], registry_uri=store["uri"])


def _registry_state(server, name: str) -> dict:
    """A registered model (or prompt) and its versions as Swan's MLflow face returns them."""
    import requests

    base = f"{server.url}/api/2.0/mlflow"
    rm = requests.get(f"{base}/registered-models/get", params={"name": name}, timeout=60).json()["registered_model"]
    rm.pop("latest_versions", None)
    versions = requests.get(f"{base}/model-versions/search", params={"filter": f"name = '{name}'"},
                            timeout=60).json()["model_versions"]
    return {"model": rm, "versions": sorted(versions, key=lambda v: int(v["version"]))}


def _logged_models_state(mc, project_id: str) -> dict:
    out = {}
    for m in mc.search_logged_models(experiment_ids=[project_id]):
        files = sorted((f.path, f.file_size) for f in mc.list_logged_model_artifacts(m.model_id))
        out[m.model_id] = (m.name, m.status, m.source_run_id, dict(m.params), dict(m.tags),
                           sorted((x.key, x.value, x.step, x.run_id) for x in m.metrics), files,
                           m.last_updated_timestamp)
    return out


def _tree(folder) -> dict:
    from pathlib import Path

    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_models_and_registry(server, model_store, mlflow_client, tmp_path, unique_name, monkeypatch):
    """Logged models with their files, metrics and run links; registered versions with their
    numbers, tags, stages, descriptions and aliases; a prompt. `models:/NAME/N` and
    `models:/NAME@alias` loaded from Swan predict what they predict from the source; a second
    import changes nothing."""
    import mlflow
    import numpy as np

    c = client(server)
    store, name = model_store, model_store["name"]
    _, summary, _ = swan_import(server, "mlflow", store["source"], "--project", unique_name)
    states = {(m["kind"], m["name"]): m["state"] for m in summary["models"]}
    assert states == {("logged model", "model-a"): "imported", ("logged model", "model-b"): "imported",
                      ("registered model", name): "imported", ("prompt", store["prompt"]): "imported"}, summary["models"]
    runs = runs_by_name(c, unique_name)
    run_a, run_b = runs["train-a"]["run_id"], runs["train-b"]["run_id"]
    project_id = c.project_by_name(unique_name)["id"]
    src = _source_client(store, monkeypatch)
    mc = mlflow_client

    # logged models: params, tags, metrics, status, the run they came from, files byte for byte
    swan_models = {m.name: m for m in mc.search_logged_models(experiment_ids=[project_id])}
    assert set(swan_models) == {"model-a", "model-b"}
    for lm_name, src_id in store["models"].items():
        s, t = src.get_logged_model(src_id), swan_models[lm_name]
        assert t.model_id != src_id
        assert t.params == s.params and _strip(t.tags) == _strip(s.tags)
        assert t.tags["swan.import.source"].endswith(f"/logged-models/{src_id}")
        assert str(t.status) == str(s.status) == "READY"
        assert t.source_run_id == runs[{"model-a": "train-a", "model-b": "train-b"}[lm_name]]["run_id"]
        # Swan keeps a model's latest value per metric (the file store too; the SQL store keeps
        # every point, which the run's history holds in Swan)
        latest = {}
        for m in sorted(s.metrics or [], key=lambda m: (m.step, m.timestamp)):
            latest[m.key] = (m.key, m.value, m.step, m.timestamp)
        assert sorted((m.key, m.value, m.step, m.timestamp) for m in t.metrics) == sorted(latest.values())
        with monkeypatch.context() as mp:
            for k, v in store["env"].items():
                mp.setenv(k, v)
            mlflow.set_tracking_uri(store["uri"])
            source_files = _tree(mlflow.artifacts.download_artifacts(f"models:/{src_id}", dst_path=str(tmp_path / src_id)))
            mlflow.set_tracking_uri(server.url)
        swan_files = _tree(mlflow.artifacts.download_artifacts(f"models:/{t.model_id}",
                                                               dst_path=str(tmp_path / t.model_id)))
        assert swan_files == source_files and "MLmodel" in swan_files
    a = swan_models["model-a"]
    assert [(m.key, m.value, m.step, m.run_id) for m in a.metrics] == [("rmse", 0.0625, 4, run_a)]
    # the run's own history is unchanged by the model metrics (one copy of each point)
    assert [(step, value) for step, _, value in _history(c, run_a, "rmse")] == [(3, 0.125), (4, 0.0625)]
    # the runs list the models they logged
    assert {o.model_id for o in mc.get_run(run_a).outputs.model_outputs} == {a.model_id}
    assert {o.model_id for o in mc.get_run(run_b).outputs.model_outputs} == {swan_models["model-b"].model_id}

    # the registry: numbers (3 was deleted in the source), sources, stages, tags, aliases
    s_rm, t_rm = src.get_registered_model(name), mc.get_registered_model(name)
    assert t_rm.description == s_rm.description == "a regressor"
    assert _strip(t_rm.tags) == _strip(s_rm.tags) == {"team": "ml"}
    assert t_rm.aliases == {k: str(v) for k, v in s_rm.aliases.items()} == {"champion": "1", "challenger": "4"}
    s_versions = {int(v.version): v for v in src.search_model_versions(f"name = '{name}'")}
    t_versions = {int(v.version): v for v in mc.search_model_versions(f"name = '{name}'")}
    assert sorted(t_versions) == sorted(s_versions) == [1, 2, 4]
    for n, s in s_versions.items():
        t = t_versions[n]
        assert (t.current_stage, t.description, _strip(t.tags)) == (s.current_stage, s.description, _strip(s.tags))
    assert t_versions[1].source == f"models:/{a.model_id}" and t_versions[1].run_id == run_a
    assert t_versions[2].source == f"runs:/{run_b}/plain_model" and t_versions[2].run_id == run_b
    assert t_versions[4].source == f"models:/{swan_models['model-b'].model_id}" and t_versions[4].run_id == run_b
    # (the MLflow client does not read a version's model_id: the wire does)
    import requests

    wire = {n: requests.get(f"{server.url}/api/2.0/mlflow/model-versions/get", params={"name": name, "version": n},
                            timeout=60).json()["model_version"] for n in (1, 2, 4)}
    assert (wire[1].get("model_id"), wire[2].get("model_id"), wire[4].get("model_id")) == (
        a.model_id, None, swan_models["model-b"].model_id)

    # what a user of the registry gets from Swan: the same predictions
    X = np.array(store["X"])
    for ref, expected in store["preds"].items():
        uri = f"models:/{name}{ref}" if ref.startswith("@") else f"models:/{name}/{ref}"
        got = mlflow.pyfunc.load_model(uri).predict(X).tolist()
        assert got == expected, uri
    assert store["preds"]["1"] != store["preds"]["2"] == store["preds"]["4"]

    # the prompt, with both versions and their templates
    from mlflow.genai import load_prompt

    assert load_prompt(f"prompts:/{store['prompt']}/1").template == "Hello {{who}}"
    assert load_prompt(f"prompts:/{store['prompt']}/2").template == "Hi {{who}}!"
    prompt_state = _registry_state(server, store["prompt"])
    assert {t["key"]: t["value"] for t in prompt_state["model"]["tags"]}["mlflow.prompt.is_prompt"] == "true"
    assert [v["version"] for v in prompt_state["versions"]] == ["1", "2"]

    # a second import: nothing written
    before = (_registry_state(server, name), _registry_state(server, store["prompt"]), _logged_models_state(mc, project_id),
              server_counts(c, unique_name))
    _, summary, _ = swan_import(server, "mlflow", store["source"], "--project", unique_name)
    assert {m["state"] for m in summary["models"]} == {"already imported"}, summary["models"]
    assert [r["state"] for r in summary["runs"]] == ["already imported"] * 2
    after = (_registry_state(server, name), _registry_state(server, store["prompt"]), _logged_models_state(mc, project_id),
             server_counts(c, unique_name))
    assert after == before


def test_registered_model_name_taken_in_swan(server, model_store, mlflow_client, unique_name):
    """A registered model of that name made in Swan (not imported) is not merged into: the import
    says so and fails; the Swan model is left as it was."""
    name = f"{model_store['name']}-taken-{unique_name[-8:]}"
    mlflow_client.create_registered_model(name, description="mine")
    from importers.mlflow_models import ModelImporter, RegisteredModel, ModelSet

    class _Importer:  # the registry step needs only these from the run importer
        dry_run = False
        client = client(server)
        _ids: dict = {}

    class _Source:
        tracking_uri = "file:///elsewhere"
        run_rows: list = []
        experiments: list = []
        experiment_filter = None

    summary = ModelImporter(_Source(), _Importer(), ModelSet(registered=[RegisteredModel(name, "theirs")])).run()
    (result,) = summary.results
    assert result.state == "failed" and "exists in Swan and was not imported from this source" in result.error
    assert summary.failed
    assert mlflow_client.get_registered_model(name).description == "mine"


SERVER_MODEL_WRITER = r"""
import json, sys
import numpy as np
import mlflow
from sklearn.linear_model import LinearRegression

uri, exp_name, name = sys.argv[1:4]
mlflow.set_tracking_uri(uri)
mlflow.set_experiment(exp_name)
X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 2.0]])
with mlflow.start_run(run_name="fit") as run:
    info = mlflow.sklearn.log_model(LinearRegression().fit(X, X @ np.array([2.0, -1.0]) + 0.25), name="reg",
                                    registered_model_name=name)
print(json.dumps({"run": run.info.run_id, "model": info.model_id, "X": X.tolist(),
                  "pred": mlflow.pyfunc.load_model(f"models:/{info.model_id}").predict(X).tolist()}))
"""


def test_live_server_logged_models(server, tmp_path, mlflow_client, unique_name):
    """A live MLflow server as the source: a logged model's files come through its logged-model
    artifact routes. (The source here is this Swan server, so its registry is its own: left alone.)"""
    import mlflow
    import numpy as np

    source_exp = f"{unique_name}-src"
    name = f"srv-{unique_name[-8:]}"
    proc = run_script(tmp_path, SERVER_MODEL_WRITER, args=[server.url, source_exp, name])
    src = json.loads(proc.stdout.strip().splitlines()[-1])
    _, summary, _ = swan_import(server, "mlflow", server.url, "--project", unique_name, "--experiment", source_exp,
                                "--dry-run")
    (lm,) = [m for m in summary["models"] if m["kind"] == "logged model"]
    assert lm["state"] == "would import" and lm["artifacts"] >= 4
    assert not project_exists(client(server), unique_name)

    _, summary, _ = swan_import(server, "mlflow", server.url, "--project", unique_name, "--experiment", source_exp)
    states = {(m["kind"], m["name"]): m["state"] for m in summary["models"]}
    assert states == {("logged model", "reg"): "imported", ("registered model", name): "skipped"}
    c = client(server)
    project_id = c.project_by_name(unique_name)["id"]
    (model,) = mlflow_client.search_logged_models(experiment_ids=[project_id])
    assert model.model_id != src["model"] and model.source_run_id == runs_by_name(c, unique_name)["fit"]["run_id"]
    source_files = sorted((f.path, f.file_size) for f in mlflow_client.list_logged_model_artifacts(src["model"]))
    assert sorted((f.path, f.file_size) for f in mlflow_client.list_logged_model_artifacts(model.model_id)) == source_files
    got = mlflow.pyfunc.load_model(f"models:/{model.model_id}").predict(np.array(src["X"])).tolist()
    assert got == src["pred"]

    _, summary, _ = swan_import(server, "mlflow", server.url, "--project", unique_name, "--experiment", source_exp)
    assert {(m["name"], m["state"]) for m in summary["models"]} == {("reg", "already imported"), (name, "skipped")}
    assert len(mlflow_client.search_logged_models(experiment_ids=[project_id])) == 1


# -- a damaged mlruns/ folder -------------------------------------------------------------------------------
DAMAGE_WRITER = r"""
import json, sys
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

c = MlflowClient(sys.argv[1])
T0 = 1_700_000_000_000
exp = c.create_experiment("damaged")
r = c.create_run(exp, start_time=T0, run_name="damaged-run")
rid = r.info.run_id
c.log_batch(rid, metrics=[Metric("loss", 1.0 / (i + 1), T0 + i * 10, i) for i in range(200)],
            params=[Param("lr", "0.01"), Param("opt", "adam")])
c.log_batch(rid, metrics=[Metric("acc", i / 50, T0 + i, i) for i in range(50)])
open("kept.txt", "w").write("kept")
c.log_artifact(rid, "kept.txt")
c.set_terminated(rid, "FINISHED", end_time=T0 + 5000)
print(json.dumps({"run": rid, "experiment": exp}))
"""


@pytest.fixture()
def damaged_file_store(tmp_path):
    """An mlruns/ folder written by the MLflow client, then damaged the ways a disk or an
    interrupted write damages one: a byte flipped inside line 100 of `metrics/loss`, the last
    record of `metrics/acc` cut off after its value (its step and newline lost), a param file with
    a byte that is not UTF-8, and dangling links among the metric and artifact files."""
    ids = json.loads(run_script(tmp_path, DAMAGE_WRITER, env={"MLFLOW_ALLOW_FILE_STORE": "true"},
                                args=[(tmp_path / "mlruns").as_uri()]).stdout.strip().splitlines()[-1])
    run_dir = tmp_path / "mlruns" / ids["experiment"] / ids["run"]
    loss = run_dir / "metrics" / "loss"
    lines = loss.read_bytes().split(b"\n")
    assert lines[99].startswith(str(T0 + 990).encode())  # the record of step 99
    data = bytearray(loss.read_bytes())
    data[sum(len(line) + 1 for line in lines[:99]) + 5] ^= 0xFF  # inside step 99's timestamp
    loss.write_bytes(bytes(data))
    acc = run_dir / "metrics" / "acc"
    assert acc.read_bytes().endswith(b" 0.98 49\n")
    cut_tail(acc, len(" 49\n"))
    (run_dir / "params" / "opt").write_bytes(b"ad\xffam")
    (run_dir / "metrics" / "ghost").symlink_to(tmp_path / "missing-metric")
    (run_dir / "artifacts" / "gone.txt").symlink_to(tmp_path / "missing-artifact")
    return tmp_path / "mlruns", run_dir


def _skips(summary) -> dict[str, tuple[str, int]]:
    """What the summary says was skipped: where → (reason, count)."""
    return {s["where"]: (s["reason"], s["count"]) for r in summary["runs"] for s in r["skipped"]}


def _expected_damage_skips(run_dir) -> dict[str, tuple[str, int]]:
    return {
        f"{run_dir}/metrics/loss line 100": ("damaged metric line (not 'timestamp value [step]' text)", 1),
        f"{run_dir}/metrics/acc line 50": (
            "cut-off last metric record (no newline after it: the write was interrupted)", 1),
        f"{run_dir}/params/opt": ("param not imported: its value is not UTF-8 text (damaged at byte 2)", 1),
        f"{run_dir}/metrics/ghost": ("metric not imported: dangling symbolic link (its target is missing)", 1),
        f"{run_dir}/artifacts/gone.txt": ("artifact not imported: dangling symbolic link (its target is missing)", 1),
    }


def test_damaged_file_store_recovers_every_intact_record(server, damaged_file_store, unique_name):
    """Every intact line of a damaged metric file comes in with its step and timestamp; the
    damaged line, the cut-off last record, the undecodable param and the dangling files are left
    out and named in the summary; the run is imported, not failed."""
    path, run_dir = damaged_file_store
    c = client(server)
    _, dry, _ = swan_import(server, "mlflow", path, "--project", unique_name, "--dry-run")
    assert [(r["state"], r["points"]) for r in dry["runs"]] == [("would import", 199 + 49)]
    assert _skips(dry) == _expected_damage_skips(run_dir)
    assert not project_exists(c, unique_name)

    _, summary, out = swan_import(server, "mlflow", path, "--project", unique_name)
    assert [(r["state"], r["points"], r["error"]) for r in summary["runs"]] == [("imported", 199 + 49, None)], out
    assert _skips(summary) == _expected_damage_skips(run_dir)
    (run,) = runs_by_name(c, unique_name).values()
    rid = run["run_id"]
    assert _history(c, rid, "loss") == [(i, T0 + i * 10, 1.0 / (i + 1)) for i in range(200) if i != 99]
    # the cut-off record is not stored at step 0 (nor anywhere): steps 0-48 only, each once
    assert _history(c, rid, "acc") == [(i, T0 + i, i / 50) for i in range(49)]
    full = c.get_run(rid)
    assert set(full["metrics"]) == {"loss", "acc"}
    assert full["params"] == {"lr": "0.01"}
    assert (full["status"], full["end_time"]) == ("FINISHED", T0 + 5000)
    assert sorted(f["path"] for f in c.list_artifacts(rid)) == ["kept.txt"]
    assert c.download_artifact(rid, "kept.txt") == b"kept"

    before = server_counts(c, unique_name)
    _, again, _ = swan_import(server, "mlflow", path, "--project", unique_name)
    assert [r["state"] for r in again["runs"]] == ["already imported"]
    assert server_counts(c, unique_name) == before


def test_dry_run_of_a_source_that_fails_mid_read_reports_it(tmp_path, capsys):
    """A live MLflow server that goes away after its runs were listed: the dry run reports the
    run as failed, with the reason, and exits 1, instead of ending in a traceback."""
    from mlflow import MlflowClient

    from importers.cli import run_import
    from importers.mlflow import MlflowServerSource
    from tests.server import LiveServer

    source_server = LiveServer(tmp_path / "source-home").start()
    try:
        mc = MlflowClient(source_server.url)
        run = mc.create_run(mc.create_experiment("goes-away"), run_name="r")
        mc.log_metric(run.info.run_id, "loss", 0.5, step=1)

        def source():
            opened = MlflowServerSource(source_server.url)
            source_server.stop()  # the runs are listed; their histories can no longer be read
            return opened

        with pytest.raises(SystemExit) as done:
            run_import(source, project="p", workspace=None, dry_run=True, tracking_uri=None, api_key=None,
                       as_json=True, default_project="Default")
    finally:
        source_server.stop()
    assert done.value.code == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    summary = json.loads(captured.out)
    (result,) = summary["runs"]
    assert result["state"] == "failed" and result["error"].startswith("ConnectionError"), result


# -- a second, separate live server as the source, every list paged ----------------------------------------
SOURCE_SERVER_WRITER = r"""
import json, os, sys, tempfile
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus, Metric, Param

url, prefix = sys.argv[1:3]
c = MlflowClient(url)
T0 = 1_700_000_000_000
exps = {x: c.create_experiment(f"{prefix}-{x}", tags={"which": x}) for x in "abc"}
runs = {}
for e, (x, exp) in enumerate(sorted(exps.items())):
    for r in range(3):
        name = f"{x}{r}"
        run = c.create_run(exp, start_time=T0 + 100 * (3 * e + r), run_name=name, tags={"k": name})
        c.log_batch(run.info.run_id, params=[Param("lr", str(r + 1))],
                    metrics=[Metric("loss", 10 * e + r + 1.0 / (i + 1), T0 + i * 10, i) for i in range(7)])
        c.set_terminated(run.info.run_id, "FINISHED", end_time=T0 + 10_000 + r)
        runs[name] = run.info.run_id
os.makedirs("art/sub/deeper", exist_ok=True)
open("art/a.txt", "w").write("top")
open("art/sub/b.txt", "w").write("middle")
open("art/sub/deeper/c.bin", "wb").write(bytes(range(256)))
c.log_artifacts(runs["a0"], "art")
models = {}
for i in range(3):
    m = c.create_logged_model(exps["a"], name=f"lm{i}", source_run_id=runs["a0"], params={"i": str(i)},
                              tags={"t": str(i)})
    d = tempfile.mkdtemp()
    os.makedirs(os.path.join(d, "data"))
    open(os.path.join(d, "MLmodel"), "w").write(f"model {i}\n")
    open(os.path.join(d, "data", "w.bin"), "wb").write(bytes([i]) * 100)
    c.log_model_artifacts(m.model_id, d)
    c.finalize_logged_model(m.model_id, LoggedModelStatus.READY)
    models[f"lm{i}"] = m.model_id
art_uri = c.get_run(runs["a1"]).info.artifact_uri
reg = [f"{prefix}-reg{j}" for j in range(3)]
for j, name in enumerate(reg):
    c.create_registered_model(name, tags={"team": f"t{j}"}, description=f"model {j}")
c.create_model_version(reg[0], f"models:/{models['lm0']}", run_id=runs["a0"], tags={"v": "1"},
                       model_id=models["lm0"], description="first")
c.create_model_version(reg[0], f"{art_uri}/sub", run_id=runs["a1"], tags={"v": "2"})
c.create_model_version(reg[0], f"models:/{models['lm1']}", run_id=runs["a0"], model_id=models["lm1"])
c.transition_model_version_stage(reg[0], "1", "Production")
c.set_registered_model_alias(reg[0], "champion", "1")
c.set_registered_model_alias(reg[0], "challenger", "3")
c.create_model_version(reg[1], f"models:/{models['lm2']}", run_id=runs["a0"], model_id=models["lm2"])
c.create_model_version(reg[2], f"{c.get_run(runs['b0']).info.artifact_uri}/nothing", run_id=runs["b0"])
c.set_registered_model_alias(reg[2], "only", "1")
print(json.dumps({"runs": runs, "models": models, "registered": reg, "experiments": exps}))
"""


def _registry_view(mc, name: str) -> dict:
    rm = mc.get_registered_model(name)
    versions = sorted(mc.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
    return {"description": rm.description, "tags": _strip(rm.tags), "aliases": {k: str(v) for k, v in rm.aliases.items()},
            "versions": [(int(v.version), v.current_stage, v.description or "", _strip(v.tags)) for v in versions]}


def _model_files(mc, model_id: str, path: str | None = None) -> list[tuple[str, int | None]]:
    """A logged model's artifact tree as (path, size) pairs, folders with size None."""
    out = []
    for f in mc.list_logged_model_artifacts(model_id, path):
        out.append((f.path, None if f.is_dir else f.file_size))
        if f.is_dir:
            out += _model_files(mc, model_id, f.path)
    return sorted(out)


def test_second_live_server_as_source_every_list_paged(server, tmp_path, mlflow_client, unique_name, capsys):
    """A separate Swan server, seeded by the MLflow client, is the source; with pages of 2 every
    list the importer reads (experiments, runs, metric histories, logged models, registered models,
    model versions) takes more than one request. Every run, point, artifact, logged model and
    registered model (versions, stages, tags, aliases) arrives in the target."""
    import mlflow
    import requests
    from mlflow import MlflowClient

    from importers.cli import run_import
    from importers.mlflow import MlflowServerSource
    from tests.server import LiveServer

    class RecordingSession(requests.Session):
        """A real session that remembers which MLflow lists were asked for a next page."""

        next_pages: set[str] = set()

        def request(self, method, url, params=None, json=None, **kw):
            token = (params or {}).get("page_token") or (json or {}).get("page_token")
            if token and "/api/2.0/mlflow/" in url:
                self.next_pages.add(url.split("/api/2.0/mlflow/", 1)[1])
            return super().request(method, url, params=params, json=json, **kw)

    source_server = LiveServer(tmp_path / "source-home").start()
    try:
        src = json.loads(run_script(tmp_path, SOURCE_SERVER_WRITER, args=[source_server.url, unique_name])
                         .stdout.strip().splitlines()[-1])
        smc = MlflowClient(source_server.url)
        source_registry = {name: _registry_view(smc, name) for name in src["registered"]}
        source_files = {mid: _model_files(smc, mid) for mid in src["models"].values()}
        assert source_files[src["models"]["lm1"]] == [("MLmodel", 8), ("data", None), ("data/w.bin", 100)]

        def source():
            return MlflowServerSource(source_server.url, session=RecordingSession(), page_size=2)

        def import_all() -> dict:
            """One whole import from the source server; its JSON summary (exit status 0 checked)."""
            with pytest.raises(SystemExit) as done:
                run_import(source, project=None, workspace=None, dry_run=False, tracking_uri=server.url,
                           api_key=None, as_json=True, default_project="Default")
                raise SystemExit(0)
            summary = json.loads(capsys.readouterr().out)
            assert done.value.code == 0, summary
            return summary

        summary = import_all()
        assert RecordingSession.next_pages >= {"experiments/search", "runs/search", "metrics/get-history",
                                               "logged-models/search", "registered-models/search",
                                               "model-versions/search"}
        assert sorted(r["state"] for r in summary["runs"]) == ["imported"] * 9
        assert {(m["kind"], m["name"]): m["state"] for m in summary["models"]} == {
            **{("logged model", f"lm{i}"): "imported" for i in range(3)},
            **{("registered model", name): "imported" for name in src["registered"]}}, summary["models"]

        # a second import from the same server writes nothing
        c = client(server)
        before = ({x: server_counts(c, f"{unique_name}-{x}") for x in "abc"},
                  {name: _registry_view(mlflow_client, name) for name in src["registered"]})
        again = import_all()
        assert [r["state"] for r in again["runs"]] == ["already imported"] * 9
        assert {m["state"] for m in again["models"]} == {"already imported"}, again["models"]
        assert before == ({x: server_counts(c, f"{unique_name}-{x}") for x in "abc"},
                          {name: _registry_view(mlflow_client, name) for name in src["registered"]})
    finally:
        source_server.stop()

    c = client(server)
    target_runs = {}
    for e, x in enumerate("abc"):
        project = f"{unique_name}-{x}"
        assert c.project_by_name(project)["tags"]["which"] == x
        runs = runs_by_name(c, project)
        assert set(runs) == {f"{x}{r}" for r in range(3)}
        for r in range(3):
            run = c.get_run(runs[f"{x}{r}"]["run_id"])
            target_runs[f"{x}{r}"] = run["run_id"]
            assert run["tags"]["swan.import.source_run_id"] == src["runs"][f"{x}{r}"]
            assert _history(c, run["run_id"], "loss") == [(i, T0 + i * 10, 10 * e + r + 1.0 / (i + 1)) for i in range(7)]
            assert (run["params"], run["tags"]["k"], run["status"]) == ({"lr": str(r + 1)}, f"{x}{r}", "FINISHED")
            assert (run["start_time"], run["end_time"]) == (T0 + 100 * (3 * e + r), T0 + 10_000 + r)
    a0 = target_runs["a0"]
    assert c.download_artifact(a0, "a.txt") == b"top"
    assert c.download_artifact(a0, "sub/b.txt") == b"middle"
    assert c.download_artifact(a0, "sub/deeper/c.bin") == bytes(range(256))

    # logged models: new ids, the imported run as their source, the same params, tags and files
    project_a = c.project_by_name(f"{unique_name}-a")["id"]
    target_models = {m.name: m for m in mlflow_client.search_logged_models(experiment_ids=[project_a])}
    assert set(target_models) == {"lm0", "lm1", "lm2"}
    for i in range(3):
        m = target_models[f"lm{i}"]
        assert m.model_id != src["models"][f"lm{i}"] and m.source_run_id == a0
        assert (m.params, _strip(m.tags), str(m.status)) == ({"i": str(i)}, {"t": str(i)}, "READY")
        assert _model_files(mlflow_client, m.model_id) == source_files[src["models"][f"lm{i}"]]
        files = _tree(mlflow.artifacts.download_artifacts(f"models:/{m.model_id}", dst_path=str(tmp_path / m.model_id)))
        files.pop("registered_model_meta")  # written by the MLflow client's download itself, not stored
        assert files == {"MLmodel": f"model {i}\n".encode(), "data/w.bin": bytes([i]) * 100}

    # the registry: every model, version, stage, tag and alias, sources pointed at the imports
    for name in src["registered"]:
        assert _registry_view(mlflow_client, name) == source_registry[name]
    versions = {int(v.version): v for v in mlflow_client.search_model_versions(f"name = '{src['registered'][0]}'")}
    assert (versions[1].source, versions[1].run_id) == (f"models:/{target_models['lm0'].model_id}", a0)
    assert (versions[2].source, versions[2].run_id) == (f"runs:/{target_runs['a1']}/sub", target_runs["a1"])
    assert (versions[3].source, versions[3].run_id) == (f"models:/{target_models['lm1'].model_id}", a0)
    assert source_registry[src["registered"][0]]["aliases"] == {"champion": "1", "challenger": "3"}


# -- an MLflow database on PostgreSQL ------------------------------------------------------------------------
def test_postgresql_store(server, tmp_path, unique_name):
    """An MLflow store on PostgreSQL, its schema and runs made by the MLflow client, imported from
    the plain `postgresql://` URI an MLflow user writes; checked point by point, then re-imported."""
    from tests.databases import TempDatabase

    db = TempDatabase("postgresql").create()
    try:
        # The MLflow client is given the psycopg 3 driver the suite installs (plain `postgresql://`
        # means psycopg2 to SQLAlchemy); the importer is given the plain URI and must cope.
        ids = _write(tmp_path, db.uri.replace("postgresql://", "postgresql+psycopg://", 1), "exp-postgres")
        c = client(server)
        _, summary, _ = swan_import(server, "mlflow", db.uri, "--project", unique_name)
        assert summary["source"] == f"MLflow database {db.uri}"
        assert summary["totals"]["points"] == 1500 + 2 + 1 + 1 + 1
        check_import(server, c, unique_name, ids, db.uri)
        before = server_counts(c, unique_name)
        _, summary, _ = swan_import(server, "mlflow", db.uri, "--project", unique_name)
        assert [r["state"] for r in summary["runs"]] == ["already imported"] * 3
        assert server_counts(c, unique_name) == before
    finally:
        db.drop()
