"""TensorBoard event files → neutral run records.

A run is a folder that directly holds event files (`*tfevents*`); several files in one folder are
merged into one run, in the order of the timestamp in their names. The run's name is the folder's
path relative to PATH, or PATH's basename when PATH itself is a run.

Records are read by our TFRecord reader (`tfrecord.py`: CRC32C checked, resynchronised after a
damaged record) and parsed with tensorboard's protobuf classes (tensorboardX's copies when
tensorboard is not installed). Mapping:

* scalars (`simple_value`, and 0-d tensors of the `scalars` plugin or without a plugin) → metric
  points, `wall_time` as the point's timestamp;
* histograms (`histo` and tensors of the `histograms` plugin) → media of kind `histogram`, a JSON
  payload with the buckets (see `histogram_payload`);
* images and audio (legacy values and plugin tensors) → media files with their encoded bytes;
* text → text media (a table when the tensor holds more than one string);
* PR curves → table media (threshold, TP, FP, TN, FN, precision, recall);
* hparams → params, with the plugin data kept as the artifact `tensorboard/hparams.json`;
* `graph_def`, `meta_graph_def`, tagged run metadata → artifacts under `tensorboard/`;
* session logs and log messages → console lines;
* anything else (other plugins, tensors of unknown meaning) → kept as the original events in the
  artifact `tensorboard/unmapped.tfevents`, and named in the summary.
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path

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
)
from importers.tfrecord import (
    ReadReport,
    _resync,
    _valid_at,
    iter_records,
    write_record,
)

KIND = "tensorboard"
CHUNK_POINTS = 50_000


def _protos():
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2, types_pb2
        from tensorboard.plugins.hparams import plugin_data_pb2 as hparams_pb2
        from tensorboard.plugins.pr_curve import plugin_data_pb2 as pr_pb2
    except ImportError:
        try:
            from tensorboardX.proto import event_pb2, summary_pb2, types_pb2
            from tensorboardX.proto import plugin_hparams_pb2 as hparams_pb2
            from tensorboardX.proto import plugin_pr_curve_pb2 as pr_pb2
        except ImportError:
            raise SourceError("reading TensorBoard files needs the `tensorboard` package "
                              "(pip install 'swan-tracking[import]')") from None
    return event_pb2, summary_pb2, types_pb2, hparams_pb2, pr_pb2


def is_event_file(name: str) -> bool:
    return "tfevents" in name


_TS_IN_NAME = re.compile(r"tfevents\.(\d+(?:\.\d+)?)")


def _file_order(p: Path):
    m = _TS_IN_NAME.search(p.name)
    return (float(m.group(1)) if m else float("inf"), p.name)


def discover(path: str | os.PathLike) -> list[tuple[Path, str, list[Path]]]:
    """(folder, run name, event files in order) for each run under `path`."""
    root = Path(path).expanduser()
    if not root.exists():
        raise SourceError(f"{root}: no such file or folder")
    root = root.resolve()
    if root.is_file():
        if not is_event_file(root.name):
            raise SourceError(f"{root}: not a TensorBoard event file (expected a name with 'tfevents')")
        return [(root.parent, root.parent.name, [root])]
    runs = []
    for folder, dirs, files in os.walk(root, onerror=_raise_walk):
        dirs.sort()
        events = sorted((Path(folder) / f for f in files if is_event_file(f)), key=_file_order)
        if events:
            rel = Path(folder).relative_to(root).as_posix()
            runs.append((Path(folder), root.name if rel == "." else rel, events))
    if not runs:
        raise SourceError(f"{root}: not a TensorBoard log folder (no event files 'events.out.tfevents.*' in it "
                          f"or below it)")
    return runs


def _raise_walk(exc: OSError):
    raise SourceError(f"cannot read {exc.filename}: {exc.strerror or exc}")


def preflight(files: list[Path]) -> int:
    """Open every file; a file that cannot be read is a `SourceError` (nothing imported). Returns
    how many files hold at least one intact record at their start or after a resync."""
    good = 0
    for f in files:
        try:
            with open(f, "rb") as fh:
                head = fh.read(1 << 16)
        except OSError as exc:
            raise SourceError(f"cannot read {f}: {exc.strerror or exc}") from None
        if not head:
            continue
        if _valid_at(head, 0, len(head)) >= 0 or len(head) < 1 << 16 and _resync(head, 1, len(head)) >= 0:
            good += 1
            continue
        if len(head) >= 1 << 16:
            good += 1  # large: decided while reading (resync or damage report)
    return good


class TensorBoardSource:
    kind = KIND

    def __init__(self, path: str | os.PathLike):
        self.path = path
        self.runs_found = discover(path)
        files = [f for _, _, fs in self.runs_found for f in fs]
        if preflight(files) == 0 and any(f.stat().st_size for f in files):
            raise SourceError(f"{Path(path).resolve()}: no readable TensorBoard records in "
                              f"{len(files)} event file(s) (not TFRecord data)")
        _protos()

    def describe(self) -> str:
        return f"TensorBoard logs in {Path(self.path).resolve()}"

    def runs(self):
        for folder, name, files in self.runs_found:
            yield TensorBoardRun(folder, name, files)


class TensorBoardRun(SourceRun):
    def __init__(self, folder: Path, name: str, files: list[Path]):
        stats = [(f.name, f.stat().st_size) for f in files]
        super().__init__(RunInfo(
            source_id=f"{KIND}:{folder}",
            name=name,
            source_run_id=str(folder),
            status="FINISHED",
            start_time=_first_wall_time(files),
            fingerprint=fingerprint(*stats),
        ))
        self.folder = folder
        self.files = files
        self._size = sum(s for _, s in stats)
        self.progress = None  # callable(bytes) set by the writer

    def size_hint(self) -> int:
        return self._size

    def stream(self):
        event_pb2, _, types_pb2, hparams_pb2, pr_pb2 = _protos()
        decoder = _Decoder(types_pb2, hparams_pb2, pr_pb2)
        info = self.info
        metrics = Metrics()
        console = Console()
        unmapped: list[bytes] = []
        unmapped_why: dict[str, int] = {}
        artifacts: dict[str, bytes] = {}
        hparams_raw: dict[str, dict] = {}
        first_ts = last_ts = None
        from_string = event_pb2.Event.FromString
        for f in self.files:
            report = ReadReport(str(f))
            plugin_of: dict[str, str] = {}  # tag -> plugin, from the first value that names it (per file)
            keys, steps, stamps, values = metrics.key, metrics.step, metrics.timestamp, metrics.value
            done = 0
            for data in iter_records(f, report):
                try:
                    ev = from_string(data)
                except Exception:  # noqa: BLE001 - a record that is not an Event
                    yield Skipped("record that is not a TensorBoard Event (undecodable protobuf)", where=str(f))
                    continue
                wall = ev.wall_time
                ts = int(wall * 1000 + 0.5) if wall > 0 else 0
                if first_ts is None or ts < first_ts:
                    first_ts = ts
                if last_ts is None or ts > last_ts:
                    last_ts = ts
                what = ev.WhichOneof("what")
                if what == "summary":
                    step = ev.step
                    for v in ev.summary.value:
                        vk = v.WhichOneof("value")
                        tag = v.tag
                        if vk == "simple_value":
                            keys.append(tag)
                            steps.append(step)
                            stamps.append(ts)
                            values.append(v.simple_value)
                            continue
                        plugin = v.metadata.plugin_data.plugin_name
                        if plugin:
                            plugin_of.setdefault(tag, plugin)
                        else:
                            plugin = plugin_of.get(tag, "")
                        out = decoder.value(v, vk, plugin, tag, step, ts)
                        if out is None:
                            continue
                        kind, payload = out
                        if kind == "scalar":
                            keys.append(tag)
                            steps.append(step)
                            stamps.append(ts)
                            values.append(payload)
                        elif kind == "media":
                            yield from payload
                        elif kind == "hparams":
                            params, raw = payload
                            info.params.update(params)
                            hparams_raw[tag] = raw
                        elif kind == "unmapped":
                            one = event_pb2.Event(wall_time=ev.wall_time, step=ev.step)
                            one.summary.value.add().CopyFrom(v)
                            unmapped.append(one.SerializeToString())
                            unmapped_why[payload] = unmapped_why.get(payload, 0) + 1
                    if len(values) >= CHUNK_POINTS:
                        yield metrics
                        metrics = Metrics()
                        keys, steps, stamps, values = metrics.key, metrics.step, metrics.timestamp, metrics.value
                elif what == "file_version":
                    continue
                elif what == "graph_def":
                    artifacts[_unique(artifacts, "tensorboard/graph_def.pb")] = ev.graph_def
                elif what == "meta_graph_def":
                    artifacts[_unique(artifacts, "tensorboard/meta_graph_def.pb")] = ev.meta_graph_def
                elif what == "tagged_run_metadata":
                    name = _safe_name(ev.tagged_run_metadata.tag or "run_metadata")
                    artifacts[_unique(artifacts, f"tensorboard/run_metadata/{name}.pb")] = ev.tagged_run_metadata.run_metadata
                elif what == "session_log":
                    sl = ev.session_log
                    text = f"SessionLog {event_pb2.SessionLog.SessionStatus.Name(sl.status)} step={ev.step}"
                    if sl.checkpoint_path:
                        text += f" checkpoint={sl.checkpoint_path}"
                    if sl.msg:
                        text += f": {sl.msg}"
                    console.add(text, ts)
                elif what == "log_message":
                    lm = ev.log_message
                    console.add(lm.message, ts, _LOG_LEVELS.get(lm.level, "INFO"))
                else:
                    unmapped.append(data)
                    why = f"event of type {what or 'none'}"
                    unmapped_why[why] = unmapped_why.get(why, 0) + 1
                if self.progress is not None:
                    n = len(data) + 16
                    done += n
                    if done >= 1 << 20:
                        self.progress(done)
                        done = 0
            if self.progress is not None and done:
                self.progress(done)
            for problem in report.problems():
                yield Skipped(problem, where=str(f))
            if report.size and report.records == 0 and not report.problems():
                yield Skipped("no records", where=str(f))
        if len(metrics):
            yield metrics
        if len(console):
            yield console
        for path, blob in artifacts.items():
            yield Artifact(path, data=blob)
        if hparams_raw:
            yield Artifact("tensorboard/hparams.json", data=json.dumps(hparams_raw, indent=1, sort_keys=True).encode())
        if unmapped:
            import io

            buf = io.BytesIO()
            for rec in unmapped:
                write_record(buf, rec)
            yield Artifact("tensorboard/unmapped.tfevents", data=buf.getvalue())
            for why, n in sorted(unmapped_why.items()):
                yield Skipped(f"{why}: not mapped; kept as it was in the artifact tensorboard/unmapped.tfevents", n)
        for f in sorted(self.folder.iterdir()):
            if f.is_file() and not is_event_file(f.name):
                yield Artifact(f"tensorboard/files/{f.name}", local=f, size=f.stat().st_size)
        info.start_time = first_ts
        info.end_time = last_ts


def _first_wall_time(files: list[Path]) -> int | None:
    """The earliest wall time among the first intact record of each file (the run's start), in ms."""
    event_pb2 = _protos()[0]
    best = None
    for f in files:
        for data in iter_records(f):
            try:
                wall = event_pb2.Event.FromString(data).wall_time
            except Exception:  # noqa: BLE001, S112 - not an event: look at the next record
                continue
            if wall > 0:
                ts = int(wall * 1000 + 0.5)
                best = ts if best is None else min(best, ts)
            break
    return best


_LOG_LEVELS = {10: "DEBUG", 20: "INFO", 30: "WARN", 40: "ERROR", 50: "ERROR"}


def _unique(existing: dict, path: str) -> str:
    if path not in existing:
        return path
    stem, _, ext = path.rpartition(".")
    n = 1
    while f"{stem}.{n}.{ext}" in existing:
        n += 1
    return f"{stem}.{n}.{ext}"


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "_"


def image_ext(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "bin"


def audio_ext(data: bytes, content_type: str = "") -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:3] == b"ID3" or data[:2] == b"\xff\xfb":
        return "mp3"
    return {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/ogg": "ogg"}.get(content_type, "bin")


def histogram_payload(*, edges=None, counts=None, **fields) -> bytes:
    """The JSON stored for one histogram: `edges` (n+1 bucket edges) and `counts` (n), plus the
    source's own fields (`min`, `max`, `num`, `sum`, `sum_squares`, `bucket_limit`, `bucket` for
    TensorBoard's HistogramProto; `buckets` [[left, right, count], ...] for tensor histograms)."""
    body = {"type": "histogram", "edges": edges or [], "counts": counts or []}
    body.update(fields)
    return json.dumps(body, allow_nan=True).encode()


_STRUCT_OF = {1: "f", 2: "d", 3: "i", 4: "B", 5: "h", 6: "b", 9: "q", 10: "?", 17: "H", 19: "e", 22: "I", 23: "Q"}
_VAL_FIELD = {1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 5: "int_val", 6: "int_val", 9: "int64_val",
              10: "bool_val", 17: "int_val", 19: "half_val", 22: "uint32_val", 23: "uint64_val", 14: "half_val"}


def tensor_values(t) -> tuple[list, list[int]]:
    """(flat values, shape) of a numeric or string TensorProto, without numpy."""
    shape = [d.size for d in t.tensor_shape.dim]
    size = 1
    for d in shape:
        size *= d
    dtype = t.dtype
    if dtype == 7:  # DT_STRING
        vals = list(t.string_val)
    elif t.tensor_content:
        if dtype == 14:  # bfloat16: the top half of a float32
            raw = t.tensor_content
            vals = [struct.unpack("<f", b"\x00\x00" + raw[i:i + 2])[0] for i in range(0, len(raw), 2)]
        else:
            code = _STRUCT_OF.get(dtype)
            if code is None:
                raise ValueError(f"tensor dtype {dtype}")
            n = len(t.tensor_content) // struct.calcsize(code)
            vals = list(struct.unpack(f"<{n}{code}", t.tensor_content))
    else:
        name = _VAL_FIELD.get(dtype)
        if name is None:
            raise ValueError(f"tensor dtype {dtype}")
        vals = list(getattr(t, name))
        if dtype == 19:  # half_val holds the raw 16 bits
            vals = [struct.unpack("<e", struct.pack("<H", x))[0] for x in vals]
        elif dtype == 14:
            vals = [struct.unpack("<f", struct.pack("<I", x << 16))[0] for x in vals]
    if vals and len(vals) < size:  # TF stores a tensor of equal values as one value
        vals = vals + [vals[-1]] * (size - len(vals))
    return vals, shape


class _Decoder:
    """Summary values other than `simple_value` → ("scalar", v) | ("media", [Media]) |
    ("hparams", (params, raw)) | ("unmapped", reason) | None (nothing to keep)."""

    def __init__(self, types_pb2, hparams_pb2, pr_pb2):
        self.hparams_pb2 = hparams_pb2
        self.pr_pb2 = pr_pb2

    def value(self, v, vk, plugin, tag, step, ts):
        if vk == "histo":
            return "media", [self._histo(v.histo, tag, step, ts)]
        if vk == "image":
            img = v.image
            data = img.encoded_image_string
            return "media", [Media(tag, step, "image", image_ext(data), ts, data=data)]
        if vk == "audio":
            au = v.audio
            data = au.encoded_audio_string
            return "media", [Media(tag, step, "audio", audio_ext(data, au.content_type), ts, data=data)]
        if plugin == "hparams":
            return "hparams", self._hparams(v.metadata.plugin_data.content)
        if vk == "tensor":
            try:
                return self._tensor(v, plugin, tag, step, ts)
            except (ValueError, struct.error) as exc:
                return "unmapped", f"tensor of plugin '{plugin or 'none'}' that could not be decoded ({exc})"
        if vk is None:
            return "unmapped", f"value without data (plugin '{plugin or 'none'}')"
        return "unmapped", f"value of type {vk}"

    def _histo(self, h, tag, step, ts) -> Media:
        limits = list(h.bucket_limit)
        counts = list(h.bucket)
        # TensorBoard's convention: bucket i spans (limit[i-1], limit[i]]; the first starts at min.
        edges = [h.min] + limits[:-1] + [h.max] if limits else []
        data = histogram_payload(edges=edges if len(edges) == len(counts) + 1 else [], counts=counts,
                                 min=h.min, max=h.max, num=h.num, sum=h.sum, sum_squares=h.sum_squares,
                                 bucket_limit=limits, bucket=counts)
        return Media(tag, step, "histogram", "json", ts, data=data)

    def _hparams(self, content: bytes):
        pd = self.hparams_pb2.HParamsPluginData.FromString(content)
        from google.protobuf.json_format import MessageToDict

        raw = MessageToDict(pd, preserving_proto_field_name=True)
        params = {}
        if pd.HasField("session_start_info"):
            for name, val in pd.session_start_info.hparams.items():
                kind = val.WhichOneof("kind")
                if kind == "number_value":
                    x = val.number_value
                    params[name] = str(int(x)) if x.is_integer() and abs(x) < 2**63 else repr(x)
                elif kind == "string_value":
                    params[name] = val.string_value
                elif kind == "bool_value":
                    params[name] = str(val.bool_value)
                elif kind is not None:
                    params[name] = json.dumps(MessageToDict(val))
        return params, raw

    def _tensor(self, v, plugin, tag, step, ts):
        t = v.tensor
        if plugin in ("scalars", "") and t.dtype != 7:
            vals, shape = tensor_values(t)
            if len(vals) == 1:
                return "scalar", float(vals[0])
            if plugin == "scalars":
                return "unmapped", "scalars tensor with more than one value"
            return "unmapped", "tensor without a plugin"
        if plugin == "histograms":
            vals, shape = tensor_values(t)
            buckets = [vals[i:i + 3] for i in range(0, len(vals), 3)]
            edges = [b[0] for b in buckets] + [buckets[-1][1]] if buckets else []
            data = histogram_payload(edges=edges, counts=[b[2] for b in buckets], buckets=buckets)
            return "media", [Media(tag, step, "histogram", "json", ts, data=data)]
        if plugin == "images":
            vals, shape = tensor_values(t)
            out = []
            for i, img in enumerate(vals[2:]):
                out.append(Media(tag, step, "image", image_ext(img), ts, data=img, seq=i))
            return "media", out
        if plugin == "audio":
            vals, shape = tensor_values(t)
            out = []
            pairs = [vals[i:i + 2] for i in range(0, len(vals), 2)] if len(shape) == 2 and shape[1] == 2 \
                else [[x, b""] for x in vals]
            for i, (wav, label) in enumerate(pairs):
                caption = label.decode("utf-8", "replace") if label else None
                out.append(Media(tag, step, "audio", audio_ext(wav), ts, data=wav, caption=caption, seq=i))
            return "media", out
        if plugin == "text":
            vals, shape = tensor_values(t)
            texts = [x.decode("utf-8", "replace") for x in vals]
            if len(texts) == 1:
                return "media", [Media(tag, step, "text", "txt", ts, data=texts[0].encode())]
            if len(shape) == 2:
                rows = [texts[i:i + shape[1]] for i in range(0, len(texts), shape[1])]
                columns = [f"c{i}" for i in range(shape[1])]
            else:
                rows = [[x] for x in texts]
                columns = ["text"]
            body = json.dumps({"columns": columns, "data": rows}, ensure_ascii=False).encode()
            return "media", [Media(tag, step, "table", "json", ts, data=body)]
        if plugin == "pr_curves":
            vals, shape = tensor_values(t)
            if len(shape) != 2 or shape[0] != 6:
                return "unmapped", "pr_curves tensor of unexpected shape"
            n = shape[1]
            rows = [vals[r * n:(r + 1) * n] for r in range(6)]
            thresholds = [i / (n - 1) if n > 1 else 0.0 for i in range(n)]
            columns = ["threshold", "tp", "fp", "tn", "fn", "precision", "recall"]
            data = [[thresholds[i]] + [rows[r][i] for r in range(6)] for i in range(n)]
            body = json.dumps({"columns": columns, "data": data, "type": "pr_curve"}, allow_nan=True).encode()
            return "media", [Media(tag, step, "table", "json", ts, data=body)]
        return "unmapped", f"plugin '{plugin}'"
