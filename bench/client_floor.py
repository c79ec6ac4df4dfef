#!/usr/bin/env python
"""How fast can the MLflow client itself go? Run mlflow_bench.py phases a-d with no server at all.

Only the transport is replaced: requests' `HTTPAdapter.send` answers from canned responses computed
in advance from the same seeded data. Everything above it runs as it does against a real server:
the client's protos and JSON both ways, the parsing of answers into entities, and the per-call work
of MLflow's `http_request` (its request-header providers, which look for a Databricks notebook on
every call) and of `requests` (preparing the request, merging proxy settings from the
environment). Left out are urllib3 and the socket. No server, however fast, can make a call
through `MlflowClient` cheaper than this, so `MLflow time / floor time` is the best ratio any server
can reach on a measure.

(Until 2026-11-29 this replaced MLflow's `http_request` as a whole, which also left out its header
providers and `requests`. Its log_metric floor was 0.15 ms where this one measures 0.9-1.7 ms on
the same machine, on which a raw-HTTP log-metric round trip to Swan took 1.9 ms, so the ceiling
it printed for log_metric was 84x where this one prints 13-14x.)

Takes the same size flags as mlflow_bench.py and prints the same JSON line. Phase e (artifacts)
uses another code path and is always skipped.

  python bench/client_floor.py --history-points 100000 --search-runs 2000 > floor.json
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlparse

import requests
from requests.adapters import HTTPAdapter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mlflow_bench as mb


def _response(payload: bytes, request: requests.PreparedRequest) -> requests.Response:
    r = requests.Response()
    r.status_code = 200
    r._content = payload
    r.encoding = "utf-8"
    r.headers["Content-Type"] = "application/json"
    r.url = request.url
    r.request = request
    return r


class CannedServer:
    """Answers the endpoints mlflow_bench uses, from precomputed JSON; pages by offset tokens."""

    def __init__(self, args):
        self.args = args
        self.history_pages: dict = {}
        self.search_pages: dict = {}
        rng = mb.rng_for(args, "c")
        self.history = [{"key": "history", "value": rng.random(), "timestamp": mb.BASE_TS + i, "step": i}
                        for i in range(args.history_points)]
        runs = [self._run(i) for i in range(args.search_runs)]
        acc = lambda run: run["data"]["metrics"][0]["value"]
        self.filtered = sorted((r for r in runs if acc(r) > 0.5 and r["data"]["params"][0]["value"] == "tree"),
                               key=lambda r: (-acc(r), r["info"]["start_time"]))
        self.listing = sorted(runs, key=lambda r: (-acc(r), -r["info"]["start_time"]))

    def _run(self, i: int) -> dict:
        acc, loss, model, lr = mb._search_run_data(self.args, i)
        run_id, ts = uuid.UUID(int=i).hex, mb.BASE_TS + i
        return {
            "info": {"run_uuid": run_id, "run_id": run_id, "run_name": f"run-{i:05d}", "experiment_id": "1",
                     "user_id": "bench", "status": "RUNNING", "start_time": ts, "lifecycle_stage": "active",
                     "artifact_uri": f"mlflow-artifacts:/1/{run_id}/artifacts"},
            "data": {"metrics": [{"key": "acc", "value": acc, "timestamp": ts, "step": 0},
                                 {"key": "loss", "value": loss, "timestamp": ts, "step": 0}],
                     "params": [{"key": "model", "value": model}, {"key": "lr", "value": lr}],
                     "tags": [{"key": "mlflow.runName", "value": f"run-{i:05d}"},
                              {"key": "mlflow.user", "value": "bench"}]},
            "inputs": {},
        }

    @staticmethod
    def _page(items: list, offset: int, size: int, field: str) -> bytes:
        body = {field: items[offset:offset + size]}
        if offset + size < len(items):
            body["next_page_token"] = str(offset + size)
        return json.dumps(body).encode()

    def send(self, request: requests.PreparedRequest, **_kwargs) -> requests.Response:
        """Stands in for `HTTPAdapter.send`: the request as `requests` prepared it, answered."""
        url = urlparse(request.url)
        body = json.loads(request.body) if request.body else dict(parse_qsl(url.query))
        return _response(self.answer(url.path, body), request)

    def answer(self, path: str, body: dict) -> bytes:
        if path.endswith("/experiments/create"):
            return b'{"experiment_id": "1"}'
        if path.endswith("/runs/create"):
            run_id = uuid.uuid4().hex
            info = {"run_uuid": run_id, "run_id": run_id, "experiment_id": "1", "status": "RUNNING",
                    "start_time": body.get("start_time", 0), "lifecycle_stage": "active"}
            return json.dumps({"run": {"info": info, "data": {}}}).encode()
        if path.endswith("/metrics/get-history"):
            key = (body.get("page_token") or "0", int(body.get("max_results") or len(self.history)))
            if key not in self.history_pages:  # the server's work, done once and kept
                self.history_pages[key] = self._page(self.history, int(key[0]), key[1], "metrics")
            return self.history_pages[key]
        if path.endswith("/runs/search"):
            key = (bool(body.get("filter")), body.get("page_token") or "0", int(body.get("max_results") or 1000))
            if key not in self.search_pages:
                runs = self.filtered if key[0] else self.listing
                self.search_pages[key] = self._page(runs, int(key[1]), key[2], "runs")
            return self.search_pages[key]
        return b"{}"  # log-batch, log-metric and anything else: accepted, nothing to say


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = mb.parse_args(["--tracking-uri", "http://canned.invalid", "--label", "client-floor", *argv])
    args.skip.add("e")
    canned = CannedServer(args)
    HTTPAdapter.send = lambda adapter, request, **kwargs: canned.send(request, **kwargs)
    result = mb.run(args)
    print(json.dumps(result), flush=True)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
