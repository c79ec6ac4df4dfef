"""Weights & Biases → neutral run records.

Local runs (`wandb/run-*`, `wandb/offline-run-*`, a parent `wandb/` folder, or one `.wandb` file)
are read from the `.wandb` transaction log with our LevelDB-log reader (`leveldb.py`: CRC checked,
resynchronised at the next intact chunk after damage) and wandb's protobuf `Record` messages. In wandb
0.31 offline mode the log is the only complete record (`config.yaml`, `wandb-summary.json` and
`wandb-metadata.json` are not written), so nothing here depends on those files. Run folders of
the same run id (a resumed run) are replayed in order as one run.

Mapping:
* history rows → metric points at `_step` with `_timestamp` (ms); booleans as 0/1; nested plain
  dicts as `a.b` keys; media dicts (`_type` image-file, audio-file, video-file, table-file,
  html-file, object3D-file, molecule-file, images/separated, histogram, ...) → media items with
  the files from `files/`; strings → text media; `_runtime` is not kept (start time + timestamp);
* `stats` → `system/<wandb key>` points (step = sample number, the sample's timestamp);
* `output_raw`/`output` → console lines per stream (stdout INFO, stderr ERROR);
* config (init + updates, nested keys joined with `.`) → params; the summary → the artifact
  `wandb/summary.json`, with its scalar entries that are not history keys as `wandb.summary.*` tags;
* run metadata: name, tags (as tags with empty values, and `wandb.tags`), notes, group, job type,
  entity, project, host, sweep, start time; environment and run records → `wandb/metadata.json`;
* the `exit` record gives the status (exit code 0: FINISHED, else FAILED); **a run with no exit
  record is imported as crashed** (FAILED, tag `wandb.state=crashed`);
* `files/` (requirements, output.log, saved files) → artifacts under `wandb/files/`; logged
  artifacts whose staging copy still exists → artifacts under `wandb/artifacts/<name>/`, the
  others are reported as manifest-only.

The online path (`swan import wandb ENTITY/PROJECT`) goes through `wandb.Api().runs(...)` and
`run.scan_history()` (full rows, never the sampled `history()`); see `WandbApiSource`.
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

KIND = "wandb"
IDENT = b":W&B"
MAGIC = 0xBEE1
CHUNK_POINTS = 50_000
_RUN_FILE = re.compile(r"^run-(?P<id>[^.]+)\.wandb$")
_RUN_DIR = re.compile(r"^(?:offline-)?run-(?P<ts>\d{8}_\d{6})-(?P<id>[A-Za-z0-9_-]+)$")

MEDIA_TYPES = {
    "image-file": "image",
    "audio-file": "audio",
    "video-file": "video",
    "table-file": "table",
    "html-file": "html",
    "object3D-file": "object3d",
    "molecule-file": "molecule",
    "plotly-file": "file",
    "bokeh-file": "file",
    "joined-table": "file",
    "partitioned-table": "file",
}


def _pb():
    try:
        from wandb.proto import wandb_internal_pb2
    except ImportError as exc:
        raise SourceError(f"reading .wandb files needs the `wandb` package (pip install 'swan-tracking[import]'): "
                          f"{exc}") from None
    return wandb_internal_pb2


def _ms(ts) -> int:
    return ts.seconds * 1000 + ts.nanos // 1_000_000


def _value(text: str):
    """A `value_json`: numbers (NaN and infinities included) fast, anything else through json."""
    try:
        return float(text)
    except ValueError:
        return json.loads(text)


# -- discovery ---------------------------------------------------------------------------------------
def _run_id_of(f: Path) -> str:
    m = _RUN_FILE.match(f.name)
    if m:
        return m.group("id")
    m = _RUN_DIR.match(f.parent.name)
    return m.group("id") if m else f.stem


def _order_key(f: Path):
    m = _RUN_DIR.match(f.parent.name)
    return (m.group("ts") if m else "", f.parent.name, f.name)


def discover(path: str | os.PathLike) -> list[list[Path]]:
    """The `.wandb` files under `path`, grouped by run id (a resumed run has several)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise SourceError(f"{root}: no such file or folder")
    root = root.resolve()
    files: list[Path] = []
    if root.is_file():
        if root.suffix != ".wandb":
            raise SourceError(f"{root}: not a W&B transaction log (expected a .wandb file)")
        files = [root]
    else:
        direct = sorted(root.glob("*.wandb"))
        if direct:
            files = direct
        else:
            seen = set()
            for candidate in sorted(root.glob("*/*.wandb")) + sorted(root.glob("wandb/*/*.wandb")):
                if candidate.parent.is_symlink():  # latest-run -> one of the others
                    continue
                real = candidate.resolve()
                if real not in seen:
                    seen.add(real)
                    files.append(candidate)
    if not files:
        raise SourceError(f"{root}: not a W&B run folder or wandb/ folder (no run-*/ folder with a .wandb file)")
    groups: dict[str, list[Path]] = {}
    for f in files:
        groups.setdefault(_run_id_of(f), []).append(f)
    return [sorted(fs, key=_order_key) for _, fs in sorted(groups.items())]


def preflight(files: list[Path]) -> None:
    for f in files:
        try:
            version = read_header(f, IDENT, MAGIC)
        except NotThisFormat as exc:
            raise SourceError(f"{exc} (not a W&B transaction log)") from None
        except OSError as exc:
            raise SourceError(f"cannot read {f}: {exc.strerror or exc}") from None
        if version != 0:
            raise SourceError(f"{f}: W&B log format version {version} is not supported (expected 0)")


class WandbSource:
    kind = KIND

    def __init__(self, path: str | os.PathLike, project_hint: str | None = None):
        self.path = path
        self.groups = discover(path)
        preflight([f for g in self.groups for f in g])
        _pb()

    def describe(self) -> str:
        return f"W&B runs in {Path(self.path).resolve()}"

    def runs(self):
        for files in self.groups:
            yield WandbRun(files)


def _peek_run_record(pb, f: Path):
    """The `run` record of a log (it comes within the first few records), or None."""
    for i, data in enumerate(iter_records(f, IDENT, MAGIC)):
        rec = pb.Record.FromString(data)
        if rec.WhichOneof("record_type") == "run":
            return rec.run
        if i > 200:
            break
    return None


def _media_kind_for_table(obj: dict) -> str:
    return "table"


class WandbRun(SourceRun):
    def __init__(self, files: list[Path]):
        pb = _pb()
        run = None
        for f in files:
            run = _peek_run_record(pb, f)
            if run is not None:
                break
        run_id = run.run_id if run is not None and run.run_id else _run_id_of(files[0])
        project = run.project if run is not None and run.project else None
        entity = run.entity if run is not None and run.entity else None
        source = "/".join(x for x in (entity, project, run_id) if x)
        info = RunInfo(
            source_id=f"{KIND}:{source}",
            name=(run.display_name or None) if run is not None else None,
            source_run_id=run_id,
            project=project,
            start_time=_ms(run.start_time) if run is not None and run.start_time.seconds else None,
            fingerprint=fingerprint(*[(f.parent.name, f.name, f.stat().st_size) for f in files]),
        )
        if info.name is None:
            info.name = run_id
        super().__init__(info)
        self.files = files
        self._size = sum(f.stat().st_size for f in files)

    def size_hint(self) -> int:
        return self._size

    def stream(self):
        pb = _pb()
        st = _State(self.info)
        from_string = pb.Record.FromString
        for f in self.files:
            files_dir = f.parent / "files"
            st.files_dir = files_dir
            report = LogReport(str(f))
            done = 0  # bytes read since the last progress report
            reported = 0
            for data in iter_records(f, IDENT, MAGIC, report):
                try:
                    rec = from_string(data)
                except Exception:  # noqa: BLE001
                    yield Skipped("record that is not a W&B Record (undecodable protobuf)", where=str(f))
                    continue
                kind = rec.WhichOneof("record_type")
                if kind == "history":
                    yield from st.history(rec.history)
                    if len(st.metrics) >= CHUNK_POINTS:
                        yield st.take_metrics()
                elif kind == "stats":
                    st.stats(rec.stats)
                elif kind == "output_raw":
                    o = rec.output_raw
                    st.output(o.output_type, o.line, _ms(o.timestamp))
                elif kind == "output":
                    o = rec.output
                    st.output(o.output_type, o.line, _ms(o.timestamp))
                elif kind == "summary":
                    st.summary_update(rec.summary)
                elif kind == "config":
                    st.config_update(rec.config)
                elif kind == "run":
                    st.run_record(rec.run)
                elif kind == "exit":
                    st.exit = rec.exit
                elif kind == "environment":
                    st.environment(rec.environment)
                elif kind == "artifact":
                    yield from st.artifact(rec.artifact)
                elif kind == "metric":
                    st.metric_defs.append(_to_dict(rec.metric))
                elif kind == "alert":
                    a = rec.alert
                    st.console.add(f"ALERT [{a.level or 'INFO'}] {a.title}: {a.text}", st.last_ts or 0, "WARN")
                elif kind == "use_artifact":
                    st.used_artifacts.append(_to_dict(rec.use_artifact))
                elif kind == "tbrecord":
                    st.tb_records += 1
                elif kind == "preempting":
                    self.info.tags["wandb.preempted"] = "true"
                if self.progress is not None:
                    done += len(data) + 7
                    if done >= 1 << 20:
                        self.progress(done)
                        reported += done
                        done = 0
            if self.progress is not None:
                # Record sizes leave out the file header, block padding and skipped damage:
                # report the rest too, so the bar ends at the files' size.
                self.progress(max(report.size - reported, 0))
            for problem in report.problems():
                yield Skipped(problem, where=str(f))
            st.flush_output()
            yield from st.files_of(f.parent)
        yield from st.finish()


def _to_dict(msg) -> dict:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(msg, preserving_proto_field_name=True)


class _State:
    """Everything accumulated while replaying one run's log(s)."""

    def __init__(self, info: RunInfo):
        self.info = info
        self.metrics = Metrics()
        self.console = Console()
        self.files_dir: Path | None = None
        self.last_ts: int | None = None
        self.first_ts: int | None = None
        self.history_keys: set[str] = set()
        self.summary: dict = {}
        self.config: dict = {}
        self.exit = None
        self.env: dict = {}
        self.run_meta: dict = {}
        self.metric_defs: list[dict] = []
        self.artifacts: list[dict] = []
        self.used_artifacts: list[dict] = []
        self.tb_records = 0
        self.stats_n = 0
        self.referenced: set[str] = set()  # media files (relative to files/) a history row used
        self.partial: dict[int, tuple[str, int]] = {}  # stream -> (text so far, timestamp of its start)
        self.skipped: dict[str, int] = {}
        self.step = -1

    def take_metrics(self) -> Metrics:
        m, self.metrics = self.metrics, Metrics()
        return m

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    # -- history ---------------------------------------------------------------------------------
    def history(self, h):
        step = None
        ts = None
        scalars = []
        nested: dict[str, list] = {}
        for item in h.item:
            nk = item.nested_key
            if nk:
                if len(nk) > 1:
                    nested.setdefault(nk[0], []).append((list(nk[1:]), item.value_json))
                    continue
                k = nk[0]
            else:
                k = item.key
            if k[:1] == "_":
                if k == "_step":
                    step = int(float(item.value_json))
                elif k == "_timestamp":
                    ts = float(item.value_json)
                continue  # _runtime: start time + timestamp; other _keys are wandb's own
            scalars.append((k, item.value_json))
        if step is None:
            step = h.step.num if h.HasField("step") else self.step + 1
        self.step = step
        if ts is not None:
            ts_ms = int(ts * 1000 + 0.5)
            self.last_ts = ts_ms if self.last_ts is None else max(self.last_ts, ts_ms)
            if self.first_ts is None:
                self.first_ts = ts_ms
        else:
            ts_ms = self.last_ts or self.info.start_time or 0
        m = self.metrics
        keys, steps, stamps, values = m.key, m.step, m.timestamp, m.value
        hk = self.history_keys
        for k, text in scalars:
            try:
                v = float(text)
            except ValueError:
                yield from self.value(k, json.loads(text), step, ts_ms)
                continue
            keys.append(k)
            steps.append(step)
            stamps.append(ts_ms)
            values.append(v)
            hk.add(k)
        for top, parts in nested.items():
            obj: dict = {}
            for path, text in parts:
                d = obj
                for p in path[:-1]:
                    d = d.setdefault(p, {})
                    if not isinstance(d, dict):
                        break
                else:
                    d[path[-1]] = json.loads(text)
            yield from self.value(top, obj, step, ts_ms)

    def value(self, key: str, v, step: int, ts: int):
        """A non-numeric history value: booleans as points, strings as text, dicts as media or
        nested metrics."""
        if isinstance(v, bool):
            self.metrics.add(key, step, ts, 1.0 if v else 0.0)
            self.history_keys.add(key)
        elif isinstance(v, (int, float)):
            self.metrics.add(key, step, ts, float(v))
            self.history_keys.add(key)
        elif isinstance(v, str):
            yield Media(key, step, "text", "txt", ts, data=v.encode())
            self.history_keys.add(key)
        elif isinstance(v, dict):
            if "_type" in v:
                yield from self.media(key, v, step, ts)
                self.history_keys.add(key)
            else:
                for sub, x in flatten(v, key).items():
                    if isinstance(x, dict):  # an empty dict
                        continue
                    yield from self.value(sub, x, step, ts)
        elif v is None:
            self.skip(f"null history value (key '{key}')")
        else:
            self.skip(f"history value of type {type(v).__name__} (key '{key}')")

    def _file(self, rel: str | None) -> Path | None:
        if not rel or self.files_dir is None:
            return None
        f = self.files_dir / rel
        return f if f.is_file() else None

    def media(self, key: str, obj: dict, step: int, ts: int):
        t = obj.get("_type")
        if t == "histogram":
            bins = obj.get("bins")
            values = obj.get("values")
            if bins is None and "packedBins" in obj:
                pb = obj["packedBins"]
                bins = [pb["min"] + i * pb["size"] for i in range(pb["count"] + 1)]
            from importers.tensorboard import histogram_payload

            extra = {k: v for k, v in obj.items() if k not in ("_type", "bins", "values")}
            data = histogram_payload(edges=bins or [], counts=values or [], bins=bins, values=values, **extra)
            yield Media(key, step, "histogram", "json", ts, data=data)
            return
        if t == "images/separated":
            names = obj.get("filenames") or []
            captions = obj.get("captions") or []
            for i, name in enumerate(names):
                rel = f"media/images/{name}" if "/" not in name else name
                f = self._file(rel)
                if f is None:
                    self.skip(f"media file missing from the run folder (key '{key}')")
                    continue
                self.referenced.add(rel)
                cap = captions[i] if i < len(captions) and isinstance(captions[i], str) else None
                yield Media(key, step, "image", f.suffix.lstrip(".") or "png", ts, local=f, caption=cap, seq=i)
            return
        kind = MEDIA_TYPES.get(t)
        rel = obj.get("path")
        if kind is not None and isinstance(rel, str):
            f = self._file(rel)
            if f is None:
                self.skip(f"{t} file missing from the run folder (key '{key}')")
                return
            self.referenced.add(rel)
            ext = "".join(Path(rel).suffixes[-2:]).lstrip(".") if rel.endswith(".table.json") else \
                Path(rel).suffix.lstrip(".")
            cap = obj.get("caption") if isinstance(obj.get("caption"), str) else None
            yield Media(key, step, kind, ext or "bin", ts, local=f, caption=cap)
            return
        # Anything else (a custom chart, an unknown type): its description, as it was logged.
        yield Media(key, step, "file", "json", ts, data=json.dumps(obj, sort_keys=True).encode())

    # -- other records ---------------------------------------------------------------------------
    def stats(self, s):
        ts = _ms(s.timestamp)
        n = self.stats_n
        self.stats_n += 1
        m = self.metrics
        for item in s.item:
            try:
                v = float(item.value_json)
            except ValueError:
                try:
                    v = json.loads(item.value_json)
                except ValueError:
                    v = None
                if isinstance(v, bool):
                    v = float(v)
                elif not isinstance(v, (int, float)):
                    self.skip("non-numeric system metric value")
                    continue
            m.add(f"system/{item.key}", n, ts, float(v))
        self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)

    def output(self, stream: int, text: str, ts: int):
        if not text:
            return
        buf, start = self.partial.get(stream, ("", ts))
        if not buf:
            start = ts
        buf += text
        level = "INFO" if stream == 1 else "ERROR"
        while "\n" in buf:
            line, buf = buf.split("\n", 1)
            if "\r" in line:  # a terminal overwrote the line: keep what was left on screen
                line = line.rstrip("\r").rsplit("\r", 1)[-1]
            self.console.add(line, start, level)
            start = ts
        self.partial[stream] = (buf, start)
        self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)

    def flush_output(self):
        for stream, (buf, start) in sorted(self.partial.items()):
            if buf:
                self.console.add(buf.rsplit("\r", 1)[-1], start, "INFO" if stream == 1 else "ERROR")
        self.partial.clear()

    def summary_update(self, s):
        _apply_item_updates(self.summary, s)

    def config_update(self, c):
        _apply_item_updates(self.config, c)

    def run_record(self, run):
        info = self.info
        self.config_update(run.config)
        self.summary_update(run.summary)
        if run.display_name:
            info.name = run.display_name
        if run.notes:
            info.notes = run.notes
        if run.tags:
            info.tags["wandb.tags"] = json.dumps(list(run.tags), ensure_ascii=False)
            for t in run.tags:
                if t and len(t) <= 250 and "\x00" not in t:
                    info.tags.setdefault(t, "")
        for field, tag in (("run_group", "wandb.group"), ("job_type", "wandb.job_type"), ("entity", "wandb.entity"),
                           ("project", "wandb.project"), ("host", "wandb.host"), ("sweep_id", "wandb.sweep_id"),
                           ("run_id", "wandb.run_id")):
            value = getattr(run, field)
            if value:
                info.tags[tag] = value
        if run.resumed:
            info.tags["wandb.resumed"] = "true"
        if run.start_time.seconds and info.start_time is None:
            info.start_time = _ms(run.start_time)
        meta = _to_dict(run)
        meta.pop("config", None)
        meta.pop("summary", None)
        self.run_meta.update(meta)

    def environment(self, env):
        self.env.update(_to_dict(env))
        if env.username and not self.info.user:
            self.info.user = env.username

    def artifact(self, a):
        d = _to_dict(a)
        self.artifacts.append(d)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", a.name or "artifact")
        for entry in a.manifest.contents:
            local = Path(entry.local_path) if entry.local_path else None
            if local is not None and local.is_file():
                yield Artifact(f"wandb/artifacts/{name}/{entry.path}", local=local, size=local.stat().st_size)
            elif a.type == "run_table" and self.files_dir is not None:
                continue  # the table itself is under files/media/table, imported as media
            else:
                self.skip(f"logged artifact '{a.name}': content not found (manifest only, kept in wandb/artifacts.json)")

    def files_of(self, run_dir: Path):
        """Files of the run folder's `files/` (not media a history row already brought)."""
        base = run_dir / "files"
        if not base.is_dir():
            return
        for f in sorted(base.rglob("*")):
            rel = f.relative_to(base).as_posix()
            if rel in self.referenced:
                continue
            if f.is_symlink() and not f.exists():
                self.skip(f"saved file '{rel}' is a broken link")
                continue
            if f.is_file():
                yield Artifact(f"wandb/files/{rel}", local=f, size=f.stat().st_size)

    def finish(self, judge_exit: bool = True):
        info = self.info
        if len(self.metrics):
            yield self.take_metrics()
        if len(self.console):
            yield self.console
            self.console = Console()
        params = {}
        for k, v in flatten({k: v for k, v in self.config.items() if k != "_wandb"}).items():
            if isinstance(v, dict):
                continue
            params[k] = param_text(v)
        info.params.update(params)
        hk = self.history_keys
        for top, val in self.summary.items():
            if top.startswith("_") or top in hk or isinstance(val, dict) and "_type" in val:
                continue
            for k, v in flatten(val, top).items():
                if k not in hk and isinstance(v, (int, float, str, bool)):
                    info.tags[f"wandb.summary.{k}"] = param_text(v)
        meta = {"run": self.run_meta, "environment": self.env, "define_metric": self.metric_defs}
        if self.config.get("_wandb"):
            meta["config_wandb"] = self.config["_wandb"]
        yield Artifact("wandb/metadata.json", data=json.dumps(meta, indent=1, sort_keys=True, default=str).encode())
        yield Artifact("wandb/summary.json", data=json.dumps(self.summary, indent=1, sort_keys=True, default=str).encode())
        yield Artifact("wandb/config.json", data=json.dumps(self.config, indent=1, sort_keys=True, default=str).encode())
        if self.artifacts or self.used_artifacts:
            yield Artifact("wandb/artifacts.json", data=json.dumps(
                {"logged": self.artifacts, "used": self.used_artifacts}, indent=1, sort_keys=True).encode())
        if self.tb_records:
            self.skip("tensorboard sync record (the event files themselves are not in the run folder)", self.tb_records)
        for reason, n in sorted(self.skipped.items()):
            yield Skipped(reason, n)
        if not judge_exit:
            pass
        elif self.exit is not None:
            code = self.exit.exit_code
            info.status = "FINISHED" if code == 0 else "FAILED"
            info.tags["wandb.state"] = "finished" if code == 0 else "failed"
            info.tags["wandb.exit_code"] = str(code)
            if self.exit.runtime and info.start_time:
                end = info.start_time + int(self.exit.runtime) * 1000
                self.last_ts = max(self.last_ts or 0, end)
        else:
            info.status = "FAILED"
            info.tags["wandb.state"] = "crashed"
            yield Skipped("no exit record: the run crashed or was still running; imported as crashed (FAILED)")
        info.end_time = self.last_ts or info.start_time
        if info.start_time is None:
            info.start_time = self.first_ts


# -- online: wandb.Api() ------------------------------------------------------------------------------
_STATES = {"finished": "FINISHED", "crashed": "FAILED", "failed": "FAILED", "killed": "KILLED",
           "running": "RUNNING", "preempted": "FAILED", "pending": "SCHEDULED"}


def _iso_ms(text) -> int | None:
    from datetime import datetime, timezone

    if not text:
        return None
    if isinstance(text, (int, float)):
        return int(text * 1000) if text < 1e11 else int(text)
    s = str(text).replace("Z", "+00:00")
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)  # W&B's created_at is UTC without a zone
    return int(dt.timestamp() * 1000)


class WandbApiSource:
    """Runs of `entity/project` (or one run, `entity/project/run_id`) through `wandb.Api()`."""

    kind = KIND

    def __init__(self, path: str, api=None, page_size: int = 1000):
        parts = [p for p in path.strip("/").split("/") if p]
        if len(parts) not in (2, 3):
            raise SourceError(f"{path}: expected ENTITY/PROJECT or ENTITY/PROJECT/RUN_ID (or a local wandb folder)")
        self.entity, self.project = parts[0], parts[1]
        self.run_id = parts[2] if len(parts) == 3 else None
        self.page_size = page_size
        if api is None:
            try:
                import wandb
            except ImportError:
                raise SourceError("importing from W&B online needs the `wandb` package") from None
            try:
                api = wandb.Api(timeout=60)
            except Exception as exc:  # noqa: BLE001 - no key, no network: say so
                raise SourceError(f"cannot use the W&B API: {exc}") from None
        self.api = api
        where = f"{self.entity}/{self.project}"
        try:
            if self.run_id:
                self._runs = [api.run(f"{where}/{self.run_id}")]
            else:
                self._runs = list(api.runs(where, per_page=page_size))
        except Exception as exc:  # noqa: BLE001 - the API's own errors: unknown entity/project/run
            raise SourceError(f"W&B {where}{'/' + self.run_id if self.run_id else ''}: {_one_line(exc)}") from None

    def describe(self) -> str:
        return f"W&B project {self.entity}/{self.project}"

    def runs(self):
        for run in self._runs:
            yield WandbApiRun(run, self.entity, self.project, self.page_size)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class WandbApiRun(SourceRun):
    def __init__(self, run, entity: str, project: str, page_size: int):
        start = _iso_ms(getattr(run, "created_at", None))
        summary = dict(getattr(run, "summary", {}) or {})
        info = RunInfo(
            source_id=f"{KIND}:{entity}/{project}/{run.id}",
            name=getattr(run, "name", None) or run.id,
            source_run_id=run.id,
            project=project,
            start_time=start,
            fingerprint=fingerprint(getattr(run, "state", None), getattr(run, "lastHistoryStep", None),
                                    summary.get("_runtime"), getattr(run, "heartbeatAt", None)),
        )
        super().__init__(info)
        self.run = run
        self.entity = entity
        self.project = project
        self.page_size = page_size

    def stream(self):
        import tempfile

        run, info = self.run, self.info
        st = _State(info)
        tmp = tempfile.TemporaryDirectory(prefix="swan-wandb-")
        st.files_dir = Path(tmp.name)
        downloaded: set[str] = set()

        def fetch(rel: str) -> None:
            if rel in downloaded:
                return
            downloaded.add(rel)
            try:
                run.file(rel).download(root=tmp.name, replace=True)
            except Exception as exc:  # noqa: BLE001 - the file is reported missing below
                st.skip(f"media file could not be downloaded: {_one_line(exc)}")

        try:
            for row in run.scan_history(page_size=self.page_size):
                step = row.get("_step")
                ts = row.get("_timestamp")
                step = int(step) if step is not None else st.step + 1
                st.step = step
                ts_ms = int(float(ts) * 1000 + 0.5) if ts is not None else (st.last_ts or info.start_time or 0)
                if ts is not None:
                    st.last_ts = ts_ms if st.last_ts is None else max(st.last_ts, ts_ms)
                for k, v in row.items():
                    if k.startswith("_") or v is None:
                        continue
                    if isinstance(v, dict) and isinstance(v.get("path"), str):
                        fetch(v["path"])
                    elif isinstance(v, dict) and v.get("_type") == "images/separated":
                        for name in v.get("filenames") or []:
                            fetch(f"media/images/{name}")
                    yield from st.value(k, v, step, ts_ms)
                if len(st.metrics) >= CHUNK_POINTS:
                    yield st.take_metrics()
            self._system(st)
            for f in _safe_iter(getattr(run, "files", None), st, "listing the run's files"):
                name = getattr(f, "name", "")
                if not name or name in st.referenced or name.startswith("media/") and name in downloaded:
                    continue
                if name == "output.log":
                    self._console_from_output_log(f, st, tmp.name)
                yield Artifact(f"wandb/files/{name}", fetch=_downloader(f, name), size=getattr(f, "size", None))
            st.config = dict(getattr(run, "config", {}) or {})
            st.summary = dict(getattr(run, "summary", {}) or {})
            for field, tag in (("group", "wandb.group"), ("job_type", "wandb.job_type"), ("entity", "wandb.entity"),
                               ("project", "wandb.project"), ("url", "wandb.url")):
                value = getattr(run, field, None)
                if value:
                    info.tags[tag] = str(value)
            info.tags["wandb.run_id"] = run.id
            tags = list(getattr(run, "tags", []) or [])
            if tags:
                info.tags["wandb.tags"] = json.dumps(tags, ensure_ascii=False)
                for t in tags:
                    if t and len(t) <= 250:
                        info.tags.setdefault(t, "")
            notes = getattr(run, "notes", None)
            if notes:
                info.notes = notes
            sweep = getattr(run, "sweep", None)
            if sweep is not None:
                info.tags["wandb.sweep_id"] = str(getattr(sweep, "id", sweep))
            meta = getattr(run, "metadata", None)
            if meta:
                st.env = dict(meta)
            state = str(getattr(run, "state", "") or "").lower()
            runtime = st.summary.get("_runtime")
            yield from st.finish(judge_exit=False)
            info.status = _STATES.get(state, "FINISHED")
            info.tags["wandb.state"] = state or "unknown"
            if isinstance(runtime, (int, float)) and info.start_time:
                info.end_time = max(info.end_time or 0, info.start_time + int(runtime * 1000))
        finally:
            tmp.cleanup()

    def _console_from_output_log(self, f, st: _State, tmp: str) -> None:
        """The run's console, as the local importer gives it, from `output.log` (the API has no
        per-line records: stdout and stderr are merged, and a line's time is not kept, so every
        line is INFO at the run's start time). The file is kept as an artifact too."""
        try:
            f.download(root=tmp, replace=True)
            text = (Path(tmp) / "output.log").read_bytes().decode("utf-8", "replace")  # keep \r as written
        except Exception as exc:  # noqa: BLE001 - still kept as an artifact; say why there are no lines
            st.skip(f"console output (output.log) could not be read as lines: {_one_line(exc)}")
            return
        when = st.info.start_time or 0
        lines = text.split("\n")  # not splitlines(): a lone \r is a terminal overwrite, not a line end
        if lines and lines[-1] == "":
            lines.pop()
        for line in lines:
            st.console.add(line.rstrip("\r").rsplit("\r", 1)[-1], when, "INFO")

    def _system(self, st: _State) -> None:
        history = getattr(self.run, "history", None)
        if history is None:
            return
        try:
            rows = history(stream="system", samples=1_000_000, pandas=False)
        except TypeError:
            rows = history(stream="system", samples=1_000_000)
        except Exception as exc:  # noqa: BLE001
            st.skip(f"system metrics could not be read: {_one_line(exc)}")
            return
        for i, row in enumerate(rows or []):
            ts = row.get("_timestamp")
            ts_ms = int(float(ts) * 1000 + 0.5) if ts is not None else (st.info.start_time or 0)
            for k, v in row.items():
                if k.startswith("_") or isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue
                key = k.removeprefix("system.")
                st.metrics.add(f"system/{key}", i, ts_ms, float(v))


def _safe_iter(fn, st: _State, what: str):
    if fn is None:
        return []
    try:
        return list(fn())
    except Exception as exc:  # noqa: BLE001
        st.skip(f"{what} failed: {_one_line(exc)}")
        return []


def _downloader(f, name: str):
    def fetch(target: Path) -> None:
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory(prefix="swan-wandb-file-") as tmp:
            f.download(root=tmp, replace=True)
            shutil.move(str(Path(tmp) / name), target)

    return fetch


def _apply_item_updates(target: dict, record) -> None:
    """Apply a W&B summary or config record (`update` and `remove` items, each addressed by a key
    or a nested key path, values as JSON) to a nested dict."""
    for item in record.update:
        path = list(item.nested_key) or [item.key]
        try:
            val = json.loads(item.value_json)
        except ValueError:
            continue
        d = target
        for p in path[:-1]:
            nxt = d.get(p)
            if not isinstance(nxt, dict):
                nxt = d[p] = {}
            d = nxt
        d[path[-1]] = val
    for item in record.remove:
        path = list(item.nested_key) or [item.key]
        d = target
        for p in path[:-1]:
            d = d.get(p) if isinstance(d, dict) else None
            if d is None:
                break
        if isinstance(d, dict):
            d.pop(path[-1], None)
