"""Console capture: what the program writes to stdout and stderr, line by line, goes to the run
as console lines (stdout INFO, stderr ERROR) and still reaches the terminal unchanged."""

from __future__ import annotations

import sys
import threading
from typing import Callable

MAX_PENDING = 1 << 20  # a partial line longer than this is emitted as it is


class _Tee:
    def __init__(self, stream, level: str, emit: Callable[[str, str], None]):
        self._stream = stream
        self._level = level
        self._emit = emit
        self._partial = ""
        self._lock = threading.Lock()
        self.active = True

    def write(self, text):
        n = self._stream.write(text)
        if self.active and isinstance(text, str) and text:
            try:
                self._take(text)
            except Exception:
                pass  # capture must never break printing
        return n

    def _take(self, text: str) -> None:
        with self._lock:
            data = self._partial + text
            if "\n" not in data and "\r" not in data and len(data) < MAX_PENDING:
                self._partial = data
                return
            lines = data.replace("\r\n", "\n").split("\n")
            self._partial = lines.pop()
        for line in lines:
            if "\r" in line:  # progress bars: keep what the terminal finally shows
                line = line.rsplit("\r", 1)[-1] or line.rstrip("\r").rsplit("\r", 1)[-1]
            self._emit(self._level, line)
        if len(self._partial) >= MAX_PENDING:
            with self._lock:
                rest, self._partial = self._partial, ""
            self._emit(self._level, rest)

    def flush_partial(self) -> None:
        with self._lock:
            rest, self._partial = self._partial, ""
        if rest:
            self._emit(self._level, rest)

    def flush(self):
        return self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


class ConsoleCapture:
    def __init__(self, emit: Callable[[str, str], None]):
        self.emit = emit
        self._out: _Tee | None = None
        self._err: _Tee | None = None

    def start(self) -> "ConsoleCapture":
        self._out = _Tee(sys.stdout, "INFO", self.emit)
        self._err = _Tee(sys.stderr, "ERROR", self.emit)
        sys.stdout, sys.stderr = self._out, self._err
        return self

    def stop(self) -> None:
        for tee, name in ((self._out, "stdout"), (self._err, "stderr")):
            if tee is None:
                continue
            tee.flush_partial()
            tee.active = False
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._stream)
        self._out = self._err = None
