"""MLflow 3 logged models against a live server, with the real client: log_model, run outputs,
finalize, tags and params, metrics logged against a model, search by metric/param/dataset,
artifact listing, and errors."""

from __future__ import annotations

import uuid

import mlflow
import pytest
import requests
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException

from tests.no5xx import no_5xx  # noqa: F401  (every test here fails on any 5xx answer)

API = "/api/2.0/mlflow"


def assert_error(resp, status: int, code: str, contains: str | None = None) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    body = resp.json()
    assert body["error_code"] == code, body
    if contains is not None:
        assert contains in body["message"], body["message"]
    return body


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def test_log_model_creates_ready_model_and_run_output(mlflow_client, unique_name, api):
    mlflow.set_experiment(unique_name)
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="echo", python_model=Echo(), params={"alpha": "0.5"})
    model = mlflow_client.get_logged_model(info.model_id)
    assert model.model_id.startswith("m-") and len(model.model_id) == 34
    assert model.status == LoggedModelStatus.READY
    assert model.name == "echo"
    assert model.source_run_id == run.info.run_id
    assert model.experiment_id == run.info.experiment_id
    assert model.artifact_location == (
        f"mlflow-artifacts:/{run.info.experiment_id}/models/{model.model_id}/artifacts"
    )
    assert model.params == {"alpha": "0.5"}

    # LogOutputs: the run lists the model as an output.
    outputs = mlflow_client.get_run(run.info.run_id).outputs
    assert [o.model_id for o in outputs.model_outputs] == [model.model_id]

    # The model's files were uploaded through the proxy under its own location.
    names = {f.path for f in mlflow_client.list_logged_model_artifacts(model.model_id)}
    assert "MLmodel" in names and "python_model.pkl" in names
    # Run artifact listing (which also searches the run's logged models) still works.
    assert mlflow_client.list_artifacts(run.info.run_id) is not None

    # The UI's file route serves a model file.
    resp = api.get(f"/ajax-api/2.0/mlflow/logged-models/{model.model_id}/artifacts/files",
                   params={"artifact_file_path": "MLmodel"})
    assert resp.status_code == 200 and f"model_id: {model.model_id}" in resp.text

    loaded = mlflow.pyfunc.load_model(f"models:/{model.model_id}")
    import pandas as pd

    df = pd.DataFrame({"a": [1, 2]})
    pd.testing.assert_frame_equal(loaded.predict(df), df)


def test_create_finalize_tags_params_delete(mlflow_client, unique_name, api):
    exp_id = mlflow_client.create_experiment(unique_name)
    run = mlflow_client.create_run(exp_id)
    model = mlflow_client.create_logged_model(
        exp_id, name="clf", source_run_id=run.info.run_id, tags={"team": "a"}, params={"depth": "3"},
        model_type="sklearn",
    )
    assert model.status == LoggedModelStatus.PENDING
    assert model.tags == {"team": "a"} and model.params == {"depth": "3"} and model.model_type == "sklearn"

    ready = mlflow_client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status == LoggedModelStatus.READY
    assert mlflow_client.get_logged_model(model.model_id).status == LoggedModelStatus.READY
    failed = mlflow_client.create_logged_model(exp_id)
    assert failed.name  # a generated name
    assert mlflow_client.finalize_logged_model(failed.model_id, LoggedModelStatus.FAILED).status == LoggedModelStatus.FAILED

    mlflow_client.set_logged_model_tags(model.model_id, {"team": "b", "extra": "x"})
    mlflow_client.delete_logged_model_tag(model.model_id, "extra")
    assert mlflow_client.get_logged_model(model.model_id).tags == {"team": "b"}
    resp = api.delete(f"{API}/logged-models/{model.model_id}/tags/missing")
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")

    mlflow_client.log_model_params(model.model_id, {"lr": "0.1"})
    assert mlflow_client.get_logged_model(model.model_id).params == {"depth": "3", "lr": "0.1"}
    resp = api.post(f"{API}/logged-models/{model.model_id}/params", json={"params": [{"key": "lr", "value": "0.2"}]})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed")

    resp = requests.patch(f"{api.base}{API}/logged-models/{model.model_id}", json={"status": "LOGGED_MODEL_PENDING"}, timeout=30)
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    resp = requests.patch(f"{api.base}{API}/logged-models/{model.model_id}", json={"status": "DONE"}, timeout=30)
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    for wrong_type in ({"name": "READY"}, ["LOGGED_MODEL_READY"]):  # each was a 500
        resp = requests.patch(f"{api.base}{API}/logged-models/{model.model_id}", json={"status": wrong_type}, timeout=30)
        assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "parameter 'status'")

    mlflow_client.delete_logged_model(model.model_id)
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_logged_model(model.model_id)
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST", exc.value.message
    assert model.model_id not in {m.model_id for m in mlflow_client.search_logged_models([exp_id])}


def test_search_logged_models_by_metric_param_and_dataset(mlflow_client, unique_name):
    exp_id = mlflow_client.create_experiment(unique_name)
    run = mlflow_client.create_run(exp_id)
    ids = []
    for i in range(6):
        m = mlflow_client.create_logged_model(
            exp_id, name=f"m{i}", source_run_id=run.info.run_id,
            params={"kind": "tree" if i % 2 == 0 else "linear"}, tags={"i": str(i)},
        )
        ids.append(m.model_id)
        # An older step that must not count, then the latest value on the "val" dataset ...
        mlflow_client.log_metric(run.info.run_id, "acc", 0.0, step=0, model_id=m.model_id,
                                 dataset_name="val", dataset_digest="d1")
        mlflow_client.log_metric(run.info.run_id, "acc", i / 10, step=1, model_id=m.model_id,
                                 dataset_name="val", dataset_digest="d1")
        # ... and a different value on the "test" dataset.
        mlflow_client.log_metric(run.info.run_id, "acc", 1 - i / 10, step=1, model_id=m.model_id,
                                 dataset_name="test", dataset_digest="d2")
    # LogInputs with models: the run lists them as inputs.
    mlflow_client.log_inputs(run.info.run_id, models=[mlflow.entities.LoggedModelInput(ids[0])])
    mlflow_client.log_inputs(run.info.run_id, models=[mlflow.entities.LoggedModelInput(ids[0]),
                                                      mlflow.entities.LoggedModelInput(ids[1])])
    inputs = mlflow_client.get_run(run.info.run_id).inputs.model_inputs
    assert sorted(i.model_id for i in inputs) == sorted(ids[:2])
    # A model with no metrics at all.
    bare = mlflow_client.create_logged_model(exp_id, name="bare", params={"kind": "tree"})

    def search(**kw):
        return [m.model_id for m in mlflow_client.search_logged_models([exp_id], **kw)]

    # Metrics logged against a model land on the model (latest step per dataset).
    got = mlflow_client.get_logged_model(ids[3])
    by_ds = {(x.key, x.dataset_name): x.value for x in got.metrics}
    assert by_ds == {("acc", "val"): 0.3, ("acc", "test"): 0.7}
    # ... and still on the run, as a normal run metric.
    assert [m.step for m in mlflow_client.get_metric_history(run.info.run_id, "acc")].count(1) == 12

    val = [{"dataset_name": "val", "dataset_digest": "d1"}]
    assert set(search(filter_string="metrics.acc >= 0.4", datasets=val)) == {ids[4], ids[5]}
    assert set(search(filter_string="metrics.acc >= 0.9", datasets=[{"dataset_name": "test"}])) == {ids[0], ids[1]}
    assert set(search(filter_string="metrics.acc > 0.35 AND params.kind = 'tree'", datasets=val)) == {ids[4]}
    assert set(search(filter_string="params.kind = 'tree'")) == {ids[0], ids[2], ids[4], bare.model_id}
    assert set(search(filter_string="params.kind != 'tree'")) == {ids[1], ids[3], ids[5]}
    assert set(search(filter_string="tags.i IN ('1', '2')")) == {ids[1], ids[2]}
    assert search(filter_string="name = 'm2'") == [ids[2]]
    assert set(search(filter_string=f"name LIKE 'm%' AND source_run_id = '{run.info.run_id}'")) == set(ids)

    ordered = search(order_by=[{"field_name": "metrics.acc", "ascending": False, "dataset_name": "val"}])
    assert ordered[:6] == ids[::-1] and ordered[6] == bare.model_id  # no metric sorts last
    ordered = search(order_by=[{"field_name": "metrics.acc", "ascending": True, "dataset_name": "val"}])
    assert ordered[:6] == ids
    assert search(order_by=[{"field_name": "name", "ascending": True}]) == [bare.model_id] + ids
    assert search()[0] == bare.model_id  # newest first by default

    seen, token = [], None
    while True:
        page = mlflow_client.search_logged_models([exp_id], max_results=3, page_token=token,
                                                  order_by=[{"field_name": "name", "ascending": True}])
        seen += [m.model_id for m in page]
        token = page.token
        if not token:
            break
    assert seen == [bare.model_id] + ids

    # The fluent API, which the docs show.
    df = mlflow.search_logged_models(experiment_ids=[exp_id], filter_string="params.kind = 'linear'",
                                     output_format="list")
    assert {m.model_id for m in df} == {ids[1], ids[3], ids[5]}


def test_logged_model_errors(mlflow_client, unique_name, api):
    exp_id = mlflow_client.create_experiment(unique_name)
    missing = f"m-{uuid.uuid4().hex}"
    assert_error(api.get(f"{API}/logged-models/{missing}"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.post(f"{API}/logged-models", json={"experiment_id": "999999999"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.post(f"{API}/logged-models", json={}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post(f"{API}/logged-models", json={"experiment_id": exp_id, "name": "a/b"}),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post(f"{API}/logged-models", json={"experiment_id": exp_id, "source_run_id": "0" * 32}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    for body in (
        {"experiment_ids": [exp_id], "filter": "metrics.acc > 'x'"},
        {"experiment_ids": [exp_id], "filter": "params.a > 'x'"},
        {"experiment_ids": [exp_id], "filter": "bogus = 'x'"},
        {"experiment_ids": [exp_id], "filter": "name = 'a' OR name = 'b'"},
        {"experiment_ids": [exp_id], "max_results": 0},
        {"experiment_ids": [exp_id], "order_by": [{"field_name": "nope"}]},
        {"experiment_ids": [exp_id], "page_token": "!!"},
        {"experiment_ids": []},
    ):
        assert_error(api.post(f"{API}/logged-models/search", json=body), 400, "INVALID_PARAMETER_VALUE")
    run = mlflow_client.create_run(exp_id)
    resp = api.post(f"{API}/runs/log-metric", json={"run_id": run.info.run_id, "key": "k", "value": 1,
                                                    "timestamp": 1, "model_id": missing})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    resp = api.post(f"{API}/runs/outputs", json={"run_id": run.info.run_id, "models": [{"model_id": missing}]})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    resp = api.get(f"{API}/logged-models/{missing}/artifacts/directories")
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    model = mlflow_client.create_logged_model(exp_id)
    resp = api.get(f"{API}/logged-models/{model.model_id}/artifacts/directories",
                   params={"artifact_directory_path": "../../etc"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
