"""Metric rollups: per-series blocks at a few resolutions for bounded bucketed reads, backfilled
from the points already stored.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Frozen copy of store/sql/rollups.py's levels at this revision (block = step >> level).
LEVELS = (6, 9, 12, 15, 18, 21)
PAGE = 100_000
INSERT_CHUNK = 5000


def upgrade():
    op.create_table(
        "metric_rollups",
        sa.Column("series_id", sa.Integer, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("block", sa.BigInteger, nullable=False),
        sa.Column("min_value", sa.Double, nullable=True),
        sa.Column("max_value", sa.Double, nullable=True),
        sa.Column("last_step", sa.BigInteger, nullable=False),
        sa.Column("last_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_value", sa.Double, nullable=False),
        sa.Column("last_is_nan", sa.Boolean, nullable=False),
        sa.Column("min_timestamp", sa.BigInteger, nullable=False),
        sa.Column("max_timestamp", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("series_id", "level", "block", name="pk_metric_rollups"),
        sqlite_with_rowid=False,
    )
    _backfill(op.get_bind())


def downgrade():
    op.drop_table("metric_rollups")


def _merge(a, b):
    if b[0] is not None:
        if a[0] is None or b[0] < a[0]:
            a[0] = b[0]
        if a[1] is None or b[1] > a[1]:
            a[1] = b[1]
    if (b[2], b[3], b[4]) > (a[2], a[3], a[4]):
        a[2], a[3], a[4], a[5] = b[2], b[3], b[4], b[5]
    a[6] = min(a[6], b[6])
    a[7] = max(a[7], b[7])


def _backfill(conn):
    """Fold every stored series into blocks, a page of points at a time (each series' points are
    read in primary-key order, so memory stays bounded by one page plus its blocks)."""
    meta = sa.MetaData()
    points = sa.Table("metric_points", meta, autoload_with=conn)
    rollups = sa.Table("metric_rollups", meta, autoload_with=conn)
    series = sa.Table("metric_series", meta, autoload_with=conn)
    key = (points.c.step, points.c.timestamp, points.c.value, points.c.is_nan)
    for sid in list(conn.execute(sa.select(series.c.id)).scalars()):
        blocks = {}  # (level, block) -> aggregate
        last = None
        while True:
            q = sa.select(*key).where(points.c.series_id == sid)
            if last is not None:
                q = q.where(sa.tuple_(*key) > sa.tuple_(*last))
            rows = conn.execute(q.order_by(*key).limit(PAGE)).all()
            if not rows:
                break
            finest = LEVELS[0]
            for step, ts, value, nan in rows:
                nan = bool(nan)
                v = None if nan else value
                k = (finest, step >> finest)
                a = blocks.get(k)
                if a is None:
                    blocks[k] = [v, v, step, ts, value, nan, ts, ts]
                else:
                    _merge(a, (v, v, step, ts, value, nan, ts, ts))
            last = tuple(rows[-1])
            if len(rows) < PAGE:
                break
        below = {b: a for (lv, b), a in blocks.items()}
        for prev, level in zip(LEVELS, LEVELS[1:]):
            coarse = {}
            for b, a in below.items():
                c = coarse.get(b >> (level - prev))
                if c is None:
                    coarse[b >> (level - prev)] = list(a)
                else:
                    _merge(c, a)
            blocks.update({(level, b): a for b, a in coarse.items()})
            below = coarse
        out = [
            {"series_id": sid, "level": lv, "block": b, "min_value": a[0], "max_value": a[1], "last_step": a[2],
             "last_timestamp": a[3], "last_value": a[4], "last_is_nan": a[5], "min_timestamp": a[6],
             "max_timestamp": a[7]}
            for (lv, b), a in blocks.items()
        ]
        for i in range(0, len(out), INSERT_CHUNK):
            conn.execute(rollups.insert(), out[i : i + INSERT_CHUNK])
