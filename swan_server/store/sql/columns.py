"""Column (chart) definitions of a project."""

from __future__ import annotations

from sqlalchemy import delete, select

from swan_server.db import schema as t
from swan_server.records import ProjectColumn
from swan_server.store.sql.base import SqlStoreBase, now_ms

PC = t.project_columns


class ColumnsMixin(SqlStoreBase):
    def upsert_project_columns(self, experiment_id, columns):
        if not columns:
            return
        by_key = {c.key: c for c in columns}  # the last definition of a key in a request wins
        now = now_ms()
        with self.write() as conn:
            exp = self._experiment_row(conn, experiment_id)
            keys = sorted(by_key)
            for start in range(0, len(keys), 1000):
                conn.execute(delete(PC).where(PC.c.project_id == exp.id, PC.c.key.in_(keys[start : start + 1000])))
            conn.execute(
                PC.insert(),
                [
                    {"project_id": exp.id, "key": c.key, "type": c.type, "section": c.section, "x_axis": c.x_axis,
                     "hidden": bool(c.hidden), "updated_time": now}
                    for c in by_key.values()
                ],
            )

    def list_project_columns(self, experiment_id):
        with self.read() as conn:
            exp = self._experiment_row(conn, experiment_id)
            rows = conn.execute(select(PC).where(PC.c.project_id == exp.id).order_by(PC.c.key)).all()
        return [ProjectColumn(r.key, r.type, r.section, r.x_axis, bool(r.hidden)) for r in rows]
