"""Structured logs and Prometheus metrics.

Logs: `--log-format json` (or SWAN_LOG_FORMAT=json) writes one JSON object per line on stderr
for Swan's own records and gunicorn's; `--access-log` (SWAN_ACCESS_LOG=1) adds one record per
request with its method, route, status and duration.

Metrics: `GET /metrics` in Prometheus' text format. Request counters and latency histograms are
kept per process and summed over every gunicorn worker (prometheus_client's multiprocess mode,
in a directory the launcher creates); totals of what is stored (projects, runs, series, points)
are read from the database at each scrape, so every worker answers the same."""

from __future__ import annotations

import datetime as _dt
import glob
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Attributes every LogRecord has; anything else was passed with `extra=` and goes into the JSON.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def log_format() -> str:
    fmt = (os.environ.get("SWAN_LOG_FORMAT") or "text").lower()
    return fmt if fmt in LOG_FORMATS else "text"


def access_log_enabled() -> bool:
    return (os.environ.get("SWAN_ACCESS_LOG") or "").lower() in ("1", "true", "yes", "on")


def configure_logging(fmt: str | None = None, level: int = logging.INFO) -> None:
    """The root logger on stderr, as text or JSON lines."""
    fmt = fmt or log_format()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def gunicorn_logconfig(fmt: str | None = None) -> dict | None:
    """gunicorn's `logconfig_dict` for JSON lines (None keeps gunicorn's text logs)."""
    if (fmt or log_format()) != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "swan_server.observability.JsonFormatter"}},
        "handlers": {"json_stderr": handler},
        "root": {"level": "INFO", "handlers": ["json_stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["json_stderr"], "propagate": False, "qualname": "gunicorn.error"},
            "gunicorn.access": {"level": "INFO", "handlers": ["json_stderr"], "propagate": False, "qualname": "gunicorn.access"},
        },
    }


# -- metrics ---------------------------------------------------------------------------------------
def prepare_multiprocess_dir() -> str:
    """Before gunicorn forks: a fresh directory for the workers' metric files. Must run before
    prometheus_client is imported in this process."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):  # counters of an earlier server
            os.remove(stale)
    else:
        path = tempfile.mkdtemp(prefix="swan-metrics-")
        os.environ[MULTIPROC_ENV] = path
        os.environ["SWAN_METRICS_DIR_OWNED"] = "1"
    return path


def cleanup_multiprocess_dir() -> None:
    path = os.environ.get(MULTIPROC_ENV)
    if path and os.environ.get("SWAN_METRICS_DIR_OWNED") == "1":
        shutil.rmtree(path, ignore_errors=True)


def worker_exited(pid: int) -> None:
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


_METRICS = None
_METRICS_LOCK = threading.Lock()


def _metrics():
    """The request metrics, created once per process (the first requests of a threaded worker
    arrive together, and registering a metric twice is an error)."""
    global _METRICS
    if _METRICS is None:
        with _METRICS_LOCK:
            if _METRICS is None:
                from prometheus_client import Counter, Histogram

                _METRICS = (
                    Counter("swan_http_requests", "HTTP requests answered", ["method", "route", "status"]),
                    Histogram("swan_http_request_duration_seconds", "Time to answer an HTTP request", ["route"],
                              buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)),
                )
    return _METRICS


class _StoreCollector:
    """Totals read from the database at scrape time."""

    def __init__(self, store):
        self.store = store

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("swan_database_up", "1 when the database answered this scrape")
        try:
            totals = self.store.server_totals()
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        projects = GaugeMetricFamily("swan_projects", "Projects (MLflow experiments) stored", labels=["lifecycle_stage"])
        for stage, n in sorted(totals["projects"].items()):
            projects.add_metric([stage], n)
        yield projects
        runs = GaugeMetricFamily("swan_runs", "Runs stored", labels=["lifecycle_stage", "status"])
        for (stage, status), n in sorted(totals["runs"].items()):
            runs.add_metric([stage, status], n)
        yield runs
        yield GaugeMetricFamily("swan_metric_series", "Metric series (run, key) stored", value=totals["series"])
        yield GaugeMetricFamily("swan_metric_points", "Metric points stored", value=totals["points"])


def register(app, store) -> None:
    """Request counters and `GET /metrics` on a Flask app."""
    from flask import Response, g, request

    @app.before_request
    def _start_timer():
        g.swan_t0 = time.perf_counter()

    @app.after_request
    def _count(response):
        t0 = g.pop("swan_t0", None)
        if t0 is None:
            return response
        elapsed = time.perf_counter() - t0
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        requests_total, duration = _metrics()
        requests_total.labels(request.method, route, str(response.status_code)).inc()
        duration.labels(route).observe(elapsed)
        if access_log_enabled():
            logging.getLogger("swan.access").info(
                "%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed * 1000,
                extra={"method": request.method, "path": request.path, "route": route,
                       "status": response.status_code, "duration_ms": round(elapsed * 1000, 3),
                       "remote_addr": request.remote_addr, "bytes": response.calculate_content_length()},
            )
        return response

    @app.get("/metrics")
    def metrics():
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

        _metrics()
        if os.environ.get(MULTIPROC_ENV):  # every worker's counters, summed
            from prometheus_client import multiprocess

            requests_registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(requests_registry)
        else:
            requests_registry = REGISTRY
        totals = CollectorRegistry()
        totals.register(_StoreCollector(store))
        body = generate_latest(requests_registry) + generate_latest(totals)
        return Response(body, content_type=CONTENT_TYPE_LATEST)
