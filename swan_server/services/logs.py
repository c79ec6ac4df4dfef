"""Console log lines of a run, and their rendering as a text artifact."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator

from swan_server.artifacts import ArtifactStore
from swan_server.artifacts.paths import join
from swan_server.errors import invalid
from swan_server.records import LOG_LEVELS, LogLine

CONSOLE_ARTIFACT = "logs/console.log"
MAX_MESSAGE_LENGTH = 100_000
READ_PAGE = 10_000


class _LinesReader:
    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buf = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            nxt = next(self._chunks, None)
            if nxt is None:
                break
            self._buf += nxt
        if size < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out


class LogService:
    def __init__(self, store, artifacts: ArtifactStore):
        self.store = store
        self.artifacts = artifacts

    def append(self, run_id: str, lines: list[LogLine]) -> int:
        self.check(lines)
        return self.store.add_log_lines(run_id, lines)

    @staticmethod
    def check(lines: list[LogLine]) -> None:
        """Validate lines in place (messages trimmed, unknown levels become INFO)."""
        for ln in lines:
            if isinstance(ln.line, bool) or not isinstance(ln.line, int) or not 0 <= ln.line < 2**63:
                raise invalid(f"Invalid log line number {ln.line!r}")
            if not isinstance(ln.message, str):
                raise invalid(f"Invalid log message {ln.message!r}")
            ln.message = ln.message[:MAX_MESSAGE_LENGTH]
            level = ln.level.upper() if isinstance(ln.level, str) else "INFO"
            ln.level = level if level in LOG_LEVELS else "INFO"

    def read(self, run_id: str, start_line: int | None = None, max_lines: int | None = None) -> list[LogLine]:
        return self.store.get_log_lines(run_id, start_line, max_lines)

    def last_line(self, run_id: str) -> int:
        return self.store.last_log_line(run_id)

    def _rendered(self, run_id: str) -> Iterator[bytes]:
        start = None
        while True:
            page = self.store.get_log_lines(run_id, start, READ_PAGE)
            for ln in page:
                ts = datetime.fromtimestamp(ln.timestamp / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
                yield f"{ts}Z {ln.level} {ln.message}\n".encode()
            if len(page) < READ_PAGE:
                return
            start = page[-1].line + 1

    def write_artifact(self, run_id: str, run_root: str) -> int:
        """Write every line to `<run root>/logs/console.log`; returns its size."""
        return self.artifacts.write(join(run_root, CONSOLE_ARTIFACT), _LinesReader(self._rendered(run_id)))
