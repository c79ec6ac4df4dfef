#!/usr/bin/env python
"""Raw-HTTP log-batch throughput and log-metric latency, Swan and stock MLflow measured in
alternating rounds, so that every ratio compares two servers timed within the same minute.

`run_side_by_side.py` runs one server's whole benchmark, then the other's, minutes apart. On a
shared VM whose speed drifts (this project's machines moved by up to half between runs minutes
apart, `bench/calibrate.py` timing the same fixed work at 125 and 240 ms within a quarter of an
hour) that order puts the drift into the ratio. Here both servers are up at once, each on its
own fresh SQLite database, and only one is driven at a time: pair i runs one round on each, the
order flipping from pair to pair, and the pair's ratio is Swan's figure over MLflow's. The
median pair is reported with every pair's figures.

A log-batch round is `wire_bench.py`'s phase wa round: batch_runs x batches_per_run bodies of
1000 points (10 keys x 100 steps) into new runs, sent one after another over one keep-alive
`http.client` connection, bodies encoded before the clock starts. A log-metric round is
`--latency-calls` sequential calls into one run; its figure is the median call.

  python bench/paired_wire.py                 # 6 pairs, 20 x 10 batches and 200 log-metric calls per round
  python bench/paired_wire.py --pairs 3 --batch-runs 5

Prints a Markdown table and writes bench/out/paired-<time>.json. Figures only, nothing asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_side_by_side import OUT, ensure_mlflow_venv, git_commit, machine_speed, mlflow_server, swan_server
from wire_bench import Api, log_batch_round, log_metric_calls, send_round


def log(msg: str) -> None:
    print(f"[paired {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def log_batch_rate(api: Api, exp: str, args, rnd: random.Random) -> float:
    """Points per second over one round of log-batch requests into new runs."""
    bodies = log_batch_round(api, exp, args, rnd)
    return len(bodies) * args.metrics_per_batch / send_round(api, bodies, [])


def log_metric_median(api: Api, exp: str, args) -> float:
    """The median milliseconds of one log-metric call, over one round of sequential calls."""
    return 1000 * statistics.median(log_metric_calls(api, exp, args.latency_calls))


def warm_up(api: Api, exp: str, args) -> None:
    """Untimed, one full round each. A new server's first rounds are its slowest: stock MLflow's
    first requests import code on first use and ran up to ten times slower than its later ones,
    and five rounds against one fresh Swan server measured 122,000, 110,000, 125,000, 154,000 and
    161,000 points/s. A team's server runs warm."""
    log_batch_rate(api, exp, args, random.Random(-1))
    log_metric_calls(api, exp, 20)


def median(values) -> float:
    return round(statistics.median(values), 2)


def run_pairs(apis: dict, exps: dict, args) -> list[dict]:
    for name in apis:
        warm_up(apis[name], exps[name], args)
    pairs = []
    for i in range(args.pairs):
        order = ("swan", "mlflow") if i % 2 == 0 else ("mlflow", "swan")
        pair = {"order": list(order), "points_per_s": {}, "log_metric_ms": {}}
        for name in order:
            rnd = random.Random(args.seed + i)  # the same values for both servers in a pair
            pair["points_per_s"][name] = round(log_batch_rate(apis[name], exps[name], args, rnd), 1)
            pair["log_metric_ms"][name] = round(log_metric_median(apis[name], exps[name], args), 3)
        pair["log_batch_ratio"] = round(pair["points_per_s"]["swan"] / pair["points_per_s"]["mlflow"], 2)
        pair["log_metric_ratio"] = round(pair["log_metric_ms"]["mlflow"] / pair["log_metric_ms"]["swan"], 2)
        log(f"pair {i + 1}/{args.pairs} ({' then '.join(order)}): log-batch "
            f"{pair['points_per_s']['swan']:,.0f} / {pair['points_per_s']['mlflow']:,.0f} points/s = "
            f"{pair['log_batch_ratio']}x; log-metric {pair['log_metric_ms']['mlflow']} / "
            f"{pair['log_metric_ms']['swan']} ms = {pair['log_metric_ratio']}x")
        pairs.append(pair)
    return pairs


def table(pairs: list[dict]) -> str:
    lines = ["| pair | order | log-batch points/s, Swan / MLflow | ratio | log-metric median ms, MLflow / Swan | ratio |",
             "|---|---|---|---|---|---|"]
    for i, p in enumerate(pairs, 1):
        lines.append(f"| {i} | {' then '.join(p['order'])} | {p['points_per_s']['swan']:,.0f} / "
                     f"{p['points_per_s']['mlflow']:,.0f} | {p['log_batch_ratio']}× | {p['log_metric_ms']['mlflow']} / "
                     f"{p['log_metric_ms']['swan']} | {p['log_metric_ratio']}× |")
    lines.append(f"| median | | | **{median(p['log_batch_ratio'] for p in pairs)}×** (target ≥ 30×) | | "
                 f"**{median(p['log_metric_ratio'] for p in pairs)}×** (target ≥ 4×) |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=6)
    p.add_argument("--batch-runs", type=int, default=20)
    p.add_argument("--batches-per-run", type=int, default=10)
    p.add_argument("--metrics-per-batch", type=int, default=1000)
    p.add_argument("--latency-calls", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    ensure_mlflow_venv()
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with tempfile.TemporaryDirectory(prefix="bench-paired-") as tmp:
        servers = {"swan": swan_server(Path(tmp) / "swan", OUT / f"paired-swan-server-{stamp}.log"),
                   "mlflow": mlflow_server(Path(tmp) / "mlflow", OUT / f"paired-mlflow-server-{stamp}.log")}
        try:
            for name, server in servers.items():
                (Path(tmp) / name).mkdir()
                server.start()
            apis = {name: Api(server.url) for name, server in servers.items()}
            exps = {name: api.experiment(f"paired-{stamp}") for name, api in apis.items()}
            speed_before, load_before = machine_speed(), os.getloadavg()
            pairs = run_pairs(apis, exps, args)
            speed_after = machine_speed()
            versions = {name: server.version() for name, server in servers.items()}
        finally:
            for server in servers.values():
                server.stop()
    out = {"commit": git_commit(), "params": vars(args), "pairs": pairs, "server_versions": versions,
           "loadavg_before": [round(x, 2) for x in load_before],
           "machine_speed": {"before": speed_before, "after": speed_after},
           "median_log_batch_ratio": median(p["log_batch_ratio"] for p in pairs),
           "median_log_metric_ratio": median(p["log_metric_ratio"] for p in pairs)}
    (OUT / f"paired-{stamp}.json").write_text(json.dumps(out, indent=1))
    print(table(pairs))
    print(f"\nmachine speed (bench/calibrate.py, ms): before {speed_before}, after {speed_after}")
    print(f"raw: {OUT / f'paired-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
