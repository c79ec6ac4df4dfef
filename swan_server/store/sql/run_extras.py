"""Run lookups for faces that address runs without their experiment (SwanLab's cuid routes),
and step-idempotent metric ingestion."""

from __future__ import annotations


from sqlalchemy import func, select

from swan_server.db import schema as t
from swan_server.entities import ACTIVE
from swan_server.records import RunContext
from swan_server.store.sql.base import decode_value
from swan_server.store.sql.batches import group_columns
from swan_server.store.sql.point_chunks import BLOCK_BITS
from swan_server.store.sql.points import PointsMixin

R, P, W = t.runs, t.projects, t.workspaces
S = t.metric_series


class RunExtrasMixin(PointsMixin):
    def run_context(self, run_id):
        with self.read() as conn:
            row = conn.execute(
                select(R.c.id, R.c.run_uuid, R.c.name, R.c.status, R.c.lifecycle_stage, R.c.start_time,
                       R.c.end_time, R.c.artifact_uri, P.c.id.label("pid"), P.c.name.label("pname"),
                       W.c.name.label("wname"))
                .join(P, P.c.id == R.c.project_id)
                .join(W, W.c.id == P.c.workspace_id)
                .where(R.c.run_uuid == run_id)
            ).first()
        if row is None:
            return None
        return RunContext(row.id, row.run_uuid, row.name, row.status, row.lifecycle_stage, row.start_time,
                          row.end_time, row.artifact_uri, row.pid, row.pname, row.wname)

    def workspace_of_experiment(self, experiment_id):
        with self.read() as conn:
            exp = self._experiment_row(conn, experiment_id)
            return conn.execute(select(W.c.name).where(W.c.id == exp.workspace_id)).scalar_one()

    def workspace_id_by_name(self, name):
        with self.read() as conn:
            return conn.execute(select(W.c.id).where(W.c.name == name)).scalar()

    def count_runs(self, experiment_id):
        with self.read() as conn:
            exp = self._experiment_row(conn, experiment_id)
            return conn.execute(
                select(func.count()).select_from(R).where(R.c.project_id == exp.id, R.c.lifecycle_stage == ACTIVE)
            ).scalar_one()

    def log_metrics_once(self, run_id, keys, steps, timestamps, values):
        """Insert points whose (key, step) the run does not have yet, in one transaction; points
        at a step already stored for that key are ignored (a resent or replayed batch changes
        nothing). Returns the number of points inserted."""
        if not keys:
            return 0
        with self.write() as conn:
            run = self._active_run_row(conn, run_id)
            by_key = group_columns(keys, steps, timestamps, values)
            stored = {
                key: (sid, max_step) for key, sid, max_step in conn.execute(
                    select(S.c.key, S.c.id, S.c.max_step).where(S.c.run_id == run.id, S.c.key.in_(list(by_key)))
                )
            }
            fresh = {}
            for key, points in by_key.items():
                batch_steps = [p[0] for p in points]
                sid, max_step = stored.get(key, (None, None))
                if (sid is None or min(batch_steps) > max_step) and len(set(batch_steps)) == len(batch_steps):
                    fresh[key] = points  # the usual case: new steps only, each once
                    continue
                seen: set[int] = set()
                if sid is not None:
                    blocks = {step >> BLOCK_BITS for step in batch_steps}
                    seen.update(p[0] for p in self._points_of_blocks(conn, sid, blocks))
                kept = []
                for point in points:
                    if point[0] not in seen:
                        seen.add(point[0])  # the first point of a step in a batch wins
                        kept.append(point)
                if kept:
                    fresh[key] = kept
            if not fresh:
                return 0
            return self._insert_grouped(conn, run.id, fresh)

    def series_last_steps(self, run_id):
        with self.read() as conn:
            run = self._run_row(conn, run_id)
            return {k: int(s) for k, s in conn.execute(select(S.c.key, S.c.max_step).where(S.c.run_id == run.id))}

    def metric_points_from(self, run_id, key, min_step, limit):
        """Up to `limit` points of one series of a run with step >= min_step, ordered by (step,
        timestamp, value), as (step, timestamp, value): keyset pages to stream a whole series
        (SwanLab's scalar export). An unknown key has no points."""
        with self.read() as conn:
            run = self._run_row(conn, run_id)
            sid = conn.execute(select(S.c.id).where(S.c.run_id == run.id, S.c.key == key)).scalar()
            if sid is None:
                return []
            rows = self._points_page(conn, sid, 0, limit, min_step=min_step)
        return [(int(s), int(ts), decode_value(v, nan)) for s, ts, v, nan in rows]
