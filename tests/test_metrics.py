"""Metrics against a live server: logging, latest values, histories (paged), the bulk-interval
sampler, NaN/Infinity on the wire, and retried batches."""

from __future__ import annotations

import math
import random
import struct

import pytest
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from sqlalchemy import select

from swan_server.db import schema
from swan_server.db.engine import make_engine

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
def new_run_id(client, name) -> str:
    return client.create_run(client.create_experiment(name)).info.run_id


def assert_error(resp, status: int, code: str, contains: str | None = None) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in resp.text
    if contains is not None:
        assert contains in body["message"], body["message"]
    return body


def history(api, run_id, key, **params) -> dict:
    resp = api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": key, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


def full_raw_history(api, run_id, key, page_size) -> tuple[list[dict], int]:
    """Follow next_page_token to the end; returns (points, pages)."""
    points, token, pages = [], None, 0
    while True:
        params = {"max_results": page_size}
        if token:
            params["page_token"] = token
        page = history(api, run_id, key, **params)
        pages += 1
        batch = page.get("metrics", [])
        assert len(batch) <= page_size
        points += batch
        token = page.get("next_page_token")
        if not token:
            return points, pages
        assert batch, "a page with a next_page_token must not be empty"
        assert pages < 10_000


def bulk(api, run_ids, key, **params):
    return api.get(
        f"{API}/metrics/get-history-bulk-interval", params={"run_ids": run_ids, "metric_key": key, **params}
    )


def latest(client, run_id) -> dict:
    return client.get_run(run_id).data.metrics


def wire_float(v) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[v] if isinstance(v, str) else float(v)


def same_float(a, b) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


# -- logging and history -----------------------------------------------------------------------
def test_log_metric_and_history_round_trip(mlflow_client, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    logged = [(0, T0 + 5, 0.25), (1, T0 + 1, -3.5), (2, T0 + 9, 1e-300), (7, T0 + 2, 123456789.125),
              (-1, T0, 42.0), (2**53, T0 + 3, 1.0), (0, 1, 7.0)]
    for step, ts, value in logged:
        mlflow_client.log_metric(run_id, "loss", value, timestamp=ts, step=step)
    hist = mlflow_client.get_metric_history(run_id, "loss")
    assert sorted((m.step, m.timestamp, m.value) for m in hist) == sorted(logged)
    assert all(m.key == "loss" for m in hist)
    # step defaults to 0 and timestamp to "now"
    mlflow_client.log_metric(run_id, "plain", 3.0)
    (point,) = mlflow_client.get_metric_history(run_id, "plain")
    assert point.step == 0 and point.value == 3.0 and point.timestamp > T0


def test_history_of_missing_key_and_run(mlflow_client, api, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    assert mlflow_client.get_metric_history(run_id, "never") == []
    assert history(api, run_id, "never").get("metrics", []) == []
    resp = api.get(f"{API}/metrics/get-history", params={"run_id": "a" * 32, "metric_key": "m"})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    resp = api.get(f"{API}/metrics/get-history", params={"run_id": run_id})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "metric_key")
    resp = api.get(f"{API}/metrics/get-history", params={"metric_key": "m"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE", "run_id")
    for bad in ("0", "-5", "abc"):
        resp = api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m", "max_results": bad})
        assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    resp = api.get(f"{API}/metrics/get-history",
                   params={"run_id": run_id, "metric_key": "m", "page_token": "not-a-token!"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_history_legacy_run_uuid(mlflow_client, api, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    mlflow_client.log_metric(run_id, "m", 1.0, timestamp=T0, step=3)
    resp = api.get(f"{API}/metrics/get-history", params={"run_uuid": run_id, "metric_key": "m"})
    assert resp.status_code == 200
    assert resp.json()["metrics"] == [{"key": "m", "value": 1.0, "timestamp": T0, "step": 3}]


def test_history_paged_over_25000_points(mlflow_client, api, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    n = 25_000 + 1_234
    expected = [(i, T0 + 7 * i, i * 0.5 - 100.0) for i in range(n)]
    mlflow_client.log_batch(run_id, metrics=[Metric("loss", v, ts, s) for s, ts, v in expected])

    # the client asks for 25,000 a page and follows next_page_token
    hist = mlflow_client.get_metric_history(run_id, "loss")
    assert len(hist) == n
    assert sorted((m.step, m.timestamp, m.value) for m in hist) == expected

    # raw: exactly two pages at 25,000, the first carries a token, the last does not
    first = history(api, run_id, "loss", max_results=25_000)
    assert len(first["metrics"]) == 25_000 and first.get("next_page_token")
    second = history(api, run_id, "loss", max_results=25_000, page_token=first["next_page_token"])
    assert len(second["metrics"]) == n - 25_000 and "next_page_token" not in second
    raw = first["metrics"] + second["metrics"]
    assert sorted((p["step"], p["timestamp"], p["value"]) for p in raw) == expected

    # without max_results the whole history comes back in one answer
    assert len(history(api, run_id, "loss")["metrics"]) == n
    assert mlflow_client.get_run(run_id).data.metrics == {"loss": expected[-1][2]}


def test_history_small_pages(mlflow_client, api, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    expected = [(s, T0 + s, float(s * s)) for s in range(53)]
    mlflow_client.log_batch(run_id, metrics=[Metric("sq", v, ts, s) for s, ts, v in expected])
    for size in (1, 7, 52, 53, 54):
        points, pages = full_raw_history(api, run_id, "sq", size)
        assert sorted((p["step"], p["timestamp"], p["value"]) for p in points) == expected, size
        assert len(points) == 53  # no point twice across pages
        assert pages == -(-53 // size), (size, pages)


def test_history_max_results_above_page_limit(mlflow_client, api, unique_name):
    """MLflow accepts any positive max_results on get-history."""
    run_id = new_run_id(mlflow_client, unique_name)
    mlflow_client.log_batch(run_id, metrics=[Metric("m", float(i), T0, i) for i in range(10)])
    points, _ = full_raw_history(api, run_id, "m", 100_000)
    assert sorted(p["step"] for p in points) == list(range(10))


def test_large_and_negative_steps_and_timestamps(mlflow_client, api, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    big = 2**63 - 1
    logged = [(big, big, 1.0), (-(2**63), 0, 2.0), (2**53 + 1, 5, 3.0)]
    for step, ts, value in logged:
        resp = api.post(f"{API}/runs/log-metric",
                        json={"run_id": run_id, "key": "edge", "value": value, "timestamp": ts, "step": step})
        assert resp.status_code == 200, resp.text
    raw = history(api, run_id, "edge")["metrics"]
    assert sorted((p["step"], p["timestamp"], p["value"]) for p in raw) == sorted(logged)
    assert all(isinstance(p["step"], int) and isinstance(p["timestamp"], int) for p in raw)
    # int64 fields also accepted as strings (proto3 JSON)
    resp = api.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "s", "value": "2.5",
                                                     "timestamp": str(T0), "step": "4"})
    assert resp.status_code == 200, resp.text
    assert history(api, run_id, "s")["metrics"] == [{"key": "s", "value": 2.5, "timestamp": T0, "step": 4}]
    # out of int64 range, and negative timestamps (MLflow: "a nonnegative long"), are rejected
    for field, value in (("step", 2**63), ("step", -(2**63) - 1), ("timestamp", 2**63), ("timestamp", -1)):
        body = {"run_id": run_id, "key": "oor", "value": 1.0, "timestamp": T0, "step": 0, field: value}
        assert_error(api.post(f"{API}/runs/log-metric", json=body), 400, "INVALID_PARAMETER_VALUE")
    assert history(api, run_id, "oor").get("metrics", []) == []


# -- latest value ------------------------------------------------------------------------------
def test_latest_metric_is_largest_step_timestamp_value(mlflow_client, api, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    log = mlflow_client.log_metric
    log(run_id, "a", 5.0, timestamp=T0 + 100, step=10)
    log(run_id, "a", 9.0, timestamp=T0 + 999, step=3)  # older step, newer time: not latest
    assert latest(mlflow_client, run_id)["a"] == 5.0
    log(run_id, "a", 1.0, timestamp=T0 + 101, step=10)  # same step, later timestamp: latest
    assert latest(mlflow_client, run_id)["a"] == 1.0
    log(run_id, "a", 0.5, timestamp=T0 + 101, step=10)  # same step and time, smaller value: not latest
    assert latest(mlflow_client, run_id)["a"] == 1.0
    log(run_id, "a", 2.0, timestamp=T0 + 101, step=10)  # same step and time, larger value: latest
    assert latest(mlflow_client, run_id)["a"] == 2.0
    log(run_id, "a", -7.0, timestamp=T0, step=11)
    assert latest(mlflow_client, run_id)["a"] == -7.0
    assert len(mlflow_client.get_metric_history(run_id, "a")) == 6

    # one out-of-order batch: the latest is found within it
    mlflow_client.log_batch(run_id, metrics=[
        Metric("b", 3.0, T0 + 5, 2), Metric("b", 4.0, T0 + 1, 9), Metric("b", 8.0, T0 + 9, 1),
    ])
    mlflow_client.log_batch(run_id, metrics=[Metric("b", 6.0, T0 + 2, 5)])
    got = latest(mlflow_client, run_id)
    assert got == {"a": -7.0, "b": 4.0}
    # get-run carries the latest point's own step and timestamp
    run = api.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    by_key = {m["key"]: (m["value"], m["timestamp"], m["step"]) for m in run["data"]["metrics"]}
    assert by_key == {"a": (-7.0, T0, 11), "b": (4.0, T0 + 1, 9)}


def test_latest_metric_across_keys_in_search(mlflow_client, unique_name):
    exp_id = mlflow_client.create_experiment(unique_name)
    run_id = mlflow_client.create_run(exp_id).info.run_id
    mlflow_client.log_batch(run_id, metrics=[Metric("x", float(i), T0 + i, i) for i in range(20)]
                            + [Metric("y", -float(i), T0 - i, 0) for i in range(5)])
    (run,) = mlflow_client.search_runs([exp_id])
    assert run.data.metrics == {"x": 19.0, "y": 0.0}


# -- NaN and infinities ------------------------------------------------------------------------
def test_nan_and_infinities_round_trip(mlflow_client, api, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    mlflow_client.log_metric(run_id, "nan", float("nan"), timestamp=T0, step=0)
    mlflow_client.log_metric(run_id, "pinf", float("inf"), timestamp=T0, step=0)
    mlflow_client.log_metric(run_id, "ninf", float("-inf"), timestamp=T0, step=0)
    mlflow_client.log_batch(run_id, metrics=[
        Metric("mixed", 1.0, T0, 0), Metric("mixed", float("nan"), T0, 1), Metric("mixed", float("inf"), T0, 2),
        Metric("mixed", float("-inf"), T0, 3),
    ])
    got = latest(mlflow_client, run_id)
    assert math.isnan(got["nan"])
    assert got["pinf"] == math.inf and got["ninf"] == -math.inf
    assert got["mixed"] == -math.inf

    hist = sorted(mlflow_client.get_metric_history(run_id, "mixed"), key=lambda m: m.step)
    assert [m.step for m in hist] == [0, 1, 2, 3]
    assert hist[0].value == 1.0 and math.isnan(hist[1].value)
    assert hist[2].value == math.inf and hist[3].value == -math.inf

    # on the wire: proto3 JSON strings
    raw = {m["key"]: m["value"] for m in api.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]["metrics"]}
    assert raw == {"nan": "NaN", "pinf": "Infinity", "ninf": "-Infinity", "mixed": "-Infinity"}
    values = [p["value"] for p in sorted(history(api, run_id, "mixed")["metrics"], key=lambda p: p["step"])]
    assert values == [1.0, "NaN", "Infinity", "-Infinity"]


def test_nan_infinity_strings_accepted_on_the_wire(mlflow_client, api, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    for step, value in enumerate(("NaN", "Infinity", "-Infinity", 2.5, "3.5")):
        resp = api.post(f"{API}/runs/log-metric",
                        json={"run_id": run_id, "key": "w", "value": value, "timestamp": T0, "step": step})
        assert resp.status_code == 200, resp.text
    resp = api.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": [
        {"key": "wb", "value": "NaN", "timestamp": T0, "step": 0},
        {"key": "wb", "value": "Infinity", "timestamp": T0, "step": 1}]})
    assert resp.status_code == 200, resp.text
    hist = sorted(mlflow_client.get_metric_history(run_id, "w"), key=lambda m: m.step)
    assert math.isnan(hist[0].value)
    assert [m.value for m in hist[1:]] == [math.inf, -math.inf, 2.5, 3.5]
    wb = sorted(mlflow_client.get_metric_history(run_id, "wb"), key=lambda m: m.step)
    assert math.isnan(wb[0].value) and wb[1].value == math.inf
    # the run's latest NaN compares as 0 against a real value at the same step and time
    mlflow_client.log_metric(run_id, "z", float("nan"), timestamp=T0, step=0)
    mlflow_client.log_metric(run_id, "z", -1.0, timestamp=T0, step=0)
    assert math.isnan(latest(mlflow_client, run_id)["z"])
    mlflow_client.log_metric(run_id, "z", 0.5, timestamp=T0, step=0)
    assert latest(mlflow_client, run_id)["z"] == 0.5


# -- retries and duplicates --------------------------------------------------------------------
def test_retried_log_batch_is_idempotent(mlflow_client, api, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    body_a = {
        "run_id": run_id,
        "metrics": [{"key": "loss", "value": 1.0 / (s + 1), "timestamp": T0 + s, "step": s} for s in range(50)]
        + [{"key": "acc", "value": s / 100, "timestamp": T0 + s, "step": s} for s in range(50)],
        "params": [{"key": "lr", "value": "0.1"}],
        "tags": [{"key": "phase", "value": "a"}],
    }
    body_b = {
        "run_id": run_id,
        "metrics": [{"key": "loss", "value": 0.001 * s, "timestamp": T0 + s, "step": s} for s in range(50, 60)],
    }
    for body in (body_a, body_a, body_b, body_a):  # a resend of A after B must not move "latest" back
        resp = api.post(f"{API}/runs/log-batch", json=body)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {}
    loss = mlflow_client.get_metric_history(run_id, "loss")
    assert len(loss) == 60
    assert sorted((m.step, m.timestamp) for m in loss) == [(s, T0 + s) for s in range(60)]
    acc = mlflow_client.get_metric_history(run_id, "acc")
    assert sorted((m.step, m.value) for m in acc) == [(s, s / 100) for s in range(50)]
    run = mlflow_client.get_run(run_id)
    assert run.data.metrics == {"loss": 0.001 * 59, "acc": 0.49}
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["phase"] == "a"
    # the bulk sampler sees each point once too
    resp = bulk(api, [run_id], "loss")
    assert resp.status_code == 200
    assert sorted(p["step"] for p in resp.json()["metrics"]) == list(range(60))


def test_duplicate_points_within_one_batch_collapse(mlflow_client, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    m = Metric("d", 2.0, T0, 1)
    mlflow_client.log_batch(run_id, metrics=[m, m, m, Metric("d", 3.0, T0, 1)])
    mlflow_client.log_metric(run_id, "d", 2.0, timestamp=T0, step=1)
    assert sorted(x.value for x in mlflow_client.get_metric_history(run_id, "d")) == [2.0, 3.0]
    assert latest(mlflow_client, run_id) == {"d": 3.0}


def test_repeated_nan_points_collapse(mlflow_client, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    for _ in range(3):
        mlflow_client.log_metric(run_id, "n", float("nan"), timestamp=T0, step=0)
    mlflow_client.log_metric(run_id, "n", 0.0, timestamp=T0, step=0)  # 0.0 is not the same point as NaN
    hist = mlflow_client.get_metric_history(run_id, "n")
    assert len(hist) == 2
    assert sum(math.isnan(m.value) for m in hist) == 1


# -- get-history-bulk-interval -----------------------------------------------------------------
def test_bulk_interval_returns_everything_when_small(mlflow_client, api, unique_name):
    exp_id = mlflow_client.create_experiment(unique_name)
    runs = [mlflow_client.create_run(exp_id).info.run_id for _ in range(3)]
    for i, run_id in enumerate(runs):
        mlflow_client.log_batch(run_id, metrics=[Metric("m", float(i * 100 + s), T0 + s, s) for s in range(10 + i)])
    resp = bulk(api, runs, "m")
    assert resp.status_code == 200, resp.text
    points = resp.json()["metrics"]
    for i, run_id in enumerate(runs):
        mine = [p for p in points if p["run_id"] == run_id]
        assert mine == [{"key": "m", "value": float(i * 100 + s), "timestamp": T0 + s, "step": s, "run_id": run_id}
                        for s in range(10 + i)]
    # ajax mirror
    resp = api.get("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
                   params={"run_ids": runs, "metric_key": "m"})
    assert resp.status_code == 200 and resp.json()["metrics"] == points
    # a key no run has
    resp = bulk(api, runs, "none")
    assert resp.status_code == 200 and resp.json().get("metrics", []) == []


def check_sample(points, run_id, all_points, max_results):
    """A valid sample: ≤ max_results real points of this run, in order, first and last kept."""
    mine = [p for p in points if p["run_id"] == run_id]
    assert 0 < len(mine) <= max_results, (len(mine), max_results)
    real = {(p[0], p[1]): p[2] for p in all_points}
    for p in mine:
        assert same_float(real[(p["step"], p["timestamp"])], wire_float(p["value"])), p
    keys = [(p["step"], p["timestamp"]) for p in mine]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    ordered = sorted(all_points)
    if max_results > 1:
        assert keys[0] == (ordered[0][0], ordered[0][1])
    assert keys[-1] == (ordered[-1][0], ordered[-1][1])
    return mine


def test_bulk_interval_samples_long_histories(mlflow_client, api, unique_name):
    exp_id = mlflow_client.create_experiment(unique_name)
    a = mlflow_client.create_run(exp_id).info.run_id
    b = mlflow_client.create_run(exp_id).info.run_id
    pts_a = [(s, T0 + s, s * 0.25) for s in range(0, 6000, 2)]  # 3000 points, even steps
    pts_b = [(s, T0 + s, -float(s)) for s in range(5, 1505)]  # 1500 points
    mlflow_client.log_batch(a, metrics=[Metric("m", v, ts, s) for s, ts, v in pts_a])
    mlflow_client.log_batch(b, metrics=[Metric("m", v, ts, s) for s, ts, v in pts_b])

    for max_results in (2, 3, 10, 100, 999, 2500):
        resp = bulk(api, [a, b], "m", max_results=max_results)
        assert resp.status_code == 200, resp.text
        points = resp.json()["metrics"]
        got_a = check_sample(points, a, pts_a, max_results)
        got_b = check_sample(points, b, pts_b, max_results)
        if max_results >= 10:
            # an even sample, not just the ends
            assert len(got_a) >= max_results // 2 and len(got_b) >= min(max_results // 2, 1500)
        if max_results == 2500:
            assert len(got_b) == 1500
    # default max_results is 2500
    points = bulk(api, [a], "m").json()["metrics"]
    assert 1250 <= len(points) <= 2500
    check_sample(points, a, pts_a, 2500)
    # max_results=1: the last point only
    points = bulk(api, [a, b], "m", max_results=1).json()["metrics"]
    assert [(p["run_id"], p["step"]) for p in points] == [(a, 5998), (b, 1504)]


def test_bulk_interval_step_range(mlflow_client, api, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    pts = [(s, T0 + s, float(s)) for s in range(1000)]
    mlflow_client.log_batch(run_id, metrics=[Metric("m", v, ts, s) for s, ts, v in pts])
    resp = bulk(api, [run_id], "m", start_step=100, end_step=199)
    points = resp.json()["metrics"]
    assert [p["step"] for p in points] == list(range(100, 200))
    resp = bulk(api, [run_id], "m", start_step=100, end_step=899, max_results=50)
    in_range = [p for p in pts if 100 <= p[0] <= 899]
    got = check_sample(resp.json()["metrics"], run_id, in_range, 50)
    assert all(100 <= p["step"] <= 899 for p in got) and len(got) >= 25
    resp = bulk(api, [run_id], "m", start_step=5000, end_step=6000)
    assert resp.status_code == 200 and resp.json().get("metrics", []) == []
    resp = bulk(api, [run_id], "m", start_step=7, end_step=7)
    assert [p["step"] for p in resp.json()["metrics"]] == [7]


def test_bulk_interval_many_values_on_one_step(mlflow_client, api, unique_name):
    """Many points sharing a step (log_metric without step) still yield ≤ max_results points."""
    run_id = new_run_id(mlflow_client, unique_name)
    pts = [(0, T0 + i, float(i)) for i in range(400)] + [(1, T0 + 1000 + i, float(i)) for i in range(5)]
    mlflow_client.log_batch(run_id, metrics=[Metric("m", v, ts, s) for s, ts, v in pts])
    for max_results in (1, 2, 10, 50):
        points = bulk(api, [run_id], "m", max_results=max_results).json()["metrics"]
        check_sample(points, run_id, pts, max_results)


def test_bulk_interval_nan_and_infinity(mlflow_client, api, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    mlflow_client.log_batch(run_id, metrics=[Metric("m", v, T0, s) for s, v in
                                             enumerate([float("nan"), float("inf"), float("-inf"), 1.0])])
    points = bulk(api, [run_id], "m").json()["metrics"]
    assert [p["value"] for p in points] == ["NaN", "Infinity", "-Infinity", 1.0]


def test_bulk_interval_100_runs_allowed(mlflow_client, api, unique_name):
    exp_id = mlflow_client.create_experiment(unique_name)
    runs = [mlflow_client.create_run(exp_id).info.run_id for _ in range(100)]
    mlflow_client.log_metric(runs[0], "m", 1.0, timestamp=T0, step=0)
    mlflow_client.log_metric(runs[-1], "m", 2.0, timestamp=T0, step=0)
    resp = bulk(api, runs, "m")
    assert resp.status_code == 200, resp.text[:300]
    assert [(p["run_id"], p["value"]) for p in resp.json()["metrics"]] == [(runs[0], 1.0), (runs[-1], 2.0)]


def test_bulk_interval_errors(mlflow_client, api, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    mlflow_client.log_metric(run_id, "m", 1.0, timestamp=T0, step=0)
    # > 100 run ids (short ids keep the URL small; the count is checked first)
    assert_error(bulk(api, [f"r{i}" for i in range(101)], "m"), 400, "INVALID_PARAMETER_VALUE", "at most 100 run_ids")
    assert_error(bulk(api, [], "m"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.get(f"{API}/metrics/get-history-bulk-interval", params={"run_ids": [run_id]}), 400,
                 "INVALID_PARAMETER_VALUE", "metric_key")
    for bad in (0, -1, 2501, "x"):
        assert_error(bulk(api, [run_id], "m", max_results=bad), 400, "INVALID_PARAMETER_VALUE")
    assert_error(bulk(api, [run_id], "m", start_step=1), 400, "INVALID_PARAMETER_VALUE")
    assert_error(bulk(api, [run_id], "m", end_step=1), 400, "INVALID_PARAMETER_VALUE")
    assert_error(bulk(api, [run_id], "m", start_step=5, end_step=1), 400, "INVALID_PARAMETER_VALUE")
    assert_error(bulk(api, [run_id], "m", start_step="a", end_step=1), 400, "INVALID_PARAMETER_VALUE")
    assert_error(bulk(api, [run_id, "b" * 32], "m"), 404, "RESOURCE_DOES_NOT_EXIST")
    resp = api.post(f"{API}/metrics/get-history-bulk-interval", json={"run_ids": [run_id], "metric_key": "m"})
    assert resp.status_code == 405


# -- the client's own error reporting ----------------------------------------------------------
def test_client_sees_invalid_metric_errors(mlflow_client, unique_name):
    run_id = new_run_id(mlflow_client, unique_name)
    for key in ("a/../b", "bad*name", "/abs", "x" * 251):
        with pytest.raises(MlflowException) as ei:
            mlflow_client.log_batch(run_id, metrics=[Metric(key, 1.0, T0, 0)])
        assert ei.value.error_code == "INVALID_PARAMETER_VALUE", key
    assert latest(mlflow_client, run_id) == {}


def test_concurrent_batches_to_one_run(mlflow_client, api, unique_name):
    from concurrent.futures import ThreadPoolExecutor

    run_id = new_run_id(mlflow_client, unique_name)

    def send(worker):
        body = {"run_id": run_id, "metrics": [
            {"key": "shared", "value": float(worker * 1000 + s), "timestamp": T0 + s, "step": worker * 1000 + s}
            for s in range(200)] + [{"key": f"own{worker}", "value": 1.0, "timestamp": T0, "step": 0}]}
        codes = []
        for _ in range(2):  # each batch twice, as a retrying client would
            codes.append(api.post(f"{API}/runs/log-batch", json=body).status_code)
        return codes

    with ThreadPoolExecutor(6) as pool:
        codes = [c for cs in pool.map(send, range(6)) for c in cs]
    assert codes == [200] * 12
    hist = mlflow_client.get_metric_history(run_id, "shared")
    assert sorted(m.step for m in hist) == sorted(w * 1000 + s for w in range(6) for s in range(200))
    got = latest(mlflow_client, run_id)
    assert got["shared"] == 5199.0 and all(got[f"own{w}"] == 1.0 for w in range(6))


def test_log_batch_shapes_all_land_the_same(api, mlflow_client, unique_name):
    """Integer values, optional fields left out, extra MLflow 3 fields and mixed batches: every
    shape a client may send stores the same points."""
    run_id = new_run_id(mlflow_client, unique_name)
    batches = [
        [{"key": "a", "value": 1, "timestamp": T0, "step": 0}, {"key": "a", "value": 2.5, "timestamp": T0, "step": 1}],
        [{"key": "a", "value": 3, "timestamp": T0 + 2}],  # no step: 0
        [{"key": "a", "value": "4.5", "timestamp": T0, "step": 3}, {"key": "b", "value": 7, "timestamp": T0, "step": 3}],
        [{"key": "b", "value": 8.0, "timestamp": T0, "step": 4, "dataset_name": "d", "dataset_digest": "x"}],
    ]
    for metrics in batches:
        resp = api.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
        assert resp.status_code == 200, resp.text
    a = [(p["step"], p["timestamp"], p["value"]) for p in history(api, run_id, "a")["metrics"]]
    b = [(p["step"], p["timestamp"], p["value"]) for p in history(api, run_id, "b")["metrics"]]
    assert a == [(0, T0, 1.0), (0, T0 + 2, 3.0), (1, T0, 2.5), (3, T0, 4.5)]
    assert b == [(3, T0, 7.0), (4, T0, 8.0)]
    assert all(type(v) is float for _, _, v in a + b)


def test_overlapping_and_shuffled_resends_land_once(api, mlflow_client, unique_name, server):
    """A batch that is not a plain append (it repeats stored points, comes out of order, or
    repeats a point within itself) is checked against the stored points of the blocks it
    touches: every point lands once, and the summary counts each once."""
    run_id = new_run_id(mlflow_client, unique_name)
    series = schema.metric_series
    this_series = (series.c.key == "s") & (series.c.run_id == select(schema.runs.c.id)
                                           .where(schema.runs.c.run_uuid == run_id).scalar_subquery())

    def send(steps):
        metrics = [{"key": "s", "value": step * 0.5, "timestamp": T0 + step, "step": step} for step in steps]
        resp = api.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
        assert resp.status_code == 200, resp.text

    send(range(10))
    send(range(5, 15))  # 5..9 are stored already
    rnd = random.Random(3)
    mixed = list(range(300)) + list(range(100, 140))  # 0..14 stored; 100..139 twice in the batch
    rnd.shuffle(mixed)
    send(mixed)
    send(range(60, 70))  # in the middle of what is stored, across a block boundary (64)
    engine = make_engine(server.backend_store_uri)
    try:
        with engine.connect() as conn:
            count, max_step = conn.execute(select(series.c.point_count, series.c.max_step).where(this_series)).one()
    finally:
        engine.dispose()
    points = [(p["step"], p["timestamp"], p["value"]) for p in history(api, run_id, "s")["metrics"]]
    assert points == [(s, T0 + s, s * 0.5) for s in range(300)]
    assert (count, max_step) == (300, 299)


def test_values_round_trip_bit_exactly(api, mlflow_client, unique_name):
    """Doubles of every magnitude come back as the same doubles on every back end (PostgreSQL
    receives them as array literals written by orjson)."""
    rnd = random.Random(7)
    # (±DBL_MAX itself is where infinities are stored, and reads back as one)
    values = [5e-324, 2.2250738585072014e-308, 1.7976931348623155e308, -1.7976931348623155e308, 0.1, 1 / 3,
              123456789.12345679, 1e-05, 2.0**53 + 2]
    values += [rnd.uniform(-1, 1) * 10.0 ** rnd.randint(-300, 300) for _ in range(991)]
    run_id = new_run_id(mlflow_client, unique_name)
    metrics = [{"key": "exact", "value": v, "timestamp": T0, "step": i} for i, v in enumerate(values)]
    resp = api.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
    assert resp.status_code == 200, resp.text
    got = [p["value"] for p in history(api, run_id, "exact", max_results=5000)["metrics"]]
    assert [struct.pack("<d", v) for v in got] == [struct.pack("<d", v) for v in values]
