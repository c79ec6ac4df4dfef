"""Bucketed-series request cost: a 10M-point series vs a 10k-point one (target: at most 3x).

    python bench/buckets_bench.py [--big 10000000] [--small 10000] [--n 1000]

Ingests both series through the store into a fresh SQLite database (timing the ingestion with
and without rollup maintenance on a sample), starts a real `swan server`, and times
GET /api/v1/series/buckets for each (median of 30, full range and a zoomed range)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from swan_server.db.engine import make_engine, upgrade  # noqa: E402
from swan_server.entities import Metric  # noqa: E402
from swan_server.store.sql import SqlTrackingStore  # noqa: E402
from tests.server import LiveServer  # noqa: E402


def ingest(store, run_id, n, batch=100_000):
    t = time.perf_counter()
    for start in range(0, n, batch):
        store.log_batch(run_id, [Metric("loss", 1.0 / (s + 1) + (s % 97) * 1e-4, 1_700_000_000_000 + s, s)
                                 for s in range(start, min(n, start + batch))], {}, {})
    return time.perf_counter() - t


def timed(url, params, reps=30):
    times, body = [], None
    for _ in range(reps):
        t = time.perf_counter()
        r = requests.get(url, params=params, headers={"Accept-Encoding": "gzip"})
        times.append(time.perf_counter() - t)
        r.raise_for_status()
        body = r
    return statistics.median(times), body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=10_000_000)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="swan-buckets-"))
    uri = f"sqlite:///{home / 'swan.db'}"
    engine = make_engine(uri)
    upgrade(engine)
    store = SqlTrackingStore(engine)
    exp = store.create_experiment("bench", None, {})
    small = store.create_run(exp, "b", 0, {}, "small").info.run_id
    big = store.create_run(exp, "b", 0, {}, "big").info.run_id
    t_small = ingest(store, small, args.small)
    t_big = ingest(store, big, args.big)
    engine.dispose()
    srv = LiveServer(home, backend_store_uri=uri).start()
    try:
        url = srv.url + "/api/v1/series/buckets"
        out = {"points_small": args.small, "points_big": args.big, "n": args.n,
               "ingest_s_small": round(t_small, 2), "ingest_s_big": round(t_big, 2)}
        for label, rid, lo, hi in [("small", small, None, None), ("big", big, None, None),
                                   ("big_zoom", big, 4_000_000, 4_100_000), ("small_zoom", small, 4000, 4100)]:
            med, r = timed(url, {"key": "loss", "run_id": rid, "n": args.n, "lo": lo, "hi": hi})
            s = r.json()["series"][0]
            out[label] = {"median_ms": round(med * 1000, 2), "rows_read": s["rows_read"], "buckets": len(s["runs"][0]["x"]),
                          "bytes_on_wire": len(r.content) if r.headers.get("Content-Encoding") != "gzip" else int(r.headers.get("Content-Length", 0))}
        out["ratio_big_over_small"] = round(out["big"]["median_ms"] / out["small"]["median_ms"], 2)
        print(json.dumps(out, indent=2))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
