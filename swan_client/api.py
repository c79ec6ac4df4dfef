"""`Client`: the programmatic client of Swan's native API (`/api/v1`), for reading and writing.

    from swan_client.api import Client
    c = Client("http://127.0.0.1:5000", api_key="swan_...")
    run = c.create_run(project="imports", run_id=..., name="r1", start_time=..., tags={"source.id": "x"})
    c.log_points(run["run_id"], ((key, step, ts, value) for ...), idempotency_prefix="import-x")
    c.upload_artifact(run["run_id"], "model.pt")
    c.update_run(run["run_id"], status="FINISHED", end_time=...)
    c.find_run_by_tag("source.id", "x", project="imports")
    c.get_history(run["run_id"], "loss")   # {"step": [...], "timestamp": [...], "value": [...]}

Network errors, 5xx and 429 are retried with exponential backoff and jitter (`retries` times),
waiting at least what a Retry-After header asks; any other error is a `SwanApiError` with the
server's code and message.
"""

from __future__ import annotations

import email.utils
import math
import os
import random
import time
import uuid
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import quote

import orjson
import requests

from swan_client.config import resolve

MAX_POINTS_PER_BATCH = 100_000
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 300.0


class SwanApiError(Exception):
    """The server refused a request (4xx), or kept failing (5xx / network) past the retries."""

    def __init__(self, status: int | None, code: str, message: str, retry_after: float | None = None):
        super().__init__(f"{code}: {message}" if status is None else f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds the server asked to wait (its Retry-After), if it said

    @property
    def transient(self) -> bool:
        return self.status is None or self.status in RETRY_STATUSES


def backoff_delay(attempt: int, base: float = 0.25, cap: float = 30.0) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)], at least a few milliseconds."""
    return max(0.005, random.uniform(0, min(cap, base * (2 ** min(attempt, 20)))))


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (delta-seconds or an HTTP date) as seconds from now, at most
    MAX_RETRY_AFTER (a server's mistake must not park a run for days); None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def _float_out(v: float):
    if math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def _float_in(v) -> float:
    if isinstance(v, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[v]
    return float(v)


def json_values(values: list) -> list:
    """Columns for the wire: NaN and infinities as strings (JSON has no such numbers)."""
    try:
        if math.isfinite(math.fsum(values)):
            return values
    except (OverflowError, ValueError):
        pass
    except TypeError:
        return [_float_out(float(v)) for v in values]
    return [_float_out(v) for v in values]


class Client:
    def __init__(self, tracking_uri: str | None = None, api_key: str | None = None, timeout: float = 120.0,
                 retries: int = 5, session: requests.Session | None = None):
        self.tracking_uri, self.api_key = resolve(tracking_uri, api_key)
        self.base = self.tracking_uri + "/api/v1"
        self.timeout = timeout
        self.retries = retries
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "swan-client"
        if self.api_key:
            self.session.headers["Authorization"] = f"Bearer {self.api_key}"

    # -- plumbing ------------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, json=None, data=None, params=None, headers=None,
                retries: int | None = None, timeout: float | None = None, stream: bool = False):
        """One call with retries; returns the `requests.Response` of a 2xx answer."""
        url = self.base + path
        if json is not None:
            data = orjson.dumps(json)
            headers = {**(headers or {}), "Content-Type": "application/json"}
        retries = self.retries if retries is None else retries
        attempt = 0
        while True:
            if hasattr(data, "seek"):
                data.seek(0)
            try:
                resp = self.session.request(method, url, data=data, params=params, headers=headers,
                                            timeout=timeout or self.timeout, stream=stream)
            except requests.RequestException as exc:
                err = SwanApiError(None, "NETWORK_ERROR", f"{type(exc).__name__}: {exc}")
            else:
                if resp.status_code < 400:
                    return resp
                err = self._error(resp)
            if not err.transient or attempt >= retries:
                raise err
            delay = max(backoff_delay(attempt), err.retry_after or 0.0)
            time.sleep(delay)
            attempt += 1

    @staticmethod
    def _error(resp) -> SwanApiError:
        wait = retry_after_seconds(resp.headers.get("Retry-After"))
        try:
            body = resp.json()
            err = body.get("error") if isinstance(body, dict) else None
            if isinstance(err, dict):
                return SwanApiError(resp.status_code, str(err.get("code")), str(err.get("message")), wait)
            if isinstance(body, dict) and "error_code" in body:  # a route outside /api/v1
                return SwanApiError(resp.status_code, body["error_code"], str(body.get("message")), wait)
        except ValueError:
            pass
        return SwanApiError(resp.status_code, "HTTP_ERROR", resp.text[:300] or resp.reason, wait)

    def _json(self, method, path, **kw) -> dict:
        return self.request(method, path, **kw).json()

    # -- meta -------------------------------------------------------------------------------------------
    def me(self) -> dict:
        return self._json("GET", "/me")

    def openapi(self) -> dict:
        return self._json("GET", "/openapi.json")

    # -- projects ---------------------------------------------------------------------------------------
    def create_project(self, name: str, tags: dict | None = None, exist_ok: bool = True) -> dict:
        return self._json("POST", "/projects", json={"name": name, "tags": tags or {}, "exist_ok": exist_ok})["project"]

    def get_project(self, project_id: str) -> dict:
        return self._json("GET", f"/projects/{quote(str(project_id), safe='')}")["project"]

    def project_by_name(self, name: str) -> dict | None:
        found = self._json("GET", "/projects", params={"name": name})["projects"]
        return found[0] if found else None

    def list_projects(self, view: str = "active") -> Iterator[dict]:
        token = None
        while True:
            page = self._json("GET", "/projects", params={"view": view, "page_size": 1000, "page_token": token})
            yield from page["projects"]
            token = page.get("next_page_token")
            if not token:
                return

    # -- runs -------------------------------------------------------------------------------------------
    def create_run(self, project: str | None = None, *, project_id: str | None = None, run_id: str | None = None,
                   name: str | None = None, start_time: int | None = None, end_time: int | None = None,
                   status: str | None = None, tags: dict | None = None, params: dict | None = None,
                   exist_ok: bool = False, user: str | None = None) -> dict:
        """Create a run (in `project` by name, created when missing, or `project_id`) with a
        given id, name, times, status, tags and params. With `exist_ok`, an existing run of that
        id in the same project is returned as it is."""
        body = {"project": project, "project_id": project_id, "run_id": run_id, "name": name,
                "start_time": start_time, "end_time": end_time, "status": status, "tags": tags, "params": params,
                "exist_ok": exist_ok, "user": user}
        return self._json("POST", "/runs", json={k: v for k, v in body.items() if v is not None})["run"]

    def get_run(self, run_id: str) -> dict:
        return self._json("GET", f"/runs/{quote(run_id, safe='')}")["run"]

    def update_run(self, run_id: str, *, name: str | None = None, status: str | None = None,
                   end_time: int | None = None) -> dict:
        body = {k: v for k, v in {"name": name, "status": status, "end_time": end_time}.items() if v is not None}
        return self._json("PATCH", f"/runs/{quote(run_id, safe='')}", json=body)["run"]

    def delete_run(self, run_id: str) -> None:
        self.request("DELETE", f"/runs/{quote(run_id, safe='')}")

    def list_runs(self, project: str | None = None, *, project_ids: list[str] | None = None,
                  filter: str | None = None, order_by: list[str] | None = None, view: str = "active",
                  page_size: int = 1000, max_results: int | None = None) -> Iterator[dict]:
        """Runs of the projects, filtered (MLflow's grammar) and sorted, fetched page by page."""
        params: dict = {"view": view, "page_size": min(page_size, 1000)}
        if project:
            params["project"] = project
        if project_ids:
            params["project_id"] = list(project_ids)
        if filter:
            params["filter"] = filter
        if order_by:
            params["order_by"] = list(order_by)
        count = 0
        while True:
            page = self._json("GET", "/runs", params=params)
            for run in page["runs"]:
                yield run
                count += 1
                if max_results is not None and count >= max_results:
                    return
            if not page.get("next_page_token"):
                return
            params["page_token"] = page["next_page_token"]

    def find_run_by_tag(self, key: str, value: str, project: str | None = None, *,
                        project_ids: list[str] | None = None) -> dict | None:
        """The first run whose tag `key` equals `value` (how importers recognise what they did)."""
        escaped = value.replace("'", "''")
        runs = self.list_runs(project, project_ids=project_ids, filter=f"tags.`{key}` = '{escaped}'", max_results=1)
        return next(iter(runs), None)

    # -- writes -----------------------------------------------------------------------------------------
    def write_batch(self, run_id: str, *, idempotency_key: str | None = None, metrics: dict | None = None,
                    params: dict | None = None, tags: dict | None = None, media: list | None = None,
                    console: dict | None = None) -> dict:
        """One batch in one transaction. Pass the same `idempotency_key` to resend it safely."""
        body: dict = {"idempotency_key": idempotency_key or uuid.uuid4().hex}
        if metrics:
            body["metrics"] = {**metrics, "value": json_values(list(metrics["value"]))}
        for name, value in (("params", params), ("tags", tags), ("media", media), ("console", console)):
            if value:
                body[name] = value
        return self._json("POST", f"/runs/{quote(run_id, safe='')}/batches", json=body)

    def log_points(self, run_id: str, points: Iterable[tuple[str, int, int, float]], *,
                   chunk_size: int = MAX_POINTS_PER_BATCH, idempotency_prefix: str | None = None) -> int:
        """Stream (key, step, timestamp_ms, value) points in batches of `chunk_size`. With a stable
        `idempotency_prefix`, running the same import again writes nothing twice. Returns the
        number of points sent."""
        prefix = idempotency_prefix or uuid.uuid4().hex
        chunk_size = max(1, min(chunk_size, MAX_POINTS_PER_BATCH))
        keys, steps, stamps, values = [], [], [], []
        sent = n = 0
        for key, step, ts, value in points:
            keys.append(key)
            steps.append(int(step))
            stamps.append(int(ts))
            values.append(float(value))
            if len(keys) >= chunk_size:
                self.write_batch(run_id, idempotency_key=f"{prefix}:{n}",
                                 metrics={"key": keys, "step": steps, "timestamp": stamps, "value": values})
                sent += len(keys)
                n += 1
                keys, steps, stamps, values = [], [], [], []
        if keys:
            self.write_batch(run_id, idempotency_key=f"{prefix}:{n}",
                             metrics={"key": keys, "step": steps, "timestamp": stamps, "value": values})
            sent += len(keys)
        return sent

    def log_metric_columns(self, run_id: str, key: str, steps: list[int], values: list[float],
                           timestamps: list[int] | None = None, *, idempotency_prefix: str | None = None,
                           chunk_size: int = MAX_POINTS_PER_BATCH) -> int:
        """One metric's history as columns (e.g. from an importer), in chunks."""
        now = int(time.time() * 1000)
        stamps = timestamps if timestamps is not None else [now] * len(steps)
        return self.log_points(run_id, ((key, s, t, v) for s, t, v in zip(steps, stamps, values)),
                               chunk_size=chunk_size, idempotency_prefix=idempotency_prefix)

    # -- artifacts and media ----------------------------------------------------------------------------
    def upload_artifact(self, run_id: str, local_path: str | os.PathLike, artifact_path: str | None = None) -> list[str]:
        """Upload a file, or a folder's files, under the run's artifacts (streamed). Returns the
        artifact paths written."""
        local = Path(local_path)
        if local.is_dir():
            base = artifact_path if artifact_path is not None else local.name
            out = []
            for f in sorted(p for p in local.rglob("*") if p.is_file()):
                rel = f.relative_to(local).as_posix()
                out += self.upload_artifact(run_id, f, f"{base}/{rel}" if base else rel)
            return out
        target = artifact_path or local.name
        with open(local, "rb") as f:
            self.request("PUT", f"/runs/{quote(run_id, safe='')}/artifacts/{quote(target)}", data=f,
                         headers={"Content-Type": "application/octet-stream"})
        return [target]

    def upload_bytes(self, run_id: str, artifact_path: str, data: bytes) -> None:
        self.request("PUT", f"/runs/{quote(run_id, safe='')}/artifacts/{quote(artifact_path)}", data=data,
                     headers={"Content-Type": "application/octet-stream"})

    def log_media(self, run_id: str, key: str, media, step: int = 0, *, seq: int = 0,
                  idempotency_key: str | None = None) -> dict:
        """Upload one media object (`swan_client.Image`, `Audio`, `Text`, `Table`) and index it."""
        from swan_client.media import media_path

        data = media.encode()
        path = media_path(media.kind, key, step, seq, media.ext, data)
        self.upload_bytes(run_id, path, data)
        item = {"key": key, "step": step, "seq": seq, "kind": media.kind, "path": path, "caption": media.caption,
                "timestamp": int(time.time() * 1000)}
        self.write_batch(run_id, idempotency_key=idempotency_key or f"media:{path}", media=[item])
        return item

    def list_artifacts(self, run_id: str, path: str = "") -> list[dict]:
        return self._json("GET", f"/runs/{quote(run_id, safe='')}/artifacts", params={"path": path})["files"]

    def download_artifact(self, run_id: str, path: str, dest: str | os.PathLike | None = None) -> bytes | Path:
        resp = self.request("GET", f"/runs/{quote(run_id, safe='')}/artifacts/{quote(path)}", stream=True)
        if dest is None:
            return resp.content
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as f:
            for chunk in resp.iter_content(1 << 20):
                f.write(chunk)
        return dest

    # -- reads ------------------------------------------------------------------------------------------
    def get_history(self, run_id: str, key: str, page_size: int = MAX_POINTS_PER_BATCH) -> dict:
        """Every point of one metric: {"step": [...], "timestamp": [...], "value": [...]}."""
        out = {"step": [], "timestamp": [], "value": []}
        params = {"key": key, "page_size": page_size}
        while True:
            page = self._json("GET", f"/runs/{quote(run_id, safe='')}/metrics/history", params=params)
            out["step"] += page["step"]
            out["timestamp"] += page["timestamp"]
            out["value"] += [v if type(v) is float else _float_in(v) for v in page["value"]]
            if not page.get("next_page_token"):
                return out
            params["page_token"] = page["next_page_token"]

    def get_media(self, run_id: str, key: str | None = None) -> list[dict]:
        return self._json("GET", f"/runs/{quote(run_id, safe='')}/media", params={"key": key} if key else None)["media"]

    def get_console(self, run_id: str, start_line: int | None = None, max_lines: int | None = None) -> dict:
        params = {k: v for k, v in {"start_line": start_line, "max_lines": max_lines}.items() if v is not None}
        return self._json("GET", f"/runs/{quote(run_id, safe='')}/console", params=params)
