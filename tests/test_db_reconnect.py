"""A database that drops the server's connections (a restart, a failover, an idle timeout, an
administrator's kill): the pooled connections are stale, and the next requests must still be
answered, with nothing lost. Checked on PostgreSQL and MariaDB against a live `swan server`."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import text

from tests.databases import TempDatabase
from tests.server import LiveServer

API = "/api/2.0/mlflow"


def _kill_server_connections(db: TempDatabase) -> int:
    """Terminate every connection the server holds to its database; returns how many."""
    with db.admin.connect() as conn:
        if db.backend == "postgresql":
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": db.name}).all())
        ids = conn.execute(text("SELECT id FROM information_schema.processlist WHERE db = :db"),
                           {"db": db.name}).scalars().all()
        for conn_id in ids:
            conn.execute(text(f"KILL {int(conn_id)}"))
        return len(ids)


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_requests_after_the_database_dropped_every_connection(tmp_path, backend):
    db = TempDatabase(backend).create()
    server = LiveServer(tmp_path, backend_store_uri=db.uri).start()
    try:
        api = requests.Session()

        def call(method, path, **kw):
            resp = api.request(method, server.url + API + path, timeout=60, **kw)
            assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
            return resp.json()

        exp = call("POST", "/experiments/create", json={"name": "reconnect"})["experiment_id"]
        run_id = call("POST", "/runs/create", json={"experiment_id": exp})["run"]["info"]["run_id"]
        for round_no in range(3):
            steps = range(round_no * 100, round_no * 100 + 100)
            call("POST", "/runs/log-batch", json={"run_id": run_id, "metrics": [
                {"key": "loss", "value": s / 7, "timestamp": 1000 + s, "step": s} for s in steps]})
            # Every pooled connection is now stale; the first request on each must not fail.
            assert _kill_server_connections(db) >= 1
            history = call("GET", "/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"})["metrics"]
            assert [m["step"] for m in history] == list(range(round_no * 100 + 100))
            _kill_server_connections(db)
            call("POST", "/runs/log-metric", json={"run_id": run_id, "key": "after", "value": round_no,
                                                   "timestamp": 5000 + round_no, "step": round_no})
            _kill_server_connections(db)
            found = call("POST", "/runs/search", json={"experiment_ids": [exp]})["runs"]
            assert [r["info"]["run_id"] for r in found] == [run_id]
        run = call("GET", "/runs/get", params={"run_id": run_id})["run"]
        assert {m["key"]: m["step"] for m in run["data"]["metrics"]} == {"loss": 299, "after": 2}
        assert "Traceback" not in server.log()
    finally:
        server.stop()
        db.drop()
