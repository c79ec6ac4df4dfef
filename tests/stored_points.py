"""The points a Swan database holds, read with plain SQL and decoded here, independently of the
store's own reader (swan_server/store/sql/point_chunks.py documents the layout: per chunk row,
n little-endian int64 steps, n int64 timestamps, n float64 values, n is_nan bytes)."""

from __future__ import annotations

import struct

from sqlalchemy import text


def decode_chunk(payload: bytes) -> list[tuple[int, int, float, bool]]:
    data = bytes(payload)
    n, rest = divmod(len(data), 25)
    assert rest == 0, f"a chunk of {len(data)} bytes is not whole points"
    steps = struct.unpack_from(f"<{n}q", data, 0)
    stamps = struct.unpack_from(f"<{n}q", data, 8 * n)
    values = struct.unpack_from(f"<{n}d", data, 16 * n)
    nans = [bool(b) for b in data[24 * n :]]
    return list(zip(steps, stamps, values, nans))


def stored_points(conn, series_ids) -> dict[int, list[tuple[int, int, float, bool]]]:
    """{series id: its points in (step, timestamp, value, is_nan) order}; each chunk's
    point_count column is checked against its payload."""
    ids = ",".join(str(int(s)) for s in series_ids) or "NULL"
    out: dict[int, list] = {int(s): [] for s in series_ids}
    for sid, count, payload in conn.execute(text(
            f"SELECT series_id, point_count, points FROM metric_chunks WHERE series_id IN ({ids})")):
        points = decode_chunk(payload)
        assert len(points) == count, (sid, count, len(points))
        out[int(sid)].extend(points)
    for points in out.values():
        points.sort()
    return out
