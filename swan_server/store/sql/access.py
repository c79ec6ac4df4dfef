"""What the access policy reads from SQL: which workspace a project, run or artifact path belongs
to, who is a member of which workspace, and the failed-login counters of the rate limit."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from swan_server.db import schema as t
from swan_server.db.dialects import insert_ignore
from swan_server.errors import already_exists, invalid, not_found
from swan_server.store.sql.base import IN_CHUNK, SqlStoreBase, chunks, now_ms, parse_experiment_id

P = t.projects
R = t.runs
W = t.workspaces
M = t.workspace_members
U = t.users
F = t.login_failures

PROXY = "mlflow-artifacts:"


def location_path(location: str | None) -> str | None:
    """`mlflow-artifacts:/a/b/` → `a/b`; None for a location this server does not serve."""
    if not location or not location.startswith(PROXY):
        return None
    return location[len(PROXY):].strip("/")


class AccessMixin(SqlStoreBase):
    # -- ownership -------------------------------------------------------------------------------
    def workspaces_of_projects(self, experiment_ids) -> dict[str, int]:
        """{experiment id: workspace id} of the projects that exist."""
        ids = {}
        for e in experiment_ids:
            try:
                ids[parse_experiment_id(str(e).strip())] = str(e)
            except Exception:
                continue
        out: dict[str, int] = {}
        with self.read() as conn:
            for part in chunks(list(ids), IN_CHUNK):
                for pid, ws in conn.execute(select(P.c.id, P.c.workspace_id).where(P.c.id.in_(part))):
                    out[str(pid)] = ws
        return out

    def workspaces_of_runs(self, run_ids) -> dict[str, tuple[str, int]]:
        """{run id: (experiment id, workspace id)} of the runs that exist."""
        out: dict[str, tuple[str, int]] = {}
        ids = [r for r in dict.fromkeys(run_ids) if isinstance(r, str)]
        with self.read() as conn:
            for part in chunks(ids, IN_CHUNK):
                rows = conn.execute(
                    select(R.c.run_uuid, R.c.project_id, P.c.workspace_id)
                    .join(P, P.c.id == R.c.project_id)
                    .where(R.c.run_uuid.in_(part))
                )
                for run_id, pid, ws in rows:
                    out[run_id] = (str(pid), ws)
        return out

    def projects_containing_path(self, path: str) -> list[tuple[str, int]]:
        """[(experiment id, workspace id)] of every project whose artifact location contains the
        artifact path `path` (relative to the destination), or is that path."""
        parts = [p for p in path.split("/") if p]
        candidates = []
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            candidates += [f"{PROXY}/{prefix}", f"{PROXY}/{prefix}/", f"{PROXY}{prefix}", f"{PROXY}///{prefix}"]
        if not candidates:
            return []
        with self.read() as conn:
            rows = conn.execute(select(P.c.id, P.c.workspace_id).where(P.c.artifact_location.in_(candidates))).all()
        return [(str(pid), ws) for pid, ws in rows]

    def artifact_location_overlaps(self, location: str) -> str | None:
        """The name of a project whose artifact location contains `location` or lies inside it."""
        path = location_path(location)
        if path is None:
            return None
        parts = path.split("/")
        containing = [f"{PROXY}/{'/'.join(parts[:i])}" for i in range(1, len(parts) + 1)]
        containing += [c + "/" for c in containing]
        inside = f"{PROXY}/{path}/"
        with self.read() as conn:
            row = conn.execute(
                select(P.c.name).where(P.c.artifact_location.in_(containing) | P.c.artifact_location.startswith(
                    inside, autoescape=True))
            ).first()
        return None if row is None else row.name

    def workspace_of_experiment_name(self, name: str) -> int | None:
        with self.read() as conn:
            return conn.execute(select(P.c.workspace_id).where(P.c.name == name)).scalar()

    # -- membership ------------------------------------------------------------------------------
    def user_memberships(self, user_id: int) -> dict[int, str]:
        """{workspace id: role in it} of a user: its own workspace (owner) and its memberships."""
        with self.read() as conn:
            out = {ws: role for ws, role in conn.execute(select(M.c.workspace_id, M.c.role).where(M.c.user_id == user_id))}
            own = conn.execute(select(U.c.workspace_id).where(U.c.id == user_id)).scalar()
        if own is not None:
            out[own] = "owner"
        return out

    def list_workspaces(self) -> list[dict]:
        with self.read() as conn:
            rows = conn.execute(select(W.c.id, W.c.name, W.c.created_time).order_by(W.c.id)).all()
            owners = dict(conn.execute(select(U.c.workspace_id, U.c.name).where(U.c.workspace_id.is_not(None))).all())
        return [{"id": r.id, "name": r.name, "owner": owners.get(r.id), "created_time": r.created_time} for r in rows]

    def create_workspace(self, name: str) -> int:
        with self.write() as conn:
            if conn.execute(select(W.c.id).where(W.c.name == name)).first() is not None:
                raise already_exists(f"Workspace '{name}' already exists.")
            try:
                return conn.execute(W.insert().values(name=name, created_time=now_ms())).inserted_primary_key[0]
            except IntegrityError:
                raise already_exists(f"Workspace '{name}' already exists.") from None

    def workspace_members(self, workspace_id: int) -> list[dict]:
        with self.read() as conn:
            owner = conn.execute(select(U.c.name).where(U.c.workspace_id == workspace_id)).scalar()
            rows = conn.execute(
                select(U.c.name, M.c.role, M.c.created_time).join(U, U.c.id == M.c.user_id)
                .where(M.c.workspace_id == workspace_id).order_by(U.c.name)
            ).all()
        out = [{"user": owner, "role": "owner", "created_time": None}] if owner else []
        out += [{"user": r.name, "role": r.role, "created_time": r.created_time} for r in rows if r.name != owner]
        return out

    def set_workspace_member(self, workspace_id: int, user_id: int, role: str) -> None:
        with self.write() as conn:
            res = conn.execute(update(M).where(M.c.workspace_id == workspace_id, M.c.user_id == user_id).values(role=role))
            if res.rowcount == 0:
                conn.execute(M.insert().values(workspace_id=workspace_id, user_id=user_id, role=role,
                                               created_time=now_ms()))

    def remove_workspace_member(self, workspace_id: int, user_id: int) -> None:
        with self.write() as conn:
            if conn.execute(delete(M).where(M.c.workspace_id == workspace_id, M.c.user_id == user_id)).rowcount == 0:
                raise not_found("No such member in this workspace")

    def set_user_role(self, name: str, role: str) -> None:
        with self.write() as conn:
            if conn.execute(update(U).where(U.c.name == name).values(role=role)).rowcount == 0:
                raise not_found(f"User '{name}' not found")

    # -- failed logins ---------------------------------------------------------------------------
    def login_failures_since(self, scopes: list[str], since_bucket: int) -> tuple[int, int | None]:
        """(largest failure count of any one scope since `since_bucket`, oldest bucket counted)."""
        if not scopes:
            return 0, None
        with self.read() as conn:
            rows = conn.execute(
                select(F.c.scope, func.sum(F.c.failures), func.min(F.c.bucket))
                .where(F.c.scope.in_(scopes), F.c.bucket >= since_bucket)
                .group_by(F.c.scope)
            ).all()
        if not rows:
            return 0, None
        worst = max(rows, key=lambda r: int(r[1] or 0))
        return int(worst[1] or 0), worst[2]

    def add_login_failure(self, scopes: list[str], bucket: int, forget_before: int) -> None:
        with self.write() as conn:
            conn.execute(delete(F).where(F.c.bucket < forget_before))
            for scope in scopes:
                insert = insert_ignore(F, self.dialect).values(scope=scope, bucket=bucket, failures=1)
                if self.dialect == "postgresql":
                    created = conn.execute(insert.returning(F.c.scope)).first() is not None
                else:
                    created = conn.execute(insert).rowcount == 1
                if not created:
                    conn.execute(update(F).where(F.c.scope == scope, F.c.bucket == bucket)
                                 .values(failures=F.c.failures + 1))

def check_workspace_role(role: str) -> str:
    if role not in ("owner", "member", "viewer"):
        raise invalid(f"Invalid workspace role '{role}'. Valid roles are ['owner', 'member', 'viewer']")
    return role
