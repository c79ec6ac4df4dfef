"""A streaming reader of the LevelDB log framing that W&B (`.wandb`) and SwanLab (`.swanlab`)
write, with CRC checks and resynchronisation after damage.

The file starts with a 7-byte header (4-byte ident, uint16 LE magic, uint8 version), then 32 KiB
blocks. Each chunk has a 7-byte header: uint32 LE CRC, uint16 LE length, uint8 type (1 FULL,
2 FIRST, 3 MIDDLE, 4 LAST). A record that does not fit the rest of a block is split into
FIRST/MIDDLE.../LAST chunks; a block tail shorter than 7 bytes is zero padding. The CRC is zlib's
CRC32 of the data seeded with the CRC32 of the type byte (both writers; not LevelDB's CRC32C).

On a bad chunk the reader loses as little as it can: it goes on at the next position where a
whole chunk with a valid CRC starts inside the block structure. When the damage is in the
chunk's CRC or data, that is the chunk right after it, so only the damaged chunk is skipped;
when the length itself was hit, the search still lands on the next intact chunk instead of
trusting a wrong length (which could jump over intact chunks). Continuation chunks whose FIRST
was lost are dropped; everything skipped is reported. An incomplete chunk at the end of the
file is reported as an incomplete tail."""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from dataclasses import dataclass, field

BLOCK = 32768
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_TYPE_CRC = [zlib.crc32(bytes([t])) & 0xFFFFFFFF for t in range(5)]
_CHUNK = struct.Struct("<IHB")
_FILE_HEADER = struct.Struct("<4sHB")


class NotThisFormat(ValueError):
    """The file does not start with the expected header."""


@dataclass
class LogReport:
    path: str
    size: int = 0
    version: int | None = None
    records: int = 0
    damaged: list[tuple[int, int]] = field(default_factory=list)  # (offset, bytes skipped)
    orphans: int = 0  # continuation chunks whose start was lost
    tail_bytes: int = 0

    @property
    def skipped_bytes(self) -> int:
        return sum(n for _, n in self.damaged)

    def problems(self) -> list[str]:
        out = [f"damaged data at byte {o}: {n} byte(s) skipped" for o, n in self.damaged]
        if self.orphans:
            out.append(f"{self.orphans} record fragment(s) whose start was damaged, dropped")
        if self.tail_bytes:
            out.append(f"incomplete last record ({self.tail_bytes} byte(s)): file cut off or still being written")
        return out


def read_header(path: str | os.PathLike, ident: bytes, magic: int) -> int:
    """The format version in the file header; `NotThisFormat` if the header is not ours."""
    with open(path, "rb") as f:
        head = f.read(_FILE_HEADER.size)
    if len(head) < _FILE_HEADER.size:
        raise NotThisFormat(f"{os.fspath(path)}: too short for a {ident.decode(errors='replace')} log ({len(head)} bytes)")
    got_ident, got_magic, version = _FILE_HEADER.unpack(head)
    if got_ident != ident or got_magic != magic:
        raise NotThisFormat(f"{os.fspath(path)}: not a {ident.decode(errors='replace')} log (header {head!r})")
    return version


def iter_records(path: str | os.PathLike, ident: bytes, magic: int, report: LogReport | None = None):
    """Yield the payload of every intact record, in order."""
    path = os.fspath(path)
    report = report if report is not None else LogReport(path)
    report.version = read_header(path, ident, magic)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    report.size = size
    try:
        yield from _scan(data, report)
    finally:
        try:
            data.close()
        except BufferError:
            pass


def _resync(data, pos: int, end: int) -> int | None:
    """The first position after `pos` where an intact chunk starts, or None if there is none.
    A CRC is computed only where the type byte and the length already fit, which a random
    position rarely passes, so the search costs little more than a pass over the bytes."""
    unpack = _CHUNK.unpack_from
    for candidate in range(pos + 1, end - CHUNK_HEADER + 1):
        room = BLOCK - candidate % BLOCK
        if room < CHUNK_HEADER:
            continue
        crc, length, kind = unpack(data, candidate)
        if not FULL <= kind <= LAST or length > room - CHUNK_HEADER or candidate + CHUNK_HEADER + length > end:
            continue
        start = candidate + CHUNK_HEADER
        if zlib.crc32(data[start:start + length], _TYPE_CRC[kind]) & 0xFFFFFFFF == crc:
            return candidate
    return None


def _scan(data: bytes, report: LogReport):
    end = len(data)
    pos = _FILE_HEADER.size
    parts: list[bytes] | None = None  # chunks of a record being assembled
    orphaned = False  # the fragments now met belong to a record already counted as lost
    crc32 = zlib.crc32
    unpack = _CHUNK.unpack_from
    type_crc = _TYPE_CRC
    while pos < end:
        room = BLOCK - pos % BLOCK
        if room < CHUNK_HEADER:  # block padding
            pos += room
            continue
        if pos + CHUNK_HEADER > end:
            report.tail_bytes = end - pos if parts is None else end - pos + sum(len(p) for p in parts)
            return
        crc, length, kind = unpack(data, pos)
        start = pos + CHUNK_HEADER
        stop = start + length
        if length == 0 and kind == 0 and crc == 0:
            # Zeros: a writer's preallocated/padded space. Move to the next block.
            nxt = pos + room
            if any(data[pos:min(nxt, end)]):
                nxt = _resync(data, pos, min(nxt, end)) or min(nxt, end)
                report.damaged.append((pos, nxt - pos))
            pos = nxt
            parts = None
            continue
        plausible = FULL <= kind <= LAST and length <= room - CHUNK_HEADER
        if stop > end:
            nxt = _resync(data, pos, end)
            if nxt is None:
                if plausible:
                    report.tail_bytes = end - pos + (sum(len(p) for p in parts) if parts else 0)
                else:
                    report.damaged.append((pos, end - pos))
                return
        elif plausible and crc32(data[start:stop], type_crc[kind]) & 0xFFFFFFFF == crc:
            nxt = None
        else:
            nxt = _resync(data, pos, end)
            if nxt is None:
                nxt = end
        if nxt is not None:
            report.damaged.append((pos, nxt - pos))
            if parts is not None:
                report.orphans += 1  # the record being assembled is lost
                orphaned = True
            parts = None
            pos = nxt
            continue
        pos = stop
        if kind == FULL or kind == FIRST:
            if parts is not None:
                report.orphans += 1  # a record that never got its LAST chunk
            orphaned = False
            if kind == FULL:
                parts = None
                report.records += 1
                yield data[start:stop]
            else:
                parts = [data[start:stop]]
        elif parts is None:  # MIDDLE or LAST of a record whose start was lost
            if not orphaned:
                report.orphans += 1
                orphaned = True
            if kind == LAST:
                orphaned = False
        elif kind == MIDDLE:
            parts.append(data[start:stop])
        else:  # LAST
            parts.append(data[start:stop])
            report.records += 1
            yield b"".join(parts)
            parts = None
    if parts is not None:
        report.tail_bytes = sum(len(p) for p in parts)
