"""Dashboard reads: argument rules for the bounded reads the UI and `/api/v1` read routes make."""

from __future__ import annotations

import json

from swan_server.artifacts.paths import join, safe_relative_path
from swan_server.errors import invalid
from swan_server.services.access import AccessPolicy
from swan_server.store.sql.rollups import MAX_BUCKETS, MAX_RUNS, X_AXES

MAX_TABLE_PAGE = 1000
MAX_COLUMNS = 200
PREVIEW_BYTES = 256 * 1024
TEXT_SUFFIXES = (".txt", ".log", ".md", ".py", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".sh", ".json", ".csv",
                 ".tsv", ".jsonl", ".xml", ".html", ".js", ".ts", ".rst", ".mlmodel", ".MLmodel")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")


def preview_kind(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith(IMAGE_SUFFIXES):
        return "image"
    if name.endswith((".json", ".jsonl")):
        return "json"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith(tuple(s.lower() for s in TEXT_SUFFIXES)) or name in ("mlmodel", "requirements.txt", "conda.yaml"):
        return "text"
    return "binary"


class DashboardService:
    def __init__(self, store, artifact_store, artifacts):
        self.store = store
        self.artifact_store = artifact_store
        self.artifacts = artifacts
        self.access = AccessPolicy(store)

    def projects(self, name_contains=None):
        readable = self.access.readable_workspaces()
        if readable is None:
            return self.store.project_overview(name_contains)
        return self.store.project_overview(name_contains, workspace_ids=readable)

    def project_keys(self, project_id):
        self.access.project(project_id)
        return self.store.project_keys(project_id)

    def run_table(self, project_id, filter_string, order_by, offset, limit, params, metrics):
        if len(params) > MAX_COLUMNS or len(metrics) > MAX_COLUMNS:
            raise invalid(f"At most {MAX_COLUMNS} param and {MAX_COLUMNS} metric columns")
        if not 1 <= limit <= MAX_TABLE_PAGE:
            raise invalid(f"limit must be between 1 and {MAX_TABLE_PAGE}")
        if offset < 0:
            raise invalid("offset must not be negative")
        self.store.get_experiment(project_id)  # 404 for an unknown project
        self.access.project(project_id)
        return self.store.run_table([project_id], filter_string, order_by, offset, limit, params, metrics)

    def run_overview(self, run_id):
        self.access.run(run_id)
        run = self.store.get_run(run_id)
        project = self.store.run_project(run_id)
        profiles = self.store.get_run_profiles(run_id)
        summaries = self.store.metric_summaries([run_id])[run_id]
        return run, project, profiles, summaries

    def metric_keys(self, run_ids):
        self._check_runs(run_ids)
        self.access.runs(run_ids)
        return self.store.metric_summaries(run_ids)

    def buckets(self, run_ids, keys, x_axis, lo, hi, n):
        self._check_runs(run_ids)
        if not keys:
            raise invalid("Give at least one metric key")
        if len(keys) > 50:
            raise invalid("At most 50 keys per request")
        if x_axis not in X_AXES:
            raise invalid(f"Invalid x axis {x_axis!r}; expected one of {list(X_AXES)}")
        if not 1 <= n <= MAX_BUCKETS:
            raise invalid(f"n must be between 1 and {MAX_BUCKETS}")
        if lo is not None and hi is not None and hi < lo:
            raise invalid("hi must not be less than lo")
        self.access.runs(run_ids)
        return [self.store.bucketed_series(run_ids, key, x_axis, lo, hi, n) for key in keys]

    @staticmethod
    def _check_runs(run_ids):
        if not run_ids:
            raise invalid("Give at least one run_id")
        if len(run_ids) > MAX_RUNS:
            raise invalid(f"At most {MAX_RUNS} runs per request")

    def media_index(self, run_id):
        self.access.run(run_id)
        return self.store.media_index(run_id)

    def media_at(self, run_id, key, step):
        if not key:
            raise invalid("Missing value for required parameter 'key'")
        if step is None:
            raise invalid("Missing value for required parameter 'step'")
        self.access.run(run_id)
        return self.store.media_at(run_id, key, step)

    def console(self, run_id, query, level, start_line, limit):
        if level is not None and level not in ("INFO", "WARN", "ERROR", "DEBUG"):
            raise invalid(f"Invalid level {level!r}")
        self.access.run(run_id)
        return self.store.search_log_lines(run_id, query, level, start_line, limit)

    def artifact_preview(self, run_id, path):
        rel = safe_relative_path(path, allow_empty=False)
        root = self.artifacts.run_root(run_id)
        kind = preview_kind(rel)
        chunks, size = self.artifact_store.open_read(join(root, rel))
        out = {"path": rel, "size": size, "kind": kind, "truncated": False, "text": None}
        if kind in ("image", "binary"):
            close = getattr(chunks, "close", None)
            if close:
                close()
            return out
        buf = b""
        for chunk in chunks:
            buf += chunk
            if len(buf) >= PREVIEW_BYTES:
                break
        close = getattr(chunks, "close", None)
        if close:
            close()
        out["truncated"] = size > PREVIEW_BYTES
        text = buf[:PREVIEW_BYTES].decode("utf-8", errors="replace")
        if b"\x00" in buf[:4096]:
            out["kind"] = "binary"
            return out
        if kind == "json" and not out["truncated"] and rel.lower().endswith(".json"):
            try:
                text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)[:PREVIEW_BYTES]
            except ValueError:
                out["kind"] = "text"
        out["text"] = text
        return out
