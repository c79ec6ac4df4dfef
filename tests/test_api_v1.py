"""The native API `/api/v1` on a live server: OpenAPI document, projects, runs, columnar write
batches (one transaction, idempotent), reads, artifacts, limits and errors (always 4xx)."""

import uuid

import pytest
import requests

from tests.no5xx import no_5xx  # noqa: F401


def v1(api, method, path, **kw):
    return requests.request(method.upper(), api.base + "/api/v1" + path, timeout=120, **kw)


def new_run(api, project, **fields):
    body = {"project": project, "run_id": uuid.uuid4().hex, **fields}
    r = v1(api, "post", "/runs", json=body)
    assert r.status_code == 201, r.text
    return r.json()["run"]


def test_openapi_document_lists_every_route(api):
    r = v1(api, "get", "/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, method in [("/projects", "post"), ("/projects", "get"), ("/runs", "post"), ("/runs", "get"),
                         ("/runs/{run_id}", "patch"), ("/runs/{run_id}/batches", "post"),
                         ("/runs/{run_id}/metrics/history", "get"), ("/runs/{run_id}/artifacts/{path}", "put")]:
        assert method in paths[path], (path, method)
    schemas = doc["components"]["schemas"]
    assert {"Error", "Run", "Project", "WriteBatch", "MediaItem"} <= set(schemas)
    # every $ref points at a component that exists
    import json
    import re

    for ref in set(re.findall(r'"\$ref": "#/components/([^"]+)"', json.dumps(doc))):
        section, name = ref.split("/")
        assert name in doc["components"][section], ref


def test_projects_create_get_list(api, unique_name):
    r = v1(api, "post", "/projects", json={"name": unique_name, "tags": {"team": "a"}})
    assert r.status_code == 201 and r.json()["created"] is True
    project = r.json()["project"]
    assert project["name"] == unique_name and project["tags"] == {"team": "a"}
    again = v1(api, "post", "/projects", json={"name": unique_name})
    assert again.status_code == 400 and again.json()["error"]["code"] == "RESOURCE_ALREADY_EXISTS"
    ok = v1(api, "post", "/projects", json={"name": unique_name, "exist_ok": True})
    assert ok.status_code == 200 and ok.json()["project"]["id"] == project["id"] and ok.json()["created"] is False
    assert v1(api, "get", f"/projects/{project['id']}").json()["project"]["name"] == unique_name
    found = v1(api, "get", "/projects", params={"name": unique_name}).json()["projects"]
    assert [p["id"] for p in found] == [project["id"]]
    listed = v1(api, "get", "/projects", params={"page_size": 1000}).json()["projects"]
    assert project["id"] in [p["id"] for p in listed]
    assert v1(api, "get", "/projects/999999999").status_code == 404


def test_run_with_given_id_times_tags_params_status(api, unique_name):
    run_id = uuid.uuid4().hex
    body = {"project": unique_name, "run_id": run_id, "name": "imported", "start_time": 1_600_000_000_000,
            "end_time": 1_600_000_360_000, "status": "FINISHED", "tags": {"source.id": "abc"},
            "params": {"lr": "0.1"}, "user": "importer"}
    r = v1(api, "post", "/runs", json=body)
    assert r.status_code == 201, r.text
    run = r.json()["run"]
    assert run["run_id"] == run_id and run["name"] == "imported" and run["user"] == "importer"
    assert run["start_time"] == 1_600_000_000_000 and run["end_time"] == 1_600_000_360_000
    assert run["status"] == "FINISHED" and run["tags"]["source.id"] == "abc" and run["params"] == {"lr": "0.1"}
    dup = v1(api, "post", "/runs", json=body)
    assert dup.status_code == 400 and dup.json()["error"]["code"] == "RESOURCE_ALREADY_EXISTS"
    resent = v1(api, "post", "/runs", json={**body, "exist_ok": True, "name": "other"})
    assert resent.status_code == 200 and resent.json()["run"]["name"] == "imported"
    other = v1(api, "post", "/runs", json={"project": unique_name + "-b", "run_id": run_id, "exist_ok": True})
    assert other.status_code == 409
    for bad in ({"run_id": "XYZ"}, {"run_id": "A" * 32}, {"status": "DONE"}, {"start_time": -1},
                {"start_time": "yesterday"}, {"tags": {"k": 1}}, {"params": ["x"]}, {"name": "n" * 300}):
        r = v1(api, "post", "/runs", json={"project": unique_name, **bad})
        assert r.status_code == 400, (bad, r.text)
        assert set(r.json()["error"]) == {"code", "message"}


def test_update_and_delete_run(api, unique_name):
    run = new_run(api, unique_name)
    r = v1(api, "patch", f"/runs/{run['run_id']}", json={"name": "renamed", "status": "KILLED"})
    assert r.status_code == 200
    got = r.json()["run"]
    assert got["name"] == "renamed" and got["status"] == "KILLED" and got["end_time"] is not None
    assert got["tags"]["mlflow.runName"] == "renamed"
    assert v1(api, "patch", f"/runs/{run['run_id']}", json={}).status_code == 400
    assert v1(api, "patch", f"/runs/{run['run_id']}", json={"status": "NOPE"}).status_code == 400
    assert v1(api, "patch", f"/runs/{'f' * 32}", json={"status": "FINISHED"}).status_code == 404
    assert v1(api, "delete", f"/runs/{run['run_id']}").status_code == 200
    assert v1(api, "get", f"/runs/{run['run_id']}").json()["run"]["lifecycle_stage"] == "deleted"


def test_list_runs_filter_sort_paging(api, unique_name):
    ids = []
    for i in range(7):
        run = new_run(api, unique_name, start_time=1_000_000 + i, tags={"parity": "even" if i % 2 == 0 else "odd"})
        ids.append(run["run_id"])
        v1(api, "post", f"/runs/{run['run_id']}/batches",
           json={"idempotency_key": "m", "metrics": {"key": ["acc"], "value": [i / 10]}})
    pid = v1(api, "get", "/projects", params={"name": unique_name}).json()["projects"][0]["id"]
    seen, token = [], None
    while True:
        params = {"project_id": pid, "page_size": 3, "order_by": "metrics.acc DESC"}
        if token:
            params["page_token"] = token
        page = v1(api, "get", "/runs", params=params).json()
        seen += [r["run_id"] for r in page["runs"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == list(reversed(ids))
    even = v1(api, "get", "/runs", params={"project": unique_name, "filter": "tags.parity = 'even' and metrics.acc > 0.3",
                                           "order_by": "attributes.start_time ASC"}).json()["runs"]
    assert [r["run_id"] for r in even] == [ids[4], ids[6]]
    assert v1(api, "get", "/runs", params={"project": unique_name, "filter": "metrics.acc >>> 1"}).status_code == 400
    assert v1(api, "get", "/runs", params={"project": unique_name, "page_size": "many"}).status_code == 400
    assert v1(api, "get", "/runs", params={"project": unique_name, "page_size": 0}).status_code == 400
    assert v1(api, "get", "/runs").status_code == 400
    assert v1(api, "get", "/runs", params={"project": "no-such-project-" + unique_name}).status_code == 404


def _batch(key="k1", **extra):
    return {"idempotency_key": key, **extra}


def test_columnar_batch_everything_and_idempotent_resend(api, unique_name):
    run = new_run(api, unique_name)
    rid = run["run_id"]
    put = v1(api, "put", f"/runs/{rid}/artifacts/media/image/img/0-0-x.png", data=b"\x89PNG fake")
    assert put.status_code == 200 and put.json()["size"] == 9
    n = 50_000
    body = _batch(
        metrics={"key": ["loss", "acc"] * (n // 2), "step": [i // 2 for i in range(n)],
                 "timestamp": [1000 + i for i in range(n)], "value": [float(i) for i in range(n)]},
        params={"lr": "0.01"}, tags={"phase": "train"},
        media=[{"key": "img", "step": 0, "kind": "image", "path": "media/image/img/0-0-x.png", "caption": "c"}],
        console={"line": [1, 2, 3], "message": ["a", "b", "c"], "level": ["INFO", "ERROR", "INFO"]},
    )
    first = v1(api, "post", f"/runs/{rid}/batches", json=body)
    assert first.status_code == 200, first.text
    assert first.json() == {"applied": True, "inserted": {"metrics": n, "media": 1, "console": 3}}
    again = v1(api, "post", f"/runs/{rid}/batches", json=body)
    assert again.json()["applied"] is False
    # the same content under another key: points, media and lines are not stored twice either
    other = v1(api, "post", f"/runs/{rid}/batches", json={**body, "idempotency_key": "k2"})
    assert other.json() == {"applied": True, "inserted": {"metrics": 0, "media": 0, "console": 0}}
    got = v1(api, "get", f"/runs/{rid}").json()["run"]
    assert got["params"] == {"lr": "0.01"} and got["tags"]["phase"] == "train"
    assert got["metrics"]["loss"]["step"] == n // 2 - 1
    hist = v1(api, "get", f"/runs/{rid}/metrics/history", params={"key": "acc"}).json()
    assert len(hist["step"]) == n // 2 and hist["value"][:2] == [1.0, 3.0] and hist["next_page_token"] is None
    page = v1(api, "get", f"/runs/{rid}/metrics/history", params={"key": "acc", "page_size": 10_000}).json()
    assert len(page["step"]) == 10_000 and page["next_page_token"]
    media = v1(api, "get", f"/runs/{rid}/media").json()["media"]
    assert [(m["key"], m["kind"], m["caption"]) for m in media] == [("img", "image", "c")]
    con = v1(api, "get", f"/runs/{rid}/console").json()
    assert con["message"] == ["a", "b", "c"] and con["level"][1] == "ERROR" and con["last_line"] == 3
    assert v1(api, "get", f"/runs/{rid}/artifacts/media/image/img/0-0-x.png").content == b"\x89PNG fake"
    files = v1(api, "get", f"/runs/{rid}/artifacts", params={"path": "media/image/img"}).json()["files"]
    assert [f["path"] for f in files] == ["media/image/img/0-0-x.png"]


def test_batch_is_one_transaction(api, unique_name):
    """A batch that fails (a param changing value) writes none of its metrics, tags, media or lines."""
    run = new_run(api, unique_name, params={"lr": "0.1"})
    rid = run["run_id"]
    bad = _batch("t1", metrics={"key": ["x"] * 3, "value": [1.0, 2.0, 3.0], "step": [0, 1, 2]},
                 params={"lr": "0.2"}, tags={"t": "v"},
                 media=[{"key": "m", "kind": "text", "path": "media/text/m/0.txt"}],
                 console={"line": [1], "message": ["hello"]})
    r = v1(api, "post", f"/runs/{rid}/batches", json=bad)
    assert r.status_code == 400 and "Changing param values" in r.json()["error"]["message"]
    got = v1(api, "get", f"/runs/{rid}").json()["run"]
    assert "x" not in got["metrics"] and "t" not in got["tags"]
    assert v1(api, "get", f"/runs/{rid}/media").json()["media"] == []
    assert v1(api, "get", f"/runs/{rid}/console").json()["line"] == []
    # the key was not consumed by the failed batch: fixed, the same key applies
    good = {**bad, "params": {"lr": "0.1"}}
    assert v1(api, "post", f"/runs/{rid}/batches", json=good).json()["applied"] is True


def test_values_conversions_and_nan(api, unique_name):
    rid = new_run(api, unique_name)["run_id"]
    body = _batch(metrics={"key": ["v"] * 6, "step": [0, 1, 2, 3, 4, 5],
                           "value": [1, 2.5, None, "NaN", "Infinity", "-Infinity"]})
    assert v1(api, "post", f"/runs/{rid}/batches", json=body).status_code == 200
    hist = v1(api, "get", f"/runs/{rid}/metrics/history", params={"key": "v"}).json()
    assert hist["value"] == [1.0, 2.5, "NaN", "NaN", "Infinity", "-Infinity"]


@pytest.mark.parametrize("body, status, needle", [
    ({}, 400, "idempotency_key"),
    (_batch(metrics=[1, 2]), 400, "metrics"),
    (_batch(metrics={"key": ["a"]}), 400, "value is required"),
    (_batch(metrics={"key": ["a", "b"], "value": [1.0]}), 400, "equally long"),
    (_batch(metrics={"key": ["a"], "value": [True]}), 400, "value[0]"),
    (_batch(metrics={"key": ["a"], "value": ["12"]}), 400, "value[0]"),
    (_batch(metrics={"key": ["a"], "value": [{"x": 1}]}), 400, "value[0]"),
    (_batch(metrics={"key": ["a"], "value": [10**400]}), 400, "Malformed JSON"),  # beyond a double
    (_batch(metrics={"key": [1], "value": [1.0]}), 400, "key[0]"),
    (_batch(metrics={"key": ["bad key?"], "value": [1.0]}), 400, "Invalid metric name"),
    (_batch(metrics={"key": ["k" * 300], "value": [1.0]}), 400, "length"),
    (_batch(metrics={"key": ["a"], "value": [1.0], "step": [1.5]}), 400, "step[0]"),
    (_batch(metrics={"key": ["a"], "value": [1.0], "step": [2**64]}), 400, "step[0]"),
    (_batch(metrics={"key": ["a"], "value": [1.0], "timestamp": [-5]}), 400, "timestamp[0]"),
    (_batch(metrics={"key": ["a"], "value": [1.0], "extra": [1]}), 400, "Unknown metrics columns"),
    (_batch(params={"p": 1}), 400, "must be a string"),
    (_batch(params={"p": "x" * 7000}), 400, "length limit"),
    (_batch(tags={"t": "x" * 9000}), 400, "length limit"),
    (_batch(media=[{"key": "m", "kind": "image", "path": "../../etc/passwd"}]), 400, ".."),
    (_batch(media=[{"key": "m", "kind": "weird", "path": "a.png"}]), 400, "media kind"),
    (_batch(media=[{"key": "m", "kind": "image", "path": "/abs.png"}]), 400, "absolute"),
    (_batch(console={"message": ["x"]}), 400, "console.line"),
    (_batch(console={"line": [1], "message": [5]}), 400, "console.message[0]"),
    (_batch(bogus=1), 400, "Unknown fields"),
    (_batch(idempotency_key="k" * 201), 400, "idempotency_key"),
])
def test_bad_batches_are_400_with_a_message(api, unique_name, body, status, needle):
    rid = new_run(api, unique_name)["run_id"]
    r = v1(api, "post", f"/runs/{rid}/batches", json=body)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"]


def test_limits_and_malformed_bodies(api, unique_name):
    rid = new_run(api, unique_name)["run_id"]
    big = _batch(metrics={"key": ["a"] * 100_001, "value": [1.0] * 100_001})
    r = v1(api, "post", f"/runs/{rid}/batches", json=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    lines = _batch(console={"line": list(range(100_001)), "message": ["x"] * 100_001})
    assert v1(api, "post", f"/runs/{rid}/batches", json=lines).status_code == 413
    for raw in (b"{nope", b"[1,2]", b'"s"', b"\xff\xfe", b'{"a":' * 100_000):
        r = v1(api, "post", f"/runs/{rid}/batches", data=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (raw[:10], r.text)
        assert r.json()["error"]["code"]
    assert v1(api, "post", f"/runs/{'0' * 32}/batches", json=_batch()).status_code == 404
    assert v1(api, "post", "/runs/not-a-run/batches", json=_batch()).status_code == 404


def test_unknown_routes_and_methods_answer_in_the_error_format(api):
    r = v1(api, "get", "/nothing/here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "ENDPOINT_NOT_FOUND"
    r = v1(api, "put", "/projects")
    assert r.status_code in (404, 405) and "error" in r.json()


def test_artifact_paths_cannot_escape(api, unique_name):
    rid = new_run(api, unique_name)["run_id"]
    for path in ("../x", "a/../../x", "%2e%2e/x", "a\\b"):
        r = requests.put(f"{api.base}/api/v1/runs/{rid}/artifacts/{path}", data=b"x", timeout=30)
        assert r.status_code in (400, 404), (path, r.status_code)
    assert v1(api, "get", f"/runs/{rid}/artifacts/missing.txt").status_code == 404


def test_bearer_key_identifies_the_user(api, server, unique_name):
    key = (server.home / "admin_api_key").read_text().strip()
    me = v1(api, "get", "/me", headers={"Authorization": f"Bearer {key}"}).json()
    assert me["user"]["name"] == "admin"
    assert v1(api, "get", "/me").json()["user"] is None
    for header in ("Bearer wrong", "Basic abc", "Bearer "):
        r = v1(api, "get", "/me", headers={"Authorization": header})
        assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"
    r = v1(api, "post", "/runs", json={"project": unique_name, "user": "someone-else"},
           headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 201 and r.json()["run"]["user"] == "admin"


def test_v1_runs_are_mlflow_runs(api, mlflow_client, unique_name):
    rid = new_run(api, unique_name, params={"a": "1"})["run_id"]
    v1(api, "post", f"/runs/{rid}/batches",
       json=_batch(metrics={"key": ["loss"] * 3, "step": [0, 1, 2], "value": [3.0, 2.0, 1.0]}))
    run = mlflow_client.get_run(rid)
    assert run.data.params == {"a": "1"} and run.data.metrics == {"loss": 1.0}
    assert [m.value for m in mlflow_client.get_metric_history(rid, "loss")] == [3.0, 2.0, 1.0]
