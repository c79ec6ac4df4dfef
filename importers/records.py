"""Neutral records every source reader produces and the writer consumes.

A source yields `SourceRun`s. Each has a `RunInfo` (what is known before its data is read: its
source identity, name, and whatever else the source states up front) and a `stream()` generator
of data items: `Metrics` (columns), `Media`, `Console` lines, `Artifact`s and `Skipped` notes.
Anything the stream learns about the run on the way (the end time, the final status, params,
tags, a summary) it writes into `info` before it ends; the writer reads `info` again afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SOURCE_TAG = "swan.import.source"  # the source identity, e.g. "tensorboard:/abs/path"
SOURCE_RUN_ID_TAG = "swan.import.source_run_id"
FINGERPRINT_TAG = "swan.import.fingerprint"  # set last: the import of this content is complete
KIND_TAG = "swan.import.kind"

STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


@dataclass
class Metrics:
    """Points as columns of equal length; timestamps in ms since the epoch."""

    key: list[str] = field(default_factory=list)
    step: list[int] = field(default_factory=list)
    timestamp: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.value)

    def add(self, key: str, step: int, timestamp: int, value: float) -> None:
        self.key.append(key)
        self.step.append(step)
        self.timestamp.append(timestamp)
        self.value.append(value)


@dataclass
class Media:
    """One media file at a step: bytes in hand (`data`) or a file (`local`)."""

    key: str
    step: int
    kind: str  # image, audio, video, text, table, html, histogram, file, ...
    ext: str
    timestamp: int
    data: bytes | None = None
    local: Path | None = None
    caption: str | None = None
    seq: int | None = None  # position within (key, step); the writer numbers it when None
    name: str | None = None  # the source's file name, kept in the stored path when given

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        return Path(self.local).read_bytes()


@dataclass
class Console:
    """Console lines in order; the writer numbers them per run."""

    message: list[str] = field(default_factory=list)
    level: list[str] = field(default_factory=list)
    timestamp: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.message)

    def add(self, message: str, timestamp: int, level: str = "INFO") -> None:
        self.message.append(message)
        self.level.append(level)
        self.timestamp.append(timestamp)


@dataclass
class Artifact:
    """A file for the run's artifact tree at `path`: bytes, a local file, or a callable that
    writes the content into a given local path (for remote sources)."""

    path: str
    data: bytes | None = None
    local: Path | None = None
    fetch: Callable[[Path], None] | None = None
    size: int | None = None


@dataclass
class Skipped:
    """Something the source held that was not imported, with the reason."""

    reason: str
    count: int = 1
    where: str | None = None


@dataclass
class RunInfo:
    source_id: str  # the source identity: the value of the `swan.import.source` tag
    name: str | None = None
    source_run_id: str | None = None
    project: str | None = None  # the source's own grouping (an MLflow experiment), when it has one
    start_time: int | None = None  # ms
    end_time: int | None = None
    status: str | None = None  # one of STATUSES
    user: str | None = None
    notes: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    preferred_run_id: str | None = None  # keep the source's run id when it is a Swan-shaped id
    parent_source_id: str | None = None  # source identity of the parent run
    deleted: bool = False
    fingerprint: str | None = None  # changes when the source content changes


class SourceRun:
    """One run of a source. Subclasses implement `stream()`."""

    progress = None  # set by the writer: called with the number of source bytes just read

    def __init__(self, info: RunInfo):
        self.info = info

    def stream(self) -> Iterator[Metrics | Media | Console | Artifact | Skipped]:
        raise NotImplementedError

    def size_hint(self) -> int:
        """Bytes of source this run reads (for the progress bar); 0 if unknown."""
        return 0


class SourceError(Exception):
    """The path or name is not a readable source of the kind asked for; nothing was written."""


def fingerprint(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\x00")
    return h.hexdigest()[:24]


def flatten(value, prefix: str = "", sep: str = ".") -> dict[str, object]:
    """Nested dicts as one level, keys joined with `sep` (lists stay values)."""
    out: dict[str, object] = {}
    if isinstance(value, dict) and value:
        for k, v in value.items():
            key = f"{prefix}{sep}{k}" if prefix else str(k)
            out.update(flatten(v, key, sep))
    else:
        out[prefix] = value
    return out


def param_text(value) -> str:
    """A param value as text, the way MLflow's `log_param` writes it: `str()` for text, numbers
    and booleans, JSON for lists and mappings, "None" for a null."""
    import json

    if isinstance(value, (str, bool, int, float)) or value is None:
        return str(value)
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def mlflow_pages(call, method: str, path: str, body: dict, field: str):
    """Every item of an MLflow REST listing, following `next_page_token`; `call(method, path,
    body, params)` sends one request (the body for POST, the query for GET) and returns its JSON."""
    token = None
    while True:
        req = dict(body)
        if token:
            req["page_token"] = token
        page = call(method, path, req if method != "GET" else None, req if method == "GET" else None)
        yield from page.get(field, [])
        token = page.get("next_page_token")
        if not token:
            return
