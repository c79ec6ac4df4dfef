"""Rules of the native API (`/api/v1`): projects, runs with caller-chosen ids and times, and
columnar write batches that land whole, at most once per idempotency key.

Everything a client gets wrong is a 4xx `SwanError`; the limits below are per request."""

from __future__ import annotations

import hashlib
import math

from swan_server.artifacts.paths import join, safe_relative_path
from swan_server.entities import ACTIVE, RUN_STATUSES, Experiment, PagedList, Run, User
from swan_server.errors import (
    PAYLOAD_TOO_LARGE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_CONFLICT,
    SwanError,
    invalid,
    not_found,
)
from swan_server.records import LogLine, MediaItem
from swan_server.services import validation as v
from swan_server.services.access import AccessPolicy
from swan_server.services.artifacts import proxy_uri_to_path
from swan_server.services.runs import check_run_id
from swan_server.store.abstract import VIEW_ACTIVE, VIEW_ALL, VIEW_DELETED
from swan_server.store.sql.base import now_ms

MAX_POINTS_PER_BATCH = 100_000
MAX_PARAMS_PER_BATCH = 10_000
MAX_TAGS_PER_BATCH = 10_000
MAX_MEDIA_PER_BATCH = 10_000
MAX_LINES_PER_BATCH = 100_000
MAX_IDEMPOTENCY_KEY = 200
MAX_HISTORY_PAGE = 100_000
MAX_RUNS_PAGE = 1000
MAX_PROJECTS_PAGE = 1000
RUN_VIEWS = {"active": VIEW_ACTIVE, "deleted": VIEW_DELETED, "all": VIEW_ALL}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_SPECIAL = {"NaN": math.nan, "nan": math.nan, "Infinity": math.inf, "inf": math.inf, "-Infinity": -math.inf,
            "-inf": -math.inf}


def too_large(message: str) -> SwanError:
    return SwanError(message, PAYLOAD_TOO_LARGE)


def _column(data: dict, name: str, n: int | None, required: bool = True) -> list | None:
    col = data.get(name)
    if col is None:
        if required:
            raise invalid(f"metrics.{name} is required")
        return None
    if not isinstance(col, list):
        raise invalid(f"metrics.{name} must be an array")
    if n is not None and len(col) != n:
        raise invalid(f"metrics.{name} has {len(col)} items where metrics.value has {n}: columns must be equally long")
    return col


def _int_column(col: list, what: str, minimum: int = INT64_MIN) -> list[int]:
    if not all(type(x) is int for x in col):
        for i, x in enumerate(col):
            if type(x) is not int:
                if isinstance(x, float) and x.is_integer() and minimum <= x <= INT64_MAX:
                    col[i] = int(x)
                    continue
                raise invalid(f"{what}[{i}] must be an integer, got {str(x)[:50]!r}")
    if col and (min(col) < minimum or max(col) > INT64_MAX):
        bad = next(i for i, x in enumerate(col) if not minimum <= x <= INT64_MAX)
        raise invalid(f"{what}[{bad}] = {col[bad]} is out of range ({'non-negative ' if minimum == 0 else ''}64-bit integer)")
    return col


def _values(col: list) -> list[float]:
    """Numbers as floats. Defined conversions: null and "NaN" → NaN, "Infinity"/"-Infinity" → ±inf.
    Anything else (booleans, other strings, objects) is a 400 naming the first bad index."""
    if all(type(x) is float for x in col):
        return col
    out = []
    for i, x in enumerate(col):
        t = type(x)
        if t is float:
            out.append(x)
        elif t is int:
            try:
                out.append(float(x))
            except OverflowError:
                raise invalid(f"metrics.value[{i}] is beyond the range of a 64-bit float") from None
        elif x is None:
            out.append(math.nan)
        elif t is str and x in _SPECIAL:
            out.append(_SPECIAL[x])
        else:
            raise invalid(
                f"metrics.value[{i}] must be a number (or null, \"NaN\", \"Infinity\", \"-Infinity\"), "
                f"got {str(x)[:50]!r}"
            )
    return out


class NativeService:
    def __init__(self, store, experiments, runs, media, logs, artifacts):
        self.store = store
        self.experiments = experiments
        self.runs = runs
        self.media = media
        self.logs = logs
        self.artifacts = artifacts
        self.access = AccessPolicy(store)

    # -- projects ---------------------------------------------------------------------------------
    def create_project(self, name, tags=None, exist_ok: bool = False) -> tuple[Experiment, bool]:
        tags = self._str_map(tags, "tags")
        try:
            exp_id = self.experiments.create(name, None, tags)
        except SwanError as exc:
            if exc.error_code != RESOURCE_ALREADY_EXISTS or not exist_ok:
                raise
            exp = self.experiments.get_by_name(name)
            if exp.lifecycle_stage != ACTIVE:
                raise SwanError(f"Project '{name}' exists but is deleted", RESOURCE_CONFLICT) from None
            return exp, False
        return self.experiments.get(exp_id), True

    def get_project(self, project_id) -> Experiment:
        return self.experiments.get(project_id)

    def project_by_name(self, name) -> Experiment:
        return self.experiments.get_by_name(name)

    def list_projects(self, view="active", page_size=100, page_token=None, name=None) -> PagedList:
        if name is not None:
            exp = self.store.get_experiment_by_name(name)
            if exp is not None:
                self.access.project(exp.experiment_id)
            return PagedList([exp] if exp is not None else [], None)
        return self.experiments.search(self._view(view), min(page_size or 100, MAX_PROJECTS_PAGE), None, None,
                                       page_token)

    @staticmethod
    def _view(view) -> str:
        if view not in RUN_VIEWS:
            raise invalid(f"Invalid view {view!r}; expected one of {list(RUN_VIEWS)}")
        return RUN_VIEWS[view]

    @staticmethod
    def _str_map(data, what: str) -> dict[str, str]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise invalid(f"'{what}' must be an object of strings")
        for k, val in data.items():
            if not isinstance(val, str):
                raise invalid(f"{what}['{k[:60]}'] must be a string, got {type(val).__name__}")
        return data

    def _resolve_project(self, project_id, project_name) -> str:
        if project_id not in (None, ""):
            exp = self.experiments.get(str(project_id))
        elif project_name not in (None, ""):
            exp, _ = self.create_project(project_name, exist_ok=True)
        else:
            exp = self.experiments.get("0")
        if exp.lifecycle_stage != ACTIVE:
            raise invalid(f"Project '{exp.name}' is deleted")
        return exp.experiment_id

    # -- runs ---------------------------------------------------------------------------------------
    def create_run(self, user: User | None, body: dict) -> tuple[Run, bool]:
        """A run in a project given by `project_id` or `project` (a name, created when missing),
        with an optional caller-chosen `run_id`, `name`, `start_time`, `end_time`, `status`,
        `tags` and `params`. With `exist_ok`, an existing run of that id in the same project is
        returned unchanged (a resent create)."""
        project_id = self._resolve_project(body.get("project_id"), body.get("project"))
        run_id = body.get("run_id")
        if run_id is not None:
            check_run_id(run_id)
        status = body.get("status")
        if status is not None and status not in RUN_STATUSES:
            raise invalid(f"Invalid status {status!r}; expected one of {list(RUN_STATUSES)}")
        start_time = self._time(body.get("start_time"), "start_time")
        end_time = self._time(body.get("end_time"), "end_time")
        tags = self._str_map(body.get("tags"), "tags")
        params = self._str_map(body.get("params"), "params")
        for k, val in params.items():
            v.validate_param(k, val)
        user_name = user.name if user is not None else body.get("user")
        if user_name is not None and (not isinstance(user_name, str) or len(user_name) > 256):
            raise invalid("'user' must be a string of at most 256 characters")
        try:
            run = self.runs.create(project_id, user_name, start_time, tags, body.get("name"), run_id=run_id)
        except SwanError as exc:
            if exc.error_code != RESOURCE_ALREADY_EXISTS or not body.get("exist_ok"):
                raise
            run = self.runs.get(run_id)
            if run.info.experiment_id != project_id:
                raise SwanError(f"Run {run_id} exists in another project", RESOURCE_CONFLICT) from None
            return run, False
        if params:
            self.runs.log_batch(run.info.run_id, [], list(params.items()), [], enforce_limits=False)
        if (status and status != "RUNNING") or end_time is not None:
            self.runs.update(run.info.run_id, status=status, end_time=end_time)
        return self.runs.get(run.info.run_id), True

    @staticmethod
    def _time(value, what: str) -> int | None:
        if value is None:
            return None
        if type(value) is not int or not 0 <= value <= INT64_MAX:
            raise invalid(f"'{what}' must be a non-negative integer (milliseconds since the epoch)")
        return value

    def update_run(self, run_id: str, body: dict) -> Run:
        status = body.get("status")
        if status is not None and status not in RUN_STATUSES:
            raise invalid(f"Invalid status {status!r}; expected one of {list(RUN_STATUSES)}")
        end_time = self._time(body.get("end_time"), "end_time")
        name = body.get("name")
        if status is None and end_time is None and name is None:
            raise invalid("Nothing to update: give 'name', 'status' or 'end_time'")
        if status in ("FINISHED", "FAILED", "KILLED") and end_time is None:
            end_time = now_ms()
        self.runs.update(run_id, status=status, end_time=end_time, run_name=name)
        return self.runs.get(run_id)

    def list_runs(self, project_ids: list[str], filter_string=None, order_by=None, view="active", page_size=100,
                  page_token=None) -> PagedList:
        if not project_ids:
            raise invalid("Give at least one project_id (or project name) to list runs")
        return self.runs.search(project_ids, filter_string, self._view(view), min(page_size or 100, MAX_RUNS_PAGE),
                                order_by or [], page_token)

    def delete_run(self, run_id: str) -> None:
        self.runs.delete(run_id)

    # -- write batches ---------------------------------------------------------------------------
    def write_batch(self, run_id: str, body: dict) -> dict | None:
        """Validate a whole batch, then write it in one transaction. Returns the rows inserted,
        or None when this idempotency key was applied before."""
        key = body.get("idempotency_key")
        if not isinstance(key, str) or not key or len(key) > MAX_IDEMPOTENCY_KEY:
            raise invalid(f"'idempotency_key' is required: a string of 1 to {MAX_IDEMPOTENCY_KEY} characters")
        keys, steps, stamps, values = self._metrics(body.get("metrics"))
        params = self._str_map(body.get("params"), "params")
        if len(params) > MAX_PARAMS_PER_BATCH:
            raise too_large(f"At most {MAX_PARAMS_PER_BATCH} params per batch, got {len(params)}")
        for k, val in params.items():
            v.validate_param(k, val)
        tags = self._str_map(body.get("tags"), "tags")
        if len(tags) > MAX_TAGS_PER_BATCH:
            raise too_large(f"At most {MAX_TAGS_PER_BATCH} tags per batch, got {len(tags)}")
        for k, val in tags.items():
            v.validate_tag(k, val)
        media = self._media(body.get("media"))
        lines = self._console(body.get("console"))
        unknown = set(body) - {"idempotency_key", "metrics", "params", "tags", "media", "console"}
        if unknown:
            raise invalid(f"Unknown fields in a batch: {sorted(unknown)[:10]}")
        batch_key = hashlib.sha256(f"v1:{run_id}:{key}".encode("utf-8", "surrogatepass")).hexdigest()
        self.access.run(run_id, write=True)
        return self.store.write_run_batch(run_id, batch_key, keys, steps, stamps, values, params, tags, media, lines)

    @staticmethod
    def _metrics(data):
        if data is None:
            return [], [], [], []
        if not isinstance(data, dict):
            raise invalid("'metrics' must be an object of equally long arrays: key, step, timestamp, value")
        values = _column(data, "value", None)
        n = len(values)
        if n > MAX_POINTS_PER_BATCH:
            raise too_large(f"At most {MAX_POINTS_PER_BATCH} points per batch, got {n}: split it into several batches")
        keys = _column(data, "key", n)
        steps = _column(data, "step", n, required=False)
        stamps = _column(data, "timestamp", n, required=False)
        unknown = set(data) - {"key", "step", "timestamp", "value"}
        if unknown:
            raise invalid(f"Unknown metrics columns: {sorted(unknown)[:10]}")
        if not all(type(k) is str for k in keys):
            bad = next(i for i, k in enumerate(keys) if type(k) is not str)
            raise invalid(f"metrics.key[{bad}] must be a string")
        for k in set(keys):
            v.validate_key("metric", k)
        values = _values(values)
        steps = [0] * n if steps is None else _int_column(steps, "metrics.step")
        stamps = [now_ms()] * n if stamps is None else _int_column(stamps, "metrics.timestamp", 0)
        return keys, steps, stamps, values

    def _media(self, data) -> list[MediaItem]:
        if data is None:
            return []
        if not isinstance(data, list):
            raise invalid("'media' must be an array of {key, step, kind, path, ...} objects")
        if len(data) > MAX_MEDIA_PER_BATCH:
            raise too_large(f"At most {MAX_MEDIA_PER_BATCH} media items per batch, got {len(data)}")
        items = []
        now = now_ms()
        for i, m in enumerate(data):
            if not isinstance(m, dict):
                raise invalid(f"media[{i}] must be an object")
            seq = m.get("seq", 0)
            if type(seq) is not int or not 0 <= seq < 2**31:
                raise invalid(f"media[{i}].seq must be a non-negative integer")
            ts = m.get("timestamp", now)
            if type(ts) is not int or not 0 <= ts <= INT64_MAX:
                raise invalid(f"media[{i}].timestamp must be a non-negative integer")
            items.append(MediaItem(m.get("key"), m.get("step", 0), seq, m.get("kind"), m.get("path"),
                                   m.get("caption"), ts))
        self.media.check(items)
        return items

    def _console(self, data) -> list[LogLine]:
        if data is None:
            return []
        if not isinstance(data, dict):
            raise invalid("'console' must be an object of equally long arrays: line, message, level, timestamp")
        messages = data.get("message")
        if not isinstance(messages, list):
            raise invalid("console.message must be an array")
        n = len(messages)
        if n > MAX_LINES_PER_BATCH:
            raise too_large(f"At most {MAX_LINES_PER_BATCH} console lines per batch, got {n}")
        cols = {}
        for name in ("line", "level", "timestamp"):
            col = data.get(name)
            if col is not None and (not isinstance(col, list) or len(col) != n):
                raise invalid(f"console.{name} must be an array as long as console.message")
            cols[name] = col
        if cols["line"] is None:
            raise invalid("console.line is required (line numbers make resends idempotent)")
        lines_no = _int_column(cols["line"], "console.line", 0)
        stamps = [now_ms()] * n if cols["timestamp"] is None else _int_column(cols["timestamp"], "console.timestamp", 0)
        levels = cols["level"] or ["INFO"] * n
        for i, msg in enumerate(messages):
            if type(msg) is not str:
                raise invalid(f"console.message[{i}] must be a string")
            if "\x00" in msg:
                messages[i] = msg.replace("\x00", "")
        lines = [LogLine(ln, lv, msg, ts) for ln, lv, msg, ts in zip(lines_no, levels, messages, stamps)]
        self.logs.check(lines)
        return lines

    # -- reads ---------------------------------------------------------------------------------------
    def history(self, run_id: str, key: str, page_size=None, page_token=None) -> PagedList:
        if not key:
            raise invalid("Query parameter 'key' is required")
        size = min(page_size or MAX_HISTORY_PAGE, MAX_HISTORY_PAGE)
        self.access.run(run_id)
        return self.store.get_metric_history(run_id, key, size, page_token)

    def media_items(self, run_id: str, key=None) -> list[MediaItem]:
        self.access.run(run_id)
        return self.media.list(run_id, key)

    def console(self, run_id: str, start_line=None, max_lines=None) -> list[LogLine]:
        self.access.run(run_id)
        return self.logs.read(run_id, start_line, min(max_lines or MAX_LINES_PER_BATCH, MAX_LINES_PER_BATCH))

    # -- artifacts -------------------------------------------------------------------------------------
    def artifact_root(self, run_id: str, write: bool = False) -> str:
        ctx = self.store.run_context(run_id)
        if ctx is None:
            raise not_found(f"Run with id={run_id} not found")
        self.access.run(run_id, write=write)
        return proxy_uri_to_path(ctx.artifact_uri)

    def artifact_path(self, run_id: str, path: str, allow_empty: bool = False, write: bool = False) -> str:
        """A path inside the run's artifact root (never outside it), after checking that the
        caller may read (or, with `write`, write) the run."""
        rel = safe_relative_path(path, allow_empty=allow_empty)
        return join(self.artifact_root(run_id, write=write), rel)
