"""The dashboard's read routes in /api/v1, against a live server, with runs logged by MLflow."""

import time

import pytest


@pytest.fixture()
def project(mlflow_client, unique_name):
    exp = mlflow_client.create_experiment(unique_name)
    runs = []
    for i in range(5):
        run = mlflow_client.create_run(exp, run_name=f"run-{i}", tags={"team": "a" if i % 2 else "b"})
        rid = run.info.run_id
        mlflow_client.log_param(rid, "lr", str(0.1 * (i + 1)))
        mlflow_client.log_param(rid, "model", "tree" if i < 3 else "mlp")
        now = int(time.time() * 1000)
        from mlflow.entities import Metric as MM
        mlflow_client.log_batch(rid, metrics=[MM("train/loss", 1.0 / (s + 1) + i, now + s, s) for s in range(300)]
                                + [MM("val/acc", 0.5 + i / 10, now, 0)])
        if i == 4:
            mlflow_client.set_terminated(rid, "FAILED")
        runs.append(rid)
    return exp, runs


def test_projects_overview_and_keys(api, project):
    exp, runs = project
    body = api.get("/api/v1/projects/overview").json()
    mine = next(p for p in body["projects"] if p["id"] == exp)
    assert mine["run_count"] == 5 and mine["last_activity"] > 0
    assert api.get("/api/v1/projects/overview", params={"q": mine["name"][-8:].upper()}).json()["projects"][0]["id"] == exp
    keys = api.get(f"/api/v1/projects/{exp}/keys").json()
    assert keys["params"] == ["lr", "model"] and keys["metrics"] == ["train/loss", "val/acc"]
    assert "team" in keys["tags"]
    assert api.get("/api/v1/projects/999999/keys").status_code == 404


def test_run_table_filters_sorts_pages_and_columns(api, project):
    exp, runs = project
    r = api.get(f"/api/v1/projects/{exp}/run-table", params={
        "filter": "params.model = 'tree' and metrics.`val/acc` >= 0.6", "order_by": "metrics.`val/acc` DESC",
        "param": ["lr", "model"], "metric": "val/acc"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2 and [row["name"] for row in body["runs"]] == ["run-2", "run-1"]
    assert body["runs"][0]["params"] == {"lr": "0.30000000000000004", "model": "tree"} or body["runs"][0]["params"]["model"] == "tree"
    assert body["runs"][0]["metrics"]["val/acc"] == pytest.approx(0.7) and body["runs"][0]["tags"] == {"team": "b"}
    page = api.get(f"/api/v1/projects/{exp}/run-table", params={"limit": 2, "offset": 4}).json()
    assert page["total"] == 5 and len(page["runs"]) == 1
    bad = api.get(f"/api/v1/projects/{exp}/run-table", params={"filter": "metrics.acc >>> 1"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_PARAMETER_VALUE"
    assert bad.json()["error"]["message"]


def test_run_overview_and_metric_keys(api, project):
    exp, runs = project
    body = api.get(f"/api/v1/runs/{runs[4]}/overview").json()
    assert body["run"]["status"] == "FAILED" and body["params"]["model"] == "mlp" and body["project"]["id"] == exp
    loss = next(m for m in body["metrics"] if m["key"] == "train/loss")
    assert loss["count"] == 300 and loss["max_step"] == 299
    assert api.get(f"/api/v1/runs/{'0' * 32}/overview").status_code == 404
    keys = api.get("/api/v1/metric-keys", params={"run_id": ",".join(runs[:3])}).json()
    assert keys["keys"] == ["train/loss", "val/acc"] and set(keys["runs"]) == set(runs[:3])


def test_buckets_get_and_post(api, project):
    exp, runs = project
    r = api.get("/api/v1/series/buckets", params={"key": ["train/loss", "val/acc"], "run_id": runs, "n": 50},
                headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    series = r.json()["series"]
    loss = series[0]
    assert loss["key"] == "train/loss" and len(loss["runs"]) == 5
    first = loss["runs"][0]
    assert len(first["x"]) <= 51 and first["max"][0] == pytest.approx(1.0)
    assert series[1]["runs"][0]["last"] == [pytest.approx(0.5)]
    post = api.post("/api/v1/series/buckets", json={"keys": ["train/loss"], "run_ids": runs[:1], "x": "relative",
                                                     "n": 20})
    assert post.status_code == 200 and post.json()["series"][0]["x_axis"] == "relative"
    for bad in ({"key": "k", "run_id": runs[0], "x": "sideways"}, {"key": "k", "run_id": runs[0], "n": 0},
                {"key": "k"}, {"key": "k", "run_id": runs[0], "lo": 10, "hi": 1}):
        assert api.get("/api/v1/series/buckets", params=bad).status_code == 400, bad
    assert api.get("/api/v1/series/buckets", params={"key": "k", "run_id": "f" * 32}).status_code == 404
    assert api.post("/api/v1/series/buckets", json={"keys": "k"}).status_code == 400


def test_console_search_media_and_artifact_preview(api, project, mlflow_client, tmp_path):
    exp, runs = project
    rid = runs[0]
    (tmp_path / "cfg.json").write_text('{"a": [1, 2]}')
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    mlflow_client.log_artifact(rid, str(tmp_path / "cfg.json"))
    mlflow_client.log_artifact(rid, str(tmp_path / "table.csv"), "tables")
    mlflow_client.log_artifact(rid, str(tmp_path / "pic.png"), "media/image")
    w = api.post(f"/api/v1/runs/{rid}/batches", json={
        "idempotency_key": f"console-{rid}",
        "console": {"line": list(range(1, 21)), "level": ["ERROR" if i == 7 else "INFO" for i in range(1, 21)],
                    "message": [f"epoch {i} loss ok" for i in range(1, 21)], "timestamp": [1] * 20},
        "media": [{"key": "samples", "step": s, "kind": "image", "path": "media/image/pic.png"} for s in (0, 5)],
    })
    assert w.status_code == 200, w.text
    res = api.get(f"/api/v1/runs/{rid}/console/search", params={"q": "EPOCH 1", "limit": 5}).json()
    assert res["total"] == 11 and len(res["lines"]) == 5 and res["next_line"] is not None
    assert res["lines"][0]["message"] == "epoch 1 loss ok"
    errors = api.get(f"/api/v1/runs/{rid}/console/search", params={"level": "ERROR"}).json()
    assert [ln["line"] for ln in errors["lines"]] == [7] and errors["last_line"] == 20
    assert api.get(f"/api/v1/runs/{rid}/console/search", params={"level": "LOUD"}).status_code == 400

    index = api.get(f"/api/v1/runs/{rid}/media-index").json()["keys"]
    assert index == [{"key": "samples", "kind": "image", "steps": [0, 5], "counts": [1, 1]}]
    items = api.get(f"/api/v1/runs/{rid}/media-at", params={"key": "samples", "step": 5}).json()["items"]
    assert len(items) == 1 and api.get(items[0]["url"]).content.startswith(b"\x89PNG")
    assert api.get(f"/api/v1/runs/{rid}/media-at", params={"key": "samples"}).status_code == 400

    p = api.get(f"/api/v1/runs/{rid}/artifact-preview", params={"path": "cfg.json"}).json()
    assert p["kind"] == "json" and '"a": [' in p["text"]
    p = api.get(f"/api/v1/runs/{rid}/artifact-preview", params={"path": "tables/table.csv"}).json()
    assert p["kind"] == "csv" and p["text"].startswith("a,b")
    p = api.get(f"/api/v1/runs/{rid}/artifact-preview", params={"path": "media/image/pic.png"}).json()
    assert p["kind"] == "image" and p["text"] is None
    assert api.get(f"/api/v1/runs/{rid}/artifact-preview", params={"path": "nope.txt"}).status_code == 404
    assert api.get(f"/api/v1/runs/{rid}/artifact-preview", params={"path": "../x"}).status_code == 400


def test_read_routes_in_openapi(api):
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    for p in ("/projects/overview", "/projects/{project_id}/run-table", "/projects/{project_id}/keys",
              "/series/buckets", "/metric-keys", "/runs/{run_id}/overview", "/runs/{run_id}/media-index",
              "/runs/{run_id}/media-at", "/runs/{run_id}/console/search", "/runs/{run_id}/artifact-preview"):
        assert p in paths, p
    assert set(paths["/series/buckets"]) == {"get", "post"}

