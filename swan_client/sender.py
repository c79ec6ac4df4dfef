"""Getting a run's records to the server.

The training thread only appends to an in-memory columnar buffer (`Buffer`). The writer thread
(`Writer`) seals that buffer every `flush_interval` seconds, or as soon as it holds
`batch_points` points, into a record appended to the run folder (`offline.RecordWriter`): the
disk is the spool, so memory stays bounded whatever the server does. Online, the uploader
thread (`Uploader`) sends the records in order, each batch with the idempotency key
`<session>:<index>`; network errors, 5xx and 429 are retried with exponential backoff and
jitter (at least what a Retry-After header asks), for as long as the run lives. When the server
is away the records simply wait on disk and are drained when it is back. `swan sync` runs the
same `Uploader` over a folder.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path
from typing import Callable
from urllib.parse import quote

import orjson

from swan_client.api import MAX_POINTS_PER_BATCH, Client, SwanApiError, backoff_delay, json_values
from swan_client.offline import ARTIFACT, BATCH, FINISH, RUN, RecordWriter, read_acked, write_acked

log = logging.getLogger("swan_client")


def _clean_text(value):
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_clean_text(v) for v in value]
    if isinstance(value, dict):
        return {_clean_text(k): _clean_text(v) for k, v in value.items()}
    return value


def dumps(body: dict) -> bytes:
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        # Lone surrogates (e.g. from bytes decoded with surrogateescape) are not UTF-8.
        return orjson.dumps(_clean_text(body))


class Buffer:
    """What the run logged since the last seal. Guarded by the run's lock."""

    __slots__ = ("keys", "steps", "stamps", "values", "media", "params", "tags", "lines", "levels", "messages",
                 "line_stamps")

    def __init__(self):
        self.keys: list[str] = []
        self.steps: list[int] = []
        self.stamps: list[int] = []
        self.values: list[float] = []
        self.media: list[dict] = []
        self.params: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.lines: list[int] = []
        self.levels: list[str] = []
        self.messages: list[str] = []
        self.line_stamps: list[int] = []

    def empty(self) -> bool:
        return not (self.keys or self.media or self.params or self.tags or self.lines)

    def payloads(self) -> list[tuple[bytes, int]]:
        """The buffer as batch payloads of at most MAX_POINTS_PER_BATCH points each: (JSON, points)."""
        out = []
        n = len(self.keys)
        for start in range(0, max(n, 1), MAX_POINTS_PER_BATCH):
            body: dict = {}
            if n:
                end = min(start + MAX_POINTS_PER_BATCH, n)
                values = self.values[start:end] if (start or end < n) else self.values
                body["metrics"] = {
                    "key": self.keys[start:end] if (start or end < n) else self.keys,
                    "step": self.steps[start:end] if (start or end < n) else self.steps,
                    "timestamp": self.stamps[start:end] if (start or end < n) else self.stamps,
                    "value": json_values(values),
                }
            if start == 0:
                if self.params:
                    body["params"] = self.params
                if self.tags:
                    body["tags"] = self.tags
                if self.media:
                    body["media"] = self.media
                if self.lines:
                    body["console"] = {"line": self.lines, "level": self.levels, "message": self.messages,
                                       "timestamp": self.line_stamps}
            if body:
                out.append((dumps(body), len(body.get("metrics", {}).get("key", ()))))
        return out


class Writer:
    """The thread that turns the buffer into records on disk."""

    def __init__(self, seal: Callable[[], int], interval: float, on_written: Callable[[], None]):
        self.seal = seal
        self.interval = interval
        self.on_written = on_written
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="swan-writer", daemon=True)

    def start(self) -> "Writer":
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.wake.wait(self.interval)
            self.wake.clear()
            try:
                if self.seal():
                    self.on_written()
            except Exception:
                log.exception("swan: could not write a batch to the run folder")

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(timeout=30)


class Halted(Exception):
    pass


class Uploader:
    """Sends a run folder's records in order, from the first one not acknowledged yet."""

    def __init__(self, folder: Path, client: Client, records: RecordWriter, session: str,
                 max_backoff: float = 10.0):
        self.folder = Path(folder)
        self.client = client
        self.records = records
        self.session = session
        self.max_backoff = max_backoff
        self.acked = read_acked(self.folder)
        self.cond = threading.Condition()
        self.run_id: str | None = None
        self.halted: str | None = None  # why uploading stopped for good
        self.refused: list[str] = []  # batches the server refused (4xx), skipped
        self.failures = 0
        self.last_error: SwanApiError | None = None
        self._stopping = False
        self._finish_calls = 0  # finish() bumps it: a backoff in progress then tries at once
        self._deadline: float | None = None
        self._thread: threading.Thread | None = None

    # -- one record -------------------------------------------------------------------------------
    def send(self, index: int, rtype: bytes, payload: bytes, retries: int = 0, timeout: float | None = None) -> None:
        c = self.client
        if rtype == RUN:
            info = orjson.loads(payload)
            run = c.request("POST", "/runs", json={k: v for k, v in info.items() if v is not None},
                            retries=retries, timeout=timeout).json()["run"]
            self.run_id = run["run_id"]
            return
        run_id = self.run_id
        if run_id is None:
            raise Halted("no run record before the data")
        if rtype == BATCH:
            if b'"media":' in payload:
                for item in orjson.loads(payload).get("media") or []:
                    local = self.folder / item["path"]
                    if local.is_file():
                        with open(local, "rb") as f:
                            c.request("PUT", f"/runs/{run_id}/artifacts/{quote(item['path'])}", data=f, retries=retries,
                                      timeout=timeout, headers={"Content-Type": "application/octet-stream"})
            key = orjson.dumps(f"{self.session}:{index}")
            body = b'{"idempotency_key":' + key + (b"," + payload[1:] if len(payload) > 2 else b"}")
            c.request("POST", f"/runs/{run_id}/batches", data=body, retries=retries, timeout=timeout,
                      headers={"Content-Type": "application/json"})
        elif rtype == ARTIFACT:
            info = orjson.loads(payload)
            local = self.folder / info["local"]
            if not local.is_file():
                self.refused.append(f"artifact {info['path']}: {local} is gone")
                return
            with open(local, "rb") as f:
                c.request("PUT", f"/runs/{run_id}/artifacts/{quote(info['path'])}", data=f, retries=retries, timeout=timeout,
                          headers={"Content-Type": "application/octet-stream"})
        elif rtype == FINISH:
            info = orjson.loads(payload)
            c.request("PATCH", f"/runs/{run_id}", json=info, retries=retries, timeout=timeout)

    def _ack(self, index: int) -> None:
        with self.cond:
            self.acked = index + 1
            self.cond.notify_all()
        write_acked(self.folder, self.acked)

    def step(self, timeout: float | None = None) -> bool:
        """Send the next record; True when one was acknowledged (or skipped as refused)."""
        index = self.acked
        if index >= len(self.records):
            return False
        rtype, payload = self.records.read(index)
        try:
            self.send(index, rtype, payload, timeout=timeout)
        except SwanApiError as exc:
            if exc.transient:
                raise
            if rtype == RUN or exc.status in (401, 403, 404):
                raise Halted(f"the server refused the run ({exc.status} {exc.code}: {exc.message})") from None
            what = {BATCH: "a batch", ARTIFACT: "an artifact", FINISH: "the final status"}.get(rtype, "a record")
            message = f"the server refused {what} (record {index}): {exc.status} {exc.code}: {exc.message}"
            log.warning("swan: %s; it is skipped", message)
            self.refused.append(message)
        self._ack(index)
        return True

    def ensure_run(self, timeout: float | None = None) -> None:
        """Learn the run id (send the run record again: harmless) when resuming a folder."""
        if self.run_id is None and len(self.records):
            rtype, payload = self.records.read(0)
            if rtype == RUN:
                self.send(0, rtype, payload, timeout=timeout)
            if self.acked == 0:
                self._ack(0)

    # -- the thread --------------------------------------------------------------------------------
    def start(self) -> "Uploader":
        self._thread = threading.Thread(target=self._loop, name="swan-uploader", daemon=True)
        self._thread.start()
        return self

    def notify(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def _loop(self) -> None:
        attempt = 0
        while True:
            with self.cond:
                while self.acked >= len(self.records) and not self._stopping and self.halted is None:
                    self.cond.wait(1.0)
                if self.halted is not None or (self._stopping and self.acked >= len(self.records)):
                    return
                if self._deadline is not None and time.monotonic() >= self._deadline:
                    return
            try:
                if self.run_id is None and self.acked > 0:
                    self.ensure_run(timeout=self._request_timeout())
                self.step(timeout=self._request_timeout())
                if attempt:
                    log.warning("swan: the server is back; uploading what was kept in %s", self.folder)
                attempt = 0
            except Halted as exc:
                self.halted = str(exc)
                log.warning("swan: %s; uploading stopped. The data stays in %s (`swan sync` uploads it)",
                            exc, self.folder)
                self.notify()
                return
            except SwanApiError as exc:
                self.failures += 1
                self.last_error = exc
                if attempt == 0:
                    log.warning("swan: cannot reach the server (%s); logging goes on and is kept in %s until it is back",
                                exc.message[:200], self.folder)
                delay = min(self.max_backoff, backoff_delay(attempt, base=0.2, cap=self.max_backoff))
                attempt += 1
                if exc.retry_after:
                    self._back_off(max(delay, exc.retry_after), until_finish=False)
                else:
                    self._back_off(delay, until_finish=True)
            except Exception as exc:  # a bug or a broken folder: do not spin
                self.halted = f"{type(exc).__name__}: {exc}"
                log.exception("swan: uploading stopped")
                self.notify()
                return

    def _back_off(self, delay: float, until_finish: bool) -> None:
        """Wait `delay` seconds before the next attempt, or until finish()'s deadline. New records
        notify the condition too; they must not cut the wait short, or a server that is down or
        asked for a pause (Retry-After) would get a request per flush interval. With
        `until_finish`, a finish() call during the wait ends it: the one waiting for the upload
        gets an attempt at once rather than up to `max_backoff` seconds of its timeout lost; a
        pause the server asked for is kept even then."""
        retry_at = time.monotonic() + delay
        with self.cond:
            finish_calls = self._finish_calls
            while self.halted is None:
                if until_finish and self._finish_calls != finish_calls:
                    return
                until = retry_at if self._deadline is None else min(retry_at, self._deadline)
                left = until - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(left)

    def _request_timeout(self) -> float | None:
        if self._deadline is None:
            return None
        return max(1.0, self._deadline - time.monotonic())

    def finish(self, timeout: float) -> bool:
        """Wait until every record is acknowledged (True), the deadline passes or uploading
        halted (False)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            self._stopping = True
            self._deadline = deadline
            self._finish_calls += 1
            self.cond.notify_all()
            while self.acked < len(self.records) and self.halted is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.5))
            done = self.acked >= len(self.records)
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, min(2.0, deadline - time.monotonic())) if not done else 5.0)
        return done

    def pending(self) -> tuple[int, int]:
        """(records, metric points) not acknowledged yet."""
        records = max(0, len(self.records) - self.acked)
        return records, pending_points(self.records, self.acked)


def pending_points(records: RecordWriter, start: int) -> int:
    total = 0
    for i in range(start, len(records)):
        rtype, payload = records.read(i)
        if rtype == BATCH and b'"metrics":' in payload:
            total += len(orjson.loads(payload)["metrics"]["key"])
    return total


def finite(values) -> bool:
    try:
        return math.isfinite(math.fsum(values))
    except (OverflowError, ValueError):
        return False
