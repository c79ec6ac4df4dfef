"""The media index: one row per media item, the bytes being an artifact of the run."""

from __future__ import annotations

from sqlalchemy import func, select

from swan_server.db import schema as t
from swan_server.db.dialects import insert_ignore
from swan_server.records import MediaItem
from swan_server.store.sql.base import SqlStoreBase

M = t.media_items


class MediaMixin(SqlStoreBase):
    def add_media_items(self, run_id, items):
        if not items:
            return 0
        with self.write() as conn:
            run = self._active_run_row(conn, run_id)
            rows = [
                {"run_id": run.id, "key": i.key, "step": i.step, "seq": i.seq, "kind": i.kind, "path": i.path,
                 "caption": i.caption, "timestamp": i.timestamp}
                for i in items
            ]
            return conn.execute(insert_ignore(M, self.dialect), rows).rowcount

    def list_media_items(self, run_id, key=None):
        with self.read() as conn:
            run = self._run_row(conn, run_id)
            query = select(M).where(M.c.run_id == run.id)
            if key is not None:
                query = query.where(M.c.key == key)
            rows = conn.execute(query.order_by(M.c.key, M.c.step, M.c.seq)).all()
        return [MediaItem(r.key, r.step, r.seq, r.kind, r.path, r.caption, r.timestamp) for r in rows]

    def media_last_steps(self, run_id):
        with self.read() as conn:
            run = self._run_row(conn, run_id)
            rows = conn.execute(
                select(M.c.key, func.max(M.c.step)).where(M.c.run_id == run.id).group_by(M.c.key)
            ).all()
        return {k: int(s) for k, s in rows}
