"""Metric reads behind `swanlab.Api()` (protocol §2.11, SwanLab's "house" routes): metric keys,
summaries, sampled scalar lines and their statistics, the full-resolution CSV export, the
deprecated per-experiment column list, console logs, and media: the items of a key at a step or
at every step (paths relative to the run, captions), and short-lived download URLs for them.

Every read is bounded: at most `MAX_COLUMNS` (experiment, key) columns per request, at most
`MAX_SAMPLE` points per sampled line (evenly spaced, first and last kept), key lists paged by a
cursor, log pages of at most `MAX_LOG_PAGE` lines. The export streams a series in keyset pages
of `EXPORT_PAGE` points instead of loading it.

A SwanLab key `__swanlab__.X` is Swan's `system/X` (services.swanlab.to_swan_key)."""

from __future__ import annotations

import csv
import io
import math
from typing import Iterator

from swan_server.artifacts.paths import join, safe_relative_path
from swan_server.entities import User
from swan_server.errors import PERMISSION_DENIED, SwanError, invalid, not_found
from swan_server.services.swanlab import iso_ms, to_swan_key, to_swanlab_key
from swan_server.services.swanlab_reads import check_page, paged

MAX_COLUMNS = 64
MAX_EXPERIMENTS = 100
MAX_SAMPLE = 1500
MAX_KEYS_PAGE = 5000
MAX_LOG_PAGE = 1000
EXPORT_PAGE = 10_000
EXPORT_EXPIRES = 3600
MAX_EXPORT_COLUMNS = 32
EXPORT_ROUTE = "/api/swan/export/"
MAX_MEDIA_ITEMS = 10_000
X_TYPES = ("step", "time", "timestamp", "relative_time")
LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
# Media kinds the SDK knows as column types (others are not listed as columns).
MEDIA_COLUMN_TYPES = {"image": "IMAGE", "audio": "AUDIO", "video": "VIDEO", "text": "TEXT", "echarts": "ECHARTS",
                      "object3d": "OBJECT3D", "molecule": "MOLECULE", "table": "TABLE"}


def _summary_value(v):
    """metric_summaries' encoding (None for NaN, "Infinity") → the SDK's."""
    if v is None:
        return "NaN"
    if v == "Infinity":
        return "INF"
    if v == "-Infinity":
        return "-INF"
    return v


def _obj(body, what="request body") -> dict:
    if not isinstance(body, dict):
        raise invalid(f"Malformed {what}: a JSON object is required")
    return body


def _list(value, what: str, limit: int) -> list:
    if not isinstance(value, list) or not value:
        raise invalid(f"Malformed request: '{what}' must be a non-empty list")
    if len(value) > limit:
        raise invalid(f"Too many items in '{what}': at most {limit} per request")
    return value


def _key(value, what="key") -> str:
    if not isinstance(value, str) or not value or len(value) > 250:
        raise invalid(f"Invalid {what} {value!r}")
    return value


class SwanLabMetricReads:
    def __init__(self, svc, reads):
        self.svc = svc
        self.reads = reads
        self.store = svc.store

    def _run(self, user: User, ref: dict, what: str):
        ref = _obj(ref, what)
        return self.reads.resolve(user, ref.get("experimentId"), project_id=ref.get("projectId"))

    def _columns(self, user: User, body) -> list[tuple]:
        """[(ctx, swanlab key, experiment id as sent)] of `columns`, each experiment resolved and
        checked once."""
        body = _obj(body)
        project_id = body.get("projectId")
        runs: dict = {}
        out = []
        for col in _list(body.get("columns"), "columns", MAX_COLUMNS):
            col = _obj(col, "column")
            ref = col.get("experimentId")
            if not isinstance(ref, str) or ref not in runs:
                runs[ref] = self._run(user, {"experimentId": ref, "projectId": project_id}, "column")
            out.append((runs[ref], _key(col.get("key")), ref))
        return out

    def _experiments(self, user: User, body) -> list:
        return [self._run(user, e, "experiment")
                for e in _list(_obj(body).get("experiments"), "experiments", MAX_EXPERIMENTS)]

    # -- keys ---------------------------------------------------------------------------------
    def _keys_of(self, ctx, kind: str) -> list[str]:
        if kind == "scalar":
            return [to_swanlab_key(k) for k in self.store.series_last_steps(ctx.run_id)]
        return [m["key"] for m in self.store.media_index(ctx.run_id)]

    def keys(self, user: User, kind: str, body) -> dict:
        """`POST /house/metrics/{scalar|media}/keys`: the sorted union of the experiments' keys,
        `limit` at a time after `cursor` (the last key of the previous page)."""
        body = _obj(body)
        limit = body.get("limit", 2000)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_KEYS_PAGE:
            raise invalid(f"Invalid limit {limit!r}: between 1 and {MAX_KEYS_PAGE}")
        cursor = body.get("cursor") or ""
        if not isinstance(cursor, str):
            raise invalid(f"Invalid cursor {cursor!r}")
        keys = sorted({k for ctx in self._experiments(user, body) for k in self._keys_of(ctx, kind)})
        keys = [k for k in keys if k > cursor] if cursor else keys
        page, more = keys[:limit], len(keys) > limit
        return {"keys": page, "hasMore": more, "nextCursor": page[-1] if more else ""}

    def availability(self, user: User, kind: str, body) -> dict:
        body = _obj(body)
        wanted = [_key(k) for k in _list(body.get("keys"), "keys", MAX_KEYS_PAGE)]
        out = {k: [] for k in wanted}
        for ref, ctx in zip(body.get("experiments") or [], self._experiments(user, body)):
            have = set(self._keys_of(ctx, kind))
            for k in wanted:
                if k in have:
                    out[k].append(ref.get("experimentId"))
        return out

    # -- summaries ----------------------------------------------------------------------------
    def summaries(self, user: User, body) -> dict:
        """`POST /house/metrics/summaries`: per experiment id, per scalar key, its latest point
        (step, value) and its min and max."""
        body = _obj(body)
        keys = body.get("keys")
        if keys is not None:
            keys = {_key(k) for k in _list(keys, "keys", MAX_KEYS_PAGE)} if keys else set()
        refs = _list(body.get("experiments"), "experiments", MAX_EXPERIMENTS)
        ctxs = self._experiments(user, body)
        series = self.store.metric_summaries(sorted({c.run_id for c in ctxs}))
        out = {}
        for ref, ctx in zip(refs, ctxs):
            items = {}
            for s in series[ctx.run_id]:
                key = to_swanlab_key(s["key"])
                if keys is not None and key not in keys:
                    continue
                items[key] = {"step": s["last_step"], "value": _summary_value(s["last"]),
                              "min": _summary_value(s["min"]) if s["min"] is not None else None,
                              "max": _summary_value(s["max"]) if s["max"] is not None else None,
                              "minMax": [s["min"], s["max"]], "count": s["count"]}
            out[ref["experimentId"]] = items
        return out

    # -- sampled lines and their statistics ---------------------------------------------------
    @staticmethod
    def _x_type(body) -> str:
        x_type = body.get("xType", "step")
        if x_type not in X_TYPES:
            raise invalid(f"Invalid xType {x_type!r}: one of {list(X_TYPES)}")
        if body.get("xKey"):
            raise invalid("A custom x axis (xKey) is not supported by this server; use the step or time axis")
        return x_type

    def scalar_lines(self, user: User, body) -> list[dict]:
        """`POST /house/metrics/scalar`: per column at most `num` (≤ 1500) evenly spaced points
        (first and last kept) of the step range `range` ([0, 0]: all), as {index, data,
        timestamp}; NaN and infinite points are left out, as SwanLab's sampled lines do."""
        body = _obj(body)
        x_type = self._x_type(body)
        num = body.get("num", MAX_SAMPLE)
        if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= MAX_SAMPLE:
            raise invalid(f"Invalid num {num!r}: between 1 and {MAX_SAMPLE}")
        lo = hi = None
        rng = body.get("range")
        if rng not in (None, [], [0, 0]):
            if (not isinstance(rng, list) or len(rng) != 2 or any(isinstance(x, bool) or not isinstance(x, int)
                                                                   or x < 0 for x in rng) or rng[0] > rng[1]):
                raise invalid(f"Invalid range {rng!r}: [start, end] steps")
            lo, hi = rng
        out = []
        for ctx, key, ref in self._columns(user, body):
            points = self.store.get_metric_history_bulk_interval([ctx.run_id], to_swan_key(key), lo, hi, num)
            metrics = [m for _, m in points if math.isfinite(m.value)]
            start = ctx.start_time or (metrics[0].timestamp if metrics else 0)
            line = []
            for m in metrics:
                index = {"step": m.step, "relative_time": (m.timestamp - start) / 1000}.get(x_type, m.timestamp)
                line.append({"index": index, "data": m.value, "timestamp": m.timestamp})
            out.append({"key": key, "experimentId": ref, "metrics": line})
        return out

    def scalar_values(self, user: User, body) -> list[dict]:
        """`POST /house/metrics/scalar/value`: per column its latest, min and max value; the
        index of the latest point is its step (xType step) or its time (xType timestamp)."""
        body = _obj(body)
        by_time = self._x_type(body) != "step"
        cols = self._columns(user, body)
        series = self.store.metric_summaries(sorted({c.run_id for c, _, _ in cols}))
        out = []
        for ctx, key, ref in cols:
            s = next((x for x in series[ctx.run_id] if x["key"] == to_swan_key(key)), None)
            entry = {"key": key, "experimentId": ref}
            if s is not None:
                entry["latest"] = {"index": s["last_timestamp"] if by_time else s["last_step"],
                                   "data": _summary_value(s["last"])}
                if s["min"] is not None:
                    entry["min"] = {"data": _summary_value(s["min"])}
                    entry["max"] = {"data": _summary_value(s["max"])}
            out.append(entry)
        return out

    # -- full-resolution export ---------------------------------------------------------------
    def export(self, user: User, body) -> dict:
        """`POST /house/metrics/scalar/export` → {cosKey}: a signed token naming the columns,
        which `/files/presigned/get` turns into a download URL."""
        body = _obj(body)
        cols = self._columns(user, body)
        if len(cols) > MAX_EXPORT_COLUMNS:
            raise invalid(f"Too many columns to export: at most {MAX_EXPORT_COLUMNS}")
        claims = [[ctx.run_id, key, str(col.get("experimentName") or ref)[:250]]
                  for (ctx, key, ref), col in zip(cols, body["columns"])]
        return {"cosKey": "swan-export/" + self.svc.uploads.signer.sign({"x": claims}, EXPORT_EXPIRES)}

    def presigned_files(self, user: User, body, base_url: str) -> dict:
        paths = _list(_obj(body).get("paths"), "paths", MAX_COLUMNS)
        urls = []
        for path in paths:
            if not isinstance(path, str) or not path.startswith("swan-export/"):
                raise not_found(f"File {path!r} not found")
            self._export_claims(path[len("swan-export/"):])
            urls.append(base_url.rstrip("/") + EXPORT_ROUTE + path[len("swan-export/"):])
        return {"urls": urls}

    def _export_claims(self, token: str) -> list:
        try:
            claims = self.svc.uploads.signer.verify(token).get("x")
        except SwanError:
            raise SwanError("Invalid or expired export URL", PERMISSION_DENIED) from None
        if not isinstance(claims, list):
            raise SwanError("Invalid or expired export URL", PERMISSION_DENIED)
        return claims

    def export_csv(self, user: User, token: str) -> Iterator[str]:
        """The CSV of an export: `step` then a (value, timestamp) pair of columns per exported
        column, named `<experiment>-<key>_step` / `_timestamp` as SwanLab's export names them; one
        row per step of any column, ascending; the value of a column at a step is its latest
        point there (by time, then value). Streamed page by page."""
        claims = self._export_claims(token)
        runs = {}
        for run_id, _, _ in claims:
            if run_id not in runs:
                runs[run_id] = self.reads.resolve(user, run_id)
        header = ["step"]
        for _, key, name in claims:
            header += [f"{name}-{key}_step", f"{name}-{key}_timestamp"]
        streams = [self._points(run_id, to_swan_key(key)) for run_id, key, _ in claims]
        return _csv_rows(header, streams)

    def _points(self, run_id: str, key: str) -> Iterator[tuple[int, int, float]]:
        """(step, timestamp, value) of the latest point of each step, ascending, read in keyset
        pages. (A step with more than a page of points contributes its first page only.)"""
        start = 0
        while True:
            page = self.store.metric_points_from(run_id, key, start, EXPORT_PAGE)
            if not page:
                return
            full = len(page) == EXPORT_PAGE
            if full and page[0][0] != page[-1][0]:
                last = page[-1][0]
                page = [p for p in page if p[0] != last]  # the last step may go on in the next page
                start = last
            else:
                start = page[-1][0] + 1
            for i, p in enumerate(page):
                if i + 1 == len(page) or page[i + 1][0] != p[0]:
                    yield p
            if not full:
                return

    # -- columns (deprecated in the SDK) ------------------------------------------------------
    def columns(self, user: User, ref: str, page: int, size: int, search: str | None, column_class: str | None,
                column_type: str | None) -> dict:
        page, size = check_page(page, size)
        if column_class not in (None, "", "CUSTOM", "SYSTEM"):
            raise invalid(f"Invalid class {column_class!r}: CUSTOM or SYSTEM")
        ctx = self.reads.resolve(user, ref)
        cols = []
        for s in self.store.metric_summaries([ctx.run_id])[ctx.run_id]:
            key = to_swanlab_key(s["key"])
            cols.append({"key": key, "name": key, "class": "SYSTEM" if key != s["key"] else "CUSTOM",
                         "type": "FLOAT", "createdAt": s["min_timestamp"]})
        scalar = {c["key"] for c in cols}
        for m in self.store.media_index(ctx.run_id):
            ctype = MEDIA_COLUMN_TYPES.get(m.get("kind"))
            if ctype and m["key"] not in scalar:
                cols.append({"key": m["key"], "name": m["key"], "class": "CUSTOM", "type": ctype,
                             "createdAt": ctx.start_time or 0})
        if column_class:
            cols = [c for c in cols if c["class"] == column_class]
        if column_type:
            cols = [c for c in cols if c["type"] == column_type]
        if search:
            cols = [c for c in cols if search.lower() in c["name"].lower()]
        return paged(cols[(page - 1) * size: page * size], len(cols), page, size)

    # -- media ---------------------------------------------------------------------------------
    @staticmethod
    def _media_entry(items: list[tuple[str, str | None]]) -> dict:
        """SwanLab's media entry from (path, caption) pairs: `data` the paths (relative to the
        run, handed back to `/resources/presigned/get`), `more` one object per item (its
        caption, if any)."""
        return {"data": [path for path, _ in items],
                "more": [{"caption": caption} if caption is not None else {} for _, caption in items]}

    @staticmethod
    def _count(total: int) -> int:
        if total > MAX_MEDIA_ITEMS:
            raise invalid(f"Too many media items: at most {MAX_MEDIA_ITEMS} per request; "
                          "ask for fewer keys or for one step")
        return total

    def media(self, user: User, body) -> dict:
        """`POST /house/metrics/media`: the items of each column at one step (`step`, by default
        the last step with media), with `steps` every step any of the columns has media at."""
        body = _obj(body)
        step = body.get("step")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise invalid(f"Invalid step {step!r}: a non-negative integer is required")
        cols = self._columns(user, body)
        indexes: dict[str, dict] = {}
        steps: set[int] = set()
        for ctx, key, _ in cols:
            if ctx.run_id not in indexes:
                indexes[ctx.run_id] = {m["key"]: m["steps"] for m in self.store.media_index(ctx.run_id)}
            steps.update(indexes[ctx.run_id].get(key, ()))
        ordered = sorted(steps)
        if step is None:
            step = ordered[-1] if ordered else 0
        metrics, total = [], 0
        for ctx, key, ref in cols:
            if step not in indexes[ctx.run_id].get(key, ()):
                continue
            items = [(i["path"], i["caption"]) for i in self.store.media_at(ctx.run_id, key, step)]
            total = self._count(total + len(items))
            metrics.append({"key": key, "experimentId": ref, **self._media_entry(items)})
        return {"steps": ordered, "step": step, "metrics": metrics}

    def media_all(self, user: User, body) -> list[dict]:
        """`POST /house/metrics/f_media`: per column, its items at every step ({index: step,
        data, more}), steps ascending; at most MAX_MEDIA_ITEMS items in all."""
        out, total = [], 0
        for ctx, key, ref in self._columns(user, body):
            items = self.svc.media.list(ctx.run_id, key)
            total = self._count(total + len(items))
            by_step: dict[int, list] = {}
            for item in items:
                by_step.setdefault(item.step, []).append((item.path, item.caption))
            out.append({"key": key, "experimentId": ref, "metrics": [
                {"index": s, **self._media_entry(by_step[s])} for s in sorted(by_step)]})
        return out

    def media_urls(self, user: User, body, base_url: str) -> dict:
        """`POST /resources/presigned/get` {prefix: "<projectId>/<experimentId>", paths} →
        {urls}: a download URL per path, in order, for media items of that experiment only (any
        other path is a 404). The URLs need no credentials and expire (presign.GET_EXPIRES)."""
        body = _obj(body)
        prefix = body.get("prefix")
        if not isinstance(prefix, str) or "/" not in prefix:
            raise invalid(f"Invalid prefix {prefix!r}: '<projectId>/<experimentId>' is required")
        project_id, _, ref = prefix.rpartition("/")
        ctx = self.reads.resolve(user, ref, project_id=project_id or None)
        paths = _list(body.get("paths"), "paths", MAX_MEDIA_ITEMS)
        known = {i.path for i in self.svc.media.list(ctx.run_id)}
        root = self.svc.artifact_root(ctx)
        urls = []
        for path in paths:
            if not isinstance(path, str):
                raise invalid(f"Invalid media path {path!r}")
            clean = safe_relative_path(path, allow_empty=False)
            if clean not in known:
                raise not_found(f"Media file {path!r} not found in experiment '{ref}'")
            urls.append(self.svc.uploads.get_url(join(root, clean), base_url))
        return {"urls": urls}

    # -- console logs -------------------------------------------------------------------------
    def logs(self, user: User, project_id, experiment_id, size: int, start: int, level: str) -> dict:
        """`GET /house/metrics/log`: up to `size` console lines from line `start` on, at `level`
        or above (DEBUG < INFO < WARN < ERROR), with the run's line count."""
        if not 1 <= size <= MAX_LOG_PAGE:
            raise invalid(f"Invalid size {size!r}: between 1 and {MAX_LOG_PAGE}")
        if start < 0:
            raise invalid(f"Invalid epoch {start!r}: a non-negative integer is required")
        if level not in LOG_LEVELS:
            raise invalid(f"Invalid level {level!r}: one of {list(LOG_LEVELS)}")
        ctx = self.reads.resolve(user, experiment_id, project_id=project_id)
        wanted = set(LOG_LEVELS[LOG_LEVELS.index(level):])
        found = self.store.search_log_lines(ctx.run_id, None, "ERROR" if level == "ERROR" else None, start, size)
        lines = [x for x in found["lines"] if (x["level"] or "INFO").upper() in wanted or level == "DEBUG"]
        return {"logs": [{"epoch": x["line"], "level": (x["level"] or "INFO").upper(), "message": x["message"],
                          "timestamp": iso_ms(x["timestamp"])} for x in lines],
                "count": found["total"]}


def _csv_rows(header: list[str], streams: list[Iterator]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")

    def flush() -> str:
        text = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return text

    writer.writerow(header)
    heads = [next(s, None) for s in streams]
    rows = 0
    while any(h is not None for h in heads):
        step = min(h[0] for h in heads if h is not None)
        row = [step]
        for i, h in enumerate(heads):
            if h is not None and h[0] == step:
                row += [repr(float(h[2])), h[1]]
                heads[i] = next(streams[i], None)
            else:
                row += ["", ""]
        writer.writerow(row)
        rows += 1
        if rows % 1000 == 0:
            yield flush()
    yield flush()
