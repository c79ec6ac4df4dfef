"""Reading and writing the point chunks of metric series (the layout: point_chunks.py).

Every read goes through the chunks of the blocks its step range covers, decodes them, and
filters and orders the points in Python. Writers (metrics.py) number a series' chunks from its
summary's `chunk_seq` while they hold the summary row locked."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from swan_server.db import schema as t
from swan_server.store.sql.base import SqlStoreBase, chunks
from swan_server.store.sql.point_chunks import BLOCK_BITS, decode, encode, split, unique

C = t.metric_chunks
S = t.metric_series

# Blocks per IN list when a writer looks for stored copies of its points.
_BLOCKS_PER_QUERY = 500
# A write of at most SMALL_WRITE points within one block (a log-metric call, a SwanLab upload of
# a step or two) goes into the series' last written chunk when that lies in the same block and
# holds at most MERGE_LIMIT points with it: a chunk per call would leave a series logged point
# by point with a row per point, and its reads four times slower than a series logged in
# batches.
SMALL_WRITE = 16
MERGE_LIMIT = 128

def chunk_rows(groups) -> tuple[list[tuple], list[int]]:
    """The metric_chunks rows of [(series_id, first seq, points), ...], and each series' next
    seq after them."""
    rows, next_seqs = [], []
    for sid, seq, points in groups:
        for block, part in split(points):
            rows.append((sid, block, seq, len(part), encode(part)))
            seq += 1
        next_seqs.append(seq)
    return rows, next_seqs


def ordered(points: list[tuple]) -> list[tuple]:
    """Points in the store's order: (step, timestamp, value, is_nan)."""
    points.sort()
    return points


class PointsMixin(SqlStoreBase):
    # -- writes ------------------------------------------------------------------------------------
    def _not_stored(self, conn: Connection, series_id: int, points: list[tuple]) -> list[tuple]:
        """The points (without repeats) that this series does not hold yet. Only the chunks of the
        blocks the points fall in are read."""
        points = unique(points)
        stored = set(self._points_of_blocks(conn, series_id, {p[0] >> BLOCK_BITS for p in points}))
        if not stored:
            return points
        return [p for p in points if p not in stored]

    def _append_to_last_chunk(self, conn: Connection, series_id: int, last_seq: int, points: list[tuple]) -> bool:
        """Add a small write (see SMALL_WRITE) to the series' last written chunk, `last_seq`,
        when that chunk lies in the write's block and has room; False when it does not (then
        the write gets a chunk of its own). One statement: the database appends the bytes."""
        if len(points) > SMALL_WRITE or last_seq < 0:
            return False
        block = points[0][0] >> BLOCK_BITS
        if any(p[0] >> BLOCK_BITS != block for p in points):
            return False
        n = len(points)
        return conn.exec_driver_sql(self._append_sql(), (encode(points), n, series_id, block, last_seq,
                                                         MERGE_LIMIT - n)).rowcount == 1

    def _append_sql(self) -> str:
        """The append in the driver's own form (a Core statement per call cost more than the
        SQL it runs). SQLite's || yields text from blobs; the CAST takes its bytes back as they
        are."""
        if self.dialect == "sqlite":
            mark, joined = "?", "CAST(points || ? AS BLOB)"
        elif self.dialect == "postgresql":
            mark, joined = "%s", "points || %s"
        else:
            mark, joined = "%s", "CONCAT(points, %s)"
        return (f"UPDATE metric_chunks SET points = {joined}, point_count = point_count + {mark} "
                f"WHERE series_id = {mark} AND block = {mark} AND seq = {mark} AND point_count <= {mark}")

    def _points_of_blocks(self, conn: Connection, series_id: int, blocks) -> list[tuple]:
        """The stored points of these blocks of a series, unordered."""
        out: list[tuple] = []
        for part in chunks(sorted(blocks), _BLOCKS_PER_QUERY):
            out += self._decoded(conn, C.c.series_id == series_id, C.c.block.in_(part))
        return out

    @staticmethod
    def _decoded(conn: Connection, *where) -> list[tuple]:
        """The points of every chunk matching `where`, unordered."""
        points: list[tuple] = []
        for (payload,) in conn.execute(select(C.c.points).where(*where)):
            points.extend(decode(payload))
        return points

    # -- reads -------------------------------------------------------------------------------------
    def _series_points(self, conn: Connection, series_id: int) -> list[tuple]:
        """Every point of a series, ordered."""
        return ordered(self._decoded(conn, C.c.series_id == series_id))

    def _iter_series_points(self, conn: Connection, series_id: int) -> Iterator[list[tuple]]:
        """Every point of a series, ordered, a block at a time (memory stays bounded by one
        block's points)."""
        result = conn.execution_options(stream_results=True, yield_per=256).execute(
            select(C.c.block, C.c.points).where(C.c.series_id == series_id).order_by(C.c.block, C.c.seq))
        current, points = None, []
        for block, payload in result:
            if block != current and points:
                yield ordered(points)
                points = []
            current = block
            points.extend(decode(payload))
        if points:
            yield ordered(points)

    def _points_in_steps(self, conn: Connection, series_id: int, ranges: list[tuple[int, int]],
                         times: tuple[int, int] | None = None) -> tuple[list[tuple], int]:
        """The points of a series whose step lies in one of the inclusive `ranges` (and whose
        timestamp lies in `times`, when given), unordered; and how many points were decoded."""
        if not ranges:
            return [], 0
        points = self._decoded(conn, C.c.series_id == series_id,
                               or_(*[C.c.block.between(a >> BLOCK_BITS, b >> BLOCK_BITS) for a, b in ranges]))
        if len(ranges) == 1:
            a, b = ranges[0]
            kept = [p for p in points if a <= p[0] <= b]
        else:
            kept = [p for p in points if any(a <= p[0] <= b for a, b in ranges)]
        if times is not None:
            t0, t1 = times
            kept = [p for p in kept if t0 <= p[1] <= t1]
        return kept, len(points)

    def _points_page(self, conn: Connection, series_id: int, offset: int, limit: int | None,
                     min_step: int | None = None) -> list[tuple]:
        """Points `offset` to `offset + limit` (all from `offset` when limit is None) of a series
        in the store's order, counting only points with step >= min_step when it is given. The
        blocks before the page are skipped by their chunks' point counts, without reading their
        payloads."""
        where = [C.c.series_id == series_id]
        if min_step is not None:
            where.append(C.c.block >= (min_step >> BLOCK_BITS))
        counts = [(block, int(n)) for block, n in conn.execute(
            select(C.c.block, func.sum(C.c.point_count)).where(*where).group_by(C.c.block).order_by(C.c.block))]

        def cut(block: int) -> bool:  # holds points below min_step too: its count overstates
            return min_step is not None and (block << BLOCK_BITS) < min_step

        i, skipped = 0, 0
        while i < len(counts) and not cut(counts[i][0]) and skipped + counts[i][1] <= offset:
            skipped += counts[i][1]
            i += 1
        if i == len(counts):
            return []
        first_block, last_block = counts[i][0], None
        if limit is not None:
            need, covered = offset - skipped + limit, 0
            for block, n in counts[i:]:
                covered += 0 if cut(block) else n
                if covered >= need:
                    last_block = block
                    break
        cond = [C.c.series_id == series_id, C.c.block >= first_block]
        if last_block is not None:
            cond.append(C.c.block <= last_block)
        points = self._decoded(conn, *cond)
        if min_step is not None:
            points = [p for p in points if p[0] >= min_step]
        ordered(points)
        start = offset - skipped
        return points[start:] if limit is None else points[start : start + limit]
