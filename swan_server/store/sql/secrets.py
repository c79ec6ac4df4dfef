"""Server-wide secrets shared by every worker, created once."""

from __future__ import annotations

from sqlalchemy import select

from swan_server.db import schema as t
from swan_server.db.dialects import insert_ignore
from swan_server.store.sql.base import SqlStoreBase, now_ms

S = t.server_secrets


class SecretsMixin(SqlStoreBase):
    def server_secret(self, name, generate):
        with self.read() as conn:
            value = conn.execute(select(S.c.value).where(S.c.name == name)).scalar()
        if value is not None:
            return value
        with self.write() as conn:
            # Several workers may race here: the first insert wins and everyone reads it back.
            conn.execute(insert_ignore(S, self.dialect).values(name=name, value=generate(), created_time=now_ms()))
            return conn.execute(select(S.c.value).where(S.c.name == name)).scalar_one()
