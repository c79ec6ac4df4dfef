"""Who may do what: the one access policy every face goes through.

A request acts as one `Principal`, resolved from its credentials by `swan_server.auth` and kept
for the request in a context variable (`current()`); code running outside a request (the CLI,
importers, gc) acts as the `SYSTEM` principal. The services call the checks below before they
touch a project, run, model, trace or artifact, so the rules live here once:

* **admin** (global role): everything, including users, keys and workspaces.
* **member**: reads and writes the projects of the workspaces it belongs to; **viewer**: only
  reads them. A workspace role (`owner` | `member` | `viewer`, table `workspace_members`) can
  narrow a member to reading one workspace; it never lifts a viewer to writing.
* Every user owns the workspace named after it (`owner`). Other users' workspaces are closed
  unless the user is made a member of them.
* The **shared workspace** (id 1, named `admin`: plain MLflow experiment names such as
  `my-project` live there) is open to every user: members read and write it, viewers read it.
  An MLflow or `/api/v1` project named `W/P`, where `W` is a workspace, is created in `W`.
* The model registry is server-wide: every user reads it, members and admins write it.
* Lists and searches show only what the principal may read; reading or writing something
  outside it is PERMISSION_DENIED (403). Something that does not exist stays a 404.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable, Iterable

from swan_server.entities import User
from swan_server.errors import PERMISSION_DENIED, SwanError

SHARED_WORKSPACE_ID = 1
NONE, READ, WRITE = 0, 1, 2


@dataclass(eq=False)
class Principal:
    """Who a request acts as. `via` says how it was identified: "system" (no request),
    "anonymous" (no credentials, only with authentication off), "key" (Bearer or a SwanLab raw
    key), "basic" (user name + API key), "session" (the dashboard's cookie), "sid" (SwanLab's
    session cookie), or "nobody" (a request that was never identified: allowed nothing)."""

    user: User | None
    role: str
    via: str
    memberships_loader: Callable[[], dict[int, str]] | None = None
    _memberships: dict[int, str] | None = field(default=None, repr=False)

    @property
    def authenticated(self) -> bool:
        return self.user is not None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def name(self) -> str:
        if self.user is not None:
            return self.user.name
        return "the server" if self.via == "system" else "an anonymous caller"

    def memberships(self) -> dict[int, str]:
        if self._memberships is None:
            self._memberships = self.memberships_loader() if self.memberships_loader else {}
        return self._memberships


SYSTEM = Principal(None, "admin", "system")
NOBODY = Principal(None, "none", "nobody")

_current: ContextVar[Principal | None] = ContextVar("swan_principal", default=None)
_client: ContextVar[str | None] = ContextVar("swan_client", default=None)


def set_client(address: str | None) -> None:
    """The network address of this request's client (the login rate limit counts by it)."""
    _client.set(address)


def current_client() -> str | None:
    return _client.get()


def set_current(principal: Principal | None):
    return _current.set(principal)


def reset_current(token) -> None:
    _current.reset(token)


def current() -> Principal:
    """The principal of this request; SYSTEM outside any request; NOBODY inside a request that
    was never identified (fail closed)."""
    p = _current.get()
    if p is not None:
        return p
    try:
        from flask import has_request_context
    except ImportError:  # pragma: no cover
        return SYSTEM
    return NOBODY if has_request_context() else SYSTEM


def denied(message: str) -> SwanError:
    return SwanError(message, PERMISSION_DENIED)


def workspace_level(p: Principal, workspace_id: int | None) -> int:
    if p.is_admin:
        return WRITE
    if p.role == "member":
        cap = WRITE
    elif p.role == "viewer":
        cap = READ
    else:
        return NONE
    if workspace_id == SHARED_WORKSPACE_ID:
        return cap
    role = p.memberships().get(workspace_id)
    if role is None:
        return NONE
    return min(cap, WRITE if role in ("owner", "member") else READ)


class AccessPolicy:
    """The checks, reading what they need from the store (one small query per check; none at all
    for an admin)."""

    def __init__(self, store):
        self.store = store

    # -- principals --------------------------------------------------------------------------------
    def principal_for(self, user: User, via: str) -> Principal:
        return Principal(user, user.role, via, lambda: self.store.user_memberships(user.id))

    # -- global rules ------------------------------------------------------------------------------
    @staticmethod
    def is_admin() -> bool:
        return current().is_admin

    @staticmethod
    def require_admin(what: str = "This") -> None:
        p = current()
        if not p.is_admin:
            raise denied(f"{what} needs the admin role; {p.name} has the role '{p.role}'")

    @staticmethod
    def require_writer(what: str = "This change") -> None:
        """Server-wide writes (the model registry): members and admins."""
        p = current()
        if p.role not in ("admin", "member"):
            raise denied(f"{what} needs the member or admin role; {p.name} may only read")

    @staticmethod
    def require_reader() -> None:
        p = current()
        if p.role not in ("admin", "member", "viewer"):
            raise denied(f"{p.name} may not read this server")

    # -- workspaces --------------------------------------------------------------------------------
    def check_workspace(self, workspace_id: int | None, write: bool, what: str) -> None:
        p = current()
        level = workspace_level(p, workspace_id)
        if level >= (WRITE if write else READ):
            return
        if level == READ:
            raise denied(f"User '{p.name}' may only read {what}")
        raise denied(f"User '{p.name}' has no access to {what}")

    def readable_workspaces(self) -> list[int] | None:
        """None when every workspace is readable; else the ids of those that are."""
        p = current()
        if p.is_admin:
            return None
        if p.role not in ("member", "viewer"):
            return []
        return sorted({SHARED_WORKSPACE_ID, *p.memberships()})

    def workspace_for_new_project(self, name: str) -> int:
        """Where a project of this name is created: `W/P` goes to workspace `W` when it exists,
        anything else to the shared workspace. Checks that the principal may write there."""
        ws_id = SHARED_WORKSPACE_ID
        if isinstance(name, str) and "/" in name:
            prefix = name.split("/", 1)[0]
            found = self.store.workspace_id_by_name(prefix) if prefix else None
            if found is not None:
                ws_id = found
        self.check_workspace(ws_id, True, f"workspace '{name.split('/', 1)[0]}'" if ws_id != SHARED_WORKSPACE_ID
                             else "the shared workspace")
        return ws_id

    # -- projects, runs ------------------------------------------------------------------------------
    def project(self, experiment_id, write: bool = False) -> None:
        """Check one project; an unknown id passes (the caller's lookup answers 404)."""
        if current().is_admin:
            return
        self.projects([experiment_id], write)

    def projects(self, experiment_ids: Iterable, write: bool = False) -> None:
        if current().is_admin:
            return
        ids = [str(e) for e in experiment_ids if e is not None]
        # Every project the database matched is checked (not only exact spellings of the ids:
        # `07` or ` 7` name project 7 too).
        for exp_id, ws in self.store.workspaces_of_projects(ids).items():
            self.check_workspace(ws, write, f"project {exp_id}")

    def run(self, run_id, write: bool = False) -> None:
        if current().is_admin:
            return
        self.runs([run_id], write)

    def runs(self, run_ids: Iterable, write: bool = False) -> None:
        if current().is_admin:
            return
        ids = [r for r in run_ids if isinstance(r, str)]
        # Every run the database matched is checked, however the id was spelled (MySQL compares
        # case-insensitively and ignores trailing spaces).
        checked: set[int] = set()
        for run_id, (_exp, ws) in self.store.workspaces_of_runs(ids).items():
            if ws not in checked:
                self.check_workspace(ws, write, f"the project of run {run_id}")
                checked.add(ws)

    def artifact_path(self, path: str, write: bool = False) -> None:
        """A path under the artifacts destination (the proxied `mlflow-artifacts` routes): the
        principal needs access to every project whose artifact location contains it; a path no
        project contains (the destination's root, a stray folder) is the admins' alone."""
        p = current()
        if p.is_admin:
            return
        owners = self.store.projects_containing_path(path)
        if not owners:
            raise denied(f"User '{p.name}' has no access to artifact path '{path}'")
        for exp_id, ws in owners:
            self.check_workspace(ws, write, f"project {exp_id}")
