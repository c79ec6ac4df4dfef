"""Metric points stored as chunks: one row holds the points one write added to one 64-step
block of a series, packed point after point.

A row per point made the database, not Swan, the cost of ingestion: a 1000-point log-batch was
1000 index entries in SQLite and, on PostgreSQL, a heap tuple plus a primary-key entry each (4-5
ms of the server's CPU per batch). As chunks the same batch is a few dozen rows.

A chunk's key is (series_id, block, seq): `block` is step >> BLOCK_BITS, the finest rollup
level's block, so a step range maps to a key range exactly as it did with points, and `seq`
numbers the chunks of a series in the order they were written (the series summary keeps the
next one). Points are unique per series as (step, timestamp, value, is_nan): the writer drops
points already stored before it writes, so counts stay exact and a resent batch adds nothing.

The payload is the points one after another, 25 bytes each, little-endian and unpadded: step
(int64), timestamp (int64), value (float64; NaN is stored as 0 with is_nan set, infinities
clamped to +-DBL_MAX, as everywhere in the store), is_nan (one byte). Point after point, so
that appending to a chunk is a concatenation the database does itself (points.py), and
Python's struct reads a payload straight into tuples.
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from itertools import chain, islice
from operator import le

BLOCK_BITS = 6  # == the finest rollup level (store/sql/rollups.py), checked there
# Points per chunk at most: 50 kB of payload, under the 64 kB of a MySQL BLOB.
MAX_CHUNK_POINTS = 2000

# One point: step, timestamp (int64), value (float64), is_nan (a byte), little-endian, unpadded.
_POINT = struct.Struct("<qqd?")


def encode(points: list[tuple]) -> bytes:
    """The payload of (step, timestamp, value, is_nan) points."""
    return struct.pack("<" + "qqd?" * len(points), *chain.from_iterable(points))


def decode(data: bytes) -> list[tuple]:
    """(step, timestamp, value, is_nan) tuples of a payload, in the order they were written."""
    return list(_POINT.iter_unpack(data))


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
