"""Serving: gunicorn with threaded workers (each worker builds its own app and pool)."""

from __future__ import annotations

import gc
import os

from gunicorn.app.base import BaseApplication

from swan_server.config import Settings


def app_from_env():
    """WSGI entry point for external servers: `gunicorn 'swan_server.wsgi:app_from_env()'`."""
    from swan_server.app import create_app

    return create_app(Settings.from_env())


class GunicornLengthBody:
    """gunicorn's reader of a Content-Length body, read directly: its read(n) returns up to n
    bytes in one call, where the WSGI input object above it reads 1 kB at a time and copies its
    buffers at every step (uploads were held to ~400 MiB/s, and reading a 1 MB JSON body cost
    as much as parsing it). It stops at the body's length by itself and keeps the connection's
    state right for the next request. Used for uploads and for the request stream Flask reads
    JSON bodies from (`limits.SwanRequest`)."""

    def __init__(self, reader):
        self._reader = reader

    @classmethod
    def of(cls, environ) -> "GunicornLengthBody | None":
        """The direct reader, when this is gunicorn's Content-Length body and nothing of it was
        read yet; None otherwise (other servers, chunked bodies)."""
        body = environ.get("wsgi.input")
        reader = getattr(body, "reader", None)
        buffered = getattr(body, "buf", None)
        if (type(body).__module__ != "gunicorn.http.body" or type(reader).__name__ != "LengthReader"
                or buffered is None or buffered.tell() or not isinstance(getattr(reader, "length", None), int)):
            return None
        return cls(reader)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self._reader.length
        return self._reader.read(size)


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from swan_server.app import create_app
        from swan_server.services.container import Services

        # The schema was upgraded once by the launcher; workers only connect.
        app = create_app(self.settings, Services.build(self.settings, migrate=False))
        tune_gc()
        return app


def tune_gc() -> None:
    """Ingestion builds a tuple per point; with the default thresholds the cyclic collector runs
    every 700 allocations and costs ~30% of a 100k-point batch. Requests create few reference
    cycles, so collect young objects less often, and keep the long-lived objects loaded at start
    (modules, the app, SQLAlchemy's caches) out of every full collection."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


SHARED_MEMORY = "/dev/shm"


def _writable_dir(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def run_gunicorn(settings: Settings, workers: int = 1, threads: int = 8) -> None:
    from swan_server import observability

    # Before any worker forks: the shared directory of per-worker metric files.
    observability.prepare_multiprocess_dir()
    logconfig = observability.gunicorn_logconfig()
    _Gunicorn(
        settings,
        {
            **({"logconfig_dict": logconfig} if logconfig else {}),
            "child_exit": lambda _arbiter, worker: observability.worker_exited(worker.pid),
            "on_exit": lambda _arbiter: observability.cleanup_multiprocess_dir(),
            "bind": f"{settings.host}:{settings.port}",
            "workers": max(1, workers),
            "worker_class": "gthread",
            "threads": max(1, threads),
            # gthread workers heartbeat from their main thread, so long uploads are not killed.
            "timeout": 120,
            "graceful_timeout": 30,
            "keepalive": 30,
            # Workers heartbeat by touching a file after every request; on a disk that is a
            # journaled metadata write each time, in memory it is free (gunicorn's advice).
            **({"worker_tmp_dir": SHARED_MEMORY} if _writable_dir(SHARED_MEMORY) else {}),
            # MLflow's UI and clients put up to 100 run ids in one GET query string.
            "limit_request_line": 0,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
        },
    ).run()
