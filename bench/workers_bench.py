#!/usr/bin/env python
"""Ingestion with N server workers on PostgreSQL: Swan with 1 and 2 gunicorn workers, side by side
with a stock `mlflow server` (1 and 2 workers) on the same PostgreSQL; plus a 1 GiB artifact
through S3 (moto) with the server's memory sampled.

Every server gets a fresh database on the local PostgreSQL (127.0.0.1:5432, user postgres, or
SWAN_TEST_POSTGRES) and runs alone; W writer processes each create a run and send P points
through the MLflow REST `runs/log-batch` route in 1000-point requests (tests/writers.py: the
same bodies for both servers, resent on a 5xx or a connection error), after an untimed warm-up
of 2 writers per worker × 5 batches. Afterwards the points in the database are counted: every
point must be there exactly once.

  python bench/workers_bench.py                       # 8 writers x 200,000 points (stock MLflow 50,000), 1 GiB artifact
  python bench/workers_bench.py --mlflow-points 10000 # fewer points per writer for stock MLflow
  python bench/workers_bench.py --skip-mlflow --artifact-mb 0

Each timed run must last long enough for a steady rate: at 8 x 50,000 points Swan's runs lasted
under 2.5 s and measured 156,000-167,000 points/s with one worker where 8 x 200,000 (7 s)
measured 222,000, the first second of a run (pools filling, the new tables' first pages) weighing
on the whole. Stock MLflow's runs at 8 x 50,000 already last 30-55 s, so it keeps that size by
default; the larger tables Swan writes into only cost Swan.

Prints a Markdown table and writes bench/out/workers-<time>.json. Figures only: nothing here is
asserted; the 2-core machine is shared, so record the load average with the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from bench.calibrate import machine_speed  # noqa: E402
from bench.run_side_by_side import VENV, Server, ensure_mlflow_venv, free_port, log  # noqa: E402
from tests.databases import ADMIN_URIS  # noqa: E402
from tests.writers import run_writers  # noqa: E402

OUT = BENCH / "out"


class Database:
    def __init__(self):
        self.name = f"swan_bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(ADMIN_URIS["postgresql"], isolation_level="AUTOCOMMIT")
        base = ADMIN_URIS["postgresql"].split("://", 1)[1].rsplit("/", 1)[0]
        self.swan_uri = f"postgresql://{base}/{self.name}"
        self.mlflow_uri = f"postgresql+psycopg://{base}/{self.name}"

    def __enter__(self):
        with self.admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {self.name}"))
        return self

    def __exit__(self, *exc):
        with self.admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))
        self.admin.dispose()


def ensure_psycopg_in_venv() -> None:
    py = str(VENV / "bin" / "python")
    if subprocess.run([py, "-c", "import psycopg"], capture_output=True).returncode != 0:
        log("installing psycopg[binary] into the stock-MLflow venv (for PostgreSQL)")
        subprocess.run([py, "-m", "pip", "install", "--quiet", "psycopg[binary]"], check=True)


def swan_server(db: Database, tmp: Path, workers: int, artifacts: str | None = None, env: dict | None = None) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "swan_client.cli", "server", "--host", "127.0.0.1", "--port", str(port),
           "--backend-store-uri", db.swan_uri, "--artifacts-destination", artifacts or str(tmp / "art"),
           "--workers", str(workers)]
    return Server(f"swan-{workers}w", cmd, port, tmp / f"swan-{workers}w.log",
                  {**os.environ, "SWAN_HOME": str(tmp / "home"), **(env or {})})


def mlflow_server(db: Database, tmp: Path, workers: int) -> Server:
    port = free_port()
    cmd = [str(VENV / "bin" / "mlflow"), "server", "--backend-store-uri", db.mlflow_uri, "--serve-artifacts",
           "--artifacts-destination", str(tmp / "mlflow-art"), "--workers", str(workers),
           "--host", "127.0.0.1", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return Server(f"mlflow-{workers}w", cmd, port, tmp / f"mlflow-{workers}w.log", env)


def count_points(uri: str, kind: str) -> tuple[int, dict]:
    """(points stored, on-disk bytes per point of the points tables with their indexes)."""
    engine = create_engine(uri.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            if kind == "swan":  # points are stored in chunks, each with its count
                tables = ["metric_chunks", "metric_rollups", "metric_series"]
                n = conn.execute(text("SELECT coalesce(sum(point_count), 0) FROM metric_chunks")).scalar()
            else:
                tables = ["metrics", "latest_metrics"]
                n = conn.execute(text(f"SELECT count(*) FROM {tables[0]}")).scalar()
            sizes = {t: conn.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar() for t in tables}
            return n, {t: round(b / n, 1) if n else None for t, b in sizes.items()}
    finally:
        engine.dispose()


def ingest(kind: str, workers: int, writers: int, points: int, tmp: Path) -> dict:
    with Database() as db:
        server = (swan_server if kind == "swan" else mlflow_server)(db, tmp, workers)
        server.start()
        try:
            exp = requests.post(server.url + "/api/2.0/mlflow/experiments/create",
                                json={"name": f"bench-{uuid.uuid4().hex[:6]}"}, timeout=60).json()["experiment_id"]
            # Untimed warm-up in another experiment: every worker's first requests import and
            # connect (stock MLflow's first calls are several times slower than the rest).
            warm = requests.post(server.url + "/api/2.0/mlflow/experiments/create",
                                 json={"name": f"warm-{uuid.uuid4().hex[:6]}"}, timeout=60).json()["experiment_id"]
            run_writers(server.url, warm, 2 * workers, 5 * 1000, timeout=600)
            speed_before = machine_speed()
            load = os.getloadavg()
            log(f"{server.name}: {writers} writers x {points} points")
            results, stats, seconds = run_writers(server.url, exp, writers, points, timeout=3600)
            speed = {"before": speed_before, "after": machine_speed()}
            stored, bytes_per_point = count_points(db.swan_uri, kind)
            stored -= 2 * workers * 5 * 1000  # the warm-up's points
        finally:
            server.stop()
    total = writers * points
    return {
        "server": kind, "workers": workers, "writers": writers, "points_per_writer": points,
        "points": total, "seconds": round(seconds, 2), "points_per_s": round(total / seconds),
        "stored_points": stored, "bytes_per_point": bytes_per_point, "exactly_once": stored == total and len(results) == writers,
        "writer_stats": stats, "loadavg_before": [round(x, 2) for x in load], "machine_speed": speed,
    }


def artifact_through_s3(size_mb: int, tmp: Path) -> dict:
    from tests.s3 import MotoS3
    from tests.test_artifacts import ARTIFACTS, MiB, PatternStream, RssSampler

    s3 = MotoS3().start()
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.client().create_bucket(Bucket=bucket)
    try:
        with Database() as db:
            server = swan_server(db, tmp, 2, artifacts=f"s3://{bucket}/swan", env=s3.env).start()
            try:
                base = server.url + ARTIFACTS + "/bench"
                requests.put(base + "/warm.bin", data=PatternStream(20 * MiB), timeout=300).raise_for_status()
                requests.get(base + "/warm.bin", timeout=300).raise_for_status()
                import psutil

                parent = psutil.Process(server.proc.pid)
                pids = [parent.pid] + [c.pid for c in parent.children(recursive=True)]
                rss_before = sum(psutil.Process(p).memory_info().rss for p in pids)
                sampler = RssSampler(pids)
                sampler.start()
                size = size_mb * MiB
                body = PatternStream(size)
                t0 = time.perf_counter()
                requests.put(base + "/big.bin", data=body, timeout=3600).raise_for_status()
                up = time.perf_counter() - t0
                h, n = hashlib.sha256(), 0
                t0 = time.perf_counter()
                with requests.get(base + "/big.bin", stream=True, timeout=3600) as r:
                    for chunk in r.iter_content(MiB):
                        h.update(chunk)
                        n += len(chunk)
                down = time.perf_counter() - t0
                sampler.stop()
            finally:
                server.stop()
    finally:
        s3.stop()
    return {"size_mib": size_mb, "upload_s": round(up, 2), "download_s": round(down, 2),
            "upload_mb_s": round(size / up / 1e6, 1), "download_mb_s": round(size / down / 1e6, 1),
            "intact": n == size and h.hexdigest() == body.sha256,
            "server_rss_before_mib": round(rss_before / MiB, 1),
            "server_rss_peak_growth_mib": round(sampler.peak / MiB, 1), "rss_samples": sampler.samples}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--points", type=int, default=200_000, help="points per writer for Swan")
    p.add_argument("--mlflow-points", type=int, default=50_000, help="points per writer for stock MLflow")
    p.add_argument("--workers", default="1,2", help="worker counts to measure")
    p.add_argument("--skip-mlflow", action="store_true")
    p.add_argument("--artifact-mb", type=int, default=1024, help="0 skips the S3 artifact measure")
    args = p.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    OUT.mkdir(exist_ok=True)
    result = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "machine": {
        "cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "runs": []}
    with tempfile.TemporaryDirectory(prefix="swan-workers-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for w in worker_counts:
            result["runs"].append(ingest("swan", w, args.writers, args.points, tmp))
            log(json.dumps(result["runs"][-1]))
        if not args.skip_mlflow:
            ensure_mlflow_venv()
            ensure_psycopg_in_venv()
            for w in worker_counts:
                result["runs"].append(ingest("mlflow", w, args.writers, args.mlflow_points, tmp))
                log(json.dumps(result["runs"][-1]))
        if args.artifact_mb:
            result["artifact"] = artifact_through_s3(args.artifact_mb, tmp)
            log(json.dumps(result["artifact"]))
    path = OUT / f"workers-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=1))

    mlflow_by_w = {r["workers"]: r for r in result["runs"] if r["server"] == "mlflow"}
    print("| server | workers | writers × points | seconds | points/s | exactly once | vs stock MLflow, same workers |")
    print("|---|---|---|---|---|---|---|")
    for r in result["runs"]:
        ref = mlflow_by_w.get(r["workers"])
        ratio = f"{r['points_per_s'] / ref['points_per_s']:.1f}×" if ref and r["server"] == "swan" else ""
        print(f"| {r['server']} | {r['workers']} | {r['writers']} × {r['points_per_writer']:,} | {r['seconds']} | "
              f"{r['points_per_s']:,} | {'yes' if r['exactly_once'] else 'NO'} | {ratio} |")
    print("\nmachine speed (bench/calibrate.py, ms, before and after each run): " + "; ".join(
        f"{r['server']} {r['workers']}w {r.get('machine_speed')}" for r in result["runs"]))
    if "artifact" in result:
        a = result["artifact"]
        print(f"\n{a['size_mib']} MiB through S3 (moto), 2 workers: up {a['upload_mb_s']} MB/s, down "
              f"{a['download_mb_s']} MB/s, intact: {a['intact']}, server RSS {a['server_rss_before_mib']} MiB before, "
              f"peak growth {a['server_rss_peak_growth_mib']} MiB")
    print(f"\nraw: {path}")
    return 0 if all(r["exactly_once"] for r in result["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
