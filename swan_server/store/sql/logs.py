"""Console log lines of a run."""

from __future__ import annotations

from sqlalchemy import func, select

from swan_server.db import schema as t
from swan_server.db.dialects import insert_ignore
from swan_server.records import LogLine
from swan_server.store.sql.base import SqlStoreBase

L = t.log_lines
INSERT_CHUNK = 5000


class LogsMixin(SqlStoreBase):
    def add_log_lines(self, run_id, lines):
        if not lines:
            return 0
        inserted = 0
        with self.write() as conn:
            run = self._active_run_row(conn, run_id)
            rows = [
                {"run_id": run.id, "line": ln.line, "level": ln.level, "message": ln.message,
                 "timestamp": ln.timestamp}
                for ln in lines
            ]
            for start in range(0, len(rows), INSERT_CHUNK):
                inserted += conn.execute(insert_ignore(L, self.dialect), rows[start : start + INSERT_CHUNK]).rowcount
        return inserted

    def get_log_lines(self, run_id, start_line=None, max_lines=None):
        with self.read() as conn:
            run = self._run_row(conn, run_id)
            query = select(L.c.line, L.c.level, L.c.message, L.c.timestamp).where(L.c.run_id == run.id)
            if start_line is not None:
                query = query.where(L.c.line >= start_line)
            query = query.order_by(L.c.line)
            if max_lines is not None:
                query = query.limit(max_lines)
            return [LogLine(*r) for r in conn.execute(query)]

    def last_log_line(self, run_id):
        with self.read() as conn:
            run = self._run_row(conn, run_id)
            value = conn.execute(select(func.max(L.c.line)).where(L.c.run_id == run.id)).scalar()
        return int(value) if value is not None else 0
