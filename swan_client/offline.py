"""The run folder: an append-only record file with a CRC32 per record, plus the files it names.

Every run, online or offline, writes one folder:

    <dir>/run.json        what the run is (id, session, project, name): written once at start
    <dir>/records.swan    records, appended and never rewritten
    <dir>/acked           how many records the server has acknowledged (online runs, `swan sync`)
    <dir>/media/...       encoded media (images, audio, text, tables) that batches index
    <dir>/files/...       copies of logged artifacts

A record on disk is a 13-byte header, then its payload:

    b"SWR1" | type (1 byte) | payload length (uint32 LE) | CRC32 of the payload (uint32 LE)

Types: `R` run (create or resume), `B` batch (the body of `POST /api/v1/runs/{id}/batches`
without its idempotency key), `A` artifact, `F` finish. Payloads are JSON. A torn record at the
end (the process died while writing it) or a record whose CRC does not match is skipped, and
reading resumes at the next intact header. Record `i` of a folder is sent with the idempotency
key `<session>:<i>`, so sending a folder again, in part or whole, changes nothing on the server.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import orjson

MAGIC = b"SWR1"
HEADER = struct.Struct("<4scII")
RUN, BATCH, ARTIFACT, FINISH = b"R", b"B", b"A", b"F"
TYPES = (RUN, BATCH, ARTIFACT, FINISH)
RECORDS_FILE = "records.swan"
RUN_FILE = "run.json"
ACKED_FILE = "acked"
MAX_RECORD = 1 << 31


def encode_record(rtype: bytes, payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, rtype, len(payload), zlib.crc32(payload)) + payload


@dataclass
class Record:
    index: int  # position among the intact records of the file
    rtype: bytes
    offset: int
    payload: bytes

    def json(self) -> dict:
        return orjson.loads(self.payload)


@dataclass
class ReadReport:
    records: int = 0
    skipped_bytes: int = 0
    problems: list[str] = field(default_factory=list)


def read_records(path: Path, report: ReadReport | None = None) -> Iterator[Record]:
    """The intact records of a record file, in order; damage is noted in `report`."""
    report = report if report is not None else ReadReport()
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return
    pos, index, end = 0, 0, len(data)
    while pos < end:
        if end - pos < HEADER.size:
            report.skipped_bytes += end - pos
            report.problems.append(f"torn record header at byte {pos} (end of file)")
            return
        magic, rtype, length, crc = HEADER.unpack_from(data, pos)
        body_start = pos + HEADER.size
        if magic == MAGIC and rtype in TYPES and body_start + length <= end:
            payload = data[body_start:body_start + length]
            if zlib.crc32(payload) == crc:
                yield Record(index, rtype, pos, payload)
                report.records += 1
                index += 1
                pos = body_start + length
                continue
            report.problems.append(f"checksum mismatch in the record at byte {pos}")
        elif magic == MAGIC and body_start + length > end:
            report.problems.append(f"torn record at byte {pos} (end of file)")
        else:
            report.problems.append(f"no record header at byte {pos}")
        nxt = data.find(MAGIC, pos + 1)
        nxt = end if nxt < 0 else nxt
        report.skipped_bytes += nxt - pos
        pos = nxt


class RecordWriter:
    """Appends records with one `write` each (O_APPEND), and remembers where each one starts,
    so a reader in another thread can fetch record `i` once it is published."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()
        self.offsets: list[tuple[int, int, bytes]] = []  # (offset, length, type) of each record
        self._size = os.fstat(self._fd).st_size
        if self._size:
            for rec in read_records(self.path):
                self.offsets.append((rec.offset, len(rec.payload), rec.rtype))

    def append(self, rtype: bytes, payload: bytes) -> int:
        data = encode_record(rtype, payload)
        with self._lock:
            offset = self._size
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            self._size += len(data)
            self.offsets.append((offset, len(payload), rtype))
            return len(self.offsets) - 1

    def __len__(self) -> int:
        return len(self.offsets)

    def read(self, index: int) -> tuple[bytes, bytes]:
        """(type, payload) of record `index`, read back from the file."""
        offset, length, rtype = self.offsets[index]
        with open(self.path, "rb") as f:
            f.seek(offset + HEADER.size)
            payload = f.read(length)
        return rtype, payload

    def sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError:
            pass

    def close(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass


def read_acked(folder: Path) -> int:
    try:
        return int((Path(folder) / ACKED_FILE).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def write_acked(folder: Path, count: int) -> None:
    tmp = Path(folder) / (ACKED_FILE + ".tmp")
    tmp.write_text(str(count))
    os.replace(tmp, Path(folder) / ACKED_FILE)


def read_run_file(folder: Path) -> dict:
    return orjson.loads((Path(folder) / RUN_FILE).read_bytes())


def write_run_file(folder: Path, info: dict) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (RUN_FILE + ".tmp")
    tmp.write_bytes(orjson.dumps(info, option=orjson.OPT_INDENT_2))
    os.replace(tmp, folder / RUN_FILE)


def is_run_folder(path: Path) -> bool:
    return (Path(path) / RUN_FILE).is_file() and (Path(path) / RECORDS_FILE).exists()


def find_run_folders(path: Path) -> list[Path]:
    """`path` itself when it is a run folder, else the run folders below it (sorted)."""
    path = Path(path)
    if is_run_folder(path):
        return [path]
    if not path.is_dir():
        return []
    return sorted(p.parent for p in path.rglob(RUN_FILE) if is_run_folder(p.parent))


# -- swan sync ------------------------------------------------------------------------------------
@dataclass
class SyncResult:
    folder: Path
    run_id: str | None
    records: int
    sent: int
    skipped_bytes: int
    problems: list[str]
    refused: list[str]


def sync_folder(folder: Path, client, resend: bool = False, attempts: int = 8, progress=None) -> SyncResult:
    """Upload a run folder's records that the server has not acknowledged (all of them with
    `resend`). Safe to repeat: each record carries its idempotency key, so nothing is written
    twice. Network errors, 5xx and 429 are retried `attempts` times with backoff (at least what a
    Retry-After header asks), then raised."""
    import time as _time

    from swan_client.api import SwanApiError, backoff_delay
    from swan_client.sender import Halted, Uploader

    folder = Path(folder)
    info = read_run_file(folder)
    report = ReadReport()
    records = RecordWriter.__new__(RecordWriter)  # read-only view: no file descriptor
    records.path = folder / RECORDS_FILE
    records.offsets = [(r.offset, len(r.payload), r.rtype) for r in read_records(records.path, report)]
    records._lock = threading.Lock()
    up = Uploader(folder, client, records, info["session"])
    if resend:
        up.acked = 0
    up.acked = min(up.acked, len(records))
    start = up.acked

    def retrying(fn):
        for attempt in range(attempts + 1):
            try:
                return fn()
            except SwanApiError as exc:
                if not exc.transient or attempt == attempts:
                    raise
                _time.sleep(max(backoff_delay(attempt, base=0.5, cap=10.0), exc.retry_after or 0.0))

    try:
        if len(records) and up.acked > 0:
            retrying(up.ensure_run)
        while up.acked < len(records):
            retrying(up.step)
            if progress is not None:
                progress(up.acked, len(records))
    except Halted as exc:
        raise SwanApiError(None, "SYNC_STOPPED", str(exc)) from None
    return SyncResult(folder, up.run_id or info.get("run_id"), len(records), up.acked - start,
                      report.skipped_bytes, report.problems, up.refused)
