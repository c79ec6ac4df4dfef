"""The failed-login rate limit: per client address and per user name, counted in the database
(table `login_failures`, one row per scope and minute) so that every worker and every server
behind a load balancer shares it.

A scope with `max_failures` failures within the last `window` seconds is refused with 429 and a
Retry-After until its oldest counted failure leaves the window; it is checked before a key is
verified, so a locked-out scope learns nothing from further attempts."""

from __future__ import annotations

import hashlib
import threading
import time

from swan_server.errors import REQUEST_LIMIT_EXCEEDED, SwanError

BUCKET_MS = 60_000
CLEAN_CACHE_SECONDS = 1.0
MAX_CACHE = 10_000


class RateLimited(SwanError):
    def __init__(self, message: str, retry_after: int):
        super().__init__(message, REQUEST_LIMIT_EXCEEDED)
        self.retry_after = retry_after
        try:  # the HTTP layer adds `Retry-After` to the 429 (swan_server.auth)
            from flask import g, has_request_context

            if has_request_context():
                g.swan_retry_after = retry_after
        except ImportError:  # pragma: no cover
            pass


def scope_id(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode("utf-8", "surrogatepass")).hexdigest()


class LoginLimiter:
    def __init__(self, store, max_failures: int = 20, window_seconds: float = 300.0):
        self.store = store
        self.max_failures = max(1, int(max_failures))
        self.window_ms = max(BUCKET_MS, int(window_seconds * 1000))
        # scope → monotonic time until which it is known to have no failures (saves a query
        # per request for clients that never fail; another worker's failure is seen within 1 s).
        self._clean: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def scopes(client: str | None, user_name: str | None) -> list[str]:
        out = []
        if client:
            out.append(scope_id("ip", client))
        if user_name:
            out.append(scope_id("user", user_name))
        return out

    def check(self, scopes: list[str]) -> None:
        if not scopes:
            return
        now = time.monotonic()
        with self._lock:
            if all(self._clean.get(s, 0) > now for s in scopes):
                return
        now_ms = int(time.time() * 1000)
        since = (now_ms - self.window_ms) // BUCKET_MS * BUCKET_MS
        failures, oldest = self.store.login_failures_since(scopes, since)
        if failures >= self.max_failures:
            retry = max(1, int(((oldest or since) + self.window_ms + BUCKET_MS - now_ms) / 1000))
            raise RateLimited(f"Too many failed logins; try again in {retry} s", retry)
        if failures == 0:
            with self._lock:
                if len(self._clean) > MAX_CACHE:
                    self._clean.clear()
                for s in scopes:
                    self._clean[s] = now + CLEAN_CACHE_SECONDS

    def failed(self, scopes: list[str]) -> None:
        if not scopes:
            return
        with self._lock:
            for s in scopes:
                self._clean.pop(s, None)
        now_ms = int(time.time() * 1000)
        bucket = now_ms // BUCKET_MS * BUCKET_MS
        self.store.add_login_failure(scopes, bucket, bucket - 2 * self.window_ms)
