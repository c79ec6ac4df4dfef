"""swan_client side by side with swanlab (offline) and mlflow (asynchronous logging).

    python bench/client_bench.py                 # starts a throwaway `swan server`
    python bench/client_bench.py --calls 20000 --points 1000000 --repeat 3

1. Per-call cost of logging 10 keys in a training loop: `run.log` (online to Swan, and offline),
   `swanlab.log` in offline mode, `mlflow.log_metrics(..., synchronous=False)` against the same Swan
   server. Each runs in its own process, one after the other (the machine has 2 cores); the time
   is the loop alone (init and finish excluded), divided by the number of calls.
   Target: swan ≤ 1/3 of each of the other two.
2. 1,000,000 points (10 keys × 100,000 steps) through `run.log`, from the first call until
   `finish()` returned with everything on the server, against the time the server needs to ingest
   the same points through the bulk API (ten 100,000-point `POST /api/v1/runs/{id}/batches`,
   bodies encoded beforehand). Target: ≤ 2×.

Prints a JSON line per measurement on stderr and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent

LOOP_SWAN = r"""
import json, sys, time
import swan_client
mode, calls, url, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
run = swan_client.init(project="bench-calls", name=f"calls-{mode}", mode=mode, tracking_uri=url, dir=folder,
                       monitor=False, capture_console=False)
names = [f"metric_{k}" for k in range(10)]
rows = [{n: (step * (i + 1)) % 97 / 97.0 for i, n in enumerate(names)} for step in range(calls)]
t0 = time.perf_counter()
for step in range(calls):
    run.log(rows[step], step=step)
t1 = time.perf_counter()
res = run.finish()
t2 = time.perf_counter()
print("BENCH=" + json.dumps({"what": f"swan_client run.log ({mode})", "per_call_us": (t1 - t0) / calls * 1e6,
                             "finish_s": t2 - t1, "uploaded": res.uploaded}))
"""

LOOP_SWANLAB = r"""
import json, sys, time
import swanlab
calls = int(sys.argv[1])
swanlab.init(project="bench-calls", experiment_name="calls-offline", mode="offline")
names = [f"metric_{k}" for k in range(10)]
rows = [{n: (step * (i + 1)) % 97 / 97.0 for i, n in enumerate(names)} for step in range(calls)]
t0 = time.perf_counter()
for step in range(calls):
    swanlab.log(rows[step], step=step)
t1 = time.perf_counter()
swanlab.finish()
t2 = time.perf_counter()
print("BENCH=" + json.dumps({"what": "swanlab.log (offline)", "per_call_us": (t1 - t0) / calls * 1e6,
                             "finish_s": t2 - t1}))
"""

LOOP_MLFLOW = r"""
import json, sys, time
import mlflow
calls, url = int(sys.argv[1]), sys.argv[2]
mlflow.set_tracking_uri(url)
mlflow.set_experiment("bench-calls-mlflow")
names = [f"metric_{k}" for k in range(10)]
rows = [{n: (step * (i + 1)) % 97 / 97.0 for i, n in enumerate(names)} for step in range(calls)]
with mlflow.start_run():
    t0 = time.perf_counter()
    for step in range(calls):
        mlflow.log_metrics(rows[step], step=step, synchronous=False)
    t1 = time.perf_counter()
    mlflow.flush_async_logging()
    t2 = time.perf_counter()
print("BENCH=" + json.dumps({"what": "mlflow.log_metrics (synchronous=False)", "per_call_us": (t1 - t0) / calls * 1e6,
                             "finish_s": t2 - t1}))
"""

MILLION_SWAN = r"""
import json, sys, time
import swan_client
points, url, folder = int(sys.argv[1]), sys.argv[2], sys.argv[3]
steps = points // 10
names = [f"metric_{k}" for k in range(10)]
run = swan_client.init(project="bench-million", name="million", tracking_uri=url, dir=folder, monitor=False,
                       capture_console=False, finish_timeout=600)
t0 = time.perf_counter()
for step in range(steps):
    run.log({n: step * 0.001 + i for i, n in enumerate(names)}, step=step)
t1 = time.perf_counter()
res = run.finish()
t2 = time.perf_counter()
print("BENCH=" + json.dumps({"what": "1M points via run.log", "log_loop_s": t1 - t0, "finish_s": t2 - t1,
                             "total_s": t2 - t0, "uploaded": res.uploaded, "run_id": run.run_id}))
"""

MILLION_BULK = r"""
import json, sys, time, uuid
import orjson, requests
points, url = int(sys.argv[1]), sys.argv[2]
steps = points // 10
names = [f"metric_{k}" for k in range(10)]
s = requests.Session()
run = s.post(url + "/api/v1/runs", json={"project": "bench-million", "name": "bulk"}).json()["run"]
now = int(time.time() * 1000)
bodies = []
per = 100_000
flat = [(n, step, step * 0.001 + i) for step in range(steps) for i, n in enumerate(names)]
for start in range(0, len(flat), per):
    chunk = flat[start:start + per]
    bodies.append(orjson.dumps({"idempotency_key": uuid.uuid4().hex, "metrics": {
        "key": [c[0] for c in chunk], "step": [c[1] for c in chunk], "timestamp": [now] * len(chunk),
        "value": [c[2] for c in chunk]}}))
t0 = time.perf_counter()
for body in bodies:
    r = s.post(url + f"/api/v1/runs/{run['run_id']}/batches", data=body, headers={"Content-Type": "application/json"})
    r.raise_for_status()
t1 = time.perf_counter()
print("BENCH=" + json.dumps({"what": "1M points via the bulk API (server ingest)", "total_s": t1 - t0}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path):
    port = free_port()
    log = open(home / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "swan_client.cli", "server", "--port", str(port)],
                            env={**os.environ, "SWAN_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(url + "/health", timeout=1).ok:
                return proc, url
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"swan server did not start; see {home / 'server.log'}")


def child(code: str, args: list[str], work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    script = work / "child.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWANLAB_", "MLFLOW_"))}
    env.update(HOME=str(work), SWANLAB_LOG_DIR=str(work / "swanlog"), SWANLAB_LOGDIR=str(work / "swanlog"),
               SWANLAB_ROOT=str(work / "swanroot"), SWANLAB_INTERACTIVE="false", SWANLAB_PROBE_MONITOR="false",
               PYTHONPATH=str(ROOT), MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT="true")
    proc = subprocess.run([sys.executable, str(script), *args], cwd=work, env=env, capture_output=True, text=True,
                          timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH="):
            out = json.loads(line[6:])
            print(json.dumps(out), file=sys.stderr)
            return out
    raise RuntimeError(f"benchmark child failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=20_000, help="log calls per per-call measurement")
    ap.add_argument("--points", type=int, default=1_000_000, help="points for the throughput measurement")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--url", help="an existing swan server (default: start one)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="swan-client-bench-"))
    proc = None
    url = args.url
    if not url:
        (tmp / "home").mkdir()
        proc, url = start_server(tmp / "home")
    try:
        load = os.getloadavg()[0]
        rows: dict[str, list[dict]] = {}
        for r in range(args.repeat):
            for name, code, extra in (
                ("swan_online", LOOP_SWAN, ["online", str(args.calls), url, str(tmp / f"runs{r}")]),
                ("swan_offline", LOOP_SWAN, ["offline", str(args.calls), url, str(tmp / f"runs{r}")]),
                ("swanlab_offline", LOOP_SWANLAB, [str(args.calls)]),
                ("mlflow_async", LOOP_MLFLOW, [str(args.calls), url]),
            ):
                rows.setdefault(name, []).append(child(code, extra, tmp / f"{name}-{r}"))
            rows.setdefault("million_swan", []).append(
                child(MILLION_SWAN, [str(args.points), url, str(tmp / f"million{r}")], tmp / f"million-{r}"))
            rows.setdefault("million_bulk", []).append(child(MILLION_BULK, [str(args.points), url], tmp / f"bulk-{r}"))
        best = {k: min(v, key=lambda x: x.get("per_call_us", x.get("total_s"))) for k, v in rows.items()}
        med = {k: statistics.median(x.get("per_call_us", x.get("total_s")) for x in v) for k, v in rows.items()}
        swan = best["swan_online"]["per_call_us"]
        swan_off = best["swan_offline"]["per_call_us"]
        out = [
            f"load average before: {load:.2f}; {args.repeat} repeat(s); best (median) of each",
            "",
            "| measure | value | ratio | target |",
            "|---|---|---|---|",
            f"| swan_client `run.log`, 10 keys, online | {swan:.1f} µs/call ({med['swan_online']:.1f}) | | |",
            f"| swan_client `run.log`, 10 keys, offline | {swan_off:.1f} µs/call ({med['swan_offline']:.1f}) | | |",
            f"| `swanlab.log`, 10 keys, offline | {best['swanlab_offline']['per_call_us']:.1f} µs/call "
            f"({med['swanlab_offline']:.1f}) | swan online = 1/{best['swanlab_offline']['per_call_us'] / swan:.1f} | ≤ 1/3 |",
            f"| `mlflow.log_metrics(synchronous=False)`, 10 keys | {best['mlflow_async']['per_call_us']:.1f} µs/call "
            f"({med['mlflow_async']:.1f}) | swan online = 1/{best['mlflow_async']['per_call_us'] / swan:.1f} | ≤ 1/3 |",
            f"| {args.points:,} points via `run.log` until `finish()` returned | {best['million_swan']['total_s']:.2f} s "
            f"({med['million_swan']:.2f}; loop {best['million_swan']['log_loop_s']:.2f} s, finish "
            f"{best['million_swan']['finish_s']:.2f} s) | {best['million_swan']['total_s'] / best['million_bulk']['total_s']:.2f}× | ≤ 2× |",
            f"| the same points through the bulk API (server ingest) | {best['million_bulk']['total_s']:.2f} s "
            f"({med['million_bulk']:.2f}) | | |",
        ]
        print("\n".join(out))
        (tmp / "results.json").write_text(json.dumps(rows, indent=2))
        return 0
    finally:
        if proc is not None:
            import signal

            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
