"""`GET /metrics` (Prometheus text, summed over gunicorn workers, totals from the database) and
structured JSON logs (`--log-format json`, `--access-log`)."""

from __future__ import annotations

import json
import re

import pytest
import requests

from tests.server import LiveServer

pytestmark = pytest.mark.timeout(300)


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics_sum_every_worker_and_read_totals_from_the_database(tmp_path):
    import os
    import signal
    import time

    import psutil

    prom = tmp_path / "prom"
    srv = LiveServer(tmp_path / "home", workers=2, extra_env={"PROMETHEUS_MULTIPROC_DIR": str(prom)}).start()
    try:
        health = 'swan_http_requests_total{method="GET",route="/health",status="200"}'
        s0 = _samples(requests.get(srv.url + "/metrics", timeout=10).text)
        for i in range(40):
            if i == 20:  # both workers die; their replacements count on, and nothing counted is lost
                old = [c.pid for c in psutil.Process(srv.proc.pid).children()]
                for pid in old:
                    os.kill(pid, signal.SIGKILL)
                deadline = time.time() + 60
                while {c.pid for c in psutil.Process(srv.proc.pid).children()} & set(old) or \
                        len(psutil.Process(srv.proc.pid).children()) < 2:
                    assert time.time() < deadline, "gunicorn did not replace its workers"
                    time.sleep(0.1)
            while True:  # a request that hit a dying worker is retried, as a client would
                try:
                    resp = requests.get(srv.url + "/health", headers={"Connection": "close"}, timeout=10)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            assert resp.status_code == 200
        api = srv.url + "/api/2.0/mlflow"
        exp = requests.post(api + "/experiments/create", json={"name": "metrics-exp"}, timeout=10).json()["experiment_id"]
        run = requests.post(api + "/runs/create", json={"experiment_id": exp}, timeout=10).json()["run"]["info"]["run_id"]
        metrics = [{"key": k, "value": 1.0, "timestamp": 1, "step": s} for k in ("a", "b") for s in range(7)]
        assert requests.post(api + "/runs/log-batch", json={"run_id": run, "metrics": metrics}, timeout=10).ok
        assert requests.get(api + "/experiments/get", params={"experiment_id": "999999"}, timeout=10).status_code == 404

        resp = requests.get(srv.url + "/metrics", timeout=10)
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
        s = _samples(resp.text)
        assert s[health] - s0[health] == 40
        # Counts of the killed workers are kept and summed with their replacements' (which worker
        # serves which request is up to the kernel, so compare pids, not a number of files).
        pids = {int(p.stem.split("_")[1]) for p in prom.glob("counter_*.db")}
        assert pids & set(old) and pids - set(old), (pids, old)
        assert s['swan_http_requests_total{method="POST",route="/api/2.0/mlflow/runs/log-batch",status="200"}'] == 1
        assert s['swan_http_requests_total{method="GET",route="/api/2.0/mlflow/experiments/get",status="404"}'] == 1
        assert s['swan_http_request_duration_seconds_count{route="/health"}'] == s[health]
        assert s["swan_database_up"] == 1
        assert s["swan_metric_points"] == 14 and s["swan_metric_series"] == 2
        assert s['swan_runs{lifecycle_stage="active",status="RUNNING"}'] == 1
        assert s['swan_projects{lifecycle_stage="active"}'] == 2  # Default and ours
        assert 'pid="' not in resp.text, "per-process samples leaked into the output"
    finally:
        srv.stop()


def test_json_logs_with_access_records(tmp_path):
    srv = LiveServer(tmp_path / "home", workers=1,
                     extra_env={"SWAN_LOG_FORMAT": "json", "SWAN_ACCESS_LOG": "1"}).start()
    try:
        assert requests.get(srv.url + "/health", timeout=10).status_code == 200
        assert requests.get(srv.url + "/api/2.0/mlflow/runs/get", params={"run_id": "nope"}, timeout=10).status_code == 404
    finally:
        srv.stop()
    records = []
    for line in srv.log_path.read_text().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
        else:  # only the launcher's plain messages (admin key, listening on ...) are not JSON
            assert not re.match(r"^\d{4}-\d\d-\d\d|^\[\d{4}", line), f"a text log line in JSON mode: {line}"
    access = [r for r in records if r["logger"] == "swan.access"]
    assert {(r["route"], r["status"]) for r in access} >= {("/health", 200), ("/api/2.0/mlflow/runs/get", 404)}
    assert all(isinstance(r["duration_ms"], float) and r["method"] == "GET" for r in access)
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in records)
    assert all({"time", "level", "logger", "message", "pid"} <= set(r) for r in records)
