"""Plain records for the per-run documents added with migration 0003: media items, console log
lines, project columns. (Runs, metrics and experiments live in `entities`.)"""

from __future__ import annotations

from dataclasses import dataclass

MEDIA_KINDS = (
    "image", "audio", "video", "text", "echarts", "object3d", "molecule", "html", "file", "table", "histogram",
)
LOG_LEVELS = ("INFO", "WARN", "ERROR", "DEBUG")


@dataclass
class MediaItem:
    key: str
    step: int
    seq: int  # position within the step
    kind: str  # one of MEDIA_KINDS
    path: str  # relative to the run's artifact root
    caption: str | None
    timestamp: int  # ms


@dataclass
class LogLine:
    line: int  # 1-based, per run
    level: str
    message: str
    timestamp: int  # ms


@dataclass
class ProjectColumn:
    key: str
    type: str  # FLOAT | IMAGE | AUDIO | VIDEO | TEXT | ECHARTS | ... | SYSTEM
    section: str | None = None
    x_axis: str | None = None
    hidden: bool = False


@dataclass
class RunContext:
    """Where a run lives: what a face needs to authorise and address it."""

    run_pk: int
    run_id: str
    name: str | None
    status: str
    lifecycle_stage: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    project_id: int
    project_name: str
    workspace: str
