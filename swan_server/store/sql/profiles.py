"""Run profiles (config, metadata, requirements, conda), with params derived from the config."""

from __future__ import annotations

from sqlalchemy import delete, select

from swan_server.db import schema as t
from swan_server.db.dialects import insert_ignore
from swan_server.store.sql.base import SqlStoreBase, chunks, now_ms

RP = t.run_profiles


class ProfilesMixin(SqlStoreBase):
    def put_run_profile(self, run_id, kind, update, params=None):
        with self.write() as conn:
            run = self._active_run_row(conn, run_id)
            old = conn.execute(
                select(RP.c.content).where(RP.c.run_id == run.id, RP.c.kind == kind).with_for_update()
            ).scalar()
            content = update(old)
            if content != old:
                conn.execute(delete(RP).where(RP.c.run_id == run.id, RP.c.kind == kind))
                conn.execute(RP.insert().values(run_id=run.id, kind=kind, content=content, updated_time=now_ms()))
            if params:
                # Params are immutable: keys already logged keep their first value.
                conn.execute(
                    insert_ignore(t.params, self.dialect),
                    [{"run_id": run.id, "key": k, "value": v} for k, v in params.items()],
                )
            return content

    def get_run_profiles(self, run_id):
        with self.read() as conn:
            run = self._run_row(conn, run_id)
            return dict(conn.execute(select(RP.c.kind, RP.c.content).where(RP.c.run_id == run.id)).all())

    def get_run_profiles_bulk(self, run_ids, kinds=None):
        """{run_id: {kind: content}} of several runs (the SwanLab read API lists runs with their
        config); runs without profiles are absent. `kinds` narrows the kinds read."""
        if not run_ids:
            return {}
        R = t.runs
        out: dict[str, dict[str, str]] = {}
        with self.read() as conn:
            for part in chunks(list(run_ids)):
                query = select(R.c.run_uuid, RP.c.kind, RP.c.content).join(R, R.c.id == RP.c.run_id).where(
                    R.c.run_uuid.in_(part))
                if kinds:
                    query = query.where(RP.c.kind.in_(list(kinds)))
                for run_uuid, kind, content in conn.execute(query):
                    out.setdefault(run_uuid, {})[kind] = content
        return out
