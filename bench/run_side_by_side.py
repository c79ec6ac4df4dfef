#!/usr/bin/env python
"""Run bench/mlflow_bench.py against Swan and against a stock `mlflow server`, then compare.

One server at a time (the box has 2 cores): start it in its own process group with a fresh
SQLite database and artifact folder in a temp dir, wait for /health, run the benchmark client,
kill the process group. Prints a table (measure, Swan, MLflow, ratio, target) and writes the raw
JSON plus the table to bench/out/.

  python bench/run_side_by_side.py                          # full sizes (MLFLOW-SURFACE §6.2)
  python bench/run_side_by_side.py --quick                  # small sizes, about a minute
  python bench/run_side_by_side.py --mlflow-results bench/out/mlflow-full.json
        # reuse that stock-MLflow result if the file exists, else run MLflow and save it there

Arguments after `--` go to mlflow_bench.py for both servers (e.g. `-- --skip e`).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
VENV = BENCH / ".venv-mlflow"
MLFLOW_VERSION = "3.17.2"

# Sizes from docs MLFLOW-SURFACE §6.2 (the stock-MLflow baseline was measured at these).
FULL_SIZES = ["--batch-runs", "20", "--batches-per-run", "10", "--metrics-per-batch", "1000",
              "--latency-calls", "500", "--history-points", "100000", "--search-runs", "2000",
              "--artifact-mb", "50"]
QUICK_SIZES = ["--batch-runs", "4", "--batches-per-run", "5", "--metrics-per-batch", "1000",
               "--latency-calls", "100", "--history-points", "20000", "--search-runs", "400",
               "--search-repeats", "2", "--history-repeats", "2", "--artifact-mb", "10",
               "--artifact-repeats", "2"]


def log(msg: str) -> None:
    print(f"[side-by-side {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# the stock MLflow venv
# ---------------------------------------------------------------------------------------------
def venv_python() -> Path:
    return VENV / "bin" / "python"


def venv_mlflow_version() -> str | None:
    if not venv_python().exists():
        return None
    proc = subprocess.run([str(venv_python()), "-c", "import mlflow; print(mlflow.__version__)"],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure_mlflow_venv() -> None:
    """Create bench/.venv-mlflow with the full mlflow==3.17.2 once; reuse it afterwards."""
    if venv_mlflow_version() == MLFLOW_VERSION:
        return
    log(f"creating {VENV} with mlflow=={MLFLOW_VERSION} (one-off, a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(venv_python()), "-m", "pip", "install", "--quiet", f"mlflow=={MLFLOW_VERSION}"], check=True)
    found = venv_mlflow_version()
    if found != MLFLOW_VERSION:
        raise SystemExit(f"mlflow venv has version {found!r}, wanted {MLFLOW_VERSION}")


# ---------------------------------------------------------------------------------------------
# servers
# ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server subprocess in its own process group; `stop()` kills the whole group."""

    def __init__(self, name: str, cmd: list[str], port: int, log_path: Path, env: dict | None = None):
        self.name, self.cmd, self.port, self.log_path = name, cmd, port, log_path
        self.url = f"http://127.0.0.1:{port}"
        self.env = env or dict(os.environ)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> Server:
        log(f"starting {self.name}: {' '.join(self.cmd)}")
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (open for the server's lifetime)
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=REPO, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    log(f"{self.name} healthy at {self.url}")
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} not healthy after {timeout}s; see {self.log_path}")

    def version(self) -> str | None:
        try:
            r = requests.get(self.url + "/version", timeout=5)
            return r.text.strip() if r.ok else None
        except requests.RequestException:
            return None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # the group leader may be gone while workers linger: make sure the group is empty
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()
        log(f"{self.name} stopped")


def swan_server(tmp: Path, log_path: Path) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "swan_client.cli", "server", "--host", "127.0.0.1", "--port", str(port),
           "--backend-store-uri", f"sqlite:///{tmp}/swan.db", "--artifacts-destination", f"{tmp}/art2"]
    env = {**os.environ, "SWAN_HOME": str(tmp / "swan-home")}
    return Server("swan", cmd, port, log_path, env)


def mlflow_server(tmp: Path, log_path: Path) -> Server:
    port = free_port()
    cmd = [str(VENV / "bin" / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db",
           "--serve-artifacts", "--artifacts-destination", f"{tmp}/art", "--workers", "1",
           "--host", "127.0.0.1", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return Server("mlflow", cmd, port, log_path, env)


def machine_speed() -> dict | None:
    """bench/calibrate.py's timings of fixed work: this machine's speed for the minutes around a run."""
    proc = subprocess.run([sys.executable, str(BENCH / "calibrate.py")], stdout=subprocess.PIPE, text=True, check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.startswith("{") else None


def run_bench(server: Server, label: str, client_python: str, bench_args: list[str]) -> dict:
    cmd = [client_python, str(BENCH / "mlflow_bench.py"), "--tracking-uri", server.url, "--label", label,
           *bench_args]
    log(f"running: {' '.join(cmd)}")
    speed_before = machine_speed()
    load_before = os.getloadavg()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)  # progress streams through stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"benchmark against {label} printed no JSON (exit {proc.returncode})")
    result = json.loads(lines[-1])
    result["command"] = cmd
    wire_cmd = [client_python, str(BENCH / "wire_bench.py"), "--tracking-uri", server.url, *bench_args]
    log(f"running: {' '.join(wire_cmd)}")
    wire = subprocess.run(wire_cmd, stdout=subprocess.PIPE, text=True, check=False)
    wire_lines = [line for line in wire.stdout.splitlines() if line.startswith("{")]
    if wire_lines:
        wire_result = json.loads(wire_lines[-1])
        result.setdefault("phases", {}).update(wire_result["phases"])
        result.setdefault("errors", {}).update({f"wire {k}": v for k, v in wire_result["errors"].items()})
    else:
        result.setdefault("errors", {})["wire"] = f"wire_bench.py printed no JSON (exit {wire.returncode})"
    result["loadavg_before"] = [round(x, 2) for x in load_before]
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    result["machine_speed"] = {"before": speed_before, "after": machine_speed()}
    result["server_command"] = server.cmd
    result["server_version"] = server.version()
    return result


def run_floor(client_python: str, bench_args: list[str]) -> dict | None:
    cmd = [client_python, str(BENCH / "client_floor.py"), *bench_args]
    log(f"running: {' '.join(cmd)}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        log(f"client_floor.py printed no JSON (exit {proc.returncode}); no ceiling column")
        return None
    return {**json.loads(lines[-1]), "command": cmd}


def best_of(results: list[dict | None]) -> dict | None:
    """Merge client-floor runs: per table measure keep the best value (it is a lower bound on cost)."""
    results = [r for r in results if r]
    if not results:
        return None
    merged = copy.deepcopy(results[0])
    for _label, path, _unit, higher_better, _target in ROWS:
        values = [v for v in (dig(r, *path) for r in results) if v is not None]
        if values:
            node = merged["phases"]
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = max(values) if higher_better else min(values)
    merged["merged_from"] = len(results)
    return merged


def measure(name: str, make_server, client_python: str, bench_args: list[str], stamp: str) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        server = make_server(Path(tmp), OUT / f"{name}-server-{stamp}.log")
        try:
            server.start()
            return run_bench(server, name, client_python, bench_args)
        finally:
            server.stop()


# ---------------------------------------------------------------------------------------------
# the comparison table
# ---------------------------------------------------------------------------------------------
def dig(result: dict, *path):
    node = result.get("phases", {})
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


# (measure, path into phases, unit, higher_is_better, target ratio or None)
ROWS = [
    ("(a) log_batch throughput", ("a", "points_per_s"), "points/s", True, 30),
    ("(a) log_batch call (1000 pts) median", ("a", "log_batch_call", "median_ms"), "ms", False, None),
    ("(a) log_batch call (1000 pts) p95", ("a", "log_batch_call", "p95_ms"), "ms", False, None),
    ("(b) log_metric latency median", ("b", "log_metric", "median_ms"), "ms", False, 4),
    ("(b) log_metric latency p95", ("b", "log_metric", "p95_ms"), "ms", False, None),
    ("(c) get_metric_history, best", ("c", "get_metric_history", "best_s"), "s", False, 20),
    ("(c) get_metric_history, median", ("c", "get_metric_history", "median_s"), "s", False, None),
    ("(c) loading the history with log_batch", ("c", "load_s"), "s", False, None),
    ("(d) creating the search runs (4 threads)", ("d", "create_s"), "s", False, None),
    ("(d) filtered+ordered search, all pages, best", ("d", "filtered", "best_s"), "s", False, 10),
    ("(d) same, first page of 100, best", ("d", "first_page_100", "best_s"), "s", False, None),
    ("(d) listing all runs by a metric, best", ("d", "list_all", "best_s"), "s", False, 15),
    ("(wa) raw HTTP log-batch throughput", ("wa", "points_per_s"), "points/s", True, 30),
    ("(wb) raw HTTP log-metric latency median", ("wb", "log_metric", "median_ms"), "ms", False, 4),
    ("(wc) raw HTTP get-history, all pages, best", ("wc", "get_metric_history", "best_s"), "s", False, 20),
    ("(wd) raw HTTP filtered search, best", ("wd", "filtered", "best_s"), "s", False, 10),
    ("(wd) raw HTTP listing all runs, best", ("wd", "list_all", "best_s"), "s", False, 15),
    ("(e) artifact upload, best", ("e", "upload_mib_per_s"), "MiB/s", True, 1),
    ("(e) artifact upload, median", ("e", "upload_mib_per_s_median"), "MiB/s", True, None),
    ("(e) artifact download, best", ("e", "download_mib_per_s"), "MiB/s", True, 1),
    ("(e) artifact download, median", ("e", "download_mib_per_s_median"), "MiB/s", True, None),
]


def fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and value >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


def sized_label(label: str, result: dict) -> str:
    """Put the sizes of this run into the measure's label."""
    p = result.get("params", {})
    sizes = {
        "(a)": f"{p.get('batch_runs')}×{p.get('batches_per_run')}×{p.get('metrics_per_batch')} pts",
        "(b)": f"{p.get('latency_calls')} calls",
        "(c)": f"{p.get('history_points'):,} pts" if p.get("history_points") else "",
        "(d)": f"{p.get('search_runs'):,} runs" if p.get("search_runs") else "",
        "(e)": f"{p.get('artifact_mb')} MiB",
        "(wa": f"{p.get('batch_runs')}×{p.get('batches_per_run')}×{p.get('metrics_per_batch')} pts, median of "
               f"{p.get('repeats', 3)} rounds",
        "(wb": f"{p.get('latency_calls')} calls",
        "(wc": f"{p.get('history_points'):,} pts" if p.get("history_points") else "",
        "(wd": f"{p.get('search_runs'):,} runs" if p.get("search_runs") else "",
    }
    return f"{label} [{sizes.get(label[:3], '')}]"


def better_by(new, old, higher_better: bool):
    """How many times better `new` is than `old` (> 1 means new wins), or None."""
    if not new or not old:
        return None
    return new / old if higher_better else old / new


def compare(swan: dict, stock: dict, floor: dict | None) -> tuple[list[list[str]], list[str]]:
    """Table rows and notes. Ratio = how many times better Swan is (>1 means Swan wins).
    Ceiling = how many times better than MLflow a server with zero cost could look through this client."""
    rows = []
    for label, path, unit, higher_better, target in ROWS:
        s, m = dig(swan, *path), dig(stock, *path)
        f = dig(floor, *path) if floor else None
        ratio, ceiling = better_by(s, m, higher_better), better_by(f, m, higher_better)
        met = "" if target is None or ratio is None else ("yes" if ratio >= target else "NO")
        if met == "NO" and ceiling is not None and ceiling < target:
            met = "NO: ceiling below target"  # not even a server that costs nothing could meet it
        rows.append([f"{sized_label(label, swan)} ({unit})", fmt(s), fmt(m),
                     "n/a" if ratio is None else f"{ratio:.1f}×",
                     "" if target is None else f"≥ {target}×", met,
                     fmt(f), "" if ceiling is None else f"{ceiling:.1f}×"])

    notes = []
    for name, res in (("Swan", swan), ("MLflow", stock)):
        for phase, err in res.get("errors", {}).items():
            notes.append(f"{name} phase {phase} FAILED: {err}")
        if dig(res, "c", "history_matches_logged") is False:
            notes.append(f"{name}: get_metric_history did not return exactly the logged points")
        if dig(res, "e", "download_intact") is False:
            notes.append(f"{name}: downloaded artifact differs from the uploaded one")
        f = dig(res, "d", "filtered") or {}
        if f and f.get("matches") != f.get("expected_matches"):
            notes.append(f"{name}: filtered search returned {f.get('matches')} runs, expected {f.get('expected_matches')}")
    for key, what in ((("d", "filtered", "order_digest"), "filtered search order"),
                      (("d", "list_all", "order_digest"), "listing order")):
        s, m = dig(swan, *key), dig(stock, *key)
        if s and m:
            notes.append(f"{what}: {'identical' if s == m else 'DIFFERENT'} on both servers ({s} / {m})")
    if swan.get("params") != stock.get("params"):
        diff = {k: (swan.get("params", {}).get(k), stock.get("params", {}).get(k))
                for k in set(swan.get("params", {})) | set(stock.get("params", {}))
                if swan.get("params", {}).get(k) != stock.get("params", {}).get(k)}
        notes.append(f"WARNING: the two runs used different sizes (swan, mlflow): {diff}")
    return rows, notes


def markdown_table(rows: list[list[str]]) -> str:
    header = ["measure", "Swan", "MLflow", "ratio (Swan better by)", "target", "met", "client floor", "ceiling"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def git_commit() -> str:
    proc = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "unknown"


# ---------------------------------------------------------------------------------------------
def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes (ratios are not comparable to the targets)")
    p.add_argument("--mlflow-results", type=Path,
                   help="stock-MLflow result JSON: reused if it exists, else written there after running MLflow")
    p.add_argument("--swan-results", type=Path, help="reuse a Swan result JSON instead of running Swan")
    p.add_argument("--client", choices=["current", "venv"], default="current",
                   help="interpreter that runs the benchmark client (its mlflow) for BOTH servers")
    p.add_argument("--floor-repeats", type=int, default=2,
                   help="runs of client_floor.py (the client's own cost, no server); best per measure; 0 skips")
    args, bench_extra = p.parse_known_args()
    bench_extra = [a for a in bench_extra if a != "--"]
    bench_args = (QUICK_SIZES if args.quick else FULL_SIZES) + bench_extra

    # Make sure any way out (Ctrl-C, SIGTERM, SIGHUP) unwinds through the `finally` that kills servers.
    def _exit(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit)

    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    reuse_mlflow = args.mlflow_results is not None and args.mlflow_results.exists()
    if not reuse_mlflow:
        ensure_mlflow_venv()
    client_python = str(venv_python()) if args.client == "venv" else sys.executable
    if args.client == "venv":
        ensure_mlflow_venv()

    if args.swan_results:
        swan = json.loads(args.swan_results.read_text())
        log(f"reusing Swan results from {args.swan_results}")
    else:
        swan = measure("swan", swan_server, client_python, bench_args, stamp)
        (OUT / f"swan-{stamp}.json").write_text(json.dumps(swan, indent=1))

    if reuse_mlflow:
        stock = json.loads(args.mlflow_results.read_text())
        log(f"reusing stock MLflow results from {args.mlflow_results}")
    else:
        stock = measure("mlflow", mlflow_server, client_python, bench_args, stamp)
        (OUT / f"mlflow-{stamp}.json").write_text(json.dumps(stock, indent=1))
        if args.mlflow_results:
            args.mlflow_results.parent.mkdir(parents=True, exist_ok=True)
            args.mlflow_results.write_text(json.dumps(stock, indent=1))

    floor = None
    if args.floor_repeats > 0:
        floor = best_of([run_floor(client_python, bench_args) for _ in range(args.floor_repeats)])
        (OUT / f"floor-{stamp}.json").write_text(json.dumps(floor, indent=1))

    rows, notes = compare(swan, stock, floor)
    facts = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "client": swan.get("client"),
        "swan_commit": git_commit(),
        "swan_server_version": swan.get("server_version"),
        "mlflow_server_version": stock.get("server_version"),
        "loadavg": {"swan": swan.get("loadavg_before"), "mlflow": stock.get("loadavg_before")},
        "machine_speed": {"swan": swan.get("machine_speed"), "mlflow": stock.get("machine_speed")},
        "wall_s": {"swan": swan.get("wall_s"), "mlflow": stock.get("wall_s")},
        "command": [sys.executable, *sys.argv],
    }
    table = markdown_table(rows)
    report = "\n".join([
        f"Side-by-side benchmark, {facts['date']}",
        (f"machine: nproc={facts['nproc']}, {facts['platform']}, python {facts['python']}; "
         f"client mlflow {(facts['client'] or {}).get('mlflow')}; swan {facts['swan_commit']}; "
         f"mlflow server {facts['mlflow_server_version']}"),
        (f"load average before (1/5/15 min): swan {facts['loadavg']['swan']}, "
         f"mlflow {facts['loadavg']['mlflow']}; wall s: swan {facts['wall_s']['swan']}, mlflow {facts['wall_s']['mlflow']}"),
        (f"machine speed (bench/calibrate.py, ms, before and after each server's run): "
         f"swan {facts['machine_speed']['swan']}, mlflow {facts['machine_speed']['mlflow']}"),
        "",
        table,
        "",
        *[f"- {n}" for n in notes],
    ])
    print(report)
    (OUT / f"side-by-side-{stamp}.md").write_text(report + "\n")
    (OUT / f"side-by-side-{stamp}.json").write_text(json.dumps(
        {"facts": facts, "rows": rows, "notes": notes, "swan": swan, "mlflow": stock, "floor": floor}, indent=1))
    log(f"wrote {OUT}/side-by-side-{stamp}.md and .json")
    return 1 if swan.get("errors") or stock.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
