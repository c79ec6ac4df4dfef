"""Dashboard speed, measured with Playwright and Debian's Chromium (not a timed test):
a run with 10 metrics x 1,000,000 points; time from navigation to every chart drawn (target
< 1.5 s) and bytes of chart data moved (target < 1 MB).

    python bench/ui_bench.py [--metrics 10] [--points 1000000] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from swan_server.db.engine import make_engine, upgrade  # noqa: E402
from swan_server.entities import Metric  # noqa: E402
from swan_server.store.sql import SqlTrackingStore  # noqa: E402
from tests.server import LiveServer  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--metrics", type=int, default=10)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="swan-uibench-"))
    uri = f"sqlite:///{home / 'swan.db'}"
    engine = make_engine(uri)
    upgrade(engine)
    store = SqlTrackingStore(engine)
    exp = store.create_experiment("ui-bench", None, {})
    rid = store.create_run(exp, "b", 1_700_000_000_000, {}, "big-run").info.run_id
    t = time.perf_counter()
    for start in range(0, args.points, 50_000):
        store.log_batch(rid, [Metric(f"train/m{k}", (s % 1000) / 1000 + k, 1_700_000_000_000 + s, s)
                              for s in range(start, min(args.points, start + 50_000)) for k in range(args.metrics)],
                        {}, {})
    ingest = time.perf_counter() - t
    engine.dispose()
    srv = LiveServer(home, backend_store_uri=uri).start()
    from playwright.sync_api import sync_playwright

    results = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            for rep in range(args.reps + 1):  # the first load warms the server's caches
                ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
                page = ctx.new_page()
                sizes = []

                def on_finished(req):
                    if "/api/v1/series/buckets" in req.url:
                        s = req.sizes()
                        sizes.append(s["responseBodySize"] + s["responseHeadersSize"])

                page.on("requestfinished", on_finished)
                start = time.perf_counter()
                page.goto(f"{srv.url}/runs/{rid}", wait_until="commit")
                page.wait_for_function(
                    f"document.querySelectorAll('.chart[data-state=drawn]').length >= {args.metrics}", timeout=60_000)
                elapsed = time.perf_counter() - start
                page.wait_for_timeout(200)
                if rep:
                    results.append({"seconds_to_all_charts": round(elapsed, 3), "chart_bytes": sum(sizes),
                                    "requests": len(sizes)})
                ctx.close()
            browser.close()
    finally:
        srv.stop()
    print(json.dumps({"metrics": args.metrics, "points_per_metric": args.points, "ingest_s": round(ingest, 1),
                      "median_seconds_to_all_charts": statistics.median(r["seconds_to_all_charts"] for r in results),
                      "median_chart_bytes": statistics.median(r["chart_bytes"] for r in results),
                      "runs": results}, indent=2))


if __name__ == "__main__":
    main()
