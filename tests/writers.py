"""Writer processes for the concurrency tests and `bench/workers_bench.py`: each creates one run
and sends its points through the MLflow REST `runs/log-batch` route, resending a batch after a
connection error or a 5xx exactly as the MLflow client does (same body, backoff).

Every writer creates its run and encodes its request bodies first; then all start sending
together, and only the sending is timed. Forking eight writers and encoding their bodies took
about 0.3 s of a fast server's 2-second run: time that measured the load generator, not the server.
The writers send with the standard library's `http.client` (one keep-alive connection each, a
new one after an error): `requests` spent about 1 ms of CPU per call, on the same two cores as
the server under test."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import threading
import time
from urllib.parse import urlsplit

KEYS = 5
BATCH_STEPS = 200  # KEYS × BATCH_STEPS = 1000 points per request (MLflow's limit)
BASE_TS = 1_700_000_000_000


def value(writer: int, key: int, step: int) -> float:
    return writer * 1_000_000 + key * 0.125 + step * 0.5


def batches(writer: int, run_id: str, points: int) -> list[bytes]:
    steps = points // KEYS
    out = []
    for start in range(0, steps, BATCH_STEPS):
        metrics = [
            {"key": f"k{k}", "value": value(writer, k, s), "timestamp": BASE_TS + s, "step": s}
            for s in range(start, min(steps, start + BATCH_STEPS)) for k in range(KEYS)
        ]
        out.append(json.dumps({"run_id": run_id, "metrics": metrics}).encode())
    return out


class Stats:
    """Counters shared with the parent: points acknowledged, and what the writers ran into."""

    def __init__(self, ctx):
        self.acked = ctx.Value("q", 0)
        self.retries = ctx.Value("q", 0)
        self.status_503 = ctx.Value("q", 0)
        self.status_other_5xx = ctx.Value("q", 0)
        self.conn_errors = ctx.Value("q", 0)

    def add(self, name: str, n: int = 1) -> None:
        v = getattr(self, name)
        with v.get_lock():
            v.value += n

    def snapshot(self) -> dict:
        return {k: getattr(self, k).value for k in ("acked", "retries", "status_503", "status_other_5xx", "conn_errors")}


class Connection:
    """One keep-alive HTTP connection to the server; `post` returns (status, body)."""

    def __init__(self, base: str):
        url = urlsplit(base)
        self.host, self.port, self.prefix = url.hostname, url.port or 80, url.path.rstrip("/")
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.conn.request("POST", self.prefix + path, body=body, headers={"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def reset(self) -> None:
        self.conn.close()  # the next request opens a fresh connection, maybe to another worker


def post(conn: Connection, path: str, body: bytes, stats: Stats | None, deadline: float) -> dict:
    delay = 0.05
    while True:
        try:
            status, content = conn.post(path, body)
            if status < 500:
                if status != 200:
                    raise RuntimeError(f"{path}: {status} {content[:300]!r}")
                return json.loads(content)
            if stats:
                stats.add("status_503" if status == 503 else "status_other_5xx")
        except (http.client.HTTPException, OSError):
            # refused, reset, timed out, or the worker died between the response's headers and
            # its body: the batch may have landed, and resending it is what must be harmless
            if stats:
                stats.add("conn_errors")
            conn.reset()
        if time.time() > deadline:
            raise RuntimeError(f"{path}: still failing at the deadline")
        if stats:
            stats.add("retries")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def writer(base: str, experiment_id: str, index: int, points: int, stats: Stats, result_queue, timeout: float,
           start: threading.Barrier) -> None:
    deadline = time.time() + timeout
    conn = Connection(base)
    api = "/api/2.0/mlflow"
    try:
        run = post(conn, api + "/runs/create",
                   json.dumps({"experiment_id": experiment_id, "run_name": f"writer-{index}",
                               "start_time": BASE_TS}).encode(), stats, deadline)
        run_id = run["run"]["info"]["run_id"]
        bodies = batches(index, run_id, points)
    except BaseException:
        start.abort()  # nobody waits for a writer that cannot start
        raise
    start.wait(timeout)
    t0 = time.perf_counter()
    for body in bodies:
        post(conn, api + "/runs/log-batch", body, stats, deadline)
        stats.add("acked", KEYS * BATCH_STEPS)
    result_queue.put({"index": index, "run_id": run_id, "seconds": time.perf_counter() - t0})


def run_writers(base: str, experiment_id: str, n: int, points: int, timeout: float = 600,
                during=None) -> tuple[list[dict], dict, float]:
    """Start n writer processes; once each has its run and its bodies, let them all send, and call
    `during(stats)` in this process while they do (it returns when done, e.g. after killing a
    worker); wait for all. Returns (results, stats, seconds): seconds from the start of the
    sending to the last writer's end; stats also holds `setup_seconds`, the time the writers
    took to start, create their runs and encode their bodies."""
    ctx = multiprocessing.get_context("fork")
    stats = Stats(ctx)
    queue = ctx.Queue()
    start = ctx.Barrier(n + 1)
    procs = [ctx.Process(target=writer, args=(base, experiment_id, i, points, stats, queue, timeout, start))
             for i in range(n)]
    t_setup = time.perf_counter()
    for p in procs:
        p.start()
    try:
        start.wait(timeout)
    except threading.BrokenBarrierError:
        pass  # a writer failed to start: the results below come up short, and callers check them
    t0 = time.perf_counter()
    setup_seconds = t0 - t_setup
    if during is not None:
        during(stats)
    results = []
    end = time.time() + timeout + 30
    while len(results) < n and time.time() < end:
        try:
            results.append(queue.get(timeout=1))
        except Exception:
            if all(not p.is_alive() for p in procs) and queue.empty():
                break
    seconds = time.perf_counter() - t0
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
    return sorted(results, key=lambda r: r["index"]), {**stats.snapshot(), "setup_seconds": round(setup_seconds, 3)}, seconds
