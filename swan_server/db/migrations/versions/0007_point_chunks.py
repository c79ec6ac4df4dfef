"""Metric points as chunks: `metric_points` (a row per point) becomes `metric_chunks` (a row per
64-step block written at once, its points packed one after another), and each series gets the
counter that numbers its chunks. The points stored are carried over.

Revision ID: 0007
Revises: 0006
"""

import struct

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Frozen copy of store/sql/point_chunks.py's layout at this revision: points one after another,
# "<qqd?" (step, timestamp, value, is_nan), 25 bytes each.
BLOCK_BITS = 6
MAX_CHUNK_POINTS = 2000
POINT = struct.Struct("<qqd?")
PAGE = 100_000
INSERT_ROWS = 500


def _encode(points):
    return b"".join(POINT.pack(*p) for p in points)


def _decode(data):
    return list(POINT.iter_unpack(data))


def upgrade():
    op.add_column("metric_series", sa.Column("chunk_seq", sa.BigInteger, nullable=False, server_default="0"))
    op.create_table(
        "metric_chunks",
        sa.Column("series_id", sa.Integer, nullable=False),
        sa.Column("block", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("point_count", sa.Integer, nullable=False),
        sa.Column("points", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("series_id", "block", "seq", name="pk_metric_chunks"),
    )
    _points_to_chunks(op.get_bind())
    op.drop_table("metric_points")


def downgrade():
    op.create_table(
        "metric_points",
        sa.Column("series_id", sa.Integer, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("series_id", "step", "timestamp", "value", "is_nan", name="pk_metric_points"),
        sqlite_with_rowid=False,
    )
    conn = op.get_bind()
    meta = sa.MetaData()
    chunks = sa.Table("metric_chunks", meta, autoload_with=conn)
    points = sa.Table("metric_points", meta, autoload_with=conn)
    for sid in list(conn.execute(sa.select(chunks.c.series_id).distinct()).scalars()):
        rows = []
        for (payload,) in conn.execute(sa.select(chunks.c.points).where(chunks.c.series_id == sid)):
            rows.extend({"series_id": sid, "step": s, "timestamp": ts, "value": v, "is_nan": nan}
                        for s, ts, v, nan in _decode(bytes(payload)))
        for i in range(0, len(rows), 5000):
            conn.execute(points.insert(), rows[i : i + 5000])
    op.drop_table("metric_chunks")
    with op.batch_alter_table("metric_series") as batch:
        batch.drop_column("chunk_seq")


def _points_to_chunks(conn):
    """Each series' points, read a page at a time in key order, become chunks of one block each
    (memory stays bounded by a page). The series summary is recomputed from the points on the
    way: from this revision on, ingestion trusts it to tell an append from a resend, and the
    summaries of earlier imports could lag their points."""
    meta = sa.MetaData()
    points = sa.Table("metric_points", meta, autoload_with=conn)
    chunks = sa.Table("metric_chunks", meta, autoload_with=conn)
    series = sa.Table("metric_series", meta, autoload_with=conn)
    key = (points.c.step, points.c.timestamp, points.c.value, points.c.is_nan)
    for sid in list(conn.execute(sa.select(series.c.id)).scalars()):
        seq, last, rows = 0, None, []
        summary = _Summary()
        while True:
            q = sa.select(*key).where(points.c.series_id == sid)
            if last is not None:
                q = q.where(sa.tuple_(*key) > sa.tuple_(*last))
            page = conn.execute(q.order_by(*key).limit(PAGE)).all()
            if not page:
                break
            summary.add(page)
            start = 0
            while start < len(page):
                block = page[start][0] >> BLOCK_BITS
                end = start + 1
                while end < len(page) and end - start < MAX_CHUNK_POINTS and page[end][0] >> BLOCK_BITS == block:
                    end += 1
                part = [(s, ts, v, bool(nan)) for s, ts, v, nan in page[start:end]]
                rows.append({"series_id": sid, "block": block, "seq": seq, "point_count": len(part),
                             "points": _encode(part)})
                seq += 1
                start = end
            if len(rows) >= INSERT_ROWS:
                conn.execute(chunks.insert(), rows)
                rows = []
            last = tuple(page[-1])
            if len(page) < PAGE:
                break
        if rows:
            conn.execute(chunks.insert(), rows)
        conn.execute(series.update().where(series.c.id == sid).values(chunk_seq=seq, **summary.values()))


class _Summary:
    """A series summary, as store/sql/metrics.py keeps it, of points added in key order."""

    def __init__(self):
        self.count = 0
        self.last = None
        self.lo = self.hi = None
        self.min_step = self.min_ts = self.max_ts = None

    def add(self, page):
        if self.count == 0:
            self.min_step = page[0][0]
            self.min_ts = self.max_ts = page[0][1]
        self.count += len(page)
        self.last = tuple(page[-1])
        stamps = [p[1] for p in page]
        self.min_ts, self.max_ts = min(self.min_ts, *stamps), max(self.max_ts, *stamps)
        real = [p[2] for p in page if not p[3]]
        if real:
            self.lo = min(real) if self.lo is None else min(self.lo, *real)
            self.hi = max(real) if self.hi is None else max(self.hi, *real)

    def values(self):
        if self.count == 0:  # a series without points keeps what it had
            return {}
        step, ts, value, nan = self.last
        return {"point_count": self.count, "last_step": step, "last_timestamp": ts, "last_value": value,
                "last_is_nan": bool(nan), "min_value": self.lo, "max_value": self.hi, "min_step": self.min_step,
                "max_step": step, "min_timestamp": self.min_ts, "max_timestamp": self.max_ts}
