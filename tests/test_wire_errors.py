"""Wire-level errors and limits, with raw HTTP: every bad request gets a 4xx MLflow error JSON
(`{"error_code", "message"}`), never a 5xx or a traceback, and a rejected write changes nothing."""

from __future__ import annotations

import json

import pytest

API = "/api/2.0/mlflow"
T0 = 1_700_000_000_000


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
def assert_error(resp, status: int | None, code: str | None, contains: str | None = None) -> dict:
    """An MLflow error answer. status None means any 4xx; code None means any error_code."""
    if status is None:
        assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:500])
    else:
        assert resp.status_code == status, (resp.status_code, resp.text[:500])
    assert resp.headers["Content-Type"].startswith("application/json"), (resp.headers["Content-Type"], resp.text[:300])
    body = resp.json()
    assert set(body) >= {"error_code", "message"}, body
    assert isinstance(body["error_code"], str) and body["error_code"]
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["error_code"] == code, body
    assert "Traceback" not in resp.text and 'File "' not in resp.text, resp.text[:500]
    if contains is not None:
        assert contains in body["message"], body["message"]
    return body


@pytest.fixture()
def run_id(api, unique_name):
    resp = api.post(f"{API}/experiments/create", json={"name": unique_name})
    assert resp.status_code == 200, resp.text
    resp = api.post(f"{API}/runs/create", json={"experiment_id": resp.json()["experiment_id"], "start_time": T0})
    assert resp.status_code == 200, resp.text
    return resp.json()["run"]["info"]["run_id"]


def snapshot(api, run_id) -> dict:
    """Everything stored for a run: the run as get-run returns it and the history of its keys."""
    resp = api.get(f"{API}/runs/get", params={"run_id": run_id})
    assert resp.status_code == 200, resp.text
    run = resp.json()["run"]
    histories = {}
    for m in run.get("data", {}).get("metrics", []):
        h = api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": m["key"]})
        assert h.status_code == 200
        histories[m["key"]] = h.json().get("metrics", [])
    return {"run": run, "histories": histories}


def metric(key="m", value=1.0, step=0, ts=T0):
    return {"key": key, "value": value, "timestamp": ts, "step": step}


def post_batch(api, run_id, **body):
    return api.post(f"{API}/runs/log-batch", json={"run_id": run_id, **body})


# -- log-batch limits --------------------------------------------------------------------------
LIMIT_CASES = {
    "1001 metrics": dict(metrics=[metric(step=i) for i in range(1001)]),
    "101 params": dict(params=[{"key": f"p{i}", "value": "v"} for i in range(101)],
                       metrics=[metric()]),
    "101 tags": dict(tags=[{"key": f"t{i}", "value": "v"} for i in range(101)], metrics=[metric()]),
    "1001 entities": dict(metrics=[metric(step=i) for i in range(801)],
                          params=[{"key": f"p{i}", "value": "v"} for i in range(100)],
                          tags=[{"key": f"t{i}", "value": "v"} for i in range(100)]),
    "param value 6001": dict(params=[{"key": "ok", "value": "v"}, {"key": "long", "value": "x" * 6001}],
                             metrics=[metric()]),
    "tag value 8001": dict(tags=[{"key": "ok", "value": "v"}, {"key": "long", "value": "x" * 8001}],
                           metrics=[metric()]),
    "metric key 251": dict(metrics=[metric(), metric(key="k" * 251)]),
    "param key 251": dict(params=[{"key": "k" * 251, "value": "v"}], metrics=[metric()]),
    "tag key 251": dict(tags=[{"key": "k" * 251, "value": "v"}], metrics=[metric()]),
    "metric a/../b": dict(metrics=[metric(), metric(key="a/../b")]),
    "metric bad*name": dict(metrics=[metric(), metric(key="bad*name")]),
    "metric ./a": dict(metrics=[metric(), metric(key="./a")]),
    "metric /abs": dict(metrics=[metric(), metric(key="/abs")]),
    "metric a//b": dict(metrics=[metric(), metric(key="a//b")]),
    "metric ..": dict(metrics=[metric(), metric(key="..")]),
    "param bad*name": dict(params=[{"key": "bad*name", "value": "v"}], metrics=[metric()]),
    "param a/../b": dict(params=[{"key": "a/../b", "value": "v"}], metrics=[metric()]),
    "tag bad*name": dict(tags=[{"key": "bad*name", "value": "v"}], metrics=[metric()]),
    "missing metric key": dict(metrics=[metric(), {"value": 1.0, "timestamp": T0, "step": 0}]),
    "missing metric value": dict(metrics=[metric(), {"key": "n", "timestamp": T0, "step": 0}]),
    "missing param key": dict(params=[{"value": "v"}], metrics=[metric()]),
}


@pytest.mark.parametrize("case", list(LIMIT_CASES))
def test_log_batch_limits_reject_everything(api, run_id, case):
    post_batch(api, run_id, metrics=[metric("pre", 5.0)], params=[{"key": "pre", "value": "p"}],
               tags=[{"key": "pre", "value": "t"}])
    before = snapshot(api, run_id)
    assert_error(post_batch(api, run_id, **LIMIT_CASES[case]), 400, "INVALID_PARAMETER_VALUE")
    assert snapshot(api, run_id) == before


def test_log_batch_exact_limits_are_accepted(api, run_id):
    resp = post_batch(api, run_id, metrics=[metric(step=i) for i in range(1000)])
    assert resp.status_code == 200, resp.text
    # 1000 entities in one request (100 + 100 + 800), then the longest values (each request < 1 MB)
    resp = post_batch(api, run_id, metrics=[metric("n", step=i) for i in range(800)],
                      params=[{"key": f"p{i}", "value": "v"} for i in range(100)],
                      tags=[{"key": f"t{i}", "value": "w"} for i in range(100)])
    assert resp.status_code == 200, resp.text
    resp = post_batch(api, run_id, params=[{"key": f"x{i}", "value": "v" * 6000} for i in range(100)])
    assert resp.status_code == 200, resp.text
    resp = post_batch(api, run_id, tags=[{"key": f"t{i}", "value": "w" * 8000} for i in range(100)])
    assert resp.status_code == 200, resp.text
    resp = post_batch(api, run_id, metrics=[metric("k" * 250)], params=[{"key": "q" * 250, "value": "v"}],
                      tags=[{"key": "r" * 250, "value": "v"}, {"key": "ok/with spaces:and-colons_.", "value": "v"}])
    assert resp.status_code == 200, resp.text
    run = snapshot(api, run_id)["run"]
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert len(params) == 201 and params["p99"] == "v" and params["x99"] == "v" * 6000 and params["q" * 250] == "v"
    assert tags["t0"] == "w" * 8000 and "r" * 250 in tags and "ok/with spaces:and-colons_." in tags
    assert {m["key"] for m in run["data"]["metrics"]} == {"m", "n", "k" * 250}
    h = api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}).json()["metrics"]
    assert sorted(p["step"] for p in h) == list(range(1000))


def test_log_batch_body_over_1mb(api, run_id):
    before = snapshot(api, run_id)
    tags = [{"key": f"t{i}", "value": "x" * 7999} for i in range(100)]
    params = [{"key": f"p{i}", "value": "y" * 5999} for i in range(100)]
    body = json.dumps({"run_id": run_id, "tags": tags, "params": params, "metrics": [metric()]})
    assert 1_000_000 < len(body) < 2_000_000
    resp = api.post(f"{API}/runs/log-batch", data=body, headers={"Content-Type": "application/json"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "1000000")
    assert snapshot(api, run_id) == before

    # the same body sent chunked (no Content-Length) is measured too
    def chunks():
        data = body.encode()
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    resp = api.post(f"{API}/runs/log-batch", data=chunks(), headers={"Content-Type": "application/json"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert snapshot(api, run_id) == before


def test_single_item_endpoints_enforce_limits(api, run_id):
    before = snapshot(api, run_id)
    bad = [
        ("runs/log-parameter", {"key": "p", "value": "x" * 6001}),
        ("runs/log-parameter", {"key": "k" * 251, "value": "x"}),
        ("runs/log-parameter", {"key": "a/../b", "value": "x"}),
        ("runs/set-tag", {"key": "t", "value": "x" * 8001}),
        ("runs/set-tag", {"key": "k" * 251, "value": "x"}),
        ("runs/set-tag", {"key": "bad*name", "value": "x"}),
        ("runs/log-metric", {"key": "a/../b", "value": 1.0, "timestamp": T0, "step": 0}),
        ("runs/log-metric", {"key": "bad*name", "value": 1.0, "timestamp": T0, "step": 0}),
        ("runs/log-metric", {"key": "k" * 251, "value": 1.0, "timestamp": T0, "step": 0}),
    ]
    for path, body in bad:
        assert_error(api.post(f"{API}/{path}", json={"run_id": run_id, **body}), 400, "INVALID_PARAMETER_VALUE")
    assert snapshot(api, run_id) == before


# -- unknown run / endpoint / method -----------------------------------------------------------
UNKNOWN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "runs/get", None),
        ("POST", "runs/update", {"status": "FINISHED"}),
        ("POST", "runs/delete", {}),
        ("POST", "runs/restore", {}),
        ("POST", "runs/log-metric", metric()),
        ("POST", "runs/log-parameter", {"key": "p", "value": "v"}),
        ("POST", "runs/set-tag", {"key": "t", "value": "v"}),
        ("POST", "runs/delete-tag", {"key": "t"}),
        ("POST", "runs/log-batch", {"metrics": [metric()]}),
        ("POST", "runs/log-inputs", {"datasets": []}),
        ("GET", "metrics/get-history", {"metric_key": "m"}),
        ("GET", "metrics/get-history-bulk-interval", {"metric_key": "m"}),
    ],
)
def test_unknown_run_is_404(api, method, path, body):
    if method == "GET":
        params = {"run_id": UNKNOWN, "run_ids": UNKNOWN, **(body or {})}
        resp = api.get(f"{API}/{path}", params=params)
    else:
        resp = api.post(f"{API}/{path}", json={"run_id": UNKNOWN, **body})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST", UNKNOWN)


def test_unknown_endpoint_and_wrong_method(api):
    for path in (f"{API}/runs/nope", f"{API}/nope/nope", "/ajax-api/2.0/mlflow/runs/nope", "/api/2.0/mlflow"):
        assert_error(api.get(path), 404, None)
        assert_error(api.post(path, json={}), 404, None)
    # unknown non-API URL: a plain 404
    assert api.get("/no/such/page").status_code == 404
    for path in ("runs/log-batch", "runs/log-metric", "runs/create", "runs/update", "runs/set-tag"):
        assert_error(api.get(f"{API}/{path}"), 405, None)
    for path in ("runs/get", "metrics/get-history", "metrics/get-history-bulk-interval"):
        assert_error(api.post(f"{API}/{path}", json={}), 405, None)
    assert_error(api.delete(f"{API}/runs/log-batch"), 405, None)


# -- wrong types and malformed bodies ----------------------------------------------------------
def _raw(api, path, data, content_type="application/json"):
    return api.post(f"{API}/{path}", data=data, headers={"Content-Type": content_type})


BAD_BODIES = {
    "run_id number": lambda r: {"run_id": 31, "metrics": [metric()]},
    "run_id list": lambda r: {"run_id": [r], "metrics": [metric()]},
    "run_id object": lambda r: {"run_id": {"a": r}, "metrics": [metric()]},
    "value abc": lambda r: {"run_id": r, "metrics": [metric(value="abc")]},
    "value bool": lambda r: {"run_id": r, "metrics": [metric(value=True)]},
    "value list": lambda r: {"run_id": r, "metrics": [metric(value=[1])]},
    "step x": lambda r: {"run_id": r, "metrics": [metric(step="x")]},
    "step float": lambda r: {"run_id": r, "metrics": [metric(step=1.5)]},
    "step huge": lambda r: {"run_id": r, "metrics": [metric(step=2**64)]},
    "timestamp x": lambda r: {"run_id": r, "metrics": [metric(ts="x")]},
    "timestamp negative": lambda r: {"run_id": r, "metrics": [metric(), metric("n", ts=-1)]},
    "timestamp object": lambda r: {"run_id": r, "metrics": [metric(ts={"t": 1})]},
    "metrics not a list": lambda r: {"run_id": r, "metrics": {"key": "m"}},
    "metrics a string": lambda r: {"run_id": r, "metrics": "m"},
    "metrics items not objects": lambda r: {"run_id": r, "metrics": [1, 2]},
    "params not a list": lambda r: {"run_id": r, "params": "p"},
    "param value number": lambda r: {"run_id": r, "params": [{"key": "p", "value": 5}]},
    "param key number": lambda r: {"run_id": r, "params": [{"key": 5, "value": "v"}]},
    "tags items strings": lambda r: {"run_id": r, "tags": ["a"]},
    "tag value object": lambda r: {"run_id": r, "tags": [{"key": "t", "value": {"x": 1}}]},
    "key empty": lambda r: {"run_id": r, "metrics": [metric(key="")]},
    # well-typed batches (the columnar fast path) with one bad point among good ones
    "key bad*name after good points": lambda r: {"run_id": r, "metrics": [metric(step=i) for i in range(5)]
                                                 + [metric("bad*name")]},
    "step below int64 after good points": lambda r: {"run_id": r, "metrics": [metric(), metric("n", step=-(2**63) - 1)]},
    "timestamp beyond int64 after good points": lambda r: {"run_id": r, "metrics": [metric(), metric("n", ts=2**63)]},
    "value beyond a double": lambda r: {"run_id": r, "metrics": [metric(), metric("n", value=10**400)]},
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_log_batch_wrong_types(api, run_id, case):
    post_batch(api, run_id, metrics=[metric("pre", 5.0)])
    before = snapshot(api, run_id)
    resp = api.post(f"{API}/runs/log-batch", json=BAD_BODIES[case](run_id))
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert snapshot(api, run_id) == before


def test_run_id_wrong_type_message(api, run_id):
    resp = api.post(f"{API}/runs/log-metric", json={"run_id": 31, **metric()})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "Invalid value 31 for parameter 'run_id' supplied")
    resp = api.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "m", "value": "abc", "timestamp": T0})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "value")
    resp = api.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "m", "value": 1, "timestamp": T0,
                                                     "step": "x"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "step")
    resp = api.post(f"{API}/runs/log-metric", json={"key": "m", "value": 1, "timestamp": T0})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_id'")
    resp = api.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "value": "v"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'key'")
    resp = api.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "m", "timestamp": T0})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "value")
    assert snapshot(api, run_id)["run"].get("data", {}).get("metrics") is None


MALFORMED = {
    "json array": (b"[1, 2, 3]", "application/json"),
    "json string": (b'"run"', "application/json"),
    "json number": (b"42", "application/json"),
    "json null": (b"null", "application/json"),
    "malformed json": (b'{"run_id": ', "application/json"),
    "single quotes": (b"{'run_id': 'x'}", "application/json"),
    "trailing garbage": (b'{"run_id": "x"} extra', "application/json"),
    "empty body": (b"", "application/json"),
    "whitespace body": (b"   \n", "application/json"),
    "non-utf8 bytes": (b"\xff\xfe\xfa\x00\x81garbage", "application/json"),
    "non-utf8 inside string": (b'{"run_id": "\xff\xfe"}', "application/json"),
    "latin-1 text": ('{"run_id": "caf\xe9"}'.encode("latin-1"), "application/json"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "deeply nested object": (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
    "form encoded": (b"run_id=abc&key=m", "application/x-www-form-urlencoded"),
    "no content type": (b'{"run_id": 5}', ""),
}


@pytest.mark.parametrize("path", ["runs/log-batch", "runs/log-metric", "runs/log-parameter", "runs/set-tag",
                                  "runs/update", "runs/create", "runs/log-inputs", "runs/delete-tag"])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_bodies_are_4xx_json(api, path, case):
    data, content_type = MALFORMED[case]
    resp = _raw(api, path, data, content_type)
    if path == "runs/create" and case in ("empty body", "whitespace body", "no content type"):
        # an empty body is an empty request, and runs/create ignores the unknown run_id field:
        # runs/create then uses the default experiment
        assert resp.status_code == 200, resp.text
        return
    assert_error(resp, None, None)
    assert resp.status_code in (400, 404, 413), resp.status_code


def test_malformed_body_codes(api, run_id):
    assert_error(_raw(api, "runs/log-batch", b"[1]"), 400, None)
    assert_error(_raw(api, "runs/log-batch", b"{bad"), 400, None)
    assert_error(_raw(api, "runs/log-batch", b""), 400, "INVALID_PARAMETER_VALUE", "run_id")
    assert_error(_raw(api, "runs/log-batch", b"\xff\xfe\x00\x81"), 400, None)
    # a good body still works after all that
    resp = _raw(api, "runs/log-batch", json.dumps({"run_id": run_id, "metrics": [metric()]}).encode())
    assert resp.status_code == 200, resp.text


def test_bad_query_strings_on_get(api, run_id):
    cases = [
        ("runs/get", {}),
        ("runs/get", {"run_id": ""}),
        ("metrics/get-history", {"run_id": run_id, "metric_key": "m", "max_results": "ten"}),
        ("metrics/get-history", {"run_id": run_id, "metric_key": "m", "max_results": "1e3"}),
        ("metrics/get-history", {"run_id": run_id, "metric_key": "m", "page_token": "%%%"}),
        ("metrics/get-history", {"run_id": run_id, "metric_key": "m", "page_token": "eyJvZmZzZXQiOiAtNX0="}),
        ("metrics/get-history-bulk-interval", {"run_ids": run_id, "metric_key": "m", "start_step": "1.5",
                                               "end_step": "2"}),
        ("metrics/get-history-bulk-interval", {"run_ids": run_id, "metric_key": "m", "max_results": "lots"}),
    ]
    for path, params in cases:
        assert_error(api.get(f"{API}/{path}", params=params), 400, "INVALID_PARAMETER_VALUE")
    # non-UTF8 percent-escapes in the query string
    resp = api.get(f"{API}/runs/get?run_id=%ff%fe")
    assert_error(resp, None, None)


def test_no_5xx_under_garbage(api, run_id):
    """A sweep of odd requests over every run endpoint: nothing may answer 5xx."""
    posts = ["runs/create", "runs/update", "runs/delete", "runs/restore", "runs/log-metric",
             "runs/log-parameter", "runs/set-tag", "runs/delete-tag", "runs/log-batch", "runs/log-inputs",
             "runs/search"]
    bodies = [
        {"run_id": run_id, "key": None, "value": None},
        {"run_id": run_id, "key": "k", "value": float("1e308")},
        {"run_id": run_id, "experiment_id": ["1"], "tags": [{"key": None}]},
        {"run_id": run_id, "experiment_id": 1.5, "start_time": "now", "status": ["RUNNING"]},
        {"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": T0, "step": 0, "extra": [1]}],
         "unknown_field": {"x": 1}},
        {"run_id": run_id, "datasets": [{"dataset": {"name": 1, "digest": 2, "source_type": 3, "source": 4}}]},
        {"run_id": run_id, "datasets": [{"dataset": {"name": "n", "digest": "d", "source_type": "s",
                                                     "source": "x"}, "tags": "oops"}]},
        {"run_id": run_id, "max_results": "a", "order_by": 5, "filter": 7, "experiment_ids": "1"},
        {"run_id": run_id, "run_name": 5, "end_time": 1.5},
        {"run_id": "", "run_uuid": ""},
        {"run_id": "x" * 10_000},
        {"run_id": "../../etc/passwd"},
        {"run_id": "'; DROP TABLE runs; --"},
    ]
    statuses = []
    for path in posts:
        for body in bodies:
            resp = api.post(f"{API}/{path}", json=body)
            statuses.append((path, resp.status_code))
            assert resp.status_code < 500, (path, body, resp.status_code, resp.text[:300])
            if resp.status_code >= 400:
                assert_error(resp, None, None)
    # the run survived all of it
    assert api.get(f"{API}/runs/get", params={"run_id": run_id}).status_code == 200
    assert any(s >= 400 for _, s in statuses)


def test_error_format_is_plain_mlflow_json(api, run_id):
    resp = api.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "1"})
    assert resp.status_code == 200 and resp.json() == {}
    resp = api.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "2"})
    body = assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "p")
    assert set(body) <= {"error_code", "message", "sqlstate", "error_class", "details"}


RAW_VALUE_CASES = {
    # an integer literal beyond the double range
    "huge integer metric value": ("runs/log-metric", '{"run_id": "%s", "key": "m", "value": 1%s, "timestamp": 1, "step": 0}'
                                  % ("{run}", "0" * 400)),
    "huge integer in batch": ("runs/log-batch", '{"run_id": "%s", "metrics": [{"key": "m", "value": 1%s, "timestamp": 1}]}'
                              % ("{run}", "0" * 400)),
    "more than 4300 digits": ("runs/log-metric", '{"run_id": "%s", "key": "m", "value": 1, "timestamp": 1, "step": %s}'
                              % ("{run}", "9" * 5000)),
    "NaN timestamp literal": ("runs/log-metric", '{"run_id": "{run}", "key": "m", "value": 1, "timestamp": NaN}'),
    "Infinity step literal": ("runs/log-metric", '{"run_id": "{run}", "key": "m", "value": 1, "timestamp": 1, "step": Infinity}'),
    # lone UTF-16 surrogates arrive through JSON escapes; no database can store them
    "surrogate param value": ("runs/log-parameter", '{"run_id": "{run}", "key": "p", "value": "a\\ud800b"}'),
    "surrogate tag value": ("runs/set-tag", '{"run_id": "{run}", "key": "t", "value": "\\udfff"}'),
    "surrogate metric key": ("runs/log-metric", '{"run_id": "{run}", "key": "m\\ud800", "value": 1, "timestamp": 1}'),
    "surrogate batch tag": ("runs/log-batch", '{"run_id": "{run}", "tags": [{"key": "t", "value": "\\ud800"}]}'),
    "surrogate run_id": ("runs/log-parameter", '{"run_id": "\\ud800", "key": "p", "value": "v"}'),
    "surrogate run name": ("runs/update", '{"run_id": "{run}", "run_name": "\\ud800"}'),
    "surrogate dataset": ("runs/log-inputs", '{"run_id": "{run}", "datasets": [{"dataset": {"name": "\\ud800", '
                          '"digest": "d", "source_type": "s", "source": "x"}}]}'),
    "NUL in param value": ("runs/log-parameter", '{"run_id": "{run}", "key": "p", "value": "a\\u0000b"}'),
    "NUL in tag value": ("runs/set-tag", '{"run_id": "{run}", "key": "t", "value": "\\u0000"}'),
}


@pytest.mark.parametrize("case", list(RAW_VALUE_CASES))
def test_unstorable_values_are_400(api, run_id, case):
    path, template = RAW_VALUE_CASES[case]
    before = snapshot(api, run_id)
    resp = _raw(api, path, template.replace("{run}", run_id).encode())
    assert_error(resp, 400, None)
    assert snapshot(api, run_id) == before


def test_unicode_text_is_stored_verbatim(api, run_id):
    text = "héllo ✓ 中文 😀 \t tab"
    assert api.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": text}).status_code == 200
    assert api.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "t", "value": text}).status_code == 200
    resp = _raw(api, "runs/set-tag", ('{"run_id": "%s", "key": "e", "value": "\\ud83d\\ude00"}' % run_id).encode())
    assert resp.status_code == 200, resp.text  # a valid surrogate pair is one character
    data = snapshot(api, run_id)["run"]["data"]
    assert {"key": "p", "value": text} in data["params"]
    tags = {t["key"]: t["value"] for t in data["tags"]}
    assert tags["t"] == text and tags["e"] == "😀"
