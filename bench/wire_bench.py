#!/usr/bin/env python
"""The server's side of mlflow_bench.py: the same requests over raw HTTP, with bodies serialised
before the clock starts and responses only decoded as far as paging needs (the page token).

`MlflowClient` spends more time building and parsing protobuf messages than a fast server spends
answering (see client_floor.py), so its figures cap every ratio. This script measures what the
server itself costs for the same work. Prints ONE JSON line on stdout; progress on stderr.

Requests go out through the standard library's `http.client` on one keep-alive connection per
thread, the body already bytes. `requests` (`--http requests`, this script's client until commit
139f57c) adds about 1 ms of its own to every call: measured interleaved against one
Swan server, a 1000-point log-batch took 5.4-5.6 ms through `requests` with a str body, 4.5-4.7
ms through `http.client` and 4.1-4.3 ms written straight to a socket. That is a fifth of Swan's
time per call and about 1% of stock MLflow's, so it understated the ratio this script exists
to measure.

Phases: wa log-batch throughput, wb log-metric latency, wc get-history of H points (all pages),
wd search over S runs (filtered + ordered, all pages) and a listing of all S runs by a metric.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

import requests

BASE_TS = 1_700_000_000_000
SEARCH_FILTER = "metrics.acc > 0.5 and params.model = 'tree'"
SEARCH_ORDER = ["metrics.acc DESC", "attributes.start_time ASC"]
MODELS = ["tree", "linear", "mlp", "svm"]


def log(msg: str) -> None:
    print(f"[wire {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Reply:
    def __init__(self, status: int, content: bytes):
        self.status_code, self.content = status, content

    def json(self):
        return json.loads(self.content)


class Api:
    """POST and GET on the MLflow REST API over one keep-alive `http.client` connection (or a
    `requests.Session` with `client="requests"`); anything but a 200 raises."""

    def __init__(self, base: str, client: str = "http.client"):
        self.prefix = "/api/2.0/mlflow"
        self.client = client
        if client == "requests":
            self.session = requests.Session()
            self.session.headers["Content-Type"] = "application/json"
            self.base = base.rstrip("/") + self.prefix
        else:
            url = urlsplit(base)
            self.conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=300)
            self.prefix = url.path.rstrip("/") + self.prefix

    def _send(self, method: str, path: str, body: bytes | None) -> Reply:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (1, 2):  # one fresh try: a server may close an idle keep-alive connection
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                return Reply(resp.status, resp.read())
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                if attempt == 2:
                    raise

    def post(self, path: str, body: str | bytes) -> Reply:
        if self.client == "requests":
            resp = self.session.post(self.base + path, data=body, timeout=300)
        else:
            resp = self._send("POST", self.prefix + path, body.encode() if isinstance(body, str) else body)
        if resp.status_code != 200:
            raise RuntimeError(f"POST {path}: {resp.status_code} {resp.content[:200]!r}")
        return resp

    def get(self, path: str, params) -> Reply:
        if self.client == "requests":
            resp = self.session.get(self.base + path, params=params, timeout=300)
        else:
            resp = self._send("GET", f"{self.prefix}{path}?{urlencode(params)}", None)
        if resp.status_code != 200:
            raise RuntimeError(f"GET {path}: {resp.status_code} {resp.content[:200]!r}")
        return resp

    def experiment(self, name: str) -> str:
        return self.post("/experiments/create", json.dumps({"name": name})).json()["experiment_id"]

    def run(self, exp: str, start: int) -> str:
        body = json.dumps({"experiment_id": exp, "start_time": start, "user_id": "bench"})
        return self.post("/runs/create", body).json()["run"]["info"]["run_id"]


def batch_body(run_id: str, rnd: random.Random, first_step: int, steps: int, keys: int) -> str:
    metrics = [
        {"key": f"m{k}", "value": rnd.random(), "timestamp": BASE_TS + s, "step": s}
        for s in range(first_step, first_step + steps) for k in range(keys)
    ]
    return json.dumps({"run_id": run_id, "metrics": metrics}).encode()


def ms_stats(samples: list[float]) -> dict:
    ms = sorted(x * 1000 for x in samples)
    return {"median_ms": round(statistics.median(ms), 3), "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 3)}


def log_batch_round(api: Api, exp: str, args, rnd: random.Random) -> list[bytes]:
    """The bodies of one log-batch round: batch_runs new runs, batches_per_run bodies each."""
    steps = args.metrics_per_batch // 10
    bodies = []
    for r in range(args.batch_runs):
        run_id = api.run(exp, BASE_TS + r)
        bodies += [batch_body(run_id, rnd, b * steps, steps, 10) for b in range(args.batches_per_run)]
    return bodies


def send_round(api: Api, bodies: list[bytes], calls: list[float]) -> float:
    """Send a round's log-batch bodies one after another and return the seconds it took; each
    call's seconds are appended to `calls`."""
    start = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        api.post("/runs/log-batch", body)
        calls.append(time.perf_counter() - t)
    return time.perf_counter() - start


def phase_a(api: Api, exp: str, args) -> dict:
    """`repeats` rounds of batch_runs x batches_per_run bodies, each round into new runs; the
    median round's rate is reported. One round lasts under a second on a fast server, where a
    single pause (a checkpoint, another process taking the core) moves its rate by a tenth."""
    rnd = random.Random(args.seed)
    rounds = [log_batch_round(api, exp, args, rnd) for _ in range(args.repeats)]
    calls: list[float] = []
    rates = [len(bodies) * args.metrics_per_batch / send_round(api, bodies, calls) for bodies in rounds]
    return {"points_per_s": round(statistics.median(rates), 1), "rounds_points_per_s": [round(r) for r in rates],
            "log_batch_call": ms_stats(calls)}


def log_metric_calls(api: Api, exp: str, count: int) -> list[float]:
    """Seconds of each of `count` sequential log-metric calls into a new run, after 5 untimed ones
    (the series row and its first blocks)."""
    run_id = api.run(exp, BASE_TS)
    bodies = [json.dumps({"run_id": run_id, "key": "lat", "value": i * 0.5, "timestamp": BASE_TS + i, "step": i}).encode()
              for i in range(count + 5)]
    for body in bodies[:5]:
        api.post("/runs/log-metric", body)
    calls = []
    for body in bodies[5:]:
        t = time.perf_counter()
        api.post("/runs/log-metric", body)
        calls.append(time.perf_counter() - t)
    return calls


def phase_b(api: Api, exp: str, args) -> dict:
    return {"log_metric": ms_stats(log_metric_calls(api, exp, args.latency_calls))}


def page_token(content: bytes) -> str | None:
    """The next_page_token of a JSON page, read without decoding the page's items: both servers
    write it after them (MLflow in protobuf field order), so decoding starts at its key. A body
    laid out otherwise is decoded whole."""
    at = content.rfind(b'"next_page_token"')
    if at < 0:
        return None
    try:
        return json.loads(b"{" + content[at:])["next_page_token"]
    except ValueError:
        return json.loads(content).get("next_page_token")


def phase_c(api: Api, exp: str, args) -> dict:
    rnd = random.Random(args.seed + 1)
    run_id = api.run(exp, BASE_TS)
    for first in range(0, args.history_points, 1000):
        metrics = [{"key": "h", "value": rnd.random(), "timestamp": BASE_TS + s, "step": s}
                   for s in range(first, min(first + 1000, args.history_points))]
        api.post("/runs/log-batch", json.dumps({"run_id": run_id, "metrics": metrics}))
    times, pages = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        token, pages = None, []
        while True:
            params = {"run_id": run_id, "metric_key": "h", "max_results": 25000}
            if token:
                params["page_token"] = token
            pages.append(api.get("/metrics/get-history", params).content)
            token = page_token(pages[-1])
            if not token:
                break
        times.append(time.perf_counter() - t)
    # decoded after the clock: the client's JSON work is not the server's
    points = sum(len(json.loads(page).get("metrics", [])) for page in pages)
    return {"get_metric_history": {"best_s": round(min(times), 4), "median_s": round(statistics.median(times), 4)},
            "points_read": points}


def _search_all(api: Api, body: dict) -> list[bytes]:
    """Every page of a search, as the raw bodies (decode them after the clock stops)."""
    token, pages = None, []
    while True:
        pages.append(api.post("/runs/search", json.dumps({**body, **({"page_token": token} if token else {})})).content)
        token = page_token(pages[-1])
        if not token:
            return pages


def _runs_in(pages: list[bytes]) -> int:
    return sum(len(json.loads(page).get("runs", [])) for page in pages)


def phase_d(api: Api, exp: str, args) -> dict:
    rnd = random.Random(args.seed + 2)
    specs = [(BASE_TS + i, rnd.random(), rnd.random(), MODELS[rnd.randrange(4)], rnd.randrange(1, 9))
             for i in range(args.search_runs)]

    def create(spec):
        start, acc, loss, model, depth = spec
        run_id = api_local().run(exp, start)
        api_local().post("/runs/log-batch", json.dumps({
            "run_id": run_id,
            "metrics": [{"key": "acc", "value": acc, "timestamp": start, "step": 0},
                        {"key": "loss", "value": loss, "timestamp": start, "step": 0}],
            "params": [{"key": "model", "value": model}, {"key": "depth", "value": str(depth)}],
        }))

    local = {}

    def api_local() -> Api:
        import threading

        key = threading.get_ident()
        if key not in local:
            local[key] = Api(args.tracking_uri, args.http)
        return local[key]

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, specs))
    expected = sum(1 for s in specs if s[1] > 0.5 and s[3] == "tree")
    filtered, listing = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        pages = _search_all(api, {"experiment_ids": [exp], "filter": SEARCH_FILTER, "order_by": SEARCH_ORDER,
                                  "max_results": 1000})
        filtered.append(time.perf_counter() - t)
        n = _runs_in(pages)
        t = time.perf_counter()
        pages = _search_all(api, {"experiment_ids": [exp], "order_by": ["metrics.acc DESC"], "max_results": 1000})
        listing.append(time.perf_counter() - t)
        total = _runs_in(pages)
    return {"filtered": {"best_s": round(min(filtered), 4), "matches": n, "expected_matches": expected},
            "list_all": {"best_s": round(min(listing), 4), "runs": total}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tracking-uri", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-runs", type=int, default=20)
    p.add_argument("--batches-per-run", type=int, default=10)
    p.add_argument("--metrics-per-batch", type=int, default=1000)
    p.add_argument("--latency-calls", type=int, default=500)
    p.add_argument("--history-points", type=int, default=100_000)
    p.add_argument("--search-runs", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--http", choices=["http.client", "requests"], default="http.client",
                   help="the HTTP client every phase sends with (see the module docstring)")
    p.add_argument("--skip", default="", help="wire phases to skip, e.g. wa,wd (mlflow_bench letters are ignored)")
    # The runner passes mlflow_bench.py's arguments too; sizes with the same names apply here.
    args, _unknown = p.parse_known_args()
    api = Api(args.tracking_uri, args.http)
    out = {"params": vars(args), "phases": {}, "errors": {}}
    for name, fn in (("wa", phase_a), ("wb", phase_b), ("wc", phase_c), ("wd", phase_d)):
        if name in args.skip.split(","):
            continue
        log(f"phase {name}")
        try:
            exp = api.experiment(f"wire-{name}-{uuid.uuid4().hex[:8]}")
            out["phases"][name] = fn(api, exp, args)
        except Exception as exc:  # a failed phase is reported, the others still run
            out["errors"][name] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(out))
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
