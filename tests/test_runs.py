"""Runs against a live server: lifecycle, names, params, tags, batches and dataset inputs.

Every test makes its own experiment (the server is shared by the session), drives it with the
real MLflow client, and checks what the server stored by reading it back.
"""

from __future__ import annotations

import json
import time

import pytest
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException

API = "/api/2.0/mlflow"
RUN_NAME_TAG = "mlflow.runName"


@pytest.fixture(autouse=True)
def no_server_errors(server):
    """Whatever a test does, the server must not hit an unhandled error (a 5xx with a logged
    traceback), including on calls made through the MLflow client."""
    start = server.log_path.stat().st_size if server.log_path.exists() else 0
    yield
    with open(server.log_path, "rb") as f:
        f.seek(start)
        new = f.read().decode(errors="replace")
    assert "Unhandled error" not in new and "Traceback" not in new, new[-3000:]


# -- helpers ------------------------------------------------------------------------------------
def new_experiment(client, name) -> str:
    return client.create_experiment(name)


def new_run(client, name, **kw):
    return client.create_run(new_experiment(client, name), **kw)


def assert_error(resp, status: int, code: str, contains: str | None = None) -> dict:
    """An MLflow error answer: the status, JSON `{error_code, message}`, never a traceback."""
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers["Content-Type"]
    body = resp.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert "Traceback" not in resp.text
    if contains is not None:
        assert contains in body["message"], body["message"]
    return body


def raw_run(api, run_id) -> dict:
    resp = api.get(f"{API}/runs/get", params={"run_id": run_id})
    assert resp.status_code == 200, resp.text
    return resp.json()["run"]


def tags_of(run) -> dict:
    """User tags of a client Run (the client also adds mlflow.* system tags)."""
    return {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}


def assert_client_error(exc_info, code: str, contains: str | None = None):
    exc = exc_info.value
    assert exc.error_code == code, (exc.error_code, exc.message)
    if contains is not None:
        assert contains in exc.message, exc.message


# -- create / get ------------------------------------------------------------------------------
def test_create_and_get_run_round_trip(mlflow_client, unique_name):
    exp_id = new_experiment(mlflow_client, unique_name)
    start = 1_700_000_123_456
    run = mlflow_client.create_run(
        exp_id, start_time=start, tags={"team": "vision", "empty": ""}, run_name="first-run"
    )
    info = run.info
    assert len(info.run_id) == 32
    assert info.experiment_id == exp_id
    assert info.run_name == "first-run"
    assert info.status == "RUNNING"
    assert info.lifecycle_stage == "active"
    assert info.start_time == start
    assert info.end_time is None
    assert info.artifact_uri.endswith(f"/{info.run_id}/artifacts")

    got = mlflow_client.get_run(info.run_id)
    assert got.info.run_id == info.run_id
    assert got.info.start_time == start
    assert got.info.run_name == "first-run"
    assert got.data.tags["team"] == "vision"
    assert got.data.tags["empty"] == ""
    assert got.data.tags[RUN_NAME_TAG] == "first-run"
    assert got.data.params == {}
    assert got.data.metrics == {}
    assert got.inputs.dataset_inputs == []


def test_run_wire_shape(api, mlflow_client, unique_name):
    exp_id = new_experiment(mlflow_client, unique_name)
    resp = api.post(f"{API}/runs/create", json={"experiment_id": exp_id, "start_time": 1234, "user_id": "ann"})
    assert resp.status_code == 200, resp.text
    created = resp.json()["run"]
    info = created["info"]
    assert info["run_id"] == info["run_uuid"]
    # int64 fields are JSON numbers, unset fields and empty lists are omitted.
    assert info["start_time"] == 1234 and isinstance(info["start_time"], int)
    assert "end_time" not in info
    assert info["user_id"] == "ann"
    assert info["experiment_id"] == exp_id and isinstance(info["experiment_id"], str)
    data = created.get("data", {})
    assert "params" not in data and "metrics" not in data
    got = raw_run(api, info["run_id"])
    assert got["info"] == info
    # the run name lives in info and in the mlflow.runName tag
    assert {"key": RUN_NAME_TAG, "value": info["run_name"]} in got["data"]["tags"]
    # run_uuid alone (legacy) also addresses a run
    resp = api.get(f"{API}/runs/get", params={"run_uuid": info["run_id"]})
    assert resp.status_code == 200 and resp.json()["run"]["info"]["run_id"] == info["run_id"]
    # the ajax mirror serves the same run
    resp = api.get("/ajax-api/2.0/mlflow/runs/get", params={"run_id": info["run_id"]})
    assert resp.status_code == 200 and resp.json()["run"]["info"] == info


def test_create_run_defaults(mlflow_client, unique_name):
    exp_id = new_experiment(mlflow_client, unique_name)
    before = int(time.time() * 1000)
    run = mlflow_client.create_run(exp_id)
    after = int(time.time() * 1000)
    # a generated name, mirrored into the tag
    assert run.info.run_name
    assert run.data.tags[RUN_NAME_TAG] == run.info.run_name
    assert before - 5000 <= run.info.start_time <= after + 5000
    other = mlflow_client.create_run(exp_id)
    assert other.info.run_id != run.info.run_id


def test_create_run_name_from_tag_and_conflict(mlflow_client, api, unique_name):
    exp_id = new_experiment(mlflow_client, unique_name)
    run = mlflow_client.create_run(exp_id, tags={RUN_NAME_TAG: "from-tag"})
    assert run.info.run_name == "from-tag"
    assert mlflow_client.get_run(run.info.run_id).info.run_name == "from-tag"

    same = mlflow_client.create_run(exp_id, run_name="same", tags={RUN_NAME_TAG: "same"})
    assert same.info.run_name == "same"

    resp = api.post(
        f"{API}/runs/create",
        json={"experiment_id": exp_id, "run_name": "a", "tags": [{"key": RUN_NAME_TAG, "value": "b"}]},
    )
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "mlflow.runName")
    runs = mlflow_client.search_runs([exp_id])
    assert sorted(r.info.run_name for r in runs) == ["from-tag", "same"]


def test_create_run_in_unknown_or_deleted_experiment(mlflow_client, api, unique_name):
    resp = api.post(f"{API}/runs/create", json={"experiment_id": "987654321"})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    exp_id = new_experiment(mlflow_client, unique_name)
    mlflow_client.delete_experiment(exp_id)
    with pytest.raises(MlflowException) as ei:
        mlflow_client.create_run(exp_id)
    assert_client_error(ei, "INVALID_PARAMETER_VALUE", "active")


def test_create_run_rejects_invalid_tags(mlflow_client, api, unique_name):
    exp_id = new_experiment(mlflow_client, unique_name)
    for tags in (
        [{"key": "a/../b", "value": "x"}],
        [{"key": "k" * 251, "value": "x"}],
        [{"key": "ok", "value": "v" * 8001}],
    ):
        resp = api.post(f"{API}/runs/create", json={"experiment_id": exp_id, "tags": tags})
        assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert mlflow_client.search_runs([exp_id]) == []


# -- update ------------------------------------------------------------------------------------
def test_update_run_status_end_time_and_name(mlflow_client, api, unique_name):
    run = new_run(mlflow_client, unique_name, run_name="before")
    run_id = run.info.run_id

    mlflow_client.update_run(run_id, name="after")
    got = mlflow_client.get_run(run_id)
    assert got.info.run_name == "after"
    assert got.data.tags[RUN_NAME_TAG] == "after"
    assert got.info.status == "RUNNING" and got.info.end_time is None

    mlflow_client.update_run(run_id, status="SCHEDULED")
    assert mlflow_client.get_run(run_id).info.status == "SCHEDULED"
    assert mlflow_client.get_run(run_id).info.run_name == "after"

    mlflow_client.set_terminated(run_id, status="FAILED", end_time=1_800_000_000_000)
    got = mlflow_client.get_run(run_id)
    assert got.info.status == "FAILED"
    assert got.info.end_time == 1_800_000_000_000
    assert got.info.run_name == "after"

    # raw: the response carries the updated run_info
    resp = api.post(
        f"{API}/runs/update",
        json={"run_id": run_id, "status": "FINISHED", "end_time": 1_800_000_000_001, "run_name": "final"},
    )
    assert resp.status_code == 200, resp.text
    info = resp.json()["run_info"]
    assert info["status"] == "FINISHED"
    assert info["end_time"] == 1_800_000_000_001
    assert info["run_name"] == "final"
    assert info["run_id"] == run_id
    got = mlflow_client.get_run(run_id)
    assert got.data.tags[RUN_NAME_TAG] == "final"
    assert got.info.end_time == 1_800_000_000_001


def test_set_terminated_defaults_to_finished_now(mlflow_client, unique_name):
    run = new_run(mlflow_client, unique_name)
    before = int(time.time() * 1000)
    mlflow_client.set_terminated(run.info.run_id)
    got = mlflow_client.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert before - 5000 <= got.info.end_time <= int(time.time() * 1000) + 5000


def test_set_run_name_tag_renames_run(mlflow_client, unique_name):
    run = new_run(mlflow_client, unique_name, run_name="orig")
    mlflow_client.set_tag(run.info.run_id, RUN_NAME_TAG, "renamed")
    assert mlflow_client.get_run(run.info.run_id).info.run_name == "renamed"
    mlflow_client.log_batch(run.info.run_id, tags=[RunTag(RUN_NAME_TAG, "batch-renamed")])
    got = mlflow_client.get_run(run.info.run_id)
    assert got.info.run_name == "batch-renamed"
    assert got.data.tags[RUN_NAME_TAG] == "batch-renamed"


def test_update_run_rejects_bad_status(mlflow_client, api, unique_name):
    run = new_run(mlflow_client, unique_name)
    for status in ("BOGUS", "finished", 5):
        resp = api.post(f"{API}/runs/update", json={"run_id": run.info.run_id, "status": status})
        assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    resp = api.post(f"{API}/runs/update", json={"run_id": run.info.run_id, "end_time": "soon"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    got = mlflow_client.get_run(run.info.run_id)
    assert got.info.status == "RUNNING" and got.info.end_time is None


# -- fluent API --------------------------------------------------------------------------------
def test_fluent_run_lifecycle(mlflow_client, unique_name):
    import mlflow

    exp_id = new_experiment(mlflow_client, unique_name)
    with mlflow.start_run(experiment_id=exp_id, run_name="fluent") as active:
        run_id = active.info.run_id
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"layers": 4, "opt": "adam"})
        mlflow.log_metric("loss", 1.5)
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=2)
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"a": "1", "b": "2"})
        mid = mlflow_client.get_run(run_id)
        assert mid.info.status == "RUNNING"
    got = mlflow_client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time
    assert got.info.run_name == "fluent"
    assert got.data.params == {"lr": "0.01", "layers": "4", "opt": "adam"}
    assert got.data.metrics == {"loss": 0.5, "acc": 0.9, "f1": 0.8}
    assert tags_of(got) == {"stage": "dev", "a": "1", "b": "2"}
    # the client's system tags arrived too
    assert got.data.tags[RUN_NAME_TAG] == "fluent"
    assert "mlflow.user" in got.data.tags
    hist = mlflow_client.get_metric_history(run_id, "loss")
    assert sorted((m.step, m.value) for m in hist) == [(0, 1.5), (1, 0.5)]
    assert {m.step for m in mlflow_client.get_metric_history(run_id, "acc")} == {2}


def test_fluent_failed_run_and_explicit_end(mlflow_client, unique_name):
    import mlflow

    exp_id = new_experiment(mlflow_client, unique_name)
    with pytest.raises(RuntimeError):
        with mlflow.start_run(experiment_id=exp_id) as active:
            failed_id = active.info.run_id
            raise RuntimeError("boom")
    assert mlflow_client.get_run(failed_id).info.status == "FAILED"

    run = mlflow.start_run(experiment_id=exp_id)
    try:
        mlflow.log_metric("x", 1)
    finally:
        mlflow.end_run(status="KILLED")
    got = mlflow_client.get_run(run.info.run_id)
    assert got.info.status == "KILLED" and got.info.end_time is not None


# -- delete / restore --------------------------------------------------------------------------
def test_delete_restore_and_writes_to_deleted_run(mlflow_client, api, unique_name):
    exp_id = new_experiment(mlflow_client, unique_name)
    run_id = mlflow_client.create_run(exp_id).info.run_id
    mlflow_client.log_param(run_id, "p", "1")
    mlflow_client.set_tag(run_id, "t", "1")
    mlflow_client.log_metric(run_id, "m", 1.0, timestamp=10, step=0)

    mlflow_client.delete_run(run_id)
    got = mlflow_client.get_run(run_id)
    assert got.info.lifecycle_stage == "deleted"
    assert mlflow_client.search_runs([exp_id]) == []
    assert [r.info.run_id for r in mlflow_client.search_runs([exp_id], run_view_type=2)] == [run_id]

    writes = [
        ("runs/log-metric", {"key": "m", "value": 2.0, "timestamp": 20, "step": 1}),
        ("runs/log-parameter", {"key": "p2", "value": "2"}),
        ("runs/set-tag", {"key": "t2", "value": "2"}),
        ("runs/delete-tag", {"key": "t"}),
        ("runs/log-batch", {"metrics": [{"key": "m", "value": 3.0, "timestamp": 30, "step": 2}],
                            "params": [{"key": "p3", "value": "3"}], "tags": [{"key": "t3", "value": "3"}]}),
        ("runs/update", {"status": "FINISHED", "end_time": 99}),
        ("runs/log-inputs", {"datasets": [{"dataset": {"name": "d", "digest": "abc", "source_type": "local",
                                                       "source": "/tmp/d"}}]}),
    ]
    for path, body in writes:
        resp = api.post(f"{API}/{path}", json={"run_id": run_id, **body})
        assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state")
    with pytest.raises(MlflowException) as ei:
        mlflow_client.log_metric(run_id, "m", 5.0)
    assert_client_error(ei, "INVALID_PARAMETER_VALUE", "must be in the 'active' state")

    # nothing was written
    got = mlflow_client.get_run(run_id)
    assert got.data.params == {"p": "1"}
    assert tags_of(got) == {"t": "1"}
    assert got.data.metrics == {"m": 1.0}
    assert got.info.status == "RUNNING" and got.info.end_time is None
    assert got.inputs.dataset_inputs == []
    assert [(m.step, m.value) for m in mlflow_client.get_metric_history(run_id, "m")] == [(0, 1.0)]

    mlflow_client.restore_run(run_id)
    assert mlflow_client.get_run(run_id).info.lifecycle_stage == "active"
    assert [r.info.run_id for r in mlflow_client.search_runs([exp_id])] == [run_id]
    mlflow_client.log_metric(run_id, "m", 2.0, timestamp=20, step=1)
    mlflow_client.log_param(run_id, "p2", "2")
    got = mlflow_client.get_run(run_id)
    assert got.data.metrics == {"m": 2.0} and got.data.params == {"p": "1", "p2": "2"}


def test_delete_and_restore_unknown_run(api):
    for path in ("runs/delete", "runs/restore"):
        resp = api.post(f"{API}/{path}", json={"run_id": "0" * 32})
        assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")


# -- params ------------------------------------------------------------------------------------
def test_params_are_immutable(mlflow_client, api, unique_name):
    run_id = new_run(mlflow_client, unique_name).info.run_id
    mlflow_client.log_param(run_id, "lr", "0.1")
    mlflow_client.log_param(run_id, "lr", "0.1")  # same value: a no-op
    mlflow_client.log_batch(run_id, params=[Param("lr", "0.1"), Param("bs", "32")])  # same again, plus a new one
    with pytest.raises(MlflowException) as ei:
        mlflow_client.log_param(run_id, "lr", "0.2")
    assert_client_error(ei, "INVALID_PARAMETER_VALUE", "lr")
    resp = api.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "0.3"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert mlflow_client.get_run(run_id).data.params == {"lr": "0.1", "bs": "32"}


def test_param_values_are_strings_kept_verbatim(mlflow_client, unique_name):
    run_id = new_run(mlflow_client, unique_name).info.run_id
    values = {"empty": "", "spaces": "  a  b ", "unicode": "héllo ✓ 中文", "json": json.dumps({"a": [1, 2]}),
              "long": "x" * 6000, "newline": "a\nb"}
    for k, v in values.items():
        mlflow_client.log_param(run_id, k, v)
    assert mlflow_client.get_run(run_id).data.params == values


def test_param_conflict_rejects_whole_batch(mlflow_client, api, unique_name):
    run_id = new_run(mlflow_client, unique_name).info.run_id
    mlflow_client.log_param(run_id, "fixed", "a")
    before = raw_run(api, run_id)
    body = {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}],
        "params": [{"key": "new", "value": "x"}, {"key": "fixed", "value": "b"}],
        "tags": [{"key": "newtag", "value": "y"}],
    }
    assert_error(api.post(f"{API}/runs/log-batch", json=body), 400, "INVALID_PARAMETER_VALUE", "fixed")
    with pytest.raises(MlflowException) as ei:
        mlflow_client.log_batch(
            run_id, metrics=[Metric("m", 1.0, 1, 0)], params=[Param("new", "x"), Param("fixed", "b")],
            tags=[RunTag("newtag", "y")],
        )
    assert_client_error(ei, "INVALID_PARAMETER_VALUE")
    after = raw_run(api, run_id)
    assert after == before
    assert mlflow_client.get_metric_history(run_id, "m") == []


def test_duplicate_param_keys_with_different_values_rejected(mlflow_client, api, unique_name):
    run_id = new_run(mlflow_client, unique_name).info.run_id
    body = {"run_id": run_id, "params": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}],
            "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}]}
    assert_error(api.post(f"{API}/runs/log-batch", json=body), 400, "INVALID_PARAMETER_VALUE")
    got = mlflow_client.get_run(run_id)
    assert got.data.params == {} and got.data.metrics == {}


# -- tags --------------------------------------------------------------------------------------
def test_set_overwrite_and_delete_tags(mlflow_client, api, unique_name):
    run_id = new_run(mlflow_client, unique_name).info.run_id
    mlflow_client.set_tag(run_id, "k", "v1")
    mlflow_client.set_tag(run_id, "k", "v2")  # tags are mutable
    mlflow_client.set_tag(run_id, "other", "x" * 8000)
    mlflow_client.log_batch(run_id, tags=[RunTag("b1", "1"), RunTag("b2", "2")])
    assert tags_of(mlflow_client.get_run(run_id)) == {"k": "v2", "other": "x" * 8000, "b1": "1", "b2": "2"}

    mlflow_client.delete_tag(run_id, "k")
    assert tags_of(mlflow_client.get_run(run_id)) == {"other": "x" * 8000, "b1": "1", "b2": "2"}
    with pytest.raises(MlflowException) as ei:
        mlflow_client.delete_tag(run_id, "k")
    assert_client_error(ei, "RESOURCE_DOES_NOT_EXIST")
    resp = api.post(f"{API}/runs/delete-tag", json={"run_id": run_id, "key": "never"})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    resp = api.post(f"{API}/runs/delete-tag", json={"run_id": "f" * 32, "key": "b1"})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    assert tags_of(mlflow_client.get_run(run_id)) == {"other": "x" * 8000, "b1": "1", "b2": "2"}


def test_set_tag_raw_wire(mlflow_client, api, unique_name):
    run_id = new_run(mlflow_client, unique_name).info.run_id
    resp = api.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "k", "value": "v"})
    assert resp.status_code == 200 and resp.json() == {}
    # legacy run_uuid only
    resp = api.post(f"{API}/runs/set-tag", json={"run_uuid": run_id, "key": "k2", "value": "v2"})
    assert resp.status_code == 200, resp.text
    assert_error(api.post(f"{API}/runs/set-tag", json={"run_id": run_id, "value": "v"}), 400,
                 "INVALID_PARAMETER_VALUE", "key")
    assert_error(api.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "bad*key", "value": "v"}), 400,
                 "INVALID_PARAMETER_VALUE")
    assert tags_of(mlflow_client.get_run(run_id)) == {"k": "v", "k2": "v2"}


# -- log-batch ---------------------------------------------------------------------------------
def test_log_batch_everything_at_once(mlflow_client, api, unique_name):
    run_id = new_run(mlflow_client, unique_name).info.run_id
    metrics = [Metric(f"m{i % 10}", i * 1.5, 1_000 + i, i // 10) for i in range(800)]
    params = [Param(f"p{i}", str(i)) for i in range(100)]
    tags = [RunTag(f"t{i}", f"v{i}") for i in range(100)]
    mlflow_client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    got = mlflow_client.get_run(run_id)
    assert got.data.params == {f"p{i}": str(i) for i in range(100)}
    assert tags_of(got) == {f"t{i}": f"v{i}" for i in range(100)}
    # the latest point per key is the one with the largest step
    assert got.data.metrics == {f"m{k}": (790 + k) * 1.5 for k in range(10)}
    hist = mlflow_client.get_metric_history(run_id, "m3")
    assert sorted((m.step, m.timestamp, m.value) for m in hist) == [
        (i // 10, 1_000 + i, i * 1.5) for i in range(3, 800, 10)
    ]


def test_client_log_batch_splits_large_input(mlflow_client, unique_name):
    run_id = new_run(mlflow_client, unique_name).info.run_id
    metrics = [Metric("big", float(i), 5_000 + i, i) for i in range(2500)]
    params = [Param(f"p{i}", "v") for i in range(250)]
    mlflow_client.log_batch(run_id, metrics=metrics, params=params)
    got = mlflow_client.get_run(run_id)
    assert len(got.data.params) == 250
    assert got.data.metrics == {"big": 2499.0}
    assert len(mlflow_client.get_metric_history(run_id, "big")) == 2500


def test_empty_log_batch_is_ok(mlflow_client, api, unique_name):
    run_id = new_run(mlflow_client, unique_name).info.run_id
    before = raw_run(api, run_id)
    resp = api.post(f"{API}/runs/log-batch", json={"run_id": run_id})
    assert resp.status_code == 200 and resp.json() == {}
    resp = api.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": [], "params": [], "tags": []})
    assert resp.status_code == 200
    assert raw_run(api, run_id) == before


# -- dataset inputs ----------------------------------------------------------------------------
def test_log_inputs_with_client(mlflow_client, unique_name):
    run_id = new_run(mlflow_client, unique_name).info.run_id
    ds1 = Dataset(name="train", digest="d1gest", source_type="local", source='{"uri": "/data/train"}',
                  schema='{"mlflow_colspec": []}', profile='{"num_rows": 10}')
    ds2 = Dataset(name="eval", digest="d2gest", source_type="http", source='{"url": "http://x"}')
    mlflow_client.log_inputs(
        run_id,
        [
            DatasetInput(ds1, tags=[InputTag("mlflow.data.context", "training"), InputTag("owner", "ann")]),
            DatasetInput(ds2, tags=[InputTag("mlflow.data.context", "eval")]),
        ],
    )
    inputs = mlflow_client.get_run(run_id).inputs.dataset_inputs
    by_name = {i.dataset.name: i for i in inputs}
    assert set(by_name) == {"train", "eval"}
    d = by_name["train"].dataset
    assert (d.digest, d.source_type, d.source, d.schema, d.profile) == (
        "d1gest", "local", '{"uri": "/data/train"}', '{"mlflow_colspec": []}', '{"num_rows": 10}'
    )
    assert {t.key: t.value for t in by_name["train"].tags} == {"mlflow.data.context": "training", "owner": "ann"}
    e = by_name["eval"].dataset
    assert (e.digest, e.source_type, e.source) == ("d2gest", "http", '{"url": "http://x"}')
    assert {t.key: t.value for t in by_name["eval"].tags} == {"mlflow.data.context": "eval"}

    # logging the same dataset again does not duplicate the input
    mlflow_client.log_inputs(run_id, [DatasetInput(ds1, tags=[InputTag("mlflow.data.context", "training")])])
    assert sorted(i.dataset.name for i in mlflow_client.get_run(run_id).inputs.dataset_inputs) == ["eval", "train"]


def test_fluent_log_input(mlflow_client, unique_name):
    import mlflow
    import numpy as np

    exp_id = new_experiment(mlflow_client, unique_name)
    dataset = mlflow.data.from_numpy(np.arange(12, dtype=np.float64).reshape(4, 3), source="/data/np.npy",
                                     name="numbers")
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_input(dataset, context="training", tags={"split": "a"})
    inputs = mlflow_client.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    got = inputs[0]
    assert got.dataset.name == "numbers"
    assert got.dataset.digest == dataset.digest
    assert got.dataset.source_type == "local"
    assert json.loads(got.dataset.source) == json.loads(dataset.source.to_json())
    assert json.loads(got.dataset.schema) == json.loads(dataset.to_dict()["schema"])
    assert {t.key: t.value for t in got.tags} == {"mlflow.data.context": "training", "split": "a"}


def test_log_inputs_raw_and_errors(mlflow_client, api, unique_name):
    run_id = new_run(mlflow_client, unique_name).info.run_id
    good = {"name": "d", "digest": "abc", "source_type": "local", "source": "/tmp/d"}
    resp = api.post(f"{API}/runs/log-inputs", json={"run_id": run_id, "datasets": [
        {"dataset": good, "tags": [{"key": "mlflow.data.context", "value": "test"}]}]})
    assert resp.status_code == 200, resp.text
    run = raw_run(api, run_id)
    assert run["inputs"]["dataset_inputs"] == [
        {"tags": [{"key": "mlflow.data.context", "value": "test"}], "dataset": good}
    ]
    bad_bodies = [
        {"datasets": [{"dataset": {k: v for k, v in good.items() if k != "digest"}}]},
        {"datasets": [{"dataset": {**good, "name": "n2", "digest": "x" * 37}}]},
        {"datasets": [{"dataset": {**good, "name": "y" * 501}}]},
        {"datasets": [{"dataset": {**good, "name": "n3"}, "tags": [{"key": "k", "value": "v" * 501}]}]},
        {"datasets": "nope"},
        {"datasets": [{"dataset": "nope"}]},
    ]
    for body in bad_bodies:
        assert_error(api.post(f"{API}/runs/log-inputs", json={"run_id": run_id, **body}), 400,
                     "INVALID_PARAMETER_VALUE")
    resp = api.post(f"{API}/runs/log-inputs", json={"run_id": "e" * 32, "datasets": [{"dataset": good}]})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    assert len(raw_run(api, run_id)["inputs"]["dataset_inputs"]) == 1


# -- not found ---------------------------------------------------------------------------------
def test_unknown_run_is_404_for_client(mlflow_client):
    for call in (
        lambda: mlflow_client.get_run("0" * 32),
        lambda: mlflow_client.log_metric("0" * 32, "m", 1.0),
        lambda: mlflow_client.log_param("0" * 32, "p", "1"),
        lambda: mlflow_client.set_tag("0" * 32, "t", "1"),
        lambda: mlflow_client.log_batch("0" * 32, metrics=[Metric("m", 1.0, 1, 0)]),
        lambda: mlflow_client.set_terminated("0" * 32),
        lambda: mlflow_client.get_metric_history("0" * 32, "m"),
    ):
        with pytest.raises(MlflowException) as ei:
            call()
        assert_client_error(ei, "RESOURCE_DOES_NOT_EXIST")


def test_run_status_enum_round_trip(mlflow_client, unique_name):
    run_id = new_run(mlflow_client, unique_name).info.run_id
    for status in ("SCHEDULED", "RUNNING", "KILLED", "FAILED", "FINISHED"):
        mlflow_client.update_run(run_id, status=status)
        assert mlflow_client.get_run(run_id).info.status == status
        assert RunStatus.from_string(status) == RunStatus.from_string(mlflow_client.get_run(run_id).info.status)


def test_resume_run_with_fluent_start_run(mlflow_client, unique_name):
    import mlflow

    exp_id = new_experiment(mlflow_client, unique_name)
    with mlflow.start_run(experiment_id=exp_id, run_name="resumable") as first:
        mlflow.log_param("a", "1")
    run_id = first.info.run_id
    assert mlflow_client.get_run(run_id).info.status == "FINISHED"
    with mlflow.start_run(run_id=run_id) as again:
        assert again.info.run_id == run_id
        assert mlflow_client.get_run(run_id).info.status == "RUNNING"
        mlflow.log_param("b", "2")
        mlflow.log_param("a", "1")  # same value again: fine
    got = mlflow_client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "resumable"
    assert got.data.params == {"a": "1", "b": "2"}


def test_fluent_async_logging(mlflow_client, unique_name):
    import mlflow

    exp_id = new_experiment(mlflow_client, unique_name)
    with mlflow.start_run(experiment_id=exp_id) as run:
        for step in range(30):
            mlflow.log_metric("async_loss", 1.0 / (step + 1), step=step, synchronous=False)
        mlflow.log_param("mode", "async", synchronous=False)
        mlflow.set_tag("t", "async", synchronous=False)
        mlflow.flush_async_logging()
    got = mlflow_client.get_run(run.info.run_id)
    assert got.data.params == {"mode": "async"} and got.data.tags["t"] == "async"
    assert got.data.metrics == {"async_loss": 1.0 / 30}
    assert sorted(m.step for m in mlflow_client.get_metric_history(run.info.run_id, "async_loss")) == list(range(30))


def test_concurrent_conflicting_params_one_wins(mlflow_client, api, unique_name):
    from concurrent.futures import ThreadPoolExecutor

    run_id = new_run(mlflow_client, unique_name).info.run_id

    def attempt(i):
        resp = api.post(f"{API}/runs/log-batch", json={
            "run_id": run_id, "params": [{"key": "seed", "value": str(i)}],
            "metrics": [{"key": f"m{i}", "value": 1.0, "timestamp": 1, "step": 0}]})
        return i, resp.status_code, resp.text

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(8)))
    assert all(code in (200, 400) for _, code, _ in results), results
    winners = [i for i, code, _ in results if code == 200]
    assert len(winners) == 1, results
    got = mlflow_client.get_run(run_id)
    assert got.data.params == {"seed": str(winners[0])}
    assert got.data.metrics == {f"m{winners[0]}": 1.0}  # the losers' metrics were not written
