"""The points a Swan database holds, read with plain SQL and decoded here, independently of the
store's own reader (swan_server/store/sql/point_chunks.py documents the layout: per chunk row,
its points one after another, each a little-endian int64 step, int64 timestamp, float64 value
and an is_nan byte)."""

from __future__ import annotations

import struct

from sqlalchemy import text


def decode_chunk(payload: bytes) -> list[tuple[int, int, float, bool]]:
    data = bytes(payload)
    n, rest = divmod(len(data), 25)
    assert rest == 0, f"a chunk of {len(data)} bytes is not whole points"
    out = []
    for i in range(n):
        step, stamp, value = struct.unpack_from("<qqd", data, 25 * i)
        flag = data[25 * i + 24]
        assert flag in (0, 1), flag
        out.append((step, stamp, value, bool(flag)))
    return out


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
