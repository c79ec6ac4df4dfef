"""Run liveness: heartbeats, reopening a run, and crashing runs whose heartbeat stopped."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from swan_server.db import schema as t
from swan_server.entities import ACTIVE
from swan_server.store.sql.base import SqlStoreBase, now_ms

H = t.run_heartbeats
R = t.runs


class LivenessMixin(SqlStoreBase):
    def _touch(self, conn, run_pk: int, when: int) -> None:
        res = conn.execute(update(H).where(H.c.run_id == run_pk).values(last_seen_time=when))
        if res.rowcount == 0:
            conn.execute(H.insert().values(run_id=run_pk, last_seen_time=when))

    def touch_heartbeat(self, run_id):
        with self.write() as conn:
            run = self._run_row(conn, run_id)
            self._touch(conn, run.id, now_ms())

    def reopen_run(self, run_id):
        with self.write() as conn:
            run = self._active_run_row(conn, run_id)
            conn.execute(update(R).where(R.c.id == run.id).values(status="RUNNING", end_time=None))
            self._touch(conn, run.id, now_ms())

    def end_run(self, run_id, status, end_time):
        with self.write() as conn:
            run = self._active_run_row(conn, run_id)
            conn.execute(update(R).where(R.c.id == run.id).values(status=status, end_time=end_time))
            conn.execute(delete(H).where(H.c.run_id == run.id))

    def crash_silent_runs(self, silent_since, status="FAILED"):
        """One UPDATE: every active RUNNING run whose last heartbeat is older than `silent_since`
        gets `status`, ending at its last heartbeat. Safe to run from any number of workers."""
        last_seen = select(H.c.last_seen_time).where(H.c.run_id == R.c.id).scalar_subquery()
        silent = select(H.c.run_id).where(H.c.last_seen_time < silent_since)
        with self.write() as conn:
            return conn.execute(
                update(R)
                .where(R.c.status == "RUNNING", R.c.lifecycle_stage == ACTIVE, R.c.id.in_(silent))
                .values(status=status, end_time=last_seen)
                .execution_options(synchronize_session=False)
            ).rowcount
