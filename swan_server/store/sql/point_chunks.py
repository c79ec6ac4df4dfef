"""Metric points stored as chunks: one row holds the points one write added to one 64-step
block of a series, packed column by column.

A row per point made the database, not Swan, the cost of ingestion: a 1000-point log-batch was
1000 index entries in SQLite and, on PostgreSQL, a heap tuple plus a primary-key entry each (4-5
ms of the server's CPU per batch). As chunks the same batch is a few dozen rows.

A chunk's key is (series_id, block, seq): `block` is step >> BLOCK_BITS, the finest rollup
level's block, so a step range maps to a key range exactly as it did with points, and `seq`
numbers the chunks of a series in the order they were written (the series summary keeps the
next one). Points are unique per series as (step, timestamp, value, is_nan): the writer drops
points already stored before it writes, so counts stay exact and a resent batch adds nothing.

The payload is little-endian: n steps (int64), n timestamps (int64), n values (float64; NaN is
stored as 0 with is_nan set, infinities clamped to +-DBL_MAX, as everywhere in the store), n
is_nan bytes. 25 bytes a point.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from itertools import chain, islice
from operator import le

BLOCK_BITS = 6  # == the finest rollup level (store/sql/rollups.py), checked there
POINT_BYTES = 25
# Points per chunk at most: 50 kB of payload, under the 64 kB of a MySQL BLOB.
MAX_CHUNK_POINTS = 2000

_SWAP = sys.byteorder != "little"


def _packed(code: str, values) -> bytes:
    arr = array(code, values)
    if _SWAP:
        arr.byteswap()
    return arr.tobytes()


def _unpacked(code: str, data) -> array:
    arr = array(code)
    arr.frombytes(data)
    if _SWAP:
        arr.byteswap()
    return arr


def encode(points: list[tuple]) -> bytes:
    """The payload of (step, timestamp, value, is_nan) points."""
    steps, stamps, values, nans = zip(*points)
    return b"".join((_packed("q", steps), _packed("q", stamps), _packed("d", values), bytes(map(bool, nans))))


def decode(data: bytes) -> list[tuple]:
    """(step, timestamp, value, is_nan) tuples of a payload, in the order they were written."""
    n = len(data) // POINT_BYTES
    view = memoryview(data)
    steps = _unpacked("q", view[: 8 * n])
    stamps = _unpacked("q", view[8 * n : 16 * n])
    values = _unpacked("d", view[16 * n : 24 * n])
    nans = map(bool, view[24 * n : 25 * n])
    return list(zip(steps, stamps, values, nans))


def decode_all(payloads) -> list[tuple]:
    """The points of several payloads, in one list (unordered across payloads)."""
    return list(chain.from_iterable(decode(p) for p in payloads))


def split(points: list[tuple]) -> list[tuple[int, list[tuple]]]:
    """[(block, points), ...]: the points grouped by block, each group at most
    MAX_CHUNK_POINTS long. Points in step order (the usual batch) are cut into runs without a
    dictionary."""
    out: list[tuple[int, list[tuple]]] = []
    steps = [p[0] for p in points]
    if all(map(le, steps, islice(steps, 1, None))):
        start, n = 0, len(points)
        while start < n:
            block = steps[start] >> BLOCK_BITS
            end = bisect_left(steps, (block + 1) << BLOCK_BITS, start, min(n, start + MAX_CHUNK_POINTS))
            out.append((block, points[start:end]))
            start = end
        return out
    groups: dict[int, list[tuple]] = {}
    for p in points:
        groups.setdefault(p[0] >> BLOCK_BITS, []).append(p)
    for block in sorted(groups):
        group = groups[block]
        for i in range(0, len(group), MAX_CHUNK_POINTS):
            out.append((block, group[i : i + MAX_CHUNK_POINTS]))
    return out


def unique(points: list[tuple]) -> list[tuple]:
    """The points without exact repeats (first occurrence kept, order kept)."""
    if len(set(points)) == len(points):
        return points
    seen: set = set()
    out = []
    for p in points:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out
