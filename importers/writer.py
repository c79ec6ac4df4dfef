"""Writes neutral run records through `swan_client.api.Client`, in large idempotent batches.

* Each run carries its source identity in the tag `swan.import.source`. Before anything is read,
  the project's runs with that tag are listed once; a run whose `swan.import.fingerprint` tag
  matches the source's current fingerprint was imported completely before and is not read again.
* A run is created with a deterministic id: the source's own id when it is Swan-shaped (MLflow's)
  and free, else one derived from the project and the source identity. Every batch has an
  idempotency key made of the source identity, the source fingerprint and the chunk's index, so a
  re-run after an interruption resends only what is missing. The fingerprint tag is written last.
* Points go in batches of up to 100,000, media rows of up to 10,000, console lines of up to
  100,000, sent by one background thread while the source is still being read.
"""

from __future__ import annotations

import hashlib
import queue
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from importers.records import (
    FINGERPRINT_TAG,
    KIND_TAG,
    SOURCE_RUN_ID_TAG,
    SOURCE_TAG,
    Artifact,
    Console,
    Media,
    Metrics,
    RunInfo,
    Skipped,
    SourceRun,
)

POINTS_PER_BATCH = 100_000
MEDIA_PER_BATCH = 10_000
LINES_PER_BATCH = 100_000
TAGS_PER_BATCH = 1_000
PARAMS_PER_BATCH = 1_000
MAX_TAG_VALUE = 8000
MAX_PARAM_VALUE = 6000


@dataclass
class RunResult:
    name: str | None
    source_id: str
    run_id: str | None = None
    state: str = "imported"  # imported | already imported | would import | failed
    points: int = 0
    media: int = 0
    console: int = 0
    artifacts: int = 0
    params: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    error: str | None = None


@dataclass
class Summary:
    source: str
    project: str | None
    dry_run: bool = False
    runs: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0

    def total(self, attr: str) -> int:
        return sum(getattr(r, attr) for r in self.runs)

    def count(self, state: str) -> int:
        return sum(1 for r in self.runs if r.state == state)

    @property
    def failed(self) -> bool:
        return any(r.state == "failed" for r in self.runs)

    def skipped(self) -> list[tuple[str, str, int, str | None]]:
        """(run name, reason, count, where) for everything skipped."""
        out = []
        for r in self.runs:
            merged: dict[tuple[str, str | None], int] = Counter()
            for s in r.skipped:
                merged[(s.reason, s.where)] += s.count
            for (reason, where), n in merged.items():
                out.append((r.name or r.source_id, reason, n, where))
        return out

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "project": self.project,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "runs": [
                {"name": r.name, "source_id": r.source_id, "run_id": r.run_id, "state": r.state, "points": r.points,
                 "media": r.media, "console": r.console, "artifacts": r.artifacts, "params": r.params,
                 "error": r.error,
                 "skipped": [{"reason": s.reason, "count": s.count, "where": s.where} for s in r.skipped]}
                for r in self.runs
            ],
            "totals": {k: self.total(k) for k in ("points", "media", "console", "artifacts", "params")},
        }


def derived_run_id(project: str, source_id: str) -> str:
    return hashlib.sha256(f"swan-import\n{project}\n{source_id}".encode()).hexdigest()[:32]


def _is_run_id(value: str | None) -> bool:
    return bool(value) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


class _Sender:
    """One background thread that performs the writes of the whole import in order, so that
    reading the next run overlaps writing the previous one. A job belongs to a run's result: the
    first error marks that run failed and its later jobs are dropped; other runs go on."""

    def __init__(self, depth: int = 4):
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.thread = threading.Thread(target=self._loop, name="swan-import-sender", daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            item = self.q.get()
            if item is None:
                return
            result, job = item
            if result.state == "failed":
                continue
            try:
                job()
            except BaseException as exc:  # noqa: BLE001 - reported in the run's result
                result.state = "failed"
                result.error = _describe(exc)

    def put(self, result: RunResult, job) -> None:
        self.q.put((result, job))

    def close(self) -> None:
        if self.thread.is_alive():
            self.q.put(None)
            self.thread.join()


class RunWriter:
    """Buffers one run's items into batches and hands them to the sender."""

    def __init__(self, client, run_id: str, key_prefix: str, sender: _Sender, histogram_kind: str, result: RunResult):
        self.client = client
        self.run_id = run_id
        self.prefix = key_prefix
        self.sender = sender
        self.histogram_kind = histogram_kind
        self.result = result
        self.metrics = Metrics()
        self.media_rows: list[dict] = []
        self.console = Console()
        self.line_no = 0
        self.n = Counter()  # batch numbers per kind
        self.seq = defaultdict(int)  # (key, step) -> next seq
        self.artifact_paths: set[str] = set()

    def _batch(self, kind: str, **body) -> None:
        n = self.n[kind]
        self.n[kind] += 1
        key = f"{self.prefix}:{kind}{n}"
        client, rid = self.client, self.run_id
        self.sender.put(self.result, lambda: client.write_batch(rid, idempotency_key=key, **body))

    # -- metrics ---------------------------------------------------------------------------------
    def add_metrics(self, m: Metrics) -> None:
        self.result.points += len(m)
        buf = self.metrics
        if not len(buf) and len(m) == POINTS_PER_BATCH:
            self._send_metrics(m)
            return
        start = 0
        while start < len(m):
            room = POINTS_PER_BATCH - len(buf)
            stop = min(len(m), start + room)
            if start == 0 and stop == len(m):
                buf.key += m.key
                buf.step += m.step
                buf.timestamp += m.timestamp
                buf.value += m.value
            else:
                buf.key += m.key[start:stop]
                buf.step += m.step[start:stop]
                buf.timestamp += m.timestamp[start:stop]
                buf.value += m.value[start:stop]
            start = stop
            if len(buf) >= POINTS_PER_BATCH:
                self._send_metrics(buf)
                buf = self.metrics = Metrics()

    def _send_metrics(self, m: Metrics) -> None:
        self._batch("m", metrics={"key": m.key, "step": m.step, "timestamp": m.timestamp, "value": m.value})

    # -- media -----------------------------------------------------------------------------------
    def add_media(self, item: Media) -> None:
        from swan_client.media import media_path

        if item.seq is None:
            item.seq = self.seq[(item.key, item.step)]
        self.seq[(item.key, item.step)] = max(self.seq[(item.key, item.step)], item.seq + 1)
        data = item.read()
        path = media_path(item.kind, item.key, item.step, item.seq, item.ext, data)
        kind = self.histogram_kind if item.kind == "histogram" else item.kind
        client, rid = self.client, self.run_id
        self.sender.put(self.result, lambda: client.upload_bytes(rid, path, data))
        self.media_rows.append({"key": item.key, "step": item.step, "seq": item.seq, "kind": kind, "path": path,
                                "caption": item.caption, "timestamp": item.timestamp})
        self.result.media += 1
        if len(self.media_rows) >= MEDIA_PER_BATCH:
            self._flush_media()

    def _flush_media(self) -> None:
        if self.media_rows:
            rows, self.media_rows = self.media_rows, []
            self._batch("d", media=rows)

    # -- console ---------------------------------------------------------------------------------
    def add_console(self, c: Console) -> None:
        for msg, level, ts in zip(c.message, c.level, c.timestamp):
            self.line_no += 1
            self.console.message.append(msg)
            self.console.level.append(level)
            self.console.timestamp.append(ts)
            if len(self.console) >= LINES_PER_BATCH:
                self._flush_console()
        self.result.console += len(c)

    def _flush_console(self) -> None:
        c = self.console
        if len(c):
            first = self.line_no - len(c) + 1
            self._batch("c", console={"line": list(range(first, self.line_no + 1)), "message": c.message,
                                      "level": c.level, "timestamp": c.timestamp})
            self.console = Console()

    # -- artifacts -------------------------------------------------------------------------------
    def add_artifact(self, a: Artifact) -> None:
        client, rid = self.client, self.run_id
        path = a.path
        if a.data is not None:
            data = a.data
            self.sender.put(self.result, lambda: client.upload_bytes(rid, path, data))
        elif a.local is not None:
            local = a.local
            self.sender.put(self.result, lambda: client.upload_artifact(rid, local, path))
        elif a.fetch is not None:
            fetch = a.fetch

            def job():
                with tempfile.TemporaryDirectory(prefix="swan-import-") as tmp:
                    target = Path(tmp) / "f"
                    fetch(target)
                    client.upload_artifact(rid, target, path)

            self.sender.put(self.result, job)
        self.result.artifacts += 1

    def flush(self) -> None:
        if len(self.metrics):
            self._send_metrics(self.metrics)
            self.metrics = Metrics()
        self._flush_media()
        self._flush_console()

    def tags_and_params(self, tags: dict[str, str], params: dict[str, str]) -> None:
        tag_items = list(tags.items())
        for i in range(0, len(tag_items), TAGS_PER_BATCH):
            self._batch("t", tags=dict(tag_items[i:i + TAGS_PER_BATCH]))
        param_items = list(params.items())
        for i in range(0, len(param_items), PARAMS_PER_BATCH):
            self._batch("p", params=dict(param_items[i:i + PARAMS_PER_BATCH]))


class Importer:
    """Drives one import: source → (client | dry run) with a progress display and a summary."""

    def __init__(self, client, project: str | None, *, default_project: str, dry_run: bool = False,
                 progress=None, workspace: str | None = None):
        self.client = client
        self.project = project
        self.workspace = workspace  # project P in workspace W is the project named "W/P"
        self.default_project = default_project
        self.dry_run = dry_run
        self.progress = progress
        self._histogram_kind: str | None = None
        self._known: dict[str, dict[str, dict]] = {}  # project -> source id -> run
        self._ids: dict[str, str] = {}  # source id -> our run id, for parent links

    # -- server facts ----------------------------------------------------------------------------
    def histogram_kind(self) -> str:
        """`histogram` when the server knows that media kind, else `file` (same JSON payload)."""
        if self._histogram_kind is None:
            kind = "file"
            try:
                spec = self.client.openapi()
                kinds = spec["components"]["schemas"]["MediaItem"]["properties"]["kind"]["enum"]
                if "histogram" in kinds:
                    kind = "histogram"
            except Exception:  # noqa: BLE001, S110 - an older server: the safe kind
                pass
            self._histogram_kind = kind
        return self._histogram_kind

    def known_runs(self, project: str) -> dict[str, dict]:
        """Runs of `project` (deleted ones too) that carry a source identity, by that identity."""
        if project not in self._known:
            from swan_client.api import SwanApiError

            found: dict[str, dict] = {}
            try:
                for run in self.client.list_runs(project, filter=f"tags.`{SOURCE_TAG}` LIKE '%'", view="all"):
                    sid = run["tags"].get(SOURCE_TAG)
                    if sid and sid not in found:
                        found[sid] = run
            except SwanApiError as exc:
                if exc.status != 404:  # no such project yet: nothing imported there
                    raise
            self._known[project] = found
        return self._known[project]

    # -- the import ------------------------------------------------------------------------------
    def run(self, source) -> Summary:
        t0 = time.perf_counter()
        summary = Summary(source.describe(), self.project and (f"{self.workspace}/{self.project}" if self.workspace
                                                               else self.project), self.dry_run)
        runs = list(source.runs())
        project_tags = getattr(source, "project_tags", None)
        if project_tags is not None and not self.dry_run:
            wanted = {self.project_of(r.info) for r in runs}
            for name, tags in project_tags().items():
                full = self.project_of(RunInfo(source_id="", project=name))
                if full in wanted and not self.project:
                    self.client.create_project(full, tags={k: _clip(v, MAX_TAG_VALUE) for k, v in tags.items()},
                                               exist_ok=True)
        order = _parents_first(runs)
        total_bytes = sum(r.size_hint() for r in runs)
        if self.progress is not None:
            self.progress.start(len(runs), total_bytes)
        self.sender = None if self.dry_run else _Sender()
        if self.sender is not None:
            c = self.client
            # The sender thread has a session of its own (requests.Session is not thread-safe).
            self.sender_client = type(c)(c.tracking_uri, c.api_key, timeout=c.timeout, retries=c.retries)
        try:
            for srun in order:
                result = self.import_run(srun)
                summary.runs.append(result)
                if self.progress is not None:
                    self.progress.run_done(result)
        finally:
            if self.sender is not None:
                self.sender.close()
            if self.progress is not None:
                self.progress.stop()
        summary.seconds = time.perf_counter() - t0
        return summary

    def project_of(self, info: RunInfo) -> str:
        name = self.project or info.project or self.default_project
        return f"{self.workspace}/{name}" if self.workspace else name

    def import_run(self, srun: SourceRun) -> RunResult:
        info = srun.info
        result = RunResult(info.name, info.source_id)
        if self.progress is not None:
            srun.progress = self.progress.advance_bytes
            self.progress.run_started(info.name or info.source_id)
        if self.dry_run:
            result.state = "would import"
            try:
                self._consume(srun, None, result)
            except Exception as exc:  # noqa: BLE001 - reported as the real import would report it
                result.state = "failed"
                result.error = _describe(exc)
            return result
        project = self.project_of(info)
        existing = self.known_runs(project).get(info.source_id)
        if existing is not None:
            self._ids[info.source_id] = existing["run_id"]
            if info.fingerprint and existing["tags"].get(FINGERPRINT_TAG) == info.fingerprint:
                result.state = "already imported"
                result.run_id = existing["run_id"]
                if self.progress is not None:
                    self.progress.advance_bytes(srun.size_hint())
                return result
            run_id = existing["run_id"]
            if existing.get("lifecycle_stage") == "deleted":
                result.state = "already imported"
                result.run_id = run_id
                result.skipped.append(Skipped("imported before and deleted in Swan since: restore it to import "
                                              "the source's changes"))
                return result
        else:
            try:
                run_id = self._create(project, info)
            except Exception as exc:  # noqa: BLE001 - this run fails; the others go on
                result.state = "failed"
                result.error = _describe(exc)
                return result
        result.run_id = run_id
        self._ids[info.source_id] = run_id
        prefix = "imp:" + hashlib.sha256(f"{info.source_id}\n{info.fingerprint}".encode()).hexdigest()[:40]
        writer = RunWriter(self.sender_client, run_id, prefix, self.sender, self.histogram_kind(), result)
        try:
            self._consume(srun, writer, result)
        except Exception as exc:  # noqa: BLE001 - the source failed mid-way: the run stays incomplete
            result.state = "failed"
            result.error = _describe(exc)
            return result
        writer.flush()
        tags, params = self._final_tags(info), {k: _clip(v, MAX_PARAM_VALUE) for k, v in info.params.items()}
        result.params = len(params)
        writer.tags_and_params(tags, params)
        client = self.sender_client

        def tail():
            finalize = getattr(srun, "finalize", None)
            if finalize is not None:
                finalize(client, run_id, result)
            status = info.status or "FINISHED"
            if status != "RUNNING" or info.end_time is not None:
                client.update_run(run_id, status=status, end_time=info.end_time)
            # Last: the mark that this source content is in, so a re-run skips it.
            client.write_batch(run_id, idempotency_key=f"{prefix}:done", tags={FINGERPRINT_TAG: info.fingerprint or "-"})
            if info.deleted:
                client.delete_run(run_id)

        self.sender.put(result, tail)
        return result

    def _create(self, project: str, info: RunInfo) -> str:
        from swan_client.api import SwanApiError

        tags = {SOURCE_TAG: info.source_id}
        candidates = []
        if _is_run_id(info.preferred_run_id):
            candidates.append(info.preferred_run_id)
        candidates.append(derived_run_id(project, info.source_id))
        last = None
        for rid in candidates:
            try:
                run = self.client.create_run(project, run_id=rid, name=_clip(info.name, 250) if info.name else None,
                                             start_time=info.start_time, tags=tags, exist_ok=True, user=info.user)
            except SwanApiError as exc:
                if exc.status == 409 or (exc.status == 400 and "exists" in exc.message.lower()):
                    last = exc
                    continue  # that id is taken in another project
                raise
            if run["tags"].get(SOURCE_TAG) == info.source_id:
                return run["run_id"]
        raise last or RuntimeError(f"no free run id for {info.source_id}")

    def _final_tags(self, info: RunInfo) -> dict[str, str]:
        tags = {k: _clip(v, MAX_TAG_VALUE) for k, v in info.tags.items() if v is not None}
        tags[SOURCE_TAG] = info.source_id
        tags[KIND_TAG] = info.source_id.split(":", 1)[0]
        if info.source_run_id:
            tags[SOURCE_RUN_ID_TAG] = _clip(info.source_run_id, MAX_TAG_VALUE)
        if info.notes:
            tags["mlflow.note.content"] = _clip(info.notes, MAX_TAG_VALUE)
        if info.user:
            tags.setdefault("mlflow.user", info.user)
        if info.parent_source_id:
            parent = self._ids.get(info.parent_source_id)
            if parent:
                tags["mlflow.parentRunId"] = parent
        return tags

    def _consume(self, srun: SourceRun, writer: RunWriter | None, result: RunResult) -> None:
        for item in srun.stream():
            if isinstance(item, Metrics):
                if writer is None:
                    result.points += len(item)
                else:
                    writer.add_metrics(item)
            elif isinstance(item, Media):
                if writer is None:
                    result.media += 1
                else:
                    writer.add_media(item)
            elif isinstance(item, Console):
                if writer is None:
                    result.console += len(item)
                else:
                    writer.add_console(item)
            elif isinstance(item, Artifact):
                if writer is None:
                    result.artifacts += 1
                else:
                    writer.add_artifact(item)
            elif isinstance(item, Skipped):
                result.skipped.append(item)
        if writer is None:
            result.params = len(srun.info.params)


def _clip(value: str, n: int) -> str:
    return value if len(value) <= n else value[: n - 3] + "..."


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]


def _parents_first(runs: list[SourceRun]) -> list[SourceRun]:
    by_id = {r.info.source_id: r for r in runs}
    out, seen = [], set()

    def visit(r, depth=0):
        if r.info.source_id in seen:
            return
        parent = by_id.get(r.info.parent_source_id) if r.info.parent_source_id else None
        if parent is not None and depth < 100:
            visit(parent, depth + 1)
        seen.add(r.info.source_id)
        out.append(r)

    for r in runs:
        visit(r)
    return out
