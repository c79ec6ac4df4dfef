"""A streaming reader of TFRecord framing (TensorBoard event files) that checks CRC32C and
resynchronises after a damaged record.

Each record is `uint64 length | uint32 masked_crc32c(length bytes) | data | uint32
masked_crc32c(data)`, little-endian, with no file header. A record whose length CRC or data CRC
does not match is damaged: the reader slides forward one byte at a time until both CRCs of a
record validate again, and reports the bytes it skipped. A record whose header validates but whose
data runs past the end of the file is an incomplete tail (a file still being written, or cut
short): it is reported as such, not as damage.

tensorboard's own readers stop at the first bad record without raising, losing everything after
it; this one loses only the damaged record."""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field

try:  # a C implementation makes the check free
    from google_crc32c import value as _crc32c
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    try:
        from crc32c import crc32c as _crc32c
    except ImportError:
        _crc32c = None

_MASK_DELTA = 0xA282EAD8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
HEADER = 12  # length + its CRC
FOOTER = 4  # the data's CRC
MAX_RECORD = 1 << 31  # a longer "length" is damage, not a record


def _py_crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE: list[int] | None = None


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli) of `data`; the C extension when installed, else a table in Python."""
    if _crc32c is not None:
        return _crc32c(data)
    global _TABLE
    if _TABLE is None:
        _TABLE = _py_crc32c_table()
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


@dataclass
class ReadReport:
    """What one file's reading met: records read, damaged regions skipped, an incomplete tail."""

    path: str
    size: int = 0
    records: int = 0
    damaged: list[tuple[int, int]] = field(default_factory=list)  # (offset, bytes skipped)
    tail_bytes: int = 0  # an incomplete last record (file still being written or cut off)

    @property
    def skipped_bytes(self) -> int:
        return sum(n for _, n in self.damaged)

    def problems(self) -> list[str]:
        out = []
        for offset, n in self.damaged:
            out.append(f"damaged data at byte {offset}: {n} byte(s) skipped")
        if self.tail_bytes:
            out.append(f"incomplete last record ({self.tail_bytes} byte(s)): file cut off or still being written")
        return out


def _valid_at(buf, pos: int, end: int) -> int:
    """The record length at `pos` if a whole record with both CRCs valid starts there, else -1."""
    if pos + HEADER + FOOTER > end:
        return -1
    head = buf[pos:pos + 8]
    if masked_crc(head) != _U32.unpack_from(buf, pos + 8)[0]:
        return -1
    length = _U64.unpack(head)[0]
    stop = pos + HEADER + length
    if length > MAX_RECORD or stop + FOOTER > end:
        return -1
    if masked_crc(buf[pos + HEADER:stop]) != _U32.unpack_from(buf, stop)[0]:
        return -1
    return length


def iter_records(path: str | os.PathLike, report: ReadReport | None = None, verify: bool = True):
    """Yield the data of every intact record of the file at `path`, in order."""
    path = os.fspath(path)
    report = report if report is not None else ReadReport(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        report.size = size
        if size == 0:
            return
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        yield from _scan(buf, size, report, verify)
    finally:
        try:
            buf.close()
        except BufferError:  # a consumer still holds a view; the map is freed with it
            pass


def _scan(buf, end: int, report: ReadReport, verify: bool):
    pos = 0
    u64 = _U64.unpack_from
    u32 = _U32.unpack_from
    crc = _crc32c if _crc32c is not None else crc32c
    delta, m32 = _MASK_DELTA, 0xFFFFFFFF
    records = 0
    try:
        while pos < end:
            if pos + HEADER > end:
                report.tail_bytes = end - pos
                return
            length = u64(buf, pos)[0]
            if verify:
                c = crc(buf[pos:pos + 8])
                ok = ((((c >> 15) | (c << 17)) + delta) & m32) == u32(buf, pos + 8)[0] and length <= MAX_RECORD
            else:
                ok = length <= MAX_RECORD
            if ok:
                stop = pos + HEADER + length
                if stop + FOOTER > end:
                    # The header is intact but the data runs past the end: an incomplete tail,
                    # unless a whole record validates further on (then it was damage).
                    nxt = _resync(buf, pos + 1, end)
                    if nxt < 0:
                        report.tail_bytes = end - pos
                        return
                    report.damaged.append((pos, nxt - pos))
                    pos = nxt
                    continue
                data = buf[pos + HEADER:stop]
                if verify:
                    c = crc(data)
                    ok = ((((c >> 15) | (c << 17)) + delta) & m32) == u32(buf, stop)[0]
                if ok:
                    records += 1
                    yield data
                    pos = stop + FOOTER
                    continue
            nxt = _resync(buf, pos + 1, end)
            if nxt < 0:
                # Nothing intact follows: damage to the end of the file.
                report.damaged.append((pos, end - pos))
                return
            report.damaged.append((pos, nxt - pos))
            pos = nxt
    finally:
        report.records += records


def _resync(buf, pos: int, end: int) -> int:
    """The first offset at or after `pos` where a whole valid record starts, or -1."""
    while pos + HEADER + FOOTER <= end:
        if _valid_at(buf, pos, end) >= 0:
            return pos
        pos += 1
    return -1


def write_record(f, data: bytes) -> None:
    """Append one record (used to keep events the importer does not map, losslessly)."""
    head = _U64.pack(len(data))
    f.write(head + _U32.pack(masked_crc(head)) + data + _U32.pack(masked_crc(data)))
