"""Many workers: `swan server --workers 2` on PostgreSQL and on SQLite, 8 writer processes ×
50,000 points through the MLflow REST log-batch route, one gunicorn worker SIGKILLed mid-way;
and a database outage mid-run behind a TCP proxy. Every point lands exactly once."""

from __future__ import annotations

import os
import signal
import time
import uuid

import psutil
import pytest
import requests
from sqlalchemy import text

from swan_server.db.engine import make_engine
from tests.databases import TempDatabase
from tests.server import LiveServer
from tests.stored_points import stored_points
from tests.tcpproxy import TcpProxy
from tests.writers import KEYS, run_writers, value

pytestmark = pytest.mark.timeout(900)

WRITERS = 8
POINTS = 50_000


def _experiment(url: str) -> str:
    resp = requests.post(url + "/api/2.0/mlflow/experiments/create", json={"name": f"w-{uuid.uuid4().hex[:8]}"},
                         timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["experiment_id"]


def _workers(srv: LiveServer) -> list[int]:
    return [c.pid for c in psutil.Process(srv.proc.pid).children()]


def _wait_for(stats, fraction: float, total: int, timeout: float = 300) -> None:
    end = time.time() + timeout
    while stats.acked.value < total * fraction:
        assert time.time() < end, f"the writers made no progress: {stats.snapshot()}"
        time.sleep(0.05)


def _check_exactly_once(uri: str, results: list[dict], points: int) -> None:
    """Per run and key: the exact step set, one row per step, the expected values, and a
    summary count that agrees with the rows."""
    steps = points // KEYS
    engine = make_engine(uri)
    try:
        with engine.connect() as conn:
            for r in results:
                series = conn.execute(text(
                    "SELECT s.id, s.key, s.point_count FROM metric_series s JOIN runs ON runs.id = s.run_id "
                    "WHERE runs.run_uuid = :rid ORDER BY s.key"), {"rid": r["run_id"]}).all()
                points = stored_points(conn, [s.id for s in series])
                rows = [(key, len(points[sid]), len({p[0] for p in points[sid]}), min(p[0] for p in points[sid]),
                         max(p[0] for p in points[sid]), sum(p[2] for p in points[sid]), count)
                        for sid, key, count in series]
                assert [row[0] for row in rows] == [f"k{k}" for k in range(KEYS)], rows
                for key, n, distinct, lo, hi, total, summary in rows:
                    k = int(key[1:])
                    expected = sum(value(r["index"], k, s) for s in range(steps))
                    assert (n, distinct, lo, hi, summary) == (steps, steps, 0, steps - 1, steps), (r, key)
                    assert total == pytest.approx(expected, rel=1e-12), (r, key)
    finally:
        engine.dispose()


def _history(url: str, run_id: str, key: str) -> list[tuple]:
    out, token = [], None
    while True:
        params = {"run_id": run_id, "metric_key": key, "max_results": 25000, **({"page_token": token} if token else {})}
        body = requests.get(url + "/api/2.0/mlflow/metrics/get-history", params=params, timeout=60).json()
        out += [(m["step"], m["timestamp"], m["value"]) for m in body.get("metrics", [])]
        token = body.get("next_page_token")
        if not token:
            return out


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'swan.db'}"
        return
    db = TempDatabase("postgresql").create()
    yield db.uri
    db.drop()


def test_two_workers_eight_writers_and_a_killed_worker(database, tmp_path):
    srv = LiveServer(tmp_path / "home", backend_store_uri=database, workers=2).start()
    try:
        exp = _experiment(srv.url)
        before = _workers(srv)
        assert len(before) == 2
        killed = []

        def kill_one(stats):
            _wait_for(stats, 0.4, WRITERS * POINTS)
            victim = before[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

        results, stats, _ = run_writers(srv.url, exp, WRITERS, POINTS, during=kill_one)
        assert len(results) == WRITERS, f"writers failed: {stats}\n{srv.log()}"
        assert stats["acked"] == WRITERS * POINTS
        # gunicorn replaced the killed worker; the master never went down
        assert srv.proc.poll() is None
        after = _workers(srv)
        assert len(after) == 2 and killed[0] not in after
        _check_exactly_once(database, results, POINTS)
        # and the MLflow read path agrees, point for point
        r = results[3]
        hist = _history(srv.url, r["run_id"], "k2")
        assert hist == [(s, 1_700_000_000_000 + s, value(r["index"], 2, s)) for s in range(POINTS // KEYS)]
        print(f"\n{database.split(':')[0]}: writer stats {stats}")
    finally:
        srv.stop()


def test_database_outage_mid_run_gives_503s_and_loses_nothing(tmp_path):
    db = TempDatabase("postgresql").create()
    proxy = TcpProxy("127.0.0.1", 5432)
    uri = db.uri.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
    assert uri != db.uri
    srv = LiveServer(tmp_path / "home", backend_store_uri=uri, workers=2).start()
    points = 20_000
    try:
        exp = _experiment(srv.url)
        outage = {}

        def cut_for_a_while(stats):
            _wait_for(stats, 0.3, WRITERS * points)
            outage["before"] = dict(stats.snapshot())
            proxy.cut()
            time.sleep(4)
            outage["during"] = dict(stats.snapshot())
            proxy.restore()

        results, stats, _ = run_writers(srv.url, exp, WRITERS, points, during=cut_for_a_while, timeout=300)
        assert len(results) == WRITERS, f"writers failed: {stats}\n{srv.log()}"
        # the outage was seen as 503s (retried), never as another 5xx
        assert stats["status_503"] > 0, stats
        assert stats["status_other_5xx"] == 0, f"{stats}\n{srv.log()}"
        assert outage["during"]["acked"] < WRITERS * points
        _check_exactly_once(db.uri, results, points)
        assert requests.get(srv.url + "/health", timeout=10).status_code == 200
        print(f"\noutage: writer stats {stats}")
    finally:
        srv.stop()
        proxy.close()
        db.drop()



def test_bucket_outage_gives_503_and_the_retry_lands(tmp_path, moto_s3):
    """The S3 endpoint cut off behind a proxy: artifact routes answer 503 (not 500) while it is
    away, and the same request succeeds once it is back."""
    bucket = f"outage-{uuid.uuid4().hex[:8]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    proxy = TcpProxy("127.0.0.1", moto_s3.port)
    env = {**moto_s3.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}"}
    srv = LiveServer(tmp_path / "home", artifacts_destination=f"s3://{bucket}/swan", extra_env=env).start()
    try:
        url = srv.url + "/api/2.0/mlflow-artifacts/artifacts/outage/file.bin"
        payload = os.urandom(3 * 1024 * 1024)
        proxy.cut()
        for method, kwargs in (("put", {"data": payload}), ("get", {}),
                               ("get", {"url": srv.url + "/api/2.0/mlflow-artifacts/artifacts?path=outage"})):
            # boto3 retries first (about 15 s here), then the client gets its 503
            resp = getattr(requests, method)(kwargs.pop("url", url), timeout=120, **kwargs)
            assert resp.status_code == 503, (method, resp.status_code, resp.text[:300])
            assert resp.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        proxy.restore()
        assert requests.put(url, data=payload, timeout=120).status_code == 200
        assert requests.get(url, timeout=120).content == payload
    finally:
        srv.stop()
        proxy.close()


def test_several_servers_starting_at_once_on_a_new_database(tmp_path):
    """Servers on several hosts sharing one new PostgreSQL database start together: every one of
    them upgrades the schema and sets up the admin user without tripping over the others."""
    db = TempDatabase("postgresql").create()
    servers = [LiveServer(tmp_path / f"host{i}", backend_store_uri=db.uri) for i in range(4)]
    try:
        import threading

        errors = []

        def start(srv):
            try:
                srv.start(timeout=120)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(str(exc)[-2000:])

        threads = [threading.Thread(target=start, args=(s,)) for s in servers]
        for th in threads:
            th.start()
        for th in threads:
            th.join(180)
        assert not errors, errors
        for srv in servers:
            assert requests.get(srv.url + "/health", timeout=10).status_code == 200
        exp = _experiment(servers[0].url)  # and they share the data
        got = requests.get(servers[3].url + "/api/2.0/mlflow/experiments/get", params={"experiment_id": exp}, timeout=10)
        assert got.status_code == 200
    finally:
        for srv in servers:
            srv.stop()
        db.drop()
