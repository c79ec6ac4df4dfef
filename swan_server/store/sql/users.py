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
        """Revoke the live keys with this prefix and end their users' sessions: a session does not
        record which key opened it, so a revoked key must not keep one alive (the user logs in
        again with a key it still holds)."""
        live = (t.api_keys.c.prefix == prefix, t.api_keys.c.revoked_time.is_(None))
        with self.write() as conn:
            users = list(conn.execute(select(t.api_keys.c.user_id).where(*live)).scalars())
            revoked = conn.execute(update(t.api_keys).where(*live).values(revoked_time=now_ms())).rowcount
            if users:
                conn.execute(delete(t.sessions).where(t.sessions.c.user_id.in_(users)))
            return revoked

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

    # -- moving users between servers (`swan export` / `swan import swan`) ------------------------
    def export_users(self) -> list[dict]:
        """Every user with its own workspace, workspace memberships and API keys, by name. Keys
        are the stored SHA-256 digests (the server never has the plain keys)."""
        U, K, M, W = t.users, t.api_keys, t.workspace_members, t.workspaces
        with self.read() as conn:
            ws = dict(conn.execute(select(W.c.id, W.c.name)).all())
            users = conn.execute(select(U).order_by(U.c.id)).all()
            keys: dict[int, list[dict]] = {}
            for r in conn.execute(select(K).order_by(K.c.id)):
                keys.setdefault(r.user_id, []).append(
                    {"key_hash": r.key_hash, "prefix": r.prefix, "description": r.description,
                     "created_time": r.created_time, "revoked_time": r.revoked_time})
            members: dict[int, list[dict]] = {}
            for r in conn.execute(select(M).order_by(M.c.workspace_id)):
                members.setdefault(r.user_id, []).append(
                    {"workspace": ws.get(r.workspace_id), "role": r.role, "created_time": r.created_time})
        return [{"name": u.name, "display_name": u.display_name, "role": u.role, "disabled": bool(u.disabled),
                 "created_time": u.created_time, "workspace": ws.get(u.workspace_id),
                 "memberships": members.get(u.id, []), "api_keys": keys.get(u.id, [])} for u in users]

    def import_users(self, rows: list[dict], replace: bool = False) -> dict[str, list[str]]:
        """Create the exported users that this server lacks, with their workspaces, memberships
        and API keys (digests as exported). A user whose name exists here is kept as it is, or
        with `replace` takes the export's role, display name, disabled state and memberships
        and gains its API keys (keys it has here stay; a key revoked in the export is revoked).
        A key digest that belongs to another user here is skipped. Returns the names
        {"created": [...], "replaced": [...], "kept": [...], "skipped_keys": [...]}."""
        U, K, M, W = t.users, t.api_keys, t.workspace_members, t.workspaces
        out: dict[str, list[str]] = {"created": [], "replaced": [], "kept": [], "skipped_keys": []}
        now = now_ms()
        with self.write() as conn:

            def workspace(name: str | None) -> int | None:
                if not name:
                    return None
                found = conn.execute(select(W.c.id).where(W.c.name == name)).scalar()
                if found is None:
                    found = conn.execute(W.insert().values(name=name, created_time=now)).inserted_primary_key[0]
                return found

            for row in rows:
                found = conn.execute(select(U).where(U.c.name == row["name"])).first()
                values = {"display_name": row.get("display_name"), "role": row["role"],
                          "disabled": bool(row.get("disabled"))}
                if found is None:
                    uid = conn.execute(U.insert().values(
                        name=row["name"], workspace_id=workspace(row.get("workspace") or row["name"]),
                        created_time=row.get("created_time") or now, **values)).inserted_primary_key[0]
                    out["created"].append(row["name"])
                elif replace:
                    uid = found.id
                    conn.execute(update(U).where(U.c.id == uid).values(**values))
                    if values["disabled"]:
                        conn.execute(delete(t.sessions).where(t.sessions.c.user_id == uid))
                    out["replaced"].append(row["name"])
                else:
                    out["kept"].append(row["name"])
                    continue
                own = conn.execute(select(U.c.workspace_id).where(U.c.id == uid)).scalar()
                for m in row.get("memberships", []):
                    ws_id = workspace(m.get("workspace"))
                    if ws_id is None or ws_id == own:
                        continue
                    res = conn.execute(update(M).where(M.c.workspace_id == ws_id, M.c.user_id == uid).values(role=m["role"]))
                    if res.rowcount == 0:
                        conn.execute(M.insert().values(workspace_id=ws_id, user_id=uid, role=m["role"],
                                                       created_time=m.get("created_time") or now))
                for k in row.get("api_keys", []):
                    holder = conn.execute(select(K.c.user_id, K.c.revoked_time).where(K.c.key_hash == k["key_hash"])).first()
                    if holder is None:
                        conn.execute(K.insert().values(
                            user_id=uid, key_hash=k["key_hash"], prefix=k["prefix"], description=k.get("description"),
                            created_time=k.get("created_time") or now, revoked_time=k.get("revoked_time")))
                    elif holder.user_id != uid:
                        out["skipped_keys"].append(f"{row['name']}:{k['prefix']}")
                    elif k.get("revoked_time") and holder.revoked_time is None:
                        conn.execute(update(K).where(K.c.key_hash == k["key_hash"]).values(revoked_time=k["revoked_time"]))
        return out
