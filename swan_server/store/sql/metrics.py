"""The metrics hot path: bulk ingestion with per-series summaries, and bounded reads."""

from __future__ import annotations

from collections import defaultdict, namedtuple
from operator import itemgetter

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from swan_server.db import schema as t
from swan_server.db.dialects import claim_row, insert_ignore, pg_array_literal, pg_literal_kinds
from swan_server.entities import Metric, PagedList
from swan_server.store.paging import decode_offset, encode_offset
from swan_server.store.sql.base import DBL_MAX, decode_value, encode_value, now_ms
from swan_server.store.sql.point_chunks import unique
from swan_server.store.sql.points import PointsMixin
from swan_server.store.sql.rollups import COARSEST, fold_points, merge_blocks

S = t.metric_series


def _summary(first_step: int, fold: dict, old=None) -> dict:
    """Merge a batch of points into a series summary. `fold` is the batch's `fold_points`: its
    coarsest blocks already hold the batch's min, max, last point and time span; `first_step`
    is the batch's smallest step."""
    top = [agg for (level, _), agg in fold.items() if level == COARSEST]
    batch = top[0]
    if len(top) > 1:  # a batch spanning more than one coarsest block (2M steps each)
        batch = list(batch)
        for agg in top[1:]:
            merge_blocks(batch, agg)
    lo, hi, last_step, last_ts, last_value, last_nan, min_ts, max_ts = batch
    min_step, max_step = first_step, last_step
    if old is not None:
        if (old.last_step, old.last_timestamp, old.last_value) >= (last_step, last_ts, last_value):
            last_step, last_ts, last_value, last_nan = (old.last_step, old.last_timestamp, old.last_value,
                                                        old.last_is_nan)
        if old.min_value is not None:
            lo = old.min_value if lo is None else min(lo, old.min_value)
            hi = old.max_value if hi is None else max(hi, old.max_value)
        min_step, max_step = min(min_step, old.min_step), max(max_step, old.max_step)
        min_ts, max_ts = min(min_ts, old.min_timestamp), max(max_ts, old.max_timestamp)
    return {
        "last_step": last_step,
        "last_timestamp": last_ts,
        "last_value": last_value,
        "last_is_nan": last_nan,
        "min_value": lo,
        "max_value": hi,
        "min_step": min_step,
        "max_step": max_step,
        "min_timestamp": min_ts,
        "max_timestamp": max_ts,
    }


_SUMMARY_COLUMNS = (
    "last_step", "last_timestamp", "last_value", "last_is_nan", "min_value", "max_value",
    "min_step", "max_step", "min_timestamp", "max_timestamp",
)
_SUMMARY_UPDATE = (
    update(S)
    .where(S.c.id == bindparam("b_id"))
    .values(
        point_count=S.c.point_count + bindparam("b_inserted"),
        chunk_seq=bindparam("b_chunk_seq"),
        **{c: bindparam(f"b_{c}") for c in _SUMMARY_COLUMNS},
    )
)

_SUMMARY_TYPES = ("bigint", "bigint", "float8", "boolean", "float8", "float8", "bigint", "bigint", "bigint", "bigint")
# Python conversions of the update's columns (id, inserted, chunk_seq, then the summary columns).
_SUMMARY_KINDS = (int, int, int, *pg_literal_kinds(_SUMMARY_TYPES))
_PG_SUMMARY_UPDATE = (
    "UPDATE metric_series AS s SET point_count = s.point_count + u.inserted, chunk_seq = u.chunk_seq, "
    + ", ".join(f"{c} = u.{c}" for c in _SUMMARY_COLUMNS)
    + " FROM unnest(%s::integer[], %s::bigint[], %s::bigint[], "
    + ", ".join(f"%s::{kind}[]" for kind in _SUMMARY_TYPES)
    + ") AS u(id, inserted, chunk_seq, " + ", ".join(_SUMMARY_COLUMNS) + ") WHERE s.id = u.id"
)


# Summary rows of some keys of a run, locked for the transaction (ordered by id, so concurrent
# writers lock in the same order and cannot deadlock on each other).
_LOCK_SERIES = (
    select(S)
    .where(S.c.run_id == bindparam("run_pk"), S.c.key.in_(bindparam("keys", expanding=True)))
    .order_by(S.c.id)
    .with_for_update()
)


# A locked summary row as a plain named tuple: the batch reads a dozen of its fields per series,
# and a SQLAlchemy Row's attribute access costs about 0.2 us each.
_SeriesRow = namedtuple("_SeriesRow", [c.name for c in S.c])
_STEP = itemgetter(0)


class MetricsMixin(PointsMixin):
    def log_batch(self, run_id, metrics, params, tags, batch_key=None):
        with self.write() as conn:
            row = self._active_run_row(conn, run_id)
            if batch_key is not None:
                if not claim_row(conn, t.applied_batches, {"batch_key": batch_key, "created_time": now_ms()}):
                    return  # this exact batch was applied before: a client resend
            self._log_params(conn, row, params)
            self._set_tags(conn, row.id, tags)
            if metrics:
                self._insert_metrics(conn, row.id, metrics)

    def _insert_metrics(self, conn: Connection, run_pk: int, metrics: list[Metric]) -> int:
        """Insert points and fold them into their series summaries; returns points inserted
        (exact duplicates of stored points are not inserted again)."""
        by_key: dict[str, list[tuple[int, int, float, bool]]] = defaultdict(list)
        for m in metrics:
            value, is_nan = encode_value(m.value)
            by_key[m.key].append((m.step, m.timestamp, value, is_nan))
        return self._insert_grouped(conn, run_pk, by_key)

    def _insert_grouped(self, conn: Connection, run_pk: int, by_key: dict) -> int:
        """`_insert_metrics` for points already grouped by key as encoded (step, timestamp,
        value, is_nan) tuples (the native API's columnar batches come this way)."""
        keys = list(by_key)
        # Each series' batch folded once: into its rollup blocks, and into its summary.
        folds = {k: fold_points(by_key[k]) for k in keys}
        first_steps = {k: min(map(_STEP, by_key[k])) for k in keys}
        series = self._lock_series(conn, run_pk, keys, folds, first_steps)
        self.points_inserter.defer(conn)  # rollup blocks of every series: one upsert, below
        groups, inserted = [], []
        for k in keys:
            old, points = series[k], by_key[k]
            # The series rows are locked: a batch whose points all lie past its series' last
            # point (the usual append) cannot hold a stored point; any other batch (a resend,
            # out-of-order steps) is checked against the blocks it touches.
            if old.point_count == 0 or first_steps[k] > old.max_step or \
                    min(points)[:2] > (old.last_step, old.last_timestamp):
                points = unique(points)
            else:
                points = self._not_stored(conn, old.id, points)
            inserted.append(len(points))
            if points and self._append_to_last_chunk(conn, old.id, old.chunk_seq - 1, points):
                points = []  # written; its fold still goes to the rollups below
            groups.append((old.id, old.chunk_seq, points))
        next_seqs = self.points_inserter.insert_groups(conn, groups, folds=[folds[k] for k in keys])
        updates = []
        for key, n, seq in zip(keys, inserted, next_seqs):
            old = series[key]
            summary = {f"b_{k}": v for k, v in _summary(first_steps[key], folds[key], old).items()}
            updates.append({"b_id": old.id, "b_inserted": n, "b_chunk_seq": seq, **summary})
        if self.dialect == "postgresql":
            # One statement over arrays, not one per series, sent with the rollup upsert.
            columns = ["b_id", "b_inserted", "b_chunk_seq", *(f"b_{c}" for c in _SUMMARY_COLUMNS)]
            self.points_inserter.flush(conn, also=(_PG_SUMMARY_UPDATE, tuple(
                pg_array_literal([u[c] for u in updates], kind) for c, kind in zip(columns, _SUMMARY_KINDS))))
        else:
            self.points_inserter.flush(conn)
            conn.execute(_SUMMARY_UPDATE, updates)  # one executemany for every touched series
        return sum(inserted)

    def _lock_series(self, conn: Connection, run_pk: int, keys: list, folds: dict, first_steps: dict) -> dict:
        """The summary rows of these keys, created when missing, locked for this transaction."""
        keys = sorted(keys)
        locked = conn.execute(_LOCK_SERIES, {"run_pk": run_pk, "keys": keys})
        found = {r.key: r for r in map(_SeriesRow._make, locked)}
        missing = [k for k in keys if k not in found]
        if missing:
            conn.execute(
                insert_ignore(S, self.dialect),
                [{"run_id": run_pk, "key": k, "point_count": 0, "chunk_seq": 0, **_summary(first_steps[k], folds[k])}
                 for k in missing],
            )
            found.update({r.key: r for r in map(_SeriesRow._make,
                                                  conn.execute(_LOCK_SERIES, {"run_pk": run_pk, "keys": missing}))})
        return found

    # -- reads -------------------------------------------------------------------------------------
    def _series_id(self, conn: Connection, run_pk: int, key: str):
        return conn.execute(select(S.c.id).where(S.c.run_id == run_pk, S.c.key == key)).scalar()

    def get_metric_history(self, run_id, key, max_results, page_token):
        offset = decode_offset(page_token)
        with self.read() as conn:
            run = self._run_row(conn, run_id)
            series_id = self._series_id(conn, run.id, key)
            if series_id is None:
                return PagedList([], None)
            rows = self._points_page(conn, series_id, offset, max_results + 1 if max_results else None)
        has_more = bool(max_results) and len(rows) > max_results
        if has_more:
            rows = rows[:max_results]
        # Only NaN and clamped infinities need decoding; the other points pass as they are.
        items = [
            row if not row[3] and -DBL_MAX < row[2] < DBL_MAX else (row[0], row[1], decode_value(row[2], row[3]), row[3])
            for row in rows
        ]
        return PagedList(items, encode_offset(offset + max_results) if has_more else None)

    def get_metric_history_bulk_interval(self, run_ids, key, start_step, end_step, max_results):
        """Up to max_results points per run, evenly spaced over the run's points (ordered by step,
        timestamp, value) in [start_step, end_step]; the first and last points are always kept
        (only the last when max_results is 1), as MLflow's SQL store samples."""
        out = []
        with self.read() as conn:
            runs = [self._run_row(conn, run_id) for run_id in run_ids]  # every id must exist
            for run_id, run in zip(run_ids, runs):
                series_id = self._series_id(conn, run.id, key)
                if series_id is None:
                    continue
                if start_step is not None and end_step is not None:
                    points = sorted(self._points_in_steps(conn, series_id, [(start_step, end_step)])[0])
                else:
                    points = self._series_points(conn, series_id)
                rows = [points[i] for i in evenly_spaced_indices(len(points), max_results)]
                out.extend((run_id, Metric(key, decode_value(v, nan), ts, step)) for step, ts, v, nan in rows)
        return out


def evenly_spaced_indices(total: int, max_results: int) -> list[int]:
    """At most max_results evenly spaced indices into total items, first and last included
    (only the last when max_results is 1)."""
    if total <= 0:
        return []
    if total <= max_results:
        return list(range(total))
    if max_results <= 1:
        return [total - 1]
    span, gaps = total - 1, max_results - 1
    return sorted({(i * span + gaps // 2) // gaps for i in range(max_results)})
