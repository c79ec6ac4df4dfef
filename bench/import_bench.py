"""Importer speed, side by side (see bench/RESULTS_IMPORT.md).

  python bench/import_bench.py tensorboard   # 1,000,000 scalar points over 20 runs:
                                             #   tbparse only reading them vs `swan import tensorboard`
  python bench/import_bench.py wandb         # a 1,000,000-point W&B offline run:
                                             #   Client.log_points of the same points vs `swan import wandb`

Each measurement runs in a fresh process; each import goes into a fresh `swan server` (SQLite, local
artifacts) on loopback. Sources are generated once into --workdir and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TB_RUNS, TB_POINTS = 20, 1_000_000
WB_ROWS, WB_KEYS = 50_000, 20


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _python(code: str, *args: str, env: dict | None = None, timeout: float = 3600) -> tuple[float, str]:
    """Run `code` in a fresh interpreter; (wall seconds, stdout)."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(textwrap.dedent(code))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, f.name, *args], capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})}, cwd=ROOT)
    wall = time.perf_counter() - t0
    os.unlink(f.name)
    if proc.returncode != 0:
        raise RuntimeError(f"failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, proc.stdout


def _import(kind: str, source: Path, srv) -> dict:
    """`swan import KIND SOURCE` in a fresh process: wall time, its CPU time and the server's."""
    import psutil

    procs = [psutil.Process(p) for p in srv.server_pids()]
    server0 = sum(sum(p.cpu_times()[:2]) for p in procs)
    client0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "swan_client.cli", "import", kind, str(source),
                           "--project", f"bench-{kind}", "--tracking-uri", srv.url, "--json"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    return {"points": summary["totals"]["points"], "import_wall_s": round(wall, 2),
            "client_cpu_s": round(_children_cpu() - client0, 2),
            "server_cpu_s": round(sum(sum(p.cpu_times()[:2]) for p in procs) - server0, 2),
            "load_avg_1m": os.getloadavg()[0]}


def _server(tmp: Path):
    from tests.server import LiveServer

    return LiveServer(tmp).start()


# -- TensorBoard --------------------------------------------------------------------------------------
TB_GEN = r"""
import sys, time
from pathlib import Path
from tensorboard.compat.proto import event_pb2, summary_pb2
from importers.tfrecord import write_record

root, runs, points = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
per_run = points // runs
t0 = 1_700_000_000.0
for r in range(runs):
    d = root / f"run{r:02d}"
    d.mkdir(parents=True)
    with open(d / f"events.out.tfevents.{int(t0)}.bench", "wb") as f:
        write_record(f, event_pb2.Event(wall_time=t0, file_version="brain.Event:2").SerializeToString())
        for i in range(per_run):
            step, tag = divmod(i, 2)
            ev = event_pb2.Event(wall_time=t0 + i * 0.001, step=step,
                                 summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(
                                     tag=("loss", "acc")[tag], simple_value=(r + 1) / (step + 1))]))
            write_record(f, ev.SerializeToString())
"""

TBPARSE_READ = r"""
import sys, time
t0 = time.perf_counter()
from tbparse import SummaryReader
t1 = time.perf_counter(); c1 = time.process_time()
n = len(SummaryReader(sys.argv[1]).scalars)
t2 = time.perf_counter(); c2 = time.process_time()
print(n, t1 - t0, t2 - t1, c2 - c1)
"""


def bench_tensorboard(workdir: Path) -> dict:
    logdir = workdir / "tb-1m"
    if not (logdir / "run19").is_dir():
        print("generating", TB_POINTS, "points over", TB_RUNS, "runs ...", flush=True)
        wall, _ = _python(TB_GEN, str(logdir), str(TB_RUNS), str(TB_POINTS))
        print(f"  generated in {wall:.1f} s", flush=True)
    size = sum(f.stat().st_size for f in logdir.rglob("*") if f.is_file())
    wall, out = _python(TBPARSE_READ, str(logdir))
    n, imp, read, cpu = out.split()
    tbparse = {"points": int(n), "read_wall_s": round(float(read), 2), "read_cpu_s": round(float(cpu), 2),
               "import_module_s": round(float(imp), 2), "process_wall_s": round(wall, 2),
               "load_avg_1m": os.getloadavg()[0]}
    print("tbparse", tbparse, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        srv = _server(Path(tmp))
        try:
            ours = _import("tensorboard", logdir, srv)
        finally:
            srv.stop()
    print("swan import", ours, flush=True)
    return {"source_bytes": size, "tbparse": tbparse, "swan_import": ours,
            "speedup_wall": round(tbparse["read_wall_s"] / ours["import_wall_s"], 2),
            "speedup_cpu": round(tbparse["read_cpu_s"] / (ours["client_cpu_s"] + ours["server_cpu_s"]), 2)}


# -- W&B ----------------------------------------------------------------------------------------------
WB_GEN = r"""
import json, sys, time
import wandb
rows, keys = int(sys.argv[1]), int(sys.argv[2])
run = wandb.init(project="bench", name="1m", settings=wandb.Settings(x_disable_stats=True))
for s in range(rows):
    run.log({f"k{j:02d}": (s + 1) * (j + 1) * 0.001 for j in range(keys)}, step=s)
run.finish()
"""

INGEST = r"""
import sys, time
from swan_client.api import Client
url, rows, keys = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = Client(url)
run = c.create_run(project="bench-ingest", name="1m")
t0 = 1_700_000_000_000
points = [(f"k{j:02d}", s, t0 + s, (s + 1) * (j + 1) * 0.001) for s in range(rows) for j in range(keys)]
t = time.perf_counter(); c0 = time.process_time()
n = c.log_points(run["run_id"], points, idempotency_prefix="bench")
print(n, time.perf_counter() - t, time.process_time() - c0)
"""


def bench_wandb(workdir: Path) -> dict:
    wdir = workdir / "wandb-1m"
    runs = list((wdir / "wandb").glob("offline-run-*")) if wdir.is_dir() else []
    if not runs:
        print("generating a W&B offline run of", WB_ROWS * WB_KEYS, "points ...", flush=True)
        wdir.mkdir(parents=True, exist_ok=True)
        env = {"WANDB_MODE": "offline", "WANDB_DIR": str(wdir), "WANDB_SILENT": "true",
               "WANDB_DATA_DIR": str(wdir / "data"), "WANDB_CONFIG_DIR": str(wdir / "config")}
        wall, _ = _python(WB_GEN, str(WB_ROWS), str(WB_KEYS), env=env)
        print(f"  generated in {wall:.1f} s", flush=True)
        runs = list((wdir / "wandb").glob("offline-run-*"))
    run_dir = runs[0]
    size = sum(f.stat().st_size for f in run_dir.glob("*.wandb"))
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        srv = _server(Path(tmp))
        try:
            procs = [psutil.Process(p) for p in srv.server_pids()]
            server0 = sum(sum(p.cpu_times()[:2]) for p in procs)
            wall, out = _python(INGEST, srv.url, str(WB_ROWS), str(WB_KEYS))
            server_cpu = sum(sum(p.cpu_times()[:2]) for p in procs) - server0
            n, ingest_s, client_cpu = out.split()
        finally:
            srv.stop()
    ingest = {"points": int(n), "log_points_wall_s": round(float(ingest_s), 2),
              "client_cpu_s": round(float(client_cpu), 2), "server_cpu_s": round(server_cpu, 2),
              "load_avg_1m": os.getloadavg()[0]}
    print("bulk ingest", ingest, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        srv = _server(Path(tmp))
        try:
            ours = _import("wandb", run_dir, srv)
        finally:
            srv.stop()
    print("swan import", ours, flush=True)
    return {"source_bytes": size, "bulk_ingest": ingest, "swan_import": ours,
            "import_over_ingest_wall": round(ours["import_wall_s"] / ingest["log_points_wall_s"], 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=["tensorboard", "wandb", "all"])
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "swan-import-bench"))
    args = ap.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    results = {}
    if args.which in ("tensorboard", "all"):
        results["tensorboard"] = bench_tensorboard(workdir)
    if args.which in ("wandb", "all"):
        results["wandb"] = bench_wandb(workdir)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
