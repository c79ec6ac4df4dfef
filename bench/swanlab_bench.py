"""SwanLab SDK against Swan: the same training loop online (logging to a Swan server) and in
SwanLab's own offline mode, side by side.

    python bench/swanlab_bench.py                  # starts a throwaway `swan server`
    python bench/swanlab_bench.py --steps 10000 --keys 10 --url http://127.0.0.1:5000 --key swan_...

Reports total wall time (init → finish returned), the online/offline ratio (target ≤ 1.5), and
the latency of `finish()` after the last `log` (target ≤ 5 s). Each mode runs in its own process,
one after the other (the machine has 2 cores), with HOME, SWANLAB_ROOT and the log folder in a
temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

CHILD = r"""
import json, sys, time
import swanlab
mode, steps, keys, url, key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
t0 = time.perf_counter()
if mode == "online":
    swanlab.login(host=url, api_key=key)
swanlab.init(project="bench", experiment_name=f"bench-{mode}", mode=mode, config={"steps": steps, "keys": keys})
t_init = time.perf_counter()
names = [f"metric_{k}" for k in range(keys)]
for step in range(steps):
    swanlab.log({n: (step * (i + 1)) % 97 / 97.0 for i, n in enumerate(names)}, step=step)
t_logged = time.perf_counter()
swanlab.finish()
t_done = time.perf_counter()
print("BENCH=" + json.dumps({"mode": mode, "init": t_init - t0, "log_loop": t_logged - t_init,
                             "finish": t_done - t_logged, "total": t_done - t0}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    env = {**os.environ, "SWAN_HOME": str(home)}
    log = open(home / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "swan_client.cli", "server", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(url + "/health", timeout=1).ok:
                return proc, url, (home / "admin_api_key").read_text().strip()
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError("swan server did not start; see " + str(home / "server.log"))


def run_mode(mode: str, steps: int, keys: int, url: str, key: str, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWANLAB_")}
    env.update(HOME=str(work / "home"), SWANLAB_ROOT=str(work / "root"), SWANLAB_LOGDIR=str(work / "swanlog"),
               SWANLAB_LOG_DIR=str(work / "swanlog"), SWANLAB_PROBE_MONITOR="false", SWANLAB_INTERACTIVE="false")
    (work / "home").mkdir(exist_ok=True)
    script = work / "child.py"
    script.write_text(CHILD)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script), mode, str(steps), str(keys), url, key], cwd=work, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0 or "BENCH=" not in proc.stdout:
        raise RuntimeError(f"{mode} run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.rsplit("BENCH=", 1)[1].splitlines()[0])
    result["process_wall"] = wall
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--url", help="an already running Swan server (default: start one)")
    parser.add_argument("--key", help="API key for --url")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="swanlab-bench-"))
    server = None
    url, key = args.url, args.key
    if not url:
        (tmp / "swan").mkdir()
        server, url, key = start_server(tmp / "swan")
    try:
        rows = []
        for i in range(args.repeat):
            offline = run_mode("offline", args.steps, args.keys, url, key, tmp / f"offline-{i}")
            online = run_mode("online", args.steps, args.keys, url, key, tmp / f"online-{i}")
            rows.append((offline, online))
            print(f"run {i + 1}: offline total {offline['total']:.2f} s (finish {offline['finish']:.2f} s); "
                  f"online total {online['total']:.2f} s (init {online['init']:.2f} s, log loop "
                  f"{online['log_loop']:.2f} s, finish {online['finish']:.2f} s); "
                  f"ratio {online['total'] / offline['total']:.2f}")
        best_off = min(r[0]["total"] for r in rows)
        best_on = min(r[1]["total"] for r in rows)
        worst_finish = max(r[1]["finish"] for r in rows)
        summary = {"steps": args.steps, "keys": args.keys, "points": args.steps * args.keys,
                   "offline_total_s": round(best_off, 2), "online_total_s": round(best_on, 2),
                   "ratio": round(best_on / best_off, 2), "online_finish_s": round(worst_finish, 2),
                   "target_ratio": 1.5, "target_finish_s": 5.0}
        print(json.dumps(summary, indent=2))
        if server is not None:  # check the server kept every point
            from mlflow import MlflowClient

            client = MlflowClient(url)
            exp = client.get_experiment_by_name("bench")
            runs = client.search_runs([exp.experiment_id], "attributes.status = 'FINISHED'")
            for run in runs:
                n = len(client.get_metric_history(run.info.run_id, "metric_0"))
                print(f"server kept {n} points of metric_0 for {run.info.run_name}")
    finally:
        if server is not None:
            os.killpg(server.pid, 15)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, 9)
                server.wait(10)


if __name__ == "__main__":
    main()
