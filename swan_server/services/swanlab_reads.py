"""Reads behind SwanLab's query client, `swanlab.Api()` (protocol §2.11): the signed-in user,
workspaces, projects and experiments (runs), in the shapes the SDK 0.10 parses.

An experiment is addressed by its SwanLab id: the `swanlab.cuid` tag of a run the SwanLab SDK
logged, or the run id of any other run (one logged with MLflow), so every Swan run of a project
reads back through `swanlab.Api()`. Its config is the SwanLab config document when the SDK sent
one, else the run's params as `{key: {"value": str, "sort": i, "desc": ""}}`.

Everything a caller gets wrong is a 4xx `SwanError`; lists are bounded (page sizes, and at most
`MAX_SHOWN_RUNS` runs for the unpaged `runs/shows`)."""

from __future__ import annotations

import json
import math
import re

from swan_server.entities import ACTIVE, User
from swan_server.errors import PERMISSION_DENIED, RESOURCE_CONFLICT, SwanError, invalid, not_found
from swan_server.services import access as access_mod
from swan_server.services.identity import ADMIN_USER
from swan_server.services.swanlab import (
    CUID_TAG, GROUP_TAG, JOB_TAG, LABELS_TAG, NOTE_TAG, STATUS_TO_STATE, VISIBILITY_TAG, Project,
    iso_ms, run_id_for, to_swan_key,
)

MAX_PAGE_SIZE = 100
MAX_SHOWN_RUNS = 1000  # `POST runs/shows` has no paging: the most recent runs, at most this many
RUN_CHUNK = 200  # runs read per store call
MAX_PROJECTS = 5000
_RUN_ID = re.compile(r"[0-9a-f]{32}")
SIDEBAR_TYPES = ("STABLE", "CONFIG", "SCALAR")
FILTER_OPS = ("EQ", "NEQ", "GTE", "LTE", "IN", "NOT IN", "CONTAIN")
EMPTY_PROFILE = {"bio": "", "url": "", "institution": "", "school": "", "email": "", "location": ""}


def check_page(page, size) -> tuple[int, int]:
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise invalid(f"Invalid page {page!r}: a positive integer is required")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        raise invalid(f"Invalid size {size!r}: between 1 and {MAX_PAGE_SIZE}")
    return page, size


def paged(items: list, total: int, page: int, size: int) -> dict:
    return {"list": items, "total": total, "size": size, "page": page, "pages": max(1, math.ceil(total / size))}


def _loads(text, default):
    try:
        value = json.loads(text) if text else default
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default


class SwanLabReads:
    def __init__(self, svc):
        self.svc = svc
        self.store = svc.store
        self.access = svc.access

    # -- user, workspaces ---------------------------------------------------------------------
    @staticmethod
    def user_profile(user: User) -> dict:
        return {**EMPTY_PROFILE, "username": user.name, "name": user.display_name or user.name}

    def _workspace_json(self, ws_id: int, name: str, owner: str | None) -> dict:
        p = access_mod.current()
        level = access_mod.workspace_level(p, ws_id)
        if p.user is not None and (p.user.workspace_id == ws_id or (p.is_admin and owner == p.user.name)):
            role = "OWNER"
        else:
            role = "MEMBER" if level >= access_mod.WRITE else "VIEWER"
        return {"username": name, "name": name, "type": "PERSON" if owner else "TEAM", "comment": "",
                "role": role, "profile": dict(EMPTY_PROFILE)}

    def workspace(self, user: User, name: str) -> dict:
        ws_id = self.store.workspace_id_by_name(name)
        if ws_id is None:
            raise not_found(f"Workspace '{name}' not found")
        self.access.check_workspace(ws_id, False, f"workspace '{name}'")
        owner = next((w["owner"] for w in self.store.list_workspaces() if w["id"] == ws_id), None)
        return self._workspace_json(ws_id, name, owner)

    def workspaces(self, user: User, username: str) -> list[dict]:
        """The workspaces `username` can read: all of them for the caller itself; another user's
        (only for an admin) are its own, its memberships and the shared one."""
        if username == user.name:
            readable = self.access.readable_workspaces()
        else:
            if not access_mod.current().is_admin:
                raise SwanError(f"User '{user.name}' may not list the workspaces of '{username}'", PERMISSION_DENIED)
            other = self.store.get_user(username)
            if other is None:
                raise not_found(f"User '{username}' not found")
            readable = sorted({access_mod.SHARED_WORKSPACE_ID, *self.store.user_memberships(other.id)})
        out = []
        for w in self.store.list_workspaces():
            if readable is None or w["id"] in readable:
                out.append(self._workspace_json(w["id"], w["name"], w["owner"]))
        return out

    # -- self-hosted instance -----------------------------------------------------------------
    def self_hosted_info(self, user: User) -> dict:
        """Swan is always an unexpired self-hosted instance; admins are its root users."""
        return {"enabled": True, "expired": False, "root": access_mod.current().is_admin, "plan": "free",
                "seats": len(self.store.list_users())}

    def self_hosted_users(self, user: User, page: int, size: int) -> dict:
        # The role first: a caller who may not list users learns nothing from the paging checks.
        self.access.require_admin("Listing the users")
        page, size = check_page(page, size)
        users = self.store.list_users()
        items = [{"username": u.name, "name": u.display_name or u.name, "role": u.role, "disabled": u.disabled,
                  "createdAt": iso_ms(u.created_time)} for u in users[(page - 1) * size: page * size]]
        return paged(items, len(users), page, size)

    # -- projects -----------------------------------------------------------------------------
    def _project_json(self, proj: Project, created=None, updated=None, description="") -> dict:
        out = proj.json()
        out.update({"description": description, "projectLabels": [], "role": "OWNER"})
        if created is not None:
            out["createdAt"] = iso_ms(created)
        if updated is not None:
            out["updatedAt"] = iso_ms(updated)
        return out

    def get_project(self, user: User, workspace: str, project: str) -> dict:
        proj = self.svc.get_project(user, workspace, project)
        exp = self.store.get_experiment(proj.experiment_id)
        return self._project_json(proj, exp.creation_time, exp.last_update_time, exp.tags.get(NOTE_TAG, ""))

    def list_projects(self, user: User, workspace: str, page: int, size: int, search: str | None,
                      sort: str | None) -> dict:
        page, size = check_page(page, size)
        ws_id = self.store.workspace_id_by_name(workspace)
        if ws_id is None:
            raise not_found(f"Workspace '{workspace}' not found")
        self.access.check_workspace(ws_id, False, f"workspace '{workspace}'")
        prefix = "" if workspace == ADMIN_USER else f"{workspace}/"
        found = []
        for p in self.store.project_overview(search or None, MAX_PROJECTS, [ws_id]):
            name = p["name"][len(prefix):] if p["name"].startswith(prefix) else None
            if not name or "/" in name:
                continue  # not addressable as <workspace>/<project>
            found.append((name, p))
        if sort in ("name",):
            found.sort(key=lambda x: x[0])
        elif sort in ("create", "createdAt"):
            found.sort(key=lambda x: -(x[1]["creation_time"] or 0))
        items = []
        for name, p in found[(page - 1) * size: page * size]:
            exp = self.store.get_experiment(p["id"])
            proj = Project(p["id"], workspace, name, exp.tags.get(VISIBILITY_TAG, "PRIVATE"), p["run_count"])
            items.append(self._project_json(proj, p["creation_time"], p["last_activity"], exp.tags.get(NOTE_TAG, "")))
        return paged(items, len(found), page, size)

    # -- experiments --------------------------------------------------------------------------
    def resolve(self, user: User, ref, workspace: str | None = None, project: str | None = None,
                project_id=None):
        """The run an experiment id names (its cuid, or a run id), checked for reading: 404 when
        unknown or deleted, 409 when it lives in another project than the one named."""
        ref = self.svc._check_cuid(ref)
        ctx = self.store.run_context(run_id_for(ref))
        if ctx is None and _RUN_ID.fullmatch(ref):
            ctx = self.store.run_context(ref)
        if ctx is None or ctx.lifecycle_stage != ACTIVE:
            raise not_found(f"Experiment '{ref}' not found")
        if project_id not in (None, "") and str(project_id) != str(ctx.project_id):
            raise SwanError(f"Experiment '{ref}' belongs to another project", RESOURCE_CONFLICT)
        if project is not None and self.svc.experiment_name(workspace, project) != ctx.project_name:
            raise SwanError(f"Experiment '{ref}' belongs to another project", RESOURCE_CONFLICT)
        self.svc.check_workspace(user, ctx.workspace, write=False)
        return ctx

    def _rows(self, project_id: str, filter_string: str | None, offset: int, limit: int,
              metric_keys: list[str] = ()) -> tuple[int, list[dict]]:
        params = self.store.project_keys(project_id)["params"]
        table = self.store.run_table([project_id], filter_string, None, offset, limit, params, list(metric_keys))
        return table["total"], table["runs"]

    def _runs_json(self, rows: list[dict], project_id: str) -> list[dict]:
        profiles = self.store.get_run_profiles_bulk([r["run_id"] for r in rows])
        return [self._run_json(r, profiles.get(r["run_id"], {}), project_id) for r in rows]

    @staticmethod
    def _run_json(row: dict, profile: dict, project_id: str) -> dict:
        tags = row["tags"]
        cuid = tags.get(CUID_TAG) or row["run_id"]
        labels = [x for x in _loads(tags.get(LABELS_TAG), []) if isinstance(x, str)]
        if "config" in profile:
            config = _loads(profile["config"], {})
        else:
            config = {k: {"value": v, "sort": i, "desc": ""} for i, (k, v) in enumerate(sorted(row["params"].items()))}
        out = {
            "cuid": cuid, "slug": cuid, "flagId": cuid, "name": row["name"] or cuid, "type": "CHAPTER",
            "description": (row.get("system_tags") or {}).get(NOTE_TAG, ""),
            "labels": [{"name": x, "colors": []} for x in labels],
            "profile": {"config": config, "metadata": _loads(profile.get("metadata"), {}),
                        "requirements": profile.get("requirements") or "", "conda": profile.get("conda") or ""},
            "show": True, "state": STATUS_TO_STATE.get(row["status"], "RUNNING"),
            "cluster": tags.get(GROUP_TAG, ""), "job": tags.get(JOB_TAG, ""),
            "user": {"name": row["user_id"] or "", "username": row["user_id"] or ""},
            "createdAt": iso_ms(row["start_time"]), "project_id": str(project_id), "runId": row["run_id"],
        }
        if row["end_time"] and out["state"] != "RUNNING":
            out["finishedAt"] = iso_ms(row["end_time"])
        return out

    def get_run(self, user: User, workspace: str, project: str, ref) -> dict:
        self.svc.check_workspace(user, workspace, write=False)
        ctx = self.resolve(user, ref, workspace=workspace, project=project)
        _, rows = self._rows(str(ctx.project_id), f"attributes.run_id = '{ctx.run_id}'", 0, 1)
        if not rows:
            raise not_found(f"Experiment '{ref}' not found")
        return self._runs_json(rows, str(ctx.project_id))[0]

    def list_runs(self, user: User, workspace: str, project: str, page: int, size: int) -> dict:
        page, size = check_page(page, size)
        proj = self.svc.get_project(user, workspace, project)
        total, rows = self._rows(proj.experiment_id, None, (page - 1) * size, size)
        return paged(self._runs_json(rows, proj.experiment_id), total, page, size)

    def show_runs(self, user: User, workspace: str, project: str, body) -> list[dict]:
        """`POST runs/shows`: the project's runs (newest first, at most MAX_SHOWN_RUNS) that pass
        every active filter, sorted by the active sorts. Groups are answered flat (the SDK
        flattens grouped answers anyway)."""
        if not isinstance(body, dict):
            raise invalid("Malformed request body: a JSON object is required")
        proj = self.svc.get_project(user, workspace, project)
        filters = [f for f in _items(body.get("filters"), "filters", with_op=True) if f.get("active", True)]
        sorts = [s for s in _items(body.get("sorts"), "sorts", with_order=True) if s.get("active", True)]
        _items(body.get("groups"), "groups")
        scalar_keys = sorted({to_swan_key(i["key"]) for i in filters + sorts if i["type"] == "SCALAR"})
        rows = []
        while len(rows) < MAX_SHOWN_RUNS:
            _, chunk = self._rows(proj.experiment_id, None, len(rows), min(RUN_CHUNK, MAX_SHOWN_RUNS - len(rows)),
                                  scalar_keys)
            rows += chunk
            if len(chunk) < RUN_CHUNK:
                break
        runs = self._runs_json(rows, proj.experiment_id)
        pairs = [(run, row) for run, row in zip(runs, rows) if all(_passes(_field(run, row, f), f) for f in filters)]
        for s in reversed(sorts):
            pairs.sort(key=lambda pr, s=s: _sort_key(_field(pr[0], pr[1], s)), reverse=s["order"] == "DESC")
        return [run for run, _ in pairs]


# -- runs/shows filters ----------------------------------------------------------------------------
def _items(value, what: str, with_op: bool = False, with_order: bool = False) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 100:
        raise invalid(f"Malformed request: '{what}' must be a list of at most 100 items")
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
            raise invalid(f"Malformed item in '{what}': {{key, type}} is required")
        if item.get("type") not in SIDEBAR_TYPES:
            raise invalid(f"Invalid type {item.get('type')!r} in '{what}': one of {list(SIDEBAR_TYPES)}")
        if with_op:
            if item.get("op") not in FILTER_OPS:
                raise invalid(f"Invalid op {item.get('op')!r} in '{what}': one of {list(FILTER_OPS)}")
            if not isinstance(item.get("value"), list):
                raise invalid(f"Malformed item in '{what}': 'value' must be a list")
        if with_order and item.get("order") not in ("ASC", "DESC"):
            raise invalid(f"Invalid order {item.get('order')!r} in '{what}': ASC or DESC")
    return value


def _field(run: dict, row: dict, item: dict):
    key = item["key"]
    if item["type"] == "SCALAR":
        return row["metrics"].get(to_swan_key(key))
    if item["type"] == "CONFIG":
        entry = run["profile"]["config"].get(key)
        if entry is None:
            return row["params"].get(key)
        return entry["value"] if isinstance(entry, dict) and "value" in entry else entry
    stable = {
        "state": run["state"], "name": run["name"], "description": run["description"], "show": True, "pin": False,
        "baseline": False, "cluster": run["cluster"], "job": run["job"], "createdAt": run["createdAt"],
        "updatedAt": run.get("finishedAt") or run["createdAt"], "finishedAt": run.get("finishedAt"),
        "labels": [x["name"] for x in run["labels"]],
    }
    return stable.get(key)


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _number(v):
    if isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _equal(a, b) -> bool:
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return x == y
    if isinstance(a, bool):
        return _text(a) == _text(b).lower()
    return _text(a) == _text(b)


def _compare(a, b) -> int:
    x, y = _number(a), _number(b)
    if x is None or y is None:
        x, y = _text(a), _text(b)
    return (x > y) - (x < y)


def _passes(actual, f: dict) -> bool:
    op, wanted = f["op"], f["value"]
    values = actual if isinstance(actual, list) else [actual]
    if op in ("EQ", "IN"):
        return any(_equal(a, w) for a in values for w in wanted)
    if op in ("NEQ", "NOT IN"):
        return not any(_equal(a, w) for a in values for w in wanted)
    if op == "CONTAIN":
        return any(_text(w).lower() in _text(a).lower() for a in values for w in wanted)
    if actual is None or isinstance(actual, list) or not wanted:
        return False
    c = _compare(actual, wanted[0])
    return c >= 0 if op == "GTE" else c <= 0


def _sort_key(v):
    """None last (in either direction, as far as reverse=True allows: missing values group at
    one end), numbers before text."""
    if v is None or isinstance(v, list):
        return (0, 0, _text(v))
    n = _number(v)
    return (1, 0, n) if n is not None else (1, 1, _text(v))
