#!/usr/bin/env python
"""Benchmark an MLflow-compatible tracking server through the public MLflow client.

Uses only ``mlflow.tracking.MlflowClient`` and ``mlflow.entities``, so the same script measures a
stock ``mlflow server`` and Swan alike. All generated data is seeded, so every server receives
exactly the same work. Prints ONE JSON line on stdout; progress goes to stderr.

Phases (skip any with ``--skip a,c``):
  a  log_batch throughput: R runs x B batches x M points over K keys
  b  sequential log_metric latency over N calls
  c  get_metric_history of an H-point metric (loaded first with log_batch; load timed separately)
  d  S runs with 2 metrics + 2 params (created with T threads), then a filtered + ordered
     search_runs fully paginated, its first page of 100, and an unfiltered listing of all S runs
  e  log_artifact / list_artifacts / download_artifacts of an A-MiB random file, best/median of repeats
     (local files on tmpfs where there is one, so that the client's disk is not what is measured)

Example:
  python bench/mlflow_bench.py --tracking-uri http://127.0.0.1:5000 --label swan > out.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Fail fast instead of letting the client retry a misbehaving server for minutes.
# Both servers get the same setting; override from the environment if needed.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "300")

import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

BASE_TS = 1_700_000_000_000  # fixed epoch-ms base so timestamps are identical on every server
PHASES = "abcde"
SEARCH_FILTER = "metrics.acc > 0.5 and params.model = 'tree'"
SEARCH_ORDER = ["metrics.acc DESC", "attributes.start_time ASC"]
LIST_ORDER = ["metrics.acc DESC"]
MODELS = ["tree", "linear", "mlp", "svm"]
MAX_METRICS_PER_BATCH = 1000  # MLflow's per-request limit


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def stats_ms(samples_s: list[float]) -> dict:
    """Median / p95 / mean / max of a list of durations in seconds, reported in ms."""
    ms = sorted(s * 1000 for s in samples_s)
    p95 = statistics.quantiles(ms, n=100, method="inclusive")[94] if len(ms) > 1 else ms[0]
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(p95, 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "max_ms": round(ms[-1], 3),
    }


def best_median(samples_s: list[float]) -> dict:
    return {
        "best_s": round(min(samples_s), 4),
        "median_s": round(statistics.median(samples_s), 4),
        "all_s": [round(s, 4) for s in samples_s],
    }


def rng_for(args, *parts) -> random.Random:
    """A deterministic RNG per (seed, phase, item): str seeds are hashed stably by `random`."""
    return random.Random("-".join(str(p) for p in (args.seed, *parts)))


def new_experiment(client: MlflowClient, args, phase: str) -> str:
    name = f"bench-{args.label}-{phase}-{uuid.uuid4().hex[:8]}"
    return client.create_experiment(name)


# ---------------------------------------------------------------------------------------------
# (a) log_batch throughput
# ---------------------------------------------------------------------------------------------
def make_batches(args, run_index: int) -> list[list[Metric]]:
    rng = rng_for(args, "a", run_index)
    per_key = args.metrics_per_batch // args.metric_keys
    batches = []
    for b in range(args.batches_per_run):
        batch = []
        for j in range(args.metrics_per_batch):
            step = b * per_key + j // args.metric_keys
            batch.append(Metric(f"m{j % args.metric_keys}", rng.random(), BASE_TS + step, step))
        batches.append(batch)
    return batches


def phase_a(client: MlflowClient, args) -> dict:
    exp_id = new_experiment(client, args, "a")
    work = [make_batches(args, r) for r in range(args.batch_runs)]  # generated before timing
    run_ids = [client.create_run(exp_id, run_name=f"batch-{r:03d}", start_time=BASE_TS + r).info.run_id
               for r in range(args.batch_runs)]

    def one_run(r: int) -> list[float]:
        durations = []
        for batch in work[r]:
            t = time.perf_counter()
            client.log_batch(run_ids[r], metrics=batch)
            durations.append(time.perf_counter() - t)
        log(f"a: run {r + 1}/{args.batch_runs} done")
        return durations

    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        per_run = list(pool.map(one_run, range(args.batch_runs)))
    wall = time.perf_counter() - t0
    points = args.batch_runs * args.batches_per_run * args.metrics_per_batch
    return {
        "points": points,
        "wall_s": round(wall, 3),
        "points_per_s": round(points / wall, 1),
        "log_batch_call": stats_ms([d for run in per_run for d in run]),
        "concurrency": args.concurrency,
    }


# ---------------------------------------------------------------------------------------------
# (b) log_metric latency
# ---------------------------------------------------------------------------------------------
def phase_b(client: MlflowClient, args) -> dict:
    exp_id = new_experiment(client, args, "b")
    run_id = client.create_run(exp_id, run_name="latency", start_time=BASE_TS).info.run_id
    rng = rng_for(args, "b")
    values = [rng.random() for _ in range(args.latency_warmup + args.latency_calls)]
    durations = []
    for i, value in enumerate(values):
        t = time.perf_counter()
        client.log_metric(run_id, "latency", value, timestamp=BASE_TS + i, step=i)
        if i >= args.latency_warmup:
            durations.append(time.perf_counter() - t)
    return {"calls": args.latency_calls, "warmup_calls": args.latency_warmup, "log_metric": stats_ms(durations)}


# ---------------------------------------------------------------------------------------------
# (c) get_metric_history of a long metric
# ---------------------------------------------------------------------------------------------
def phase_c(client: MlflowClient, args) -> dict:
    exp_id = new_experiment(client, args, "c")
    run_id = client.create_run(exp_id, run_name="history", start_time=BASE_TS).info.run_id
    rng = rng_for(args, "c")
    points = [Metric("history", rng.random(), BASE_TS + i, i) for i in range(args.history_points)]

    t0 = time.perf_counter()
    for i in range(0, len(points), MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=points[i:i + MAX_METRICS_PER_BATCH])
    load_s = time.perf_counter() - t0
    log(f"c: loaded {len(points)} points in {load_s:.1f}s")

    durations, ok = [], True
    for rep in range(args.history_repeats):
        t = time.perf_counter()
        history = client.get_metric_history(run_id, "history")
        durations.append(time.perf_counter() - t)
        got = sorted((m.step, m.value) for m in history)
        ok = ok and got == [(m.step, m.value) for m in points]
        log(f"c: get_metric_history {rep + 1}/{args.history_repeats}: {len(history)} points in {durations[-1]:.2f}s")
    return {"points": args.history_points, "load_s": round(load_s, 3),
            "get_metric_history": best_median(durations), "history_matches_logged": ok}


# ---------------------------------------------------------------------------------------------
# (d) search_runs over many runs
# ---------------------------------------------------------------------------------------------
def search_all(client: MlflowClient, exp_id: str, filter_string: str, order_by: list[str], page_size: int):
    runs, token, pages = [], None, 0
    while True:
        page = client.search_runs([exp_id], filter_string=filter_string, order_by=order_by,
                                  max_results=page_size, page_token=token)
        runs.extend(page)
        pages += 1
        token = page.token
        if not token:
            return runs, pages


def names_digest(runs) -> str:
    names = "\n".join(r.data.tags.get("mlflow.runName", r.info.run_name or "") for r in runs)
    return hashlib.sha256(names.encode()).hexdigest()[:16]


def expected_matches(args) -> int:
    """How many runs the filter should return, computed from the same seeded data."""
    rows = (_search_run_data(args, i) for i in range(args.search_runs))
    return sum(1 for acc, _loss, model, _lr in rows if acc > 0.5 and model == "tree")


def _search_run_data(args, i: int) -> tuple[float, float, str, str]:
    rng = rng_for(args, "d", i)
    return rng.random(), rng.random(), rng.choice(MODELS), f"{rng.choice([1e-3, 3e-3, 1e-2, 3e-2]):g}"


def phase_d(client: MlflowClient, args) -> dict:
    exp_id = new_experiment(client, args, "d")

    def create(i: int) -> None:
        acc, loss, model, lr = _search_run_data(args, i)
        run_id = client.create_run(exp_id, run_name=f"run-{i:05d}", start_time=BASE_TS + i).info.run_id
        ts = BASE_TS + i
        client.log_batch(run_id, metrics=[Metric("acc", acc, ts, 0), Metric("loss", loss, ts, 0)],
                         params=[Param("model", model), Param("lr", lr)])
        if (i + 1) % 250 == 0:
            log(f"d: created {i + 1}/{args.search_runs} runs")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.search_threads) as pool:
        list(pool.map(create, range(args.search_runs)))
    create_s = time.perf_counter() - t0

    filtered, matches, digest, pages = [], 0, "", 0
    for _ in range(args.search_repeats):
        t = time.perf_counter()
        runs, pages = search_all(client, exp_id, SEARCH_FILTER, SEARCH_ORDER, args.search_page_size)
        filtered.append(time.perf_counter() - t)
        matches, digest = len(runs), names_digest(runs)
    log(f"d: filtered search: {matches} runs, {pages} page(s), best {min(filtered):.3f}s")

    first_page = []
    for _ in range(args.search_repeats):
        t = time.perf_counter()
        page = client.search_runs([exp_id], filter_string=SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=100)
        first_page.append(time.perf_counter() - t)
    first_page_len = len(page)

    listing, listed, list_digest, list_pages = [], 0, "", 0
    for _ in range(args.search_repeats):
        t = time.perf_counter()
        runs, list_pages = search_all(client, exp_id, "", LIST_ORDER, args.search_page_size)
        listing.append(time.perf_counter() - t)
        listed, list_digest = len(runs), names_digest(runs)
    log(f"d: listing: {listed} runs, {list_pages} page(s), best {min(listing):.3f}s")

    return {
        "runs": args.search_runs,
        "create_s": round(create_s, 3),
        "create_threads": args.search_threads,
        "filter": SEARCH_FILTER,
        "order_by": SEARCH_ORDER,
        "filtered": {**best_median(filtered), "matches": matches, "expected_matches": expected_matches(args),
                     "pages": pages, "order_digest": digest},
        "first_page_100": {**best_median(first_page), "runs": first_page_len},
        "list_all": {**best_median(listing), "runs": listed, "pages": list_pages, "order_by": LIST_ORDER,
                     "order_digest": list_digest},
    }


# ---------------------------------------------------------------------------------------------
# (e) artifacts
# ---------------------------------------------------------------------------------------------
def phase_e(client: MlflowClient, args) -> dict:
    exp_id = new_experiment(client, args, "e")
    run_id = client.create_run(exp_id, run_name="artifact", start_time=BASE_TS).info.run_id
    size = args.artifact_mb * 2**20
    data = rng_for(args, "e").randbytes(size)
    digest = hashlib.sha256(data).hexdigest()
    up, down, listing, intact = [], [], [], True
    with tempfile.TemporaryDirectory(prefix="mlflow-bench-", dir=_memory_dir()) as tmp:
        src = Path(tmp, "up", "blob.bin")
        src.parent.mkdir()
        src.write_bytes(data)
        del data
        for rep in range(args.artifact_repeats):  # each repeat to its own artifact folder
            folder = f"rep{rep}"
            t = time.perf_counter()
            client.log_artifact(run_id, str(src), artifact_path=folder)
            up.append(time.perf_counter() - t)

            t = time.perf_counter()
            listed = client.list_artifacts(run_id, folder)
            listing.append(time.perf_counter() - t)

            down_dir = Path(tmp, "down", folder)
            down_dir.mkdir(parents=True)
            t = time.perf_counter()
            local = client.download_artifacts(run_id, f"{folder}/blob.bin", str(down_dir))
            down.append(time.perf_counter() - t)
            intact = intact and hashlib.sha256(Path(local).read_bytes()).hexdigest() == digest
            Path(local).unlink()
            log(f"e: {args.artifact_mb} MiB up {up[-1]:.2f}s, down {down[-1]:.2f}s")
    mib = size / 2**20
    return {
        "mib": args.artifact_mb,
        "upload": best_median(up),
        "upload_mib_per_s": round(mib / min(up), 1),
        "upload_mib_per_s_median": round(mib / statistics.median(up), 1),
        "list": best_median(listing),
        "listed": [(f.path, f.file_size) for f in listed],
        "download": best_median(down),
        "download_mib_per_s": round(mib / min(down), 1),
        "download_mib_per_s_median": round(mib / statistics.median(down), 1),
        "download_intact": intact,
        "local_dir": "tmpfs" if _memory_dir() else "disk",
    }


def _memory_dir() -> str | None:
    """A tmpfs folder for the artifact phase's local files, when the machine has one. The client
    writes each download to a new local file; on the disk of this project's VM, after the
    earlier phases had written their databases, those writes ran at about 400 MB/s, so both
    servers measured the client's disk rather than themselves."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


# ---------------------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"), help="server URL")
    p.add_argument("--label", default="bench", help="name recorded in the output and experiment names")
    p.add_argument("--skip", default="", help="comma-separated phases to skip, e.g. 'b,e'")
    p.add_argument("--seed", type=int, default=0)
    g = p.add_argument_group("(a) log_batch")
    g.add_argument("--batch-runs", type=int, default=20)
    g.add_argument("--batches-per-run", type=int, default=10)
    g.add_argument("--metrics-per-batch", type=int, default=1000)
    g.add_argument("--metric-keys", type=int, default=10)
    g.add_argument("--concurrency", type=int, default=1, help="client threads (one run per task)")
    g = p.add_argument_group("(b) log_metric")
    g.add_argument("--latency-calls", type=int, default=500)
    g.add_argument("--latency-warmup", type=int, default=5, help="untimed calls first")
    g = p.add_argument_group("(c) get_metric_history")
    g.add_argument("--history-points", type=int, default=100_000)
    g.add_argument("--history-repeats", type=int, default=3)
    g = p.add_argument_group("(d) search_runs")
    g.add_argument("--search-runs", type=int, default=2000)
    g.add_argument("--search-threads", type=int, default=4)
    g.add_argument("--search-repeats", type=int, default=3)
    g.add_argument("--search-page-size", type=int, default=1000)
    g = p.add_argument_group("(e) artifacts")
    g.add_argument("--artifact-mb", type=int, default=50, help="MiB")
    g.add_argument("--artifact-repeats", type=int, default=3, help="upload+download rounds; best and median")
    args = p.parse_args(argv)
    if not args.tracking_uri:
        p.error("--tracking-uri (or MLFLOW_TRACKING_URI) is required")
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.skip - set(PHASES):
        p.error(f"unknown phase(s) in --skip: {sorted(args.skip - set(PHASES))}")
    return args


def run(args: argparse.Namespace) -> dict:
    """Run the phases not in args.skip; return the result (errors are recorded, not raised)."""
    client = MlflowClient(tracking_uri=args.tracking_uri)
    runners = {"a": phase_a, "b": phase_b, "c": phase_c, "d": phase_d, "e": phase_e}
    result = {
        "label": args.label,
        "tracking_uri": args.tracking_uri,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "client": {"mlflow": mlflow.__version__, "python": platform.python_version()},
        "params": {k: v for k, v in vars(args).items() if k not in ("tracking_uri", "skip", "label")},
        "skipped": sorted(args.skip),
        "phases": {},
        "errors": {},
    }
    t0 = time.perf_counter()
    for phase in PHASES:
        if phase in args.skip:
            continue
        log(f"phase {phase} against {args.tracking_uri}")
        t = time.perf_counter()
        try:
            result["phases"][phase] = runners[phase](client, args)
        except Exception as exc:  # noqa: BLE001  record and go on, so one broken endpoint does not hide the rest
            log(f"phase {phase} FAILED: {exc!r}")
            traceback.print_exc(file=sys.stderr)
            result["errors"][phase] = f"{type(exc).__name__}: {exc}"[:2000]
        log(f"phase {phase} took {time.perf_counter() - t:.1f}s")
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    return result


def main(argv=None) -> int:
    result = run(parse_args(argv))
    print(json.dumps(result), flush=True)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
