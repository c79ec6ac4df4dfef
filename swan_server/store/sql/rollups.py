"""Metric rollups: bounded bucketed reads of metric series.

A GROUP BY over the raw points scans every point in range, so drawing a 10M-point series would
cost a thousand times a 10k-point one. Instead, every series keeps precomputed *blocks* at a few
resolutions in `metric_rollups`: at level `L` the block `b` covers the steps `[b << L, (b+1) << L)`
and holds the min and max of its (non-NaN) values, its last point by (step, timestamp, value),
and the span of its timestamps. Blocks are folded in the same transaction as the point insert
(one SELECT of the touched blocks and one bulk upsert per batch) while the series summary row is
locked, so concurrent writers of one series queue.

A bucketed read of N buckets over a step range picks the coarsest level `L` whose blocks are no
wider than range/N, makes the bucket width a multiple of `2**L` (so every block lies inside one
bucket), reads the range's interior blocks at level `L` (between N and 8N rows), covers the two
ragged ends with finer blocks (< 8 per level and side) and at most 2 x 63 raw points, and folds the
rows into buckets. Below 64 steps per bucket the raw points are grouped in SQL (at most 64N
points). Either way the cost is bounded by N, never by the length of the series.

Wall-time axes reuse the same step-keyed blocks through their timestamp spans: a descent from the
coarsest level narrows the step window to the blocks that overlap the time range, blocks wholly
inside it land in the bucket of their last point's time, and blocks cut by the range's ends are
refined down to raw points. With timestamps that grow with the step (the usual case) this reads
about as many rows as the step axis; out-of-order timestamps stay correct, only slower.
"""

from __future__ import annotations

import math
import weakref
from bisect import bisect_left
from dataclasses import dataclass, field
from operator import le

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.engine import Connection

from swan_server.db import schema as t
from swan_server.db.dialects import pg_array_literal, pg_literal_kinds
from swan_server.errors import invalid
from swan_server.store.sql.base import DBL_MAX, decode_value
from swan_server.store.sql.point_chunks import BLOCK_BITS, decode
from swan_server.store.sql.points import PointsMixin, chunk_rows

RU = t.metric_rollups
S = t.metric_series
C = t.metric_chunks
R = t.runs

# Block sizes are 2**level steps; each level is 8 times coarser than the one below it.
LEVELS = (6, 9, 12, 15, 18, 21)
FINEST = LEVELS[0]
COARSEST = LEVELS[-1]
FANOUT_BITS = LEVELS[1] - LEVELS[0]
# A raw read of a finest block reads exactly the point chunks of that block.
assert BLOCK_BITS == FINEST

X_STEP, X_TIME, X_RELATIVE = "step", "time", "relative"
X_AXES = (X_STEP, X_TIME, X_RELATIVE)
MAX_BUCKETS = 5000
MAX_RUNS = 100
KEY_CHUNK = 1500  # (series, level, block) keys per SELECT: 4,500 bound parameters
_REBUILD_PAGE = 500  # point chunks per read when rollups are rebuilt


_AGG_COLUMNS = (
    "min_value", "max_value", "last_step", "last_timestamp", "last_value", "last_is_nan",
    "min_timestamp", "max_timestamp",
)


# -- folding -------------------------------------------------------------------------------------
# An aggregate is a list [min, max, last_step, last_ts, last_value, last_is_nan, min_ts, max_ts];
# min and max are None while the block holds only NaN.

def merge_blocks(a: list, b) -> None:
    """Fold aggregate `b` into `a` (in place)."""
    if b[0] is not None:
        if a[0] is None or b[0] < a[0]:
            a[0] = b[0]
        if a[1] is None or b[1] > a[1]:
            a[1] = b[1]
    if (b[2], b[3], b[4]) > (a[2], a[3], a[4]):
        a[2], a[3], a[4], a[5] = b[2], b[3], b[4], b[5]
    if b[6] < a[6]:
        a[6] = b[6]
    if b[7] > a[7]:
        a[7] = b[7]


def _fold_any(points) -> dict[int, list]:
    """Finest blocks of points in any order, point by point."""
    fine: dict[int, list] = {}
    for step, ts, value, nan in points:
        b = step >> FINEST
        a = fine.get(b)
        if a is None:
            v = None if nan else value
            fine[b] = [v, v, step, ts, value, nan, ts, ts]
            continue
        if not nan:
            if a[0] is None or value < a[0]:
                a[0] = value
            if a[1] is None or value > a[1]:
                a[1] = value
        # the last point is the largest (step, timestamp, value, is_nan), as in the sliced fold
        if (step, ts, value, nan) > (a[2], a[3], a[4], a[5]):
            a[2], a[3], a[4], a[5] = step, ts, value, nan
        if ts < a[6]:
            a[6] = ts
        elif ts > a[7]:
            a[7] = ts
    return fine


def _fold_ascending(points, steps, stamps, values, nans) -> list[tuple[int, list]]:
    """Finest blocks of points sorted by step and dense enough (several per block on average),
    in block order: each block is a slice of the columns, aggregated by builtins instead of a
    Python step per point."""
    fine = []
    i, n = 0, len(points)
    any_nan = any(nans)
    while i < n:
        b = steps[i] >> FINEST
        j = bisect_left(steps, (b + 1) << FINEST, i)
        if any_nan and any(nans[i:j]):
            real = [v for v, nan in zip(values[i:j], nans[i:j]) if not nan]
            lo, hi = (min(real), max(real)) if real else (None, None)
        else:
            block = values[i:j]
            lo, hi = min(block), max(block)
        top = steps[j - 1]
        # The last point by (step, timestamp, value, is_nan), as the point-by-point fold: the
        # block's last point, unless others share its step.
        last = points[j - 1] if j - i == 1 or steps[j - 2] != top else max(points[bisect_left(steps, top, i, j):j])
        span = stamps[i:j]
        fine.append((b, [lo, hi, last[0], last[1], last[2], last[3], min(span), max(span)]))
        i = j
    return fine


# (level, bits from the level below) of every level above the finest.
_COARSER = tuple((level, level - below) for below, level in zip(LEVELS, LEVELS[1:]))


def fold_points(points) -> dict[tuple[int, int], list]:
    """{(level, block): aggregate} of a batch of (step, timestamp, value, is_nan) points, with
    NaN stored as 0 + flag (as in the point chunks)."""
    if not points:
        return {}
    steps, stamps, values, nans = zip(*points)
    if (len(steps) >= 8 * ((steps[-1] >> FINEST) - (steps[0] >> FINEST) + 1)
            and all(map(le, steps, steps[1:]))):
        fine = _fold_ascending(points, steps, stamps, values, nans)
    else:
        fine = list(_fold_any(points).items())
    out = {(FINEST, b): a for b, a in fine}
    below = fine
    for level, shift in _COARSER:
        coarse: dict[int, list] = {}
        for b, a in below:
            c = coarse.get(b >> shift)
            if c is None:
                coarse[b >> shift] = list(a)
            else:
                merge_blocks(c, a)
        below = list(coarse.items())
        for b, a in below:
            out[(level, b)] = a
    return out


_COLUMNS = ("series_id", "level", "block", *_AGG_COLUMNS)
_PG_TYPES = ("integer", "integer", "bigint", "float8", "float8", "bigint", "bigint", "float8", "boolean", "bigint",
             "bigint")
_PG_KINDS = pg_literal_kinds(_PG_TYPES)


def upsert_sql(dialect: str) -> str:
    """The bulk upsert of blocks, merging a new aggregate into a stored one in SQL. MySQL applies
    ON DUPLICATE KEY assignments left to right, later ones seeing earlier results: the `last_*`
    columns are assigned in the order is_nan, value, timestamp, step, which stays correct because
    wherever an earlier assignment changes a later comparison, both candidate values are equal."""
    cols = ", ".join(_COLUMNS)
    if dialect in ("mysql", "mariadb"):
        ph = ", ".join(["%s"] * len(_COLUMNS))
        old, new = (lambda c: c), (lambda c: f"VALUES({c})")
        least, greatest = "LEAST", "GREATEST"
        head = f"INSERT INTO metric_rollups ({cols}) VALUES ({ph}) ON DUPLICATE KEY UPDATE "
    elif dialect == "sqlite":
        ph = ", ".join(["?"] * len(_COLUMNS))
        old, new = (lambda c: f"metric_rollups.{c}"), (lambda c: f"excluded.{c}")
        least, greatest = "min", "max"
        head = f"INSERT INTO metric_rollups ({cols}) VALUES ({ph}) ON CONFLICT (series_id, level, block) DO UPDATE SET "
    elif dialect == "postgresql":
        # One statement over arrays (one per column) instead of a statement per block.
        arrays = ", ".join(f"%s::{kind}[]" for kind in _PG_TYPES)
        old, new = (lambda c: f"metric_rollups.{c}"), (lambda c: f"excluded.{c}")
        least, greatest = "LEAST", "GREATEST"
        head = (f"INSERT INTO metric_rollups ({cols}) SELECT * FROM unnest({arrays}) "
                "ON CONFLICT (series_id, level, block) DO UPDATE SET ")
    else:
        raise ValueError(f"Unsupported database dialect: {dialect}")
    newer = (f"(({new('last_step')}, {new('last_timestamp')}, {new('last_value')}) > "
             f"({old('last_step')}, {old('last_timestamp')}, {old('last_value')}))")

    def both(fn, c):  # NULL (a block of NaN only) loses against any value
        return f"{fn}(COALESCE({old(c)}, {new(c)}), COALESCE({new(c)}, {old(c)}))"

    sets = [
        f"min_value = {both(least, 'min_value')}",
        f"max_value = {both(greatest, 'max_value')}",
        *[f"{c} = CASE WHEN {newer} THEN {new(c)} ELSE {old(c)} END"
          for c in ("last_is_nan", "last_value", "last_timestamp", "last_step")],
        f"min_timestamp = {least}({old('min_timestamp')}, {new('min_timestamp')})",
        f"max_timestamp = {greatest}({old('max_timestamp')}, {new('max_timestamp')})",
    ]
    return head + ", ".join(sets)


# -- reads ---------------------------------------------------------------------------------------

@dataclass
class _Buckets:
    """Buckets of one run's series, keyed by bucket index."""

    aggs: dict[int, list] = field(default_factory=dict)
    rows_read: int = 0

    def add(self, index: int, agg) -> None:
        a = self.aggs.get(index)
        if a is None:
            self.aggs[index] = list(agg)
        else:
            merge_blocks(a, agg)


def _decode(v, nan=False):
    if v is None or nan:
        return None
    if v >= DBL_MAX or v <= -DBL_MAX:
        return None if math.isnan(decode_value(v, False)) else (math.inf if v > 0 else -math.inf)
    return v


def _json_number(v):
    """Infinities have no JSON form: the chart gets the clamped double."""
    if v is None:
        return None
    if math.isinf(v):
        return DBL_MAX if v > 0 else -DBL_MAX
    return v


def level_for(span: float, n: int) -> int | None:
    """The coarsest level whose blocks are at most span/n steps wide (None: raw points)."""
    target = span / n
    best = None
    for level in LEVELS:
        if (1 << level) <= target:
            best = level
    return best


def decompose(lo: int, hi: int, top: int | None):
    """Cover the steps [lo, hi] with aligned blocks of levels <= `top`, coarsest first, and raw
    step ranges for what is left: ([(level, first_block, last_block)], [(lo, hi)])."""
    blocks: list[tuple[int, int, int]] = []
    raws: list[tuple[int, int]] = []
    levels = [lv for lv in LEVELS if top is not None and lv <= top]

    def cover(a: int, b: int, idx: int) -> None:
        if a > b:
            return
        if idx < 0:
            raws.append((a, b))
            return
        size = 1 << levels[idx]
        first = -(-a // size)
        last = (b + 1) // size - 1
        if first > last:
            cover(a, b, idx - 1)
            return
        blocks.append((levels[idx], first, last))
        cover(a, first * size - 1, idx - 1)
        cover((last + 1) * size, b, idx - 1)

    cover(lo, hi, len(levels) - 1)
    return blocks, raws


class _FoldingInserter:
    """The store's points inserter, folding what it inserts into the series' blocks in the same
    transaction: every writer of points (MLflow and SwanLab ingestion, `/api/v1` batches,
    imports) goes through `points_inserter`, so none can forget the rollups. Folding is
    idempotent (min, max, last, time span), so points that were stored already change nothing.
    Between `defer(conn)` and `flush(conn)` the folds of a batch's series are gathered (merged
    per series) and written in one statement."""

    def __init__(self, inner, write_blocks):
        self.inner = inner  # a ChunkInserter
        self.write_blocks = write_blocks  # (conn, {series_id: fold}, also) -> None: upserts the blocks
        # Keyed by the Connection object: a batch that failed between defer and flush leaves
        # nothing behind for the next transaction (its Connection is a new object).
        self._pending: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._carried: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # PostgreSQL statements

    def insert_groups(self, conn, groups: list[tuple[int, int, list[tuple]]], folds: list[dict] | None = None) -> list[int]:
        """Write the points of several series, as [(series_id, first chunk seq, points), ...],
        the points already free of stored copies; returns each series' next chunk seq. `folds`:
        the caller's `fold_points` of each group's points, when it needed them too (folding is
        idempotent, so they may include points that were stored already). Between `defer` and
        `flush` on PostgreSQL the INSERT waits, to go out in the flush's round trip."""
        rows, next_seqs = chunk_rows(groups)
        if folds is None:
            folds = [fold_points(points) if points else {} for _, _, points in groups]
        if rows:
            if self.inner.dialect_name == "postgresql" and conn in self._pending:
                self._carried.setdefault(conn, []).append(self.inner.statement(rows))
            else:
                self.inner.insert(conn, rows)
        self._gather(conn, [(sid, fold) for (sid, _, _), fold in zip(groups, folds) if fold])
        return next_seqs

    def _gather(self, conn, folded: list[tuple[int, dict]]) -> None:
        pending = self._pending.get(conn)
        if pending is None:  # not deferred: write the blocks now
            self.write_blocks(conn, dict(folded))
            return
        for sid, fold in folded:
            held = pending.get(sid)
            if held is None:
                pending[sid] = (fold, False)  # the caller's fold, not to be merged into
                continue
            blocks, own = held
            if not own:  # a series written twice in one transaction: merge into a copy, once
                blocks = {block: list(agg) for block, agg in blocks.items()}
            for block, agg in fold.items():
                mine = blocks.get(block)
                if mine is None:
                    blocks[block] = list(agg)
                else:
                    merge_blocks(mine, agg)
            pending[sid] = (blocks, True)

    def defer(self, conn) -> None:
        self._pending[conn] = {}

    def flush(self, conn, also: tuple[str, tuple] | None = None) -> None:
        """Write the gathered blocks. `also`: another statement of the transaction, sent with
        them (in one round trip on PostgreSQL, with the chunk INSERTs that waited), and run even
        when there are no blocks."""
        pending = self._pending.pop(conn, None) or {}
        carried = self._carried.pop(conn, [])
        if also is not None:
            carried.append(also)
        if pending or carried:
            self.write_blocks(conn, {sid: blocks for sid, (blocks, _) in pending.items()}, carried)


class RollupsMixin(PointsMixin):
    def __init__(self, engine):
        super().__init__(engine)
        self.points_inserter = _FoldingInserter(self.points_inserter, self._write_rollups)

    # -- ingestion -------------------------------------------------------------------------------
    def _write_rollups(self, conn: Connection, folded: dict[int, dict], also: list[tuple[str, tuple]] = ()) -> None:
        """Merge folded blocks ({series_id: fold_points(...)}) into the stored ones: one bulk
        upsert that merges in SQL (min, max, last by (step, timestamp, value), time span).
        Called inside the insert transaction. `also`: other statements (SQL, parameters) of the
        same transaction; on PostgreSQL they go in the same round trip, as data-modifying WITH
        clauses, elsewhere they run before the upsert."""
        rows = []
        for sid, fold in folded.items():
            for (level, block), a in fold.items():
                rows.append((sid, level, block, *a))
        if self.dialect == "postgresql" and also:
            if rows:
                params = tuple(pg_array_literal(column, kind) for column, kind in zip(zip(*rows), _PG_KINDS))
                main_sql = self._rollup_upsert()
            else:
                *also, (main_sql, params) = also  # nothing to upsert: the last statement goes last
            if also:
                withs = ", ".join(f"carried{i} AS ({sql})" for i, (sql, _) in enumerate(also))
                main_sql = f"WITH {withs} {main_sql}"
                params = tuple(p for _, ps in also for p in ps) + tuple(params)
            conn.exec_driver_sql(main_sql, params)
            return
        for sql, params in also:
            conn.exec_driver_sql(sql, params)
        if not rows:
            return
        if self.dialect == "postgresql":  # the statement takes columns, as array literals
            conn.exec_driver_sql(self._rollup_upsert(),
                                 tuple(pg_array_literal(column, kind) for column, kind in zip(zip(*rows), _PG_KINDS)))
        else:
            conn.exec_driver_sql(self._rollup_upsert(), rows)

    def _rollup_upsert(self) -> str:
        sql = getattr(self, "_rollup_upsert_sql", None)
        if sql is None:
            sql = self._rollup_upsert_sql = upsert_sql(self.dialect)
        return sql

    def rebuild_rollups(self, series_ids: list[int] | None = None, batch: int = 100_000) -> int:
        """Recompute the blocks of these series (all when None) from their points; returns the
        number of series rebuilt. For series written before rollups existed. The blocks are
        written every `batch` points (the upsert merges them), so memory stays bounded."""
        with self.read() as conn:
            ids = series_ids if series_ids is not None else list(conn.execute(select(S.c.id)).scalars())
        for sid in ids:
            with self.write() as conn:
                conn.execute(RU.delete().where(RU.c.series_id == sid))
                fold: dict = {}
                folded, after = 0, None
                while True:  # a page of chunks at a time, in key order
                    query = select(C.c.block, C.c.seq, C.c.points).where(C.c.series_id == sid)
                    if after is not None:
                        query = query.where(tuple_(C.c.block, C.c.seq) > tuple_(*after))
                    page = conn.execute(query.order_by(C.c.block, C.c.seq).limit(_REBUILD_PAGE)).all()
                    for _, _, payload in page:
                        points = decode(payload)
                        folded += len(points)
                        for block, agg in fold_points(points).items():
                            mine = fold.get(block)
                            if mine is None:
                                fold[block] = list(agg)
                            else:
                                merge_blocks(mine, agg)
                    if fold and (folded >= batch or len(page) < _REBUILD_PAGE):
                        self._write_rollups(conn, {sid: fold})
                        fold, folded = {}, 0
                    if len(page) < _REBUILD_PAGE:
                        break
                    after = (page[-1][0], page[-1][1])
        return len(ids)

    # -- bucketed reads ------------------------------------------------------------------------
    def bucketed_series(self, run_ids, key, x_axis=X_STEP, lo=None, hi=None, n=1000):
        """See TrackingStore.bucketed_series."""
        if x_axis not in X_AXES:
            raise invalid(f"Invalid x axis {x_axis!r}; expected one of {list(X_AXES)}")
        if not 1 <= n <= MAX_BUCKETS:
            raise invalid(f"The number of buckets must be between 1 and {MAX_BUCKETS}")
        if not run_ids or len(run_ids) > MAX_RUNS:
            raise invalid(f"Give between 1 and {MAX_RUNS} runs")
        with self.read() as conn:
            rows = conn.execute(
                select(R.c.run_uuid, R.c.start_time, S.c.id, S.c.min_step, S.c.max_step, S.c.min_timestamp,
                       S.c.max_timestamp, S.c.point_count)
                .select_from(R.outerjoin(S, and_(S.c.run_id == R.c.id, S.c.key == key)))
                .where(R.c.run_uuid.in_(list(run_ids)))
            ).all()
            found = {r.run_uuid: r for r in rows}
            missing = [r for r in run_ids if r not in found]
            if missing:
                from swan_server.errors import not_found

                raise not_found(f"Run with id={missing[0]} not found")
            series = [found[r] for r in run_ids if found[r].id is not None]
            offsets = {r.run_uuid: (r.start_time or 0) if x_axis == X_RELATIVE else 0 for r in series}
            if x_axis == X_STEP:
                lows, highs = [s.min_step for s in series], [s.max_step for s in series]
            else:
                lows = [s.min_timestamp - offsets[s.run_uuid] for s in series]
                highs = [s.max_timestamp - offsets[s.run_uuid] for s in series]
            out = {"key": key, "x_axis": x_axis, "n": n, "runs": []}
            if not series:
                out.update(lo=lo, hi=hi, width=None, level=None)
                return out
            lo = min(lows) if lo is None else int(lo)
            hi = max(highs) if hi is None else int(hi)
            if hi < lo:
                raise invalid("The range's end must not be before its start")
            width = max(1, math.ceil((hi - lo + 1) / n))
            if x_axis == X_STEP:
                level = level_for(hi - lo + 1, n)
                if level is not None:
                    size = 1 << level
                    width = -(-width // size) * size  # a multiple of the block size
            else:
                level = None
            out.update(lo=lo, hi=hi, width=width, level=level)
            for s in series:
                if x_axis == X_STEP:
                    b = self._step_buckets(conn, s, lo, hi, width, level)
                else:
                    off = offsets[s.run_uuid]
                    b = self._time_buckets(conn, s, lo + off, hi + off, width, off, n)
                out["runs"].append(self._render(s.run_uuid, b, width, x_axis, offsets[s.run_uuid]))
            out["rows_read"] = sum(r.pop("_rows") for r in out["runs"])
        return out

    @staticmethod
    def _render(run_id, b: _Buckets, width, x_axis, offset) -> dict:
        xs, mins, maxs, lasts, last_x = [], [], [], [], []
        for index in sorted(b.aggs):
            a = b.aggs[index]
            xs.append(index * width)
            mins.append(_json_number(_decode(a[0])))
            maxs.append(_json_number(_decode(a[1])))
            lasts.append(_json_number(_decode(a[4], a[5])))
            last_x.append(a[2] if x_axis == X_STEP else a[3] - offset)
        return {"run_id": run_id, "x": xs, "min": mins, "max": maxs, "last": lasts, "last_x": last_x,
                "_rows": b.rows_read}

    # step axis -----------------------------------------------------------------------------------
    def _step_buckets(self, conn, s, lo, hi, width, level) -> _Buckets:
        out = _Buckets()
        a, b = max(lo, s.min_step), min(hi, s.max_step)
        if a > b:
            return out
        if level is None:
            self._raw_step_groups(conn, s.id, a, b, width, out)
            return out
        blocks, raws = decompose(a, b, level)
        self._read_blocks(conn, s.id, blocks, lambda lv, blk, agg: out.add(((blk << lv)) // width, agg), out)
        if raws:
            self._read_raw(conn, s.id, raws, lambda step, ts, agg: out.add(step // width, agg), out)
        return out

    def _read_blocks(self, conn, sid, blocks, emit, out: _Buckets, extra=None) -> list:
        if not blocks:
            return []
        cond = or_(*[and_(RU.c.level == lv, RU.c.block.between(f, l)) for lv, f, l in blocks])
        query = select(RU.c.level, RU.c.block, *[RU.c[c] for c in _AGG_COLUMNS]).where(RU.c.series_id == sid, cond)
        if extra is not None:
            query = query.where(extra)
        rows = conn.execute(query).all()
        out.rows_read += len(rows)
        for r in rows:
            emit(r[0], r[1], r[2:])
        return rows

    def _read_raw(self, conn, sid, ranges, emit, out: _Buckets, times=None) -> None:
        """Emit the raw points of these inclusive step ranges (and time range, when given)."""
        points, decoded = self._points_in_steps(conn, sid, ranges, times)
        out.rows_read += decoded
        for step, ts, value, nan in points:
            v = None if nan else value
            emit(step, ts, (v, v, step, ts, value, bool(nan), ts, ts))

    def _raw_step_groups(self, conn, sid, a, b, width, out: _Buckets) -> None:
        """Fewer than 64 steps per bucket: fold the raw points (at most 64 per bucket)."""
        self._read_raw(conn, sid, [(a, b)], lambda step, ts, agg: out.add(step // width, agg), out)

    # time axes -----------------------------------------------------------------------------------
    def _time_buckets(self, conn, s, t0, t1, width, offset, n) -> _Buckets:
        """Buckets of `width` ms over the absolute times [t0, t1]; bucket i starts at
        offset + i * width."""
        out = _Buckets()
        t0, t1 = max(t0, s.min_timestamp), min(t1, s.max_timestamp)
        if t0 > t1:
            return out
        in_range = and_(RU.c.max_timestamp >= t0, RU.c.min_timestamp <= t1)

        def emit_block(lv, blk, agg):
            if agg[6] >= t0 and agg[7] <= t1:
                out.add((agg[3] - offset) // width, agg)
            else:
                partial.append((lv, blk))

        def emit_raw(step, ts, agg):
            if t0 <= ts <= t1:
                out.add((ts - offset) // width, agg)

        # How many steps the time range holds, if timestamps grow evenly with the step.
        total_span = max(1, s.max_timestamp - s.min_timestamp + 1)
        steps = (s.max_step - s.min_step + 1) * (t1 - t0 + 1) / total_span
        target = level_for(steps, n)
        window = (s.min_step, s.max_step)
        if target is None:
            # Few steps in range: narrow the step window with the blocks, then read raw points.
            narrowed = self._narrow(conn, s.id, window, FINEST, in_range, out)
            if narrowed is None:
                return out
            self._read_raw(conn, s.id, [narrowed], emit_raw, out, times=(t0, t1))
            return out
        narrowed = self._narrow(conn, s.id, window, target + FANOUT_BITS, in_range, out) if target < LEVELS[-1] \
            else window
        if narrowed is None:
            return out
        partial: list[tuple[int, int]] = []
        self._read_blocks(conn, s.id, [(target, narrowed[0] >> target, narrowed[1] >> target)], emit_block, out,
                          extra=in_range)
        # Blocks cut by the range's ends: their children, down to raw points.
        while partial:
            todo, partial = partial, []
            finer = [(lv, blk) for lv, blk in todo if lv > FINEST]
            raw = [(blk << lv, ((blk + 1) << lv) - 1) for lv, blk in todo if lv == FINEST]
            if finer:
                children = [(lv - FANOUT_BITS, blk << FANOUT_BITS, ((blk + 1) << FANOUT_BITS) - 1) for lv, blk in finer]
                self._read_blocks(conn, s.id, children, emit_block, out, extra=in_range)
            if raw:
                self._read_raw(conn, s.id, raw, emit_raw, out, times=(t0, t1))
        return out

    def _narrow(self, conn, sid, window, down_to, in_range, out: _Buckets):
        """Descend from the coarsest level to `down_to`, keeping the step window spanned by the
        blocks that overlap the time range; None when nothing overlaps."""
        lo, hi = window
        for level in reversed(LEVELS):
            if level < down_to:
                break
            rows = conn.execute(
                select(func.min(RU.c.block), func.max(RU.c.block), func.count()).where(
                    RU.c.series_id == sid, RU.c.level == level, RU.c.block.between(lo >> level, hi >> level), in_range
                )
            ).one()
            out.rows_read += rows[2] or 0
            if not rows[2]:
                return None
            lo, hi = max(lo, rows[0] << level), min(hi, ((rows[1] + 1) << level) - 1)
        return lo, hi
