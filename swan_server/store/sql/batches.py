"""Whole-run write batches of the native API: metrics (columnar), params, tags, media index rows
and console lines, in one transaction, at most once per idempotency key."""

from __future__ import annotations

import math
from collections import defaultdict
from itertools import groupby, repeat

from sqlalchemy.engine import Connection

from swan_server.db import schema as t
from swan_server.db.dialects import claim_row, insert_ignore
from swan_server.store.sql.base import DBL_MAX, SqlStoreBase, encode_value, now_ms

ROW_CHUNK = 5000


class BatchWritesMixin(SqlStoreBase):
    def write_run_batch(self, run_id, batch_key, keys, steps, timestamps, values, params, tags, media, log_lines):
        with self.write() as conn:
            row = self._active_run_row(conn, run_id)
            if batch_key is not None and not claim_row(
                conn, t.applied_batches, {"batch_key": batch_key, "created_time": now_ms()}
            ):
                return None  # applied before: a resend changes nothing
            self._log_params(conn, row, params)
            self._set_tags(conn, row.id, tags)
            points = self._insert_columns(conn, row.id, keys, steps, timestamps, values) if keys else 0
            n_media = 0
            if media:
                rows = [
                    {"run_id": row.id, "key": i.key, "step": i.step, "seq": i.seq, "kind": i.kind, "path": i.path,
                     "caption": i.caption, "timestamp": i.timestamp}
                    for i in media
                ]
                n_media = self._insert_new(conn, t.media_items, rows)
            n_lines = 0
            if log_lines:
                rows = [
                    {"run_id": row.id, "line": ln.line, "level": ln.level, "message": ln.message, "timestamp": ln.timestamp}
                    for ln in log_lines
                ]
                n_lines = self._insert_new(conn, t.log_lines, rows)
            return {"metrics": points, "media": n_media, "console": n_lines}

    def _insert_new(self, conn: Connection, table, rows: list[dict]) -> int:
        """Insert rows whose key is not stored yet; returns how many were inserted (PostgreSQL
        reports no usable rowcount for a skipping executemany, so it is asked with RETURNING)."""
        n = 0
        for start in range(0, len(rows), ROW_CHUNK):
            part = rows[start:start + ROW_CHUNK]
            stmt = insert_ignore(table, self.dialect)
            if self.dialect == "postgresql":
                n += len(conn.execute(stmt.returning(table.c.run_id), part).all())
            else:
                n += max(conn.execute(stmt, part).rowcount, 0)
        return n

    def _insert_columns(self, conn: Connection, run_pk: int, keys, steps, timestamps, values) -> int:
        """`MetricsMixin._insert_metrics` for columns: no per-point objects."""
        return self._insert_grouped(conn, run_pk, group_columns(keys, steps, timestamps, values))


def group_columns(keys, steps, timestamps, values) -> dict[str, list[tuple[int, int, float, bool]]]:
    """{key: [(step, timestamp, stored value, is_nan), ...]} of a columnar batch. The layouts
    clients send (one key; keys interleaved step by step; each key's points together) are
    grouped by slicing; any other order point by point."""
    if _all_finite(values):
        points = list(zip(steps, timestamps, values, repeat(False)))
    else:
        points = [(s, ts, v, False) if -DBL_MAX < v < DBL_MAX else (s, ts, *encode_value(v))
                  for s, ts, v in zip(steps, timestamps, values)]
    distinct = list(dict.fromkeys(keys))
    width = len(distinct)
    if width <= 1:
        return {distinct[0]: points} if distinct else {}
    if keys[:width] == distinct and keys[width:] == keys[:-width]:  # k0 k1 k2 k0 k1 k2 ...
        return {key: points[i::width] for i, key in enumerate(distinct)}
    runs = [(key, sum(1 for _ in group)) for key, group in groupby(keys)]
    if len(runs) == width:  # k0 k0 k0 k1 k1 k1 ...
        grouped, start = {}, 0
        for key, length in runs:
            grouped[key] = points[start : start + length]
            start += length
        return grouped
    by_key: dict[str, list] = defaultdict(list)
    for key, point in zip(keys, points):
        by_key[key].append(point)
    return by_key


def _all_finite(values) -> bool:
    """No NaN or infinity among the values, checked by one builtin sum (a sum that overflows, or
    integers too large for a float, answer False and take the point-by-point path)."""
    try:
        return math.isfinite(sum(values))
    except OverflowError:
        return False
