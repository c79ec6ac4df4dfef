"""`swan_client.init / log / finish`: a run of the Swan SDK.

    import swan_client
    run = swan_client.init(project="mnist", name="baseline", config={"lr": 0.01}, tags=["cnn"])
    for step in range(100):
        run.log({"loss": 1 / (step + 1), "sample": swan_client.Image(array)}, step=step)
    run.log_artifact("model.pt")
    run.finish()

`log` costs a few microseconds: it appends to a buffer that a writer thread seals into the run
folder and an uploader thread sends (see `sender`). A bad value is never raised into the
training loop: it is converted (bool → 0/1, numpy scalars and 0-d tensors → float, nested dicts
→ `a/b` keys, invalid characters in a key → `_`) or dropped with one warning per key and reason.
"""

from __future__ import annotations

import atexit
import logging
import os
import posixpath
import re
import shutil
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from swan_client.api import Client, SwanApiError
from swan_client.console import ConsoleCapture
from swan_client.media import Media, media_path
from swan_client.monitor import HardwareMonitor
from swan_client.offline import ARTIFACT, FINISH, RECORDS_FILE, RUN, RecordWriter, write_run_file
from swan_client.sender import Buffer, Halted, Uploader, Writer, dumps

logger = logging.getLogger("swan_client")

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_RUN_NAME = 250
SAFE_INT = 2**53
_KEY_OK = re.compile(r"^[/\w.\- :]*$")
_KEY_BAD_CHARS = re.compile(r"[^/\w.\- :]")
MODES = ("online", "offline", "disabled")


def clean_key(key) -> str | None:
    """A key valid on the server (MLflow's rule), or None when nothing sensible is left."""
    if not isinstance(key, str):
        key = str(key)
    if _KEY_OK.match(key) and len(key) <= MAX_KEY_LENGTH:
        norm = posixpath.normpath(key) if key else key
        if key and norm == key and norm != "." and not norm.startswith("..") and not norm.startswith("/"):
            return key
    fixed = _KEY_BAD_CHARS.sub("_", key)
    parts = [p for p in fixed.split("/") if p not in ("", ".")]
    parts = ["_" if p == ".." else p for p in parts]
    fixed = "/".join(parts)[:MAX_KEY_LENGTH].rstrip("/")
    return fixed or None


def flatten(data: dict, prefix: str = "", sep: str = "/") -> dict:
    out = {}
    for k, v in data.items():
        key = f"{prefix}{sep}{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flatten(v, key, sep))
        else:
            out[key] = v
    return out


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class FinishResult:
    """What `finish()` left behind: everything uploaded, or what is still in the run folder."""

    folder: Path
    mode: str
    uploaded: bool
    pending_records: int = 0
    pending_points: int = 0
    problem: str | None = None

    def __str__(self) -> str:
        if self.mode == "offline":
            return f"offline run saved in {self.folder}; upload it with: swan sync {self.folder}"
        if self.uploaded:
            return f"run uploaded ({self.folder})"
        why = f" ({self.problem})" if self.problem else ""
        return (f"{self.pending_records} record(s) with {self.pending_points:,} metric point(s) are not uploaded "
                f"yet{why}; they are kept in {self.folder}. Upload them with: swan sync {self.folder}")


class Run:
    def __init__(self, project: str | None = None, name: str | None = None, config: dict | None = None,
                 tags=None, mode: str | None = None, tracking_uri: str | None = None, api_key: str | None = None,
                 resume=None, id: str | None = None, dir: str | os.PathLike | None = None,
                 description: str | None = None, monitor: bool = True, monitor_interval: float = 10.0,
                 capture_console: bool = True, flush_interval: float = 1.0, batch_points: int = 100_000,
                 finish_timeout: float = 60.0, nvml=None, client: Client | None = None):
        mode = (mode or os.environ.get("SWAN_MODE") or "online").lower()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.project = project or os.environ.get("SWAN_PROJECT") or "Default"
        self.run_id = id or uuid.uuid4().hex
        if not re.fullmatch(r"[0-9a-f]{32}", self.run_id):
            raise ValueError(f"id must be 32 lowercase hexadecimal digits, got {self.run_id!r}")
        self.session = uuid.uuid4().hex
        self.name = (name or f"run-{self.run_id[:8]}")[:MAX_RUN_NAME]
        self.finish_timeout = float(os.environ.get("SWAN_FINISH_TIMEOUT") or finish_timeout)
        self.batch_points = max(1, min(int(batch_points), 100_000))
        self._hard_cap = self.batch_points * 4
        self._lock = threading.RLock()
        self._seal_lock = threading.Lock()
        self._buf = Buffer()
        self._scalar_keys: set[str] = set()
        self._kinds: dict[str, str] = {}
        self._key_map: dict = {}
        self._params: dict[str, str] = {}
        self._warned: set = set()
        self._step = 0
        self._line = 0
        self._media_seq: dict[tuple[str, int], int] = {}
        self._finished: FinishResult | None = None
        self._status: str | None = None
        self.start_time = _now_ms()
        base = Path(dir or os.environ.get("SWAN_DIR") or "swanruns")
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.start_time / 1000))
        self.folder = base / f"{stamp}-{self.run_id[:8]}-{self.session[:6]}"
        if mode == "disabled":
            self.records = None
            self.uploader = None
            self.writer = None
            self.monitor = None
            self.console = None
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        write_run_file(self.folder, {"format": 1, "run_id": self.run_id, "session": self.session,
                                     "project": self.project, "name": self.name, "mode": mode,
                                     "start_time": self.start_time})
        self.records = RecordWriter(self.folder / RECORDS_FILE)
        self.client = None
        self.uploader: Uploader | None = None
        resumed = resume not in (None, False, "never")
        if resume not in (None, False, True, "never", "allow", "must"):
            raise ValueError("resume must be None, 'never', 'allow', 'must' or True")
        run_record = {"project": self.project, "run_id": self.run_id, "name": self.name,
                      "start_time": self.start_time, "exist_ok": True}
        if resumed and id is None:
            raise ValueError("resume needs the id of the run to resume")
        if mode == "online":
            self.client = client or Client(tracking_uri, api_key, timeout=120.0, retries=0)
            self.uploader = Uploader(self.folder, self.client, self.records, self.session)
            if resumed:
                self._resume_counters(resume == "must")
        self.records.append(RUN, dumps(run_record))
        if self.uploader is not None:
            try:
                self.uploader.step(timeout=10.0)
            except Halted as exc:
                self._close_files()
                raise SwanApiError(None, "RUN_REFUSED", f"{exc} at {self.client.tracking_uri}") from None
            except SwanApiError as exc:
                logger.warning("swan: cannot reach %s (%s); logging goes on into %s and is uploaded when the "
                            "server is back", self.client.tracking_uri, exc.message[:200], self.folder)
            self.uploader.start()
        self.writer = Writer(self._seal, flush_interval, self._on_written).start()
        first: dict = {}
        if config:
            self.log_params(config)
        if tags:
            self.set_tags(tags)
        if description:
            first["mlflow.note.content"] = str(description)[:MAX_TAG_VALUE]
            self.set_tags(first)
        self.console = ConsoleCapture(self._console_line).start() if capture_console else None
        interval = float(os.environ.get("SWAN_MONITOR_INTERVAL") or monitor_interval)
        self.monitor = HardwareMonitor(self._log_system, interval, nvml=nvml).start() if monitor else None

    # -- resume ----------------------------------------------------------------------------------
    def _resume_counters(self, must: bool) -> None:
        try:
            run = self.client.get_run(self.run_id)
        except SwanApiError as exc:
            if exc.status == 404 and not must:
                return
            self._close_files()
            raise SwanApiError(exc.status, exc.code, f"cannot resume run {self.run_id}: {exc.message}") from None
        steps = [m["step"] for k, m in run["metrics"].items() if not k.startswith("system/")]
        self._step = max(steps) + 1 if steps else 0
        self._params = dict(run["params"])
        try:
            self._line = int(self.client.get_console(self.run_id, max_lines=1).get("last_line") or 0)
        except SwanApiError:
            pass

    # -- logging -----------------------------------------------------------------------------------
    def log(self, data: dict, step: int | None = None) -> None:
        """Log scalars and media at `step` (default: one past the largest step so far)."""
        if self._finished is not None or self.mode == "disabled":
            if self._finished is not None:
                self._warn_once(("finished",), "log() after finish() is ignored")
            return
        if type(data) is not dict:
            if not isinstance(data, dict):
                self._warn_once(("type", type(data).__name__), f"log() takes a dict, got {type(data).__name__}; ignored")
                return
        if step is None:
            step = self._step
        elif type(step) is not int or step < 0:
            step = self._check_step(step)
        if step >= self._step:
            self._step = step + 1
        ts = time.time_ns() // 1_000_000
        known = self._scalar_keys
        slow = None
        with self._lock:
            buf = self._buf
            K, S, T, V = buf.keys, buf.steps, buf.stamps, buf.values
            for k, v in data.items():
                t = type(v)
                if k in known and (t is float or (t is int and -SAFE_INT <= v <= SAFE_INT)):
                    K.append(k)
                    S.append(step)
                    T.append(ts)
                    V.append(v)
                else:
                    if slow is None:
                        slow = []
                    slow.append((k, v))
            n = len(K)
        if slow:
            try:
                self._log_slow(slow, step, ts)
            except Exception as exc:  # never into the training loop
                self._warn_once(("bug", type(exc).__name__), f"could not log {[k for k, _ in slow][:5]}: {exc!r}")
            n = len(self._buf.keys)
        if n >= self.batch_points:
            self.writer.wake.set()
            if n >= self._hard_cap:  # the writer is behind: seal here, memory stays bounded
                self._seal()

    def _check_step(self, step) -> int:
        try:
            if isinstance(step, bool):
                raise TypeError
            value = int(step.item() if hasattr(step, "item") else step)
            if value != step or value < 0 or value >= 2**63:
                raise ValueError
            return value
        except (TypeError, ValueError, OverflowError):
            self._warn_once(("step", repr(step)[:40]), f"step must be a non-negative integer, got {step!r}; "
                                                       f"using {self._step}")
            return self._step

    def _warn_once(self, token: tuple, message: str) -> None:
        if token in self._warned:
            return
        self._warned.add(token)
        logger.warning("swan: %s", message)

    def _key(self, key) -> str | None:
        found = self._key_map.get(key, False) if isinstance(key, (str, int, float)) else False
        if found is not False:
            return found
        cleaned = clean_key(key)
        if cleaned is None:
            self._warn_once(("key", repr(key)[:60]), f"key {key!r} has no usable characters; its values are dropped")
        elif cleaned != key:
            self._warn_once(("key", key), f"key {key!r} is not a valid name (letters, digits, _ - . space : /); "
                                          f"logged as {cleaned!r}")
        if isinstance(key, (str, int, float)):
            self._key_map[key] = cleaned
        return cleaned

    def _kind_ok(self, key: str, kind: str) -> bool:
        old = self._kinds.setdefault(key, kind)
        if old != kind:
            self._warn_once(("kind", key, kind), f"key '{key}' was logged as {old} and now gets {kind}; "
                                                 f"such values are dropped (use another key)")
            return False
        return True

    def _log_slow(self, items: list, step: int, ts: int) -> None:
        for raw_key, value in items:
            if isinstance(value, dict):
                nested = flatten(value, str(raw_key))
                self._log_slow(list(nested.items()), step, ts)
                continue
            key = self._key(raw_key)
            if key is None:
                continue
            if isinstance(value, Media):
                self._log_media(key, [value], step, ts)
                continue
            if isinstance(value, (list, tuple)) and value and all(isinstance(m, Media) for m in value):
                self._log_media(key, list(value), step, ts)
                continue
            number = self._number(key, value)
            if number is None or not self._kind_ok(key, "scalar"):
                continue
            with self._lock:
                buf = self._buf
                buf.keys.append(key)
                buf.steps.append(step)
                buf.stamps.append(ts)
                buf.values.append(number)
            if key == raw_key:
                self._scalar_keys.add(key)

    def _number(self, key: str, value) -> float | None:
        t = type(value)
        try:
            if t is float:
                return value
            if t is bool:
                return 1.0 if value else 0.0
            if t is int:
                return float(value)
            if value is None:
                self._warn_once(("none", key), f"'{key}': None is not a number; dropped")
                return None
            if isinstance(value, (str, bytes)):
                self._warn_once(("str", key), f"'{key}': a {t.__name__} is not a number; dropped "
                                              f"(log text with swan_client.Text)")
                return None
            if hasattr(value, "item") and callable(value.item):  # numpy scalars, 0-d arrays, 1-element tensors
                return self._number(key, value.item())
            return float(value)  # anything with __float__ (Decimal, Fraction, ...)
        except OverflowError:
            self._warn_once(("big", key), f"'{key}': {str(value)[:40]} is beyond the range of a float; dropped")
        except (TypeError, ValueError, RuntimeError):
            self._warn_once(("type", key, t.__name__), f"'{key}': a value of type {t.__name__} is not a number "
                                                       f"or a media object; dropped")
        return None

    def _log_media(self, key: str, items: list[Media], step: int, ts: int) -> None:
        kind = items[0].kind
        if not self._kind_ok(key, kind):
            return
        for media in items:
            if media.kind != kind:
                self._warn_once(("mixed", key), f"'{key}': a list of media must have one kind; dropped")
                return
        for media in items:
            try:
                data = media.encode()
            except Exception as exc:
                self._warn_once(("media", key), f"'{key}': could not encode {type(media).__name__}: {exc}")
                continue
            with self._lock:
                seq = self._media_seq.get((key, step), 0)
                self._media_seq[(key, step)] = seq + 1
            path = media_path(kind, key, step, seq, media.ext, data)
            target = self.folder / path
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            except OSError as exc:
                self._warn_once(("disk", key), f"'{key}': could not write {target}: {exc}")
                continue
            item = {"key": key, "step": step, "seq": seq, "kind": kind, "path": path, "timestamp": ts}
            if media.caption:
                item["caption"] = media.caption[:20_000]
            with self._lock:
                self._buf.media.append(item)

    def log_params(self, params: dict) -> None:
        """Params (config): nested keys joined with '.', values stored as str(value). A param is
        immutable: another value for a logged key is dropped with a warning."""
        if self._finished is not None or self.mode == "disabled" or not params:
            return
        if not isinstance(params, dict):
            try:
                params = dict(vars(params)) if not hasattr(params, "items") else dict(params.items())
            except TypeError:
                self._warn_once(("params",), f"config must be a dict, got {type(params).__name__}; ignored")
                return
        for raw, value in flatten(params, sep=".").items():
            key = self._key(raw)
            if key is None:
                continue
            text = value if isinstance(value, str) else str(value)
            if len(text) > MAX_PARAM_VALUE:
                self._warn_once(("plong", key), f"param '{key}' is longer than {MAX_PARAM_VALUE} characters; cut")
                text = text[:MAX_PARAM_VALUE]
            old = self._params.get(key)
            if old is not None and old != text:
                self._warn_once(("pchange", key), f"param '{key}' is already {old[:60]!r}; params cannot change, "
                                                  f"the new value {text[:60]!r} is dropped")
                continue
            self._params[key] = text
            with self._lock:
                self._buf.params[key] = text

    @property
    def config(self) -> dict:
        return dict(self._params)

    def set_tags(self, tags) -> None:
        """Tags: a dict, or a list of labels (each becomes a tag with an empty value)."""
        if self._finished is not None or self.mode == "disabled" or not tags:
            return
        if isinstance(tags, str):
            tags = [tags]
        if isinstance(tags, (list, tuple, set)):
            tags = {str(t): "" for t in tags}
        if not isinstance(tags, dict):
            self._warn_once(("tags",), f"tags must be a dict or a list, got {type(tags).__name__}; ignored")
            return
        for raw, value in tags.items():
            key = self._key(raw)
            if key is None:
                continue
            text = value if isinstance(value, str) else str(value)
            if len(text) > MAX_TAG_VALUE:
                self._warn_once(("tlong", key), f"tag '{key}' is longer than {MAX_TAG_VALUE} characters; cut")
                text = text[:MAX_TAG_VALUE]
            with self._lock:
                self._buf.tags[key] = text

    def log_artifact(self, path: str | os.PathLike, name: str | None = None) -> None:
        """Upload a file or a folder under the run's artifacts (as `name`, default its file name).
        The file is copied into the run folder first, so later changes to it do not matter."""
        if self._finished is not None or self.mode == "disabled":
            return
        src = Path(path)
        if not src.exists():
            self._warn_once(("artifact", str(src)), f"log_artifact: {src} does not exist; ignored")
            return
        files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        base = name or src.name
        token = uuid.uuid4().hex[:8]
        for f in files:
            rel = base if f == src else f"{base}/{f.relative_to(src).as_posix()}"
            local = Path("files") / token / rel
            target = self.folder / local
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(f, target)
            except OSError:
                shutil.copy2(f, target)
            self._seal()  # what was logged before the artifact is written before it
            self.records.append(ARTIFACT, dumps({"local": local.as_posix(), "path": rel}))
        self._on_written()

    # -- console and hardware ----------------------------------------------------------------------
    def _console_line(self, level: str, message: str) -> None:
        with self._lock:
            self._line += 1
            buf = self._buf
            buf.lines.append(self._line)
            buf.levels.append(level)
            buf.messages.append(message)
            buf.line_stamps.append(_now_ms())

    def _log_system(self, values: dict, tick: int) -> None:
        ts = _now_ms()
        with self._lock:
            buf = self._buf
            for k, v in values.items():
                buf.keys.append(k)
                buf.steps.append(tick)
                buf.stamps.append(ts)
                buf.values.append(float(v))

    # -- sealing ------------------------------------------------------------------------------------
    def _seal(self) -> int:
        """Turn the buffer into records on disk; returns how many were written. The training
        thread waits only for the swap, not for the encoding and the write."""
        with self._seal_lock:
            with self._lock:
                if self._buf.empty():
                    return 0
                buf, self._buf = self._buf, Buffer()
            written = 0
            for payload, _ in buf.payloads():
                self.records.append(b"B", payload)
                written += 1
        return written

    def _on_written(self) -> None:
        if self.uploader is not None:
            self.uploader.notify()

    # -- the end ------------------------------------------------------------------------------------
    def finish(self, status: str = "FINISHED", timeout: float | None = None) -> FinishResult:
        """Flush everything, mark the run `status`, and wait up to `timeout` seconds (default
        `finish_timeout`, env SWAN_FINISH_TIMEOUT) for the upload. Whatever is not uploaded by
        then stays in the run folder, and the result (also printed) says so."""
        if self._finished is not None:
            return self._finished
        if self.mode == "disabled":
            self._finished = FinishResult(self.folder, self.mode, True)
            return self._finished
        if status not in ("FINISHED", "FAILED", "KILLED"):
            status = "FINISHED"
        if self.monitor is not None:
            self.monitor.stop()
        if self.console is not None:
            self.console.stop()
        self.writer.stop()
        self._seal()
        self.records.append(FINISH, dumps({"status": status, "end_time": _now_ms()}))
        self.records.sync()
        timeout = self.finish_timeout if timeout is None else timeout
        if self.uploader is None:
            result = FinishResult(self.folder, self.mode, False)
            logger.warning("swan: %s", result)
        else:
            done = self.uploader.finish(timeout)
            records, points = self.uploader.pending()
            result = FinishResult(self.folder, self.mode, done, records, points, self.uploader.halted or (
                None if done else (self.uploader.last_error.message[:200] if self.uploader.last_error else "timed out")))
            if not done:
                logger.warning("swan: %s", result)
            elif self.uploader.refused:
                result.problem = f"{len(self.uploader.refused)} record(s) refused by the server"
        self._finished = result
        self._close_files()
        _forget(self)
        return result

    def _close_files(self) -> None:
        if self.records is not None:
            self.records.close()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        status = "FINISHED" if exc_type is None else ("KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED")
        self.finish(status)

    def __repr__(self) -> str:
        return f"<swan_client.Run {self.run_id} {self.project}/{self.name} ({self.mode})>"


# -- module level, as in SwanLab -----------------------------------------------------------------------
_current: Run | None = None
_hooks_installed = False
_crashed = False


def init(project: str | None = None, name: str | None = None, config: dict | None = None, tags=None,
         mode: str | None = None, tracking_uri: str | None = None, api_key: str | None = None, resume=None,
         **kwargs) -> Run:
    """Start a run (and make it the one `swan_client.log` and `finish` use)."""
    global _current
    if _current is not None and _current._finished is None:
        _current.finish()
    run = Run(project=project, name=name, config=config, tags=tags, mode=mode, tracking_uri=tracking_uri,
              api_key=api_key, resume=resume, **kwargs)
    _current = run
    _install_hooks()
    return run


def log(data: dict, step: int | None = None) -> None:
    if _current is None:
        logger.warning("swan: log() before init(); ignored")
        return
    _current.log(data, step=step)


def finish(status: str = "FINISHED", timeout: float | None = None) -> FinishResult | None:
    if _current is None:
        return None
    return _current.finish(status, timeout)


def current_run() -> Run | None:
    return _current


def _forget(run: Run) -> None:
    global _current
    if _current is run:
        _current = None


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):
        global _crashed
        _crashed = True
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    atexit.register(_at_exit)


def _at_exit() -> None:
    if _current is not None and _current._finished is None:
        _current.finish("FAILED" if _crashed else "FINISHED")
