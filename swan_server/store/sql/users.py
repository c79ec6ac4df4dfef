"""Users, API keys and sessions in SQL."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from swan_server.db import schema as t
from swan_server.entities import User
from swan_server.errors import already_exists, not_found
from swan_server.store.sql.base import SqlStoreBase, now_ms


def _user(row) -> User:
    return User(row.id, row.name, row.role, bool(row.disabled), row.workspace_id, row.display_name, row.created_time)


class UsersMixin(SqlStoreBase):
    def create_user(self, name: str, role: str, display_name: str | None = None) -> User:
        now = now_ms()
        with self.write() as conn:
            if conn.execute(select(t.users.c.id).where(t.users.c.name == name)).first():
                raise already_exists(f"User '{name}' already exists.")
            ws = conn.execute(select(t.workspaces.c.id).where(t.workspaces.c.name == name)).scalar()
            if ws is None:
                ws = conn.execute(t.workspaces.insert().values(name=name, created_time=now)).inserted_primary_key[0]
            try:
                uid = conn.execute(
                    t.users.insert().values(
                        name=name, display_name=display_name, role=role, disabled=False, workspace_id=ws, created_time=now
                    )
                ).inserted_primary_key[0]
            except IntegrityError:
                raise already_exists(f"User '{name}' already exists.") from None
            return _user(conn.execute(select(t.users).where(t.users.c.id == uid)).one())

    def get_user(self, name: str) -> User | None:
        with self.read() as conn:
            row = conn.execute(select(t.users).where(t.users.c.name == name)).first()
            return None if row is None else _user(row)

    def list_users(self) -> list[User]:
        with self.read() as conn:
            return [_user(r) for r in conn.execute(select(t.users).order_by(t.users.c.id))]

    def set_user_disabled(self, name: str, disabled: bool) -> None:
        with self.write() as conn:
            res = conn.execute(update(t.users).where(t.users.c.name == name).values(disabled=disabled))
            if res.rowcount == 0:
                raise not_found(f"User '{name}' not found")
            if disabled:
                uid = conn.execute(select(t.users.c.id).where(t.users.c.name == name)).scalar_one()
                conn.execute(delete(t.sessions).where(t.sessions.c.user_id == uid))

    def add_api_key(self, user_id: int, key_hash: str, prefix: str, description: str | None = None) -> int:
        with self.write() as conn:
            return conn.execute(
                t.api_keys.insert().values(
                    user_id=user_id, key_hash=key_hash, prefix=prefix, description=description, created_time=now_ms()
                )
            ).inserted_primary_key[0]

    def list_api_keys(self, user_id: int) -> list[dict]:
        with self.read() as conn:
            rows = conn.execute(select(t.api_keys).where(t.api_keys.c.user_id == user_id).order_by(t.api_keys.c.id))
            return [dict(r._mapping) for r in rows]

    def revoke_api_key(self, prefix: str) -> int:
        with self.write() as conn:
            return conn.execute(
                update(t.api_keys)
                .where(t.api_keys.c.prefix == prefix, t.api_keys.c.revoked_time.is_(None))
                .values(revoked_time=now_ms())
            ).rowcount

    def user_by_key_hash(self, key_hash: str) -> User | None:
        with self.read() as conn:
            row = conn.execute(
                select(t.users)
                .join(t.api_keys, t.api_keys.c.user_id == t.users.c.id)
                .where(t.api_keys.c.key_hash == key_hash, t.api_keys.c.revoked_time.is_(None))
            ).first()
            return None if row is None else _user(row)

    def create_session(self, sid_hash: str, user_id: int, expires_time: int) -> None:
        now = now_ms()
        with self.write() as conn:
            conn.execute(delete(t.sessions).where(t.sessions.c.expires_time < now))
            conn.execute(
                t.sessions.insert().values(sid_hash=sid_hash, user_id=user_id, created_time=now, expires_time=expires_time)
            )

    def user_by_session(self, sid_hash: str) -> User | None:
        with self.read() as conn:
            row = conn.execute(
                select(t.users)
                .join(t.sessions, t.sessions.c.user_id == t.users.c.id)
                .where(t.sessions.c.sid_hash == sid_hash, t.sessions.c.expires_time > now_ms())
            ).first()
            return None if row is None else _user(row)

    def delete_session(self, sid_hash: str) -> None:
        with self.write() as conn:
            conn.execute(delete(t.sessions).where(t.sessions.c.sid_hash == sid_hash))

    def workspace_name(self, workspace_id: int) -> str | None:
        with self.read() as conn:
            return conn.execute(select(t.workspaces.c.name).where(t.workspaces.c.id == workspace_id)).scalar()
