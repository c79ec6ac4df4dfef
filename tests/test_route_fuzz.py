"""Every route of the app, fed wrong types, odd paths and broken bodies: none may answer 5xx.

The app runs in-process (Flask's test client) on its own database (SQLite, or a fresh one on the
back end SWAN_TEST_BACKEND names, where out-of-range integers and odd strings meet another
driver), with an MLflow run and a SwanLab project, experiment and session, so that requests get
past the lookups into the parsing and the services. Each request picks a route and method at
random from the app's URL map, fills its path arguments with real ids or odd strings (`..`,
encoded dots, long digit runs), and sends a JSON object whose keys are field names of the MLflow
and SwanLab protocols and whose values are of the wrong kind (null, booleans, out-of-range
integers, lists, objects, NaN, long strings), or a body that is not JSON at all. The seeds are fixed, so a failure reproduces; the message lists each failing route once,
with the request that failed it.

This found a 500 in the logged-model PATCH (a status given as a list or an object), now a 400."""

from __future__ import annotations

import json
import logging
import os
import random

import pytest

from swan_server.app import create_app
from swan_server.config import Settings
from tests.databases import TempDatabase, selected_backend

REQUESTS_PER_SEED = 4000
SEEDS = (1, 2)  # seed 1 meets the logged-model 500 below within its 4,000 requests

FIELDS = [
    "run_id", "run_uuid", "experiment_id", "experiment_ids", "name", "key", "value", "timestamp", "step",
    "metrics", "params", "tags", "filter", "filter_string", "max_results", "page_token", "order_by",
    "view_type", "run_view_type", "path", "metric_key", "start_step", "end_step", "run_ids", "new_name",
    "status", "end_time", "start_time", "datasets", "inputs", "version", "alias", "description", "source",
    "model_id", "experimentId", "projectId", "type", "index", "data", "create_time", "username", "password",
    "keys", "x_axis", "buckets", "paths", "files", "state", "cuid", "limit", "offset",
]
NOT_JSON = [b"{", b"null", b"[]", b"\xff\xfe", b'{"a": NaN}', b"1", b'"s"', b"{" * 5000, b""]


@pytest.fixture(scope="module")
def fuzz_uri(tmp_path_factory):
    """Its own database on every back end (the admin key is this test's), dropped even when the
    app's setup below fails."""
    backend = selected_backend()
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('fuzz-db') / 'fuzz.db'}"
        return
    database = TempDatabase(backend).create()
    try:
        yield database.uri
    finally:
        database.drop()


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, monkeypatch_module, fuzz_uri):
    tmp = tmp_path_factory.mktemp("fuzz")
    monkeypatch_module.setenv("SWAN_HOME", str(tmp / "home"))
    app = create_app(Settings(backend_store_uri=fuzz_uri, artifacts_destination=str(tmp / "art")))
    client = app.test_client()
    try:
        yield app, client, _seed(app, client, tmp / "home")
    finally:
        app.extensions["swan"].store.engine.dispose()


def _seed(app, client, home) -> dict:
    """An MLflow run, a SwanLab session (the sid cookie the SDK sends) and a SwanLab project and
    experiment with a few scalars, made as the clients make them, so that requests reach past the
    lookups; the ids, for the fuzzer to use. The session cookie stays in `client`."""
    exp = client.post("/api/2.0/mlflow/experiments/create", json={"name": "fuzz"}).get_json()["experiment_id"]
    run = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": exp}).get_json()["run"]["info"]["run_id"]
    client.post("/api/2.0/mlflow/runs/log-batch", json={
        "run_id": run, "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 1}],
        "params": [{"key": "p", "value": "v"}]})
    key = (app.extensions["swan"].identity.ensure_admin(home) or os.environ.get("SWAN_ADMIN_API_KEY")
           or (home / "admin_api_key").read_text().strip())
    login = client.post("/api/login/api_key", headers={"authorization": key})
    assert login.status_code == 200, login.get_data()[:300]
    client.set_cookie("sid", login.get_json()["sid"])
    user = login.get_json()["userInfo"]["username"]
    assert client.post(f"/api/projects/{user}", json={"name": "fz", "visibility": "PRIVATE"}).status_code in (200, 201)
    project = client.get(f"/api/project/{user}/fz").get_json()["cuid"]
    made = client.post(f"/api/project/{user}/fz/experiment", json={
        "name": "e1", "cuid": "fzcuid01", "createdAt": "2026-11-29T00:00:00.000000Z", "colors": ["#528d59", "#528d59"]})
    assert made.status_code == 201, made.get_data()[:300]
    scalars = [{"key": "loss", "index": i, "data": 1.0 / (i + 1), "create_time": "2026-11-29T00:00:01.000000Z"}
               for i in range(5)]
    assert client.post("/api/house/metrics", json={"type": "scalar", "projectId": project, "experimentId": "fzcuid01",
                                                   "metrics": scalars}).status_code == 201
    return {"run": run, "exp": exp, "user": user, "project": project, "cuid": "fzcuid01"}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _odd_value(rnd: random.Random, ids: dict, depth: int = 0):
    roll = rnd.random()
    if depth < 2 and roll < 0.15:
        return [_odd_value(rnd, ids, depth + 1) for _ in range(rnd.randint(0, 3))]
    if depth < 2 and roll < 0.3:
        return {rnd.choice(FIELDS): _odd_value(rnd, ids, depth + 1) for _ in range(rnd.randint(0, 4))}
    return rnd.choice([
        None, True, False, 0, -1, 2**63, 2**64, -(2**63) - 1, 1e308, -1e308, float("nan"), 3.5, "", "x", "0",
        "-1", "1e400", "NaN", "../../etc/passwd", "%00", "\x00", "a" * 10_000, [], {}, [1, 2], {"a": 1},
        [None], "1" * 30, "\U0001f4a5", ids["run"], ids["exp"], ids["user"], ids["project"], ids["cuid"], "loss",
        [{"key": "loss", "index": 1}], "2026-11-29T00:00:00.000000Z",
    ])


def _body(rnd: random.Random, ids: dict) -> bytes:
    if rnd.random() < 0.1:
        return rnd.choice(NOT_JSON)
    doc = {name: _odd_value(rnd, ids) for name in rnd.sample(FIELDS, rnd.randint(0, 8))}
    if rnd.random() < 0.5:  # a real run often, so the request gets past the run lookup
        doc["run_id"] = ids["run"]
    if rnd.random() < 0.3:
        doc["experiment_id"] = ids["exp"]
    if rnd.random() < 0.3:  # and the SwanLab ids, for the same reason
        doc.update(experimentId=ids["cuid"], projectId=ids["project"])
    return json.dumps(doc, allow_nan=True).encode()


def _query(rnd: random.Random, ids: dict) -> str:
    picks = ["", "1", "x", "-1", ids["run"], ids["exp"], ids["cuid"], "99999999999999999999", "m", "loss", "step",
             "time", "true"]
    return "&".join(f"{name}={rnd.choice(picks)}" for name in rnd.sample(FIELDS, rnd.randint(0, 4)))


@pytest.mark.parametrize("seed", SEEDS)
def test_no_route_answers_5xx_to_wrong_types(fuzz_app, seed):
    app, client, ids = fuzz_app
    rnd = random.Random(seed)
    routes = sorted(((method, rule) for rule in app.url_map.iter_rules()
                     for method in rule.methods - {"HEAD", "OPTIONS"}), key=lambda mr: (mr[1].rule, mr[0]))
    assert len(routes) > 200  # the whole app, not a corner of it
    path_values = [ids["run"], ids["exp"], ids["user"], ids["project"], ids["cuid"], "fz", "loss", "scalar", "x", "0",
                   "999999", "..", "a/b", "%2e%2e", "1" * 25, "m"]
    failures: dict = {}
    logging.disable(logging.ERROR)  # the app logs each 500 with its traceback; the test reports them
    try:
        for _ in range(REQUESTS_PER_SEED):
            method, rule = rnd.choice(routes)
            try:
                path = rule.build({arg: rnd.choice(path_values) for arg in rule.arguments}, append_unknown=False)[1]
            except Exception:  # a converter refused the value: not a request anyone can send
                continue
            query = _query(rnd, ids)
            body = b""
            if method == "GET":
                response = client.get(path + ("?" + query if query else ""))
            else:
                body = _body(rnd, ids)
                response = client.open(path + ("?" + query if query and rnd.random() < 0.3 else ""), method=method,
                                       data=body, content_type=rnd.choice(
                                           ["application/json", "application/json", "text/plain",
                                            "application/x-www-form-urlencoded"]))
            if response.status_code >= 500:
                failures.setdefault(f"{method} {rule.rule}",
                                    (response.status_code, path, body[:300], response.get_data()[:200]))
            response.close()
    finally:
        logging.disable(logging.NOTSET)
    assert not failures, "\n".join(f"{route}: {detail}" for route, detail in failures.items())
