"""Serving: gunicorn with threaded workers (each worker builds its own app and pool)."""

from __future__ import annotations

import gc
import io
import os
import select
import threading

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from swan_server.config import Settings


def app_from_env():
    """WSGI entry point for external servers: `gunicorn 'swan_server.wsgi:app_from_env()'` (with
    `-k swan_server.wsgi.LingeringThreadWorker --threads 8` for what `swan server` runs)."""
    from swan_server.app import create_app

    return create_app(Settings.from_env())


class GunicornLengthBody:
    """gunicorn's Content-Length body, read without its 8 kB steps.

    The WSGI input object gunicorn hands to the app reads 1 kB at a time, and its length reader
    below that receives 8 kB per `recv` and copies its buffers at every step: uploads were held
    to ~400 MiB/s by the first, ~650 MiB/s by the second, and reading a 1 MB JSON body cost as
    much as parsing it. This reader first takes the body's bytes gunicorn already holds in its
    read-ahead buffer, then receives the rest from the socket straight into the caller's buffer,
    never past the body's length, so the connection is left right for the next request. Where
    gunicorn's objects are not laid out as expected, gunicorn's own length reader is used.
    Used for uploads and for the request stream Flask reads JSON bodies from
    (`limits.SwanRequest`)."""

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

    def _source(self):
        """(gunicorn's socket reader, its socket), or None when they are not what this reader
        expects (then gunicorn's own length reader is used)."""
        unreader = getattr(self._reader, "unreader", None)
        sock, buffered = getattr(unreader, "sock", None), getattr(unreader, "buf", None)
        if sock is None or not isinstance(buffered, io.BytesIO):
            return None
        return unreader, sock

    def readinto(self, buffer) -> int:
        """Fill `buffer` with the body's next bytes; fewer only at the body's end or when the
        client has gone (0: nothing left)."""
        view = memoryview(buffer).cast("B")
        size = min(len(view), self._reader.length)
        if size <= 0:
            return 0
        source = self._source()
        if source is None:
            data = self._reader.read(size)
            view[: len(data)] = data
            return len(data)
        unreader, sock = source
        got = 0
        if unreader.buf.seek(0, io.SEEK_END):
            # Bytes gunicorn read past the headers (or past an earlier read) come first; what
            # lies beyond `size` stays buffered (it may be the next request's).
            held = unreader.buf.getvalue()
            got = min(size, len(held))
            view[:got] = held[:got]
            unreader.buf = io.BytesIO()
            unreader.buf.write(held[got:])
        while got < size:
            n = sock.recv_into(view[got:size])
            if not n:
                break  # the client closed: the caller sees a short body
            got += n
        self._reader.length -= got
        return got

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self._reader.length:
            size = self._reader.length
        if size <= 0:
            return b""
        if self._source() is None:
            return self._reader.read(size)
        buffer = bytearray(size)
        got = self.readinto(buffer)
        del buffer[got:]
        return bytes(buffer)


class LingeringThreadWorker(ThreadWorker):
    """gunicorn's gthread worker, but a thread that has answered a keep-alive request goes on
    serving that connection when the client's next request arrives within LINGER_SECONDS.

    The stock worker hands every keep-alive connection back to its main thread after each
    response: the socket goes into the main thread's poller, the next request wakes that thread,
    and it submits the connection to the pool again. Those two thread hand-offs cost about a
    fifth of a small request here (GET /health 0.34 -> 0.26 ms, a log-metric call 0.76 -> 0.60 ms
    over one keep-alive connection). Clients that log in a loop (MLflow's log_metric and
    log_batch, the SwanLab SDK's upload thread, swan_client) send their next request within a
    millisecond or two. A thread lingers only while another thread of the pool is idle, so that
    a request on another connection never queues behind a lingering thread; anything else (the
    client closes, the worker is stopping, nothing arrives in time) takes the stock path.

    It also answers pipelined requests, which the stock worker (gunicorn 26) leaves unanswered
    until the keep-alive timeout: their bytes were read along with the previous request, so the
    socket never turns readable again."""

    LINGER_SECONDS = 0.002

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._busy = 0
        self._busy_lock = threading.Lock()

    def handle(self, conn):
        with self._busy_lock:
            self._busy += 1
        try:
            keepalive = super().handle(conn)
            # `True` is gunicorn's "keep the connection" (other results: close it, or defer it to
            # the poller before any request; older gunicorn returns tuples and never lingers).
            while keepalive is True and self._next_request_soon(conn):
                keepalive = super().handle(conn)
            return keepalive
        finally:
            with self._busy_lock:
                self._busy -= 1

    def _next_request_soon(self, conn) -> bool:
        if not self.alive:
            return False
        if _read_ahead(conn):
            # A request already read into gunicorn's buffer (a pipelining client) would never wake
            # the poller: the stock worker leaves it unanswered until the keep-alive timeout.
            return True
        return self._busy < self.cfg.threads and _readable_within(conn.sock, self.LINGER_SECONDS)


def _read_ahead(conn) -> bool:
    """Whether gunicorn's parser of the connection holds bytes it read past the last request."""
    buffered = getattr(getattr(getattr(conn, "parser", None), "unreader", None), "buf", None)
    return isinstance(buffered, io.BytesIO) and buffered.seek(0, io.SEEK_END) > 0


def _readable_within(sock, seconds: float) -> bool:
    """Whether the socket has data (or the peer's close) within `seconds` (poll, not select:
    descriptors past 1024 are fine)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(seconds * 1000))


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
            "worker_class": "swan_server.wsgi.LingeringThreadWorker",
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
