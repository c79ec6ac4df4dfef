"""Users, API keys and workspace members, as the admin routes of `/api/v1` manage them.

Users and keys are the admins' alone. A workspace's members are managed by the admins and by the
workspace's owners; anyone who may read a workspace may list its members."""

from __future__ import annotations

from swan_server.entities import ROLES, User
from swan_server.errors import invalid, not_found
from swan_server.services.access import SHARED_WORKSPACE_ID, READ, AccessPolicy, current, denied, workspace_level
from swan_server.services.identity import IdentityService
from swan_server.store.sql.access import check_workspace_role


def user_json(u: User) -> dict:
    return {"name": u.name, "role": u.role, "disabled": u.disabled, "display_name": u.display_name,
            "created_time": u.created_time}


def _check_name(name, what: str) -> str:
    if not isinstance(name, str) or not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise invalid(f"Invalid {what} name {str(name)[:70]!r}: use letters, digits, '-', '_' or '.' (at most 64)")
    return name


class AdminService:
    def __init__(self, store, identity: IdentityService):
        self.store = store
        self.identity = identity
        self.access = AccessPolicy(store)

    # -- users ---------------------------------------------------------------------------------------
    def list_users(self) -> list[User]:
        self.access.require_admin("Listing users")
        return self.store.list_users()

    def create_user(self, name, role="member", display_name=None) -> tuple[User, str]:
        self.access.require_admin("Creating users")
        if role is None:
            role = "member"
        if not isinstance(role, str) or role not in ROLES:
            raise invalid(f"Invalid role {role!r}. Valid roles are {list(ROLES)}")
        if display_name is not None and (not isinstance(display_name, str) or len(display_name) > 255):
            raise invalid("'display_name' must be a string of at most 255 characters")
        return self.identity.create_user(_check_name(name, "user"), role, display_name)

    def _user(self, name) -> User:
        user = self.store.get_user(_check_name(name, "user"))
        if user is None:
            raise not_found(f"User '{name}' not found")
        return user

    def update_user(self, name, disabled=None, role=None) -> User:
        self.access.require_admin("Changing users")
        user = self._user(name)
        if disabled is not None:
            if not isinstance(disabled, bool):
                raise invalid("'disabled' must be true or false")
            if disabled and user.id == getattr(current().user, "id", None):
                raise invalid("You cannot disable yourself")
            self.store.set_user_disabled(user.name, disabled)
        if role is not None:
            if not isinstance(role, str) or role not in ROLES:
                raise invalid(f"Invalid role {role!r}. Valid roles are {list(ROLES)}")
            self.store.set_user_role(user.name, role)
        return self._user(name)

    # -- keys ------------------------------------------------------------------------------------------
    def list_keys(self, name) -> list[dict]:
        self.access.require_admin("Listing API keys")
        user = self._user(name)
        return [{"prefix": k["prefix"], "description": k["description"], "created_time": k["created_time"],
                 "revoked_time": k["revoked_time"]} for k in self.store.list_api_keys(user.id)]

    def create_key(self, name, description=None) -> str:
        self.access.require_admin("Creating API keys")
        if description is not None and (not isinstance(description, str) or len(description) > 255):
            raise invalid("'description' must be a string of at most 255 characters")
        return self.identity.add_key(self._user(name), description)

    def revoke_key(self, prefix) -> int:
        self.access.require_admin("Revoking API keys")
        if not isinstance(prefix, str) or len(prefix) < 11:
            raise invalid("Give the key's prefix: its first 11 characters (e.g. swan_AbCdEf)")
        n = self.store.revoke_api_key(prefix[:11])
        if n == 0:
            raise not_found(f"No active key starts with '{prefix[:11]}'")
        return n

    # -- workspaces ------------------------------------------------------------------------------------
    def list_workspaces(self) -> list[dict]:
        self.access.require_reader()
        p = current()
        items = self.store.list_workspaces()
        if p.is_admin:
            return items
        mine = p.memberships()
        return [w for w in items if w["id"] == SHARED_WORKSPACE_ID or w["id"] in mine]

    def create_workspace(self, name) -> dict:
        self.access.require_admin("Creating workspaces")
        ws_id = self.store.create_workspace(_check_name(name, "workspace"))
        return {"id": ws_id, "name": name}

    def _workspace(self, name) -> int:
        ws_id = self.store.workspace_id_by_name(name) if isinstance(name, str) else None
        if ws_id is None:
            raise not_found(f"Workspace '{name}' not found")
        return ws_id

    def _require_manager(self, ws_id: int, name: str) -> None:
        p = current()
        if p.is_admin:
            return
        if p.role != "viewer" and p.memberships().get(ws_id) == "owner" and ws_id != SHARED_WORKSPACE_ID:
            return
        raise denied(f"Only the admins and the owners of workspace '{name}' manage its members")

    def members(self, name) -> list[dict]:
        ws_id = self._workspace(name)
        if workspace_level(current(), ws_id) < READ:
            raise denied(f"User '{current().name}' has no access to workspace '{name}'")
        return self.store.workspace_members(ws_id)

    def set_member(self, name, user_name, role) -> None:
        ws_id = self._workspace(name)
        self._require_manager(ws_id, name)
        role = check_workspace_role(role if isinstance(role, str) else "")
        user = self._user(user_name)
        if user.workspace_id == ws_id:
            raise invalid(f"User '{user.name}' owns workspace '{name}'")
        self.store.set_workspace_member(ws_id, user.id, role)

    def remove_member(self, name, user_name) -> None:
        ws_id = self._workspace(name)
        self._require_manager(ws_id, name)
        self.store.remove_workspace_member(ws_id, self._user(user_name).id)
