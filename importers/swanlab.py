"""SwanLab local runs (`swanlog/run-*`) → neutral run records, at full fidelity.

The `run-<id>.swanlab` record log (LevelDB framing, header `:SWL`, version 2) is read with our
LevelDB-log reader and SwanLab's protobuf `Record`. Mapping, as the SwanLab face stores what the
SDK sends online:
* start: project, name, description (the note), tags (as tags with empty values, and
  `swanlab.tags`), group, job type, colour, start time;
* scalars → points (key, step, timestamp); system columns (`__swanlab__.X`) → `system/X`;
* media → media items with the files from `media/<medium>/` (or the record's payload);
* logs → console lines; the finish record → status (FINISHED, CRASHED→FAILED, ABORTED→KILLED) and
  end time; a run without one is imported as crashed (FAILED);
* `files/config.yaml` (the last config) → params, nested keys joined with `.`; metadata,
  requirements, conda → `swanlab/metadata.json`, `swanlab/requirements.txt`, `swanlab/conda.yaml`;
  column definitions → `swanlab/columns.json`; saved files → `files/<name>` (the path the SDK
  uploads them to online), with any other file in the run's `files/`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from importers.leveldb import LogReport, NotThisFormat, iter_records, read_header
from importers.records import (
    Artifact,
    Console,
    Media,
    Metrics,
    RunInfo,
    Skipped,
    SourceError,
    SourceRun,
    fingerprint,
    flatten,
    param_text,
)

KIND = "swanlab"
IDENT = b":SWL"
MAGIC = 0xE1D6
CHUNK_POINTS = 50_000
SYSTEM_PREFIX = "__swanlab__."
MEDIUM = {2: "image", 3: "audio", 4: "text", 5: "video", 6: "echarts", 7: "object3d", 8: "molecule", 9: "html"}
STATES = {1: "FINISHED", 2: "FAILED", 3: "KILLED"}
STATE_NAMES = {0: "RUNNING", 1: "FINISHED", 2: "CRASHED", 3: "ABORTED"}
PROFILE = {2: ("metadata", "swanlab/metadata.json"), 3: ("requirements", "swanlab/requirements.txt"),
           4: ("conda", "swanlab/conda.yaml")}
_RUN_FILE = re.compile(r"^run-(?P<id>[^.]+)\.swanlab$")


def _pb():
    try:
        from swanlab.proto.swanlab.record.v1 import record_pb2
    except ImportError as exc:
        raise SourceError(f"reading .swanlab files needs the `swanlab` package's protobuf classes: {exc}") from None
    return record_pb2


def _ms(ts) -> int:
    return ts.seconds * 1000 + ts.nanos // 1_000_000


def discover(path: str | os.PathLike) -> list[Path]:
    root = Path(path).expanduser()
    if not root.exists():
        raise SourceError(f"{root}: no such file or folder")
    root = root.resolve()
    if root.is_file():
        if root.suffix != ".swanlab":
            raise SourceError(f"{root}: not a SwanLab record log (expected a .swanlab file)")
        return [root]
    files = sorted(root.glob("*.swanlab")) or sorted(root.glob("run-*/*.swanlab")) or \
        sorted(root.glob("swanlog/run-*/*.swanlab"))
    if not files:
        raise SourceError(f"{root}: not a SwanLab log folder (no run-*/run-<id>.swanlab in it)")
    return files


def preflight(files: list[Path]) -> None:
    for f in files:
        try:
            version = read_header(f, IDENT, MAGIC)
        except NotThisFormat as exc:
            raise SourceError(f"{exc} (not a SwanLab record log)") from None
        except OSError as exc:
            raise SourceError(f"cannot read {f}: {exc.strerror or exc}") from None
        if version != 2:
            raise SourceError(f"{f}: SwanLab log format version {version} is not supported (SDK 0.8 or later "
                              f"writes version 2)")


def _saved_name(save) -> str | None:
    """The path of a saved file inside the run's `files/`, as the SDK uploads it online: the
    record's `name` (relative to the base path given to `swanlab.save`, e.g. `sub/b.bin`).
    `target_path` is the absolute path of the run folder's link, so it only serves as a fallback
    for its base name. None for a name that would leave `files/`."""
    name = save.name or (Path(save.target_path).name if save.target_path else "") or \
        (Path(save.source_path).name if save.source_path else "")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


class SwanLabSource:
    kind = KIND

    def __init__(self, path: str | os.PathLike):
        self.path = path
        self.files = discover(path)
        preflight(self.files)
        _pb()

    def describe(self) -> str:
        return f"SwanLab runs in {Path(self.path).resolve()}"

    def runs(self):
        for f in self.files:
            yield SwanLabRun(f)


class SwanLabRun(SourceRun):
    def __init__(self, f: Path):
        pb = _pb()
        start = None
        for i, data in enumerate(iter_records(f, IDENT, MAGIC)):
            rec = pb.Record.FromString(data)
            if rec.WhichOneof("record_type") == "start":
                start = rec.start
                break
            if i > 50:
                break
        m = _RUN_FILE.match(f.name)
        run_id = (start.id if start is not None and start.id else None) or (m.group("id") if m else f.stem)
        project = start.project if start is not None and start.project else None
        info = RunInfo(
            source_id=f"{KIND}:{project + '/' if project else ''}{run_id}",
            name=(start.name if start is not None and start.name else None) or run_id,
            source_run_id=run_id,
            project=project,
            start_time=_ms(start.started_at) if start is not None and start.started_at.seconds else None,
            fingerprint=fingerprint(f.name, f.stat().st_size),
        )
        super().__init__(info)
        self.file = f
        self.dir = f.parent

    def size_hint(self) -> int:
        return self.file.stat().st_size

    def stream(self):
        pb = _pb()
        info = self.info
        metrics = Metrics()
        console = Console()
        columns = []
        finish = None
        last_ts = info.start_time
        report = LogReport(str(self.file))
        saves = []
        done = 0  # bytes read since the last progress report
        reported = 0
        for data in iter_records(self.file, IDENT, MAGIC, report):
            try:
                rec = pb.Record.FromString(data)
            except Exception:  # noqa: BLE001
                yield Skipped("record that is not a SwanLab Record (undecodable protobuf)")
                continue
            kind = rec.WhichOneof("record_type")
            if kind == "scalar":
                s = rec.scalar
                ts = _ms(s.timestamp)
                key = s.key
                if key.startswith(SYSTEM_PREFIX):
                    key = "system/" + key[len(SYSTEM_PREFIX):]
                metrics.add(key, s.step, ts, s.value.number)
                last_ts = ts if last_ts is None else max(last_ts, ts)
                if len(metrics) >= CHUNK_POINTS:
                    yield metrics
                    metrics = Metrics()
            elif kind == "media":
                md = rec.media
                ts = _ms(md.timestamp)
                medium = MEDIUM.get(md.type, "file")
                for seq, item in enumerate(md.value.items):
                    # `<step>-<sha8>.<ext>`; the extension can have several parts (a point cloud
                    # is `.swanlab.pts.json`, which is how a viewer knows it): keep them all.
                    ext = item.filename.split(".", 1)[1] if "." in item.filename else "bin"
                    caption = item.caption or None
                    if item.payload:
                        yield Media(md.key, md.step, medium, ext, ts, data=item.payload, caption=caption, seq=seq)
                        continue
                    local = self.dir / "media" / medium / item.filename
                    if not local.is_file():
                        found = list((self.dir / "media").glob(f"*/{item.filename}"))
                        local = found[0] if found else None
                    if local is None:
                        yield Skipped(f"media file missing from the run folder (key '{md.key}')")
                        continue
                    yield Media(md.key, md.step, medium, ext, ts, local=local, caption=caption, seq=seq)
                last_ts = ts if last_ts is None else max(last_ts, ts)
            elif kind == "log":
                lg = rec.log
                ts = _ms(lg.timestamp)
                console.add(lg.line, ts, "ERROR" if lg.level == 1 else "INFO")
            elif kind == "column":
                from google.protobuf.json_format import MessageToDict

                columns.append(MessageToDict(rec.column, preserving_proto_field_name=True))
            elif kind == "start":
                self._start(rec.start)
            elif kind == "finish":
                finish = rec.finish
            elif kind == "save":
                saves.append(rec.save)
            if self.progress is not None:
                done += len(data) + 7
                if done >= 1 << 20:
                    self.progress(done)
                    reported += done
                    done = 0
        if self.progress is not None:
            # Record sizes leave out the file header, block padding and skipped damage: report
            # the rest too, so the bar ends at the file's size.
            self.progress(max(report.size - reported, 0))
        for problem in report.problems():
            yield Skipped(problem, where=str(self.file))
        if len(metrics):
            yield metrics
        if len(console):
            yield console
        if columns:
            yield Artifact("swanlab/columns.json", data=json.dumps(columns, indent=1, sort_keys=True).encode())
        yield from self._saves(saves)
        if finish is not None:
            info.status = STATES.get(finish.state, "FAILED")
            info.tags["swanlab.state"] = STATE_NAMES.get(finish.state, "CRASHED")
            if finish.error:
                info.tags["swanlab.error"] = finish.error[:5000]
            info.end_time = _ms(finish.finished_at) if finish.finished_at.seconds else last_ts
        else:
            info.status = "FAILED"
            info.tags["swanlab.state"] = "CRASHED"
            info.end_time = last_ts
            yield Skipped("no finish record: the run crashed or was still running; imported as crashed (FAILED)")

    def _start(self, s) -> None:
        info = self.info
        if s.name:
            info.name = s.name
        if s.description:
            info.notes = s.description
        if s.tags:
            info.tags["swanlab.tags"] = json.dumps(list(s.tags), ensure_ascii=False)
            for t in s.tags:
                if t and len(t) <= 250:
                    info.tags.setdefault(t, "")
        for field, tag in (("group", "swanlab.group"), ("job_type", "swanlab.job_type"), ("color", "swanlab.color"),
                           ("workspace", "swanlab.workspace"), ("project", "swanlab.project"), ("id", "swanlab.id")):
            value = getattr(s, field)
            if value:
                info.tags[tag] = value

    def _file_for(self, save) -> Path | None:
        # The training machine's file first (the run folder holds only a link to it for a
        # saved file), then the run folder's own copy, wherever the folder has moved since.
        name = _saved_name(save)
        for cand in (Path(save.source_path) if save.source_path else None,
                     self.dir / "files" / name if name else None,
                     Path(save.target_path) if save.target_path else None,
                     self.dir / "files" / Path(save.source_path).name if save.source_path else None):
            if cand is not None and cand.is_file():
                return cand
        return None

    def _saves(self, saves):
        config_save = None
        custom = []
        profiles = {}
        for s in saves:
            if s.type == 1:
                config_save = s  # the last one wins (init, then finish)
            elif s.type in PROFILE:
                profiles[s.type] = s
            else:
                custom.append(s)
        config_file = (self._file_for(config_save) if config_save is not None else None) or \
            (self.dir / "files" / "config.yaml" if (self.dir / "files" / "config.yaml").is_file() else None)
        if config_save is not None and config_save.payload:
            yield from self._config(config_save.payload.decode("utf-8", "replace"))
        elif config_file is not None:
            yield from self._config(config_file.read_text(encoding="utf-8"))
        for t, (name, path) in sorted(PROFILE.items()):
            s = profiles.get(t)
            if s is not None and s.payload:
                yield Artifact(path, data=s.payload)
                continue
            f = self._file_for(s) if s is not None else None
            if f is None:
                default = {2: "swanlab-metadata.json", 3: "requirements.txt", 4: "conda.yaml"}[t]
                f = self.dir / "files" / default
            if f.is_file():
                yield Artifact(path, local=f, size=f.stat().st_size)
        by_name = {}
        for s in custom:
            target = _saved_name(s)
            if target is None:
                yield Skipped(f"saved file with an unusable name {s.name!r} (source {s.source_path})")
                continue
            by_name[target] = s  # saved again (policy live): the last record describes it
        for target, s in by_name.items():
            if s.payload:
                yield Artifact(f"files/{target}", data=s.payload)
                continue
            f = self._file_for(s)
            if f is None:
                yield Skipped(f"saved file '{target}' not found (source {s.source_path})")
            else:
                yield Artifact(f"files/{target}", local=f, size=f.stat().st_size)
        yield from self._unrecorded_files(set(by_name))

    def _unrecorded_files(self, recorded: set[str]):
        """Files in the run's `files/` that no save record names (its record was lost to damage,
        or a user copied it there): imported too, so nothing in the folder is left behind."""
        base = self.dir / "files"
        if not base.is_dir():
            return
        profile_files = {"config.yaml", "swanlab-metadata.json", "requirements.txt", "conda.yaml"}
        for f in sorted(base.rglob("*")):
            rel = f.relative_to(base).as_posix()
            if rel in recorded or rel in profile_files or f.is_dir():
                continue
            if f.is_symlink() and not f.exists():
                yield Skipped(f"file '{rel}' in the run folder is a broken link")
            elif f.is_file():
                yield Artifact(f"files/{rel}", local=f, size=f.stat().st_size)

    def _config(self, text: str):
        try:
            import yaml

            data = yaml.safe_load(text) or {}
        except Exception as exc:  # noqa: BLE001
            yield Skipped(f"config could not be read ({exc})")
            return
        if not isinstance(data, dict):
            return
        yield Artifact("swanlab/config.json", data=json.dumps(data, indent=1, sort_keys=True, default=str).encode())
        values = {k: (v.get("value") if isinstance(v, dict) and "value" in v else v) for k, v in data.items()}
        for k, v in flatten(values).items():
            if isinstance(v, dict):
                continue
            self.info.params[k] = param_text(v)
