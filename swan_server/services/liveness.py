"""Crash detection: RUNNING runs whose client stopped heartbeating become FAILED.

No per-worker state: every worker may run the check; it is one UPDATE in the database."""

from __future__ import annotations

import logging
import threading

from swan_server.store.sql.base import now_ms

log = logging.getLogger("swan.liveness")
DEFAULT_HEARTBEAT_TIMEOUT = 30 * 60.0


class CrashDetector:
    def __init__(self, store, timeout_seconds: float = DEFAULT_HEARTBEAT_TIMEOUT):
        self.store = store
        self.timeout = float(timeout_seconds)
        self.interval = min(60.0, max(1.0, self.timeout / 4))
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def check(self) -> int:
        crashed = self.store.crash_silent_runs(now_ms() - int(self.timeout * 1000), "FAILED")
        if crashed:
            log.info("Marked %d silent run(s) as crashed (no heartbeat for %.0f s)", crashed, self.timeout)
        return crashed

    def start(self) -> None:
        if self.timeout <= 0 or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._loop, name="swan-crash-detector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the database may be briefly away; try again next round
                log.warning("Crash check failed", exc_info=True)
