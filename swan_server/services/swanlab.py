"""The SwanLab protocol mapped onto Swan's one store.

* project `P` in the admin workspace is the MLflow experiment `P`; in workspace `W` it is `W/P`;
* a SwanLab experiment (cuid chosen by the SDK) is a Swan run whose id is derived from the cuid
  (`run_id_for`), with the cuid kept in the `swanlab.cuid` tag;
* config → params (flattened, `str(value)`), scalars → metric points (step = index), media →
  artifacts plus media index rows, console → log lines, `__swanlab__.X` ↔ `system/X`;
* run states FINISHED / CRASHED / ABORTED ↔ MLflow FINISHED / FAILED / KILLED.

Everything permanent is a 4xx `SwanError` (the SDK retries 5xx forever)."""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets as pysecrets
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from io import BytesIO

from swan_server.artifacts import ArtifactStore
from swan_server.artifacts.paths import join, safe_relative_path
from swan_server.artifacts.presign import DirectUploads
from swan_server.entities import ACTIVE, User
from swan_server.errors import (
    PERMISSION_DENIED,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_CONFLICT,
    SwanError,
    invalid,
    not_found,
)
from swan_server.records import LogLine, MediaItem, ProjectColumn
from swan_server.services import validation as v
from swan_server.services.access import AccessPolicy
from swan_server.services.artifacts import proxy_uri_to_path
from swan_server.services.identity import ADMIN_USER, IdentityService
from swan_server.services.logs import LogService
from swan_server.services.media import MediaService, check_media_key, kind_of_path
from swan_server.store.sql.base import now_ms

CUID_TAG = "swanlab.cuid"
NOTE_TAG = "mlflow.note.content"
USER_TAG = "mlflow.user"
LABELS_TAG = "swanlab.tags"
GROUP_TAG = "swanlab.group"
JOB_TAG = "swanlab.job_type"
VISIBILITY_TAG = "swanlab.visibility"

SYSTEM_PREFIX = "__swanlab__."
SYSTEM_GROUP = "system/"

STATE_TO_STATUS = {"FINISHED": "FINISHED", "CRASHED": "FAILED", "ABORTED": "KILLED"}
STATUS_TO_STATE = {"RUNNING": "RUNNING", "SCHEDULED": "RUNNING", "FINISHED": "FINISHED", "FAILED": "CRASHED",
                   "KILLED": "ABORTED"}
PROFILE_KINDS = ("config", "metadata", "requirements", "conda")
PROFILE_ARTIFACTS = {"config": "swanlab/config.json", "metadata": "swanlab/metadata.json",
                     "requirements": "swanlab/requirements.txt", "conda": "swanlab/conda.yaml"}
FILES_DIR = "files"
MAX_CUID_LENGTH = 512
MAX_PROJECT_NAME = 100
MAX_ITEMS_PER_REQUEST = 100_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPECIAL_NUMBERS = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf,
                    "infinity": math.inf, "-infinity": -math.inf}


# -- pure mappings -------------------------------------------------------------------------------
def run_id_for(cuid: str) -> str:
    """The Swan run id (32 hex) of a SwanLab experiment id: the same on every worker."""
    return hashlib.sha256(b"swanlab:" + cuid.encode()).hexdigest()[:32]


def to_swan_key(key: str) -> str:
    return SYSTEM_GROUP + key[len(SYSTEM_PREFIX):] if key.startswith(SYSTEM_PREFIX) else key


def to_swanlab_key(key: str) -> str:
    return SYSTEM_PREFIX + key[len(SYSTEM_GROUP):] if key.startswith(SYSTEM_GROUP) else key


def iso_ms(ms: int | None) -> str:
    """`2026-01-01T00:00:00.000Z`, the form the SDK parses."""
    dt = datetime.fromtimestamp((ms or 0) / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_time(value, field: str = "create_time") -> int:
    """RFC 3339 (or epoch seconds / ms) → ms; missing → now."""
    if value is None or value == "":
        return now_ms()
    if isinstance(value, bool):
        raise invalid(f"Invalid {field} {value!r}")
    if isinstance(value, (int, float)):
        return int(value if value > 1e11 else value * 1000)
    if not isinstance(value, str):
        raise invalid(f"Invalid {field} {value!r}")
    try:  # fast path: what the SDK sends, `2026-11-28T23:19:29.461424Z` (Python 3.11+ parses it)
        dt = datetime.fromisoformat(value)
        if dt.tzinfo is not None:
            return int(dt.timestamp() * 1000)
    except ValueError:
        pass
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python < 3.11 accepts at most 6 fractional digits: trim nanoseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(f"Invalid {field} {value!r}: expected an RFC 3339 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def scalar_value(data, key: str) -> float:
    if isinstance(data, bool) or data is None:
        raise invalid(f"Invalid value {data!r} for metric '{key}'")
    if isinstance(data, (int, float)):
        return float(data)
    if isinstance(data, str):
        special = _SPECIAL_NUMBERS.get(data.strip().lower())
        if special is not None:
            return special
        try:
            return float(data)
        except ValueError:
            pass
    raise invalid(f"Invalid value {data!r} for metric '{key}'")


def check_index(value, what: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise invalid(f"Invalid {what} {value!r}: a non-negative integer is required")
    return value


def check_metric_key(key) -> str:
    """MLflow's key rule, widened to what SwanLab accepts (anything printable), within the
    250 characters the store keeps."""
    if not isinstance(key, str) or not key:
        raise invalid(f"Invalid metric key {key!r}")
    try:
        return v.validate_key("metric", key)
    except SwanError:
        if len(key) > v.MAX_KEY_LENGTH or _CONTROL.search(key):
            raise invalid(
                f"Invalid metric key '{key[:60]}': at most {v.MAX_KEY_LENGTH} characters, no control characters"
            ) from None
        return key


def flatten_config(config: dict) -> dict[str, str]:
    """SwanLab config `{k: {"value": v, ...}}` (or plain `{k: v}`) → params: nested keys joined
    with `.`, values as `str(value)` (what MLflow's `log_param` stores)."""
    out: dict[str, str] = {}

    def walk(prefix: str, value):
        if isinstance(value, dict) and value:
            for k, sub in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), sub)
        else:
            out[prefix] = str(value)

    for key, entry in config.items():
        value = entry["value"] if isinstance(entry, dict) and "value" in entry else entry
        walk(str(key), value)
    return out


def config_values(config: dict) -> dict:
    """The plain `{key: value}` view of a SwanLab config document."""
    return {k: (e["value"] if isinstance(e, dict) and "value" in e else e) for k, e in config.items()}


def _obj(body, what: str = "request body") -> dict:
    if not isinstance(body, dict):
        raise invalid(f"Malformed {what}: a JSON object is required")
    return body


def _list(value, what: str) -> list:
    if not isinstance(value, list):
        raise invalid(f"Malformed request: '{what}' must be a list")
    if len(value) > MAX_ITEMS_PER_REQUEST:
        raise invalid(f"Too many items in '{what}': at most {MAX_ITEMS_PER_REQUEST} per request")
    return value


def _str(value, what: str, required: bool = True, max_len: int | None = None) -> str | None:
    if value is None or value == "":
        if required:
            raise invalid(f"Missing value for required field '{what}'")
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid value {value!r} for field '{what}'")
    if max_len is not None and len(value) > max_len:
        raise invalid(f"Field '{what}' is longer than {max_len} characters")
    return value


@dataclass
class Project:
    experiment_id: str
    workspace: str
    name: str
    visibility: str
    runs: int

    def json(self) -> dict:
        return {
            "cuid": self.experiment_id,
            "name": self.name,
            "username": self.workspace,
            "path": f"/{self.workspace}/{self.name}",
            "visibility": self.visibility,
            "group": {"username": self.workspace, "name": self.workspace},
            "_count": {"experiments": self.runs, "contributors": 1, "collaborators": 0, "clones": 0},
            "version": 1,
        }


class SwanLabService:
    def __init__(self, store, runs, identity: IdentityService, media: MediaService, logs: LogService,
                 uploads: DirectUploads, artifact_store: ArtifactStore):
        self.store = store
        self.runs = runs
        self.identity = identity
        self.media = media
        self.logs = logs
        self.uploads = uploads
        self.artifact_store = artifact_store
        self.access = AccessPolicy(store)

    # -- the read API (swanlab.Api()) ---------------------------------------------------------
    @cached_property
    def reads(self):
        """Workspaces, projects and experiments as `swanlab.Api()` reads them."""
        from swan_server.services.swanlab_reads import SwanLabReads

        return SwanLabReads(self)

    @cached_property
    def metric_reads(self):
        """Metric keys, summaries, lines, exports, columns and logs for `swanlab.Api()`."""
        from swan_server.services.swanlab_metric_reads import SwanLabMetricReads

        return SwanLabMetricReads(self, self.reads)

    # -- identity -----------------------------------------------------------------------------
    def login(self, raw_key: str | None) -> tuple[str, int, User]:
        key = (raw_key or "").strip()
        if key.lower().startswith("bearer "):
            key = key[7:].strip()
        return self.identity.login(key)

    def authenticate(self, sid: str | None, raw_key: str | None) -> User:
        if sid:
            return self.identity.session_user(sid)
        if raw_key:
            key = raw_key.strip()
            return self.identity.authenticate_key(key[7:].strip() if key.lower().startswith("bearer ") else key)
        return self.identity.session_user(None)

    def check_workspace(self, user: User, workspace: str, write: bool) -> None:
        """The access policy (services.access) on the workspace named in the request."""
        if self.access.is_admin():
            return
        ws_id = self.store.workspace_id_by_name(workspace) if isinstance(workspace, str) else None
        if ws_id is None:
            raise SwanError(f"User '{user.name}' has no access to workspace '{workspace}'", PERMISSION_DENIED)
        self.access.check_workspace(ws_id, write, f"workspace '{workspace}'")

    # -- projects -----------------------------------------------------------------------------
    @staticmethod
    def experiment_name(workspace: str, project: str) -> str:
        return project if workspace == ADMIN_USER else f"{workspace}/{project}"

    @staticmethod
    def check_project_name(project) -> str:
        name = _str(project, "name", max_len=MAX_PROJECT_NAME)
        if "/" in name or "\\" in name or _CONTROL.search(name) or name.strip() != name or name in (".", ".."):
            raise invalid(f"Invalid project name '{name}': no slashes, control characters or surrounding spaces")
        return name

    def _project(self, workspace: str, project: str) -> Project | None:
        exp = self.store.get_experiment_by_name(self.experiment_name(workspace, project))
        if exp is None or exp.lifecycle_stage != ACTIVE:
            return None
        return Project(exp.experiment_id, workspace, project, exp.tags.get(VISIBILITY_TAG, "PRIVATE"),
                       self.store.count_runs(exp.experiment_id))

    def get_project(self, user: User, workspace: str, project: str) -> Project:
        self.check_workspace(user, workspace, write=False)
        found = self._project(workspace, self.check_project_name(project))
        if found is None:
            raise not_found(f"Project '{workspace}/{project}' not found")
        return found

    def web_path(self, workspace: str, project: str, cuid: str | None = None) -> str | None:
        """The dashboard page behind a SwanLab web link, `/@<workspace>/<project>[/runs/<slug>]` (what
        the SDK prints as "View run at"): `/projects/<id>` or `/runs/<run_id>`; None when there is
        no such project, or no such experiment in it, or the caller may not read it."""
        try:
            if not self.access.is_admin():
                ws_id = self.store.workspace_id_by_name(workspace)
                self.access.check_workspace(ws_id, False, f"workspace '{workspace}'")
            found = self._project(workspace, self.check_project_name(project))
            if found is None:
                return None
            if cuid is None:
                return f"/projects/{found.experiment_id}"
            ctx = self.store.run_context(run_id_for(self._check_cuid(cuid)))
        except SwanError:
            return None
        if ctx is None or ctx.lifecycle_stage != ACTIVE or str(ctx.project_id) != str(found.experiment_id):
            return None
        return f"/runs/{ctx.run_id}"

    def create_project(self, user: User, workspace: str | None, body) -> tuple[Project, bool]:
        body = _obj(body)
        workspace = workspace or _str(body.get("username"), "username", required=False) or user.name
        project = self.check_project_name(body.get("name"))
        self.check_workspace(user, workspace, write=True)
        existing = self._project(workspace, project)
        if existing is not None:
            return existing, False
        ws_id = self.store.workspace_id_by_name(workspace)
        if ws_id is None:
            raise not_found(f"Workspace '{workspace}' not found")
        visibility = body.get("visibility") if body.get("visibility") in ("PUBLIC", "PRIVATE") else "PRIVATE"
        name = v.validate_experiment_name(self.experiment_name(workspace, project))
        try:
            self.store.create_experiment(name, None, {VISIBILITY_TAG: visibility}, workspace_id=ws_id)
        except SwanError as exc:
            if exc.error_code != RESOURCE_ALREADY_EXISTS:
                raise
            existing = self._project(workspace, project)  # created meanwhile by another client
            if existing is None:
                raise SwanError(f"Project '{workspace}/{project}' exists but is deleted", RESOURCE_CONFLICT) from None
            return existing, False
        return self._project(workspace, project), True

    # -- runs ---------------------------------------------------------------------------------
    def _context(self, user: User, cuid, write: bool, project_id=None, workspace=None, project=None):
        cuid = self._check_cuid(cuid)
        ctx = self.store.run_context(run_id_for(cuid))
        if ctx is None or ctx.lifecycle_stage != ACTIVE:
            raise not_found(f"Experiment '{cuid}' not found")
        if project_id not in (None, "") and str(project_id) != str(ctx.project_id):
            raise SwanError(f"Experiment '{cuid}' belongs to another project", RESOURCE_CONFLICT)
        if project is not None and self.experiment_name(workspace, project) != ctx.project_name:
            raise SwanError(f"Experiment '{cuid}' belongs to another project", RESOURCE_CONFLICT)
        self.check_workspace(user, ctx.workspace, write)
        return ctx

    @staticmethod
    def _check_cuid(cuid) -> str:
        cuid = _str(cuid, "cuid", max_len=MAX_CUID_LENGTH)
        if _CONTROL.search(cuid) or "/" in cuid:
            raise invalid(f"Invalid experiment id {cuid!r}")
        return cuid

    @staticmethod
    def _run_json(cuid: str, ctx_or_run_name, start_time, status) -> dict:
        return {"cuid": cuid, "slug": cuid, "name": ctx_or_run_name, "createdAt": iso_ms(start_time),
                "state": STATUS_TO_STATE.get(status, "RUNNING"), "flagId": cuid}

    def create_or_resume(self, user: User, workspace: str, project: str, body) -> tuple[dict, bool]:
        body = _obj(body)
        proj = self.get_project(user, workspace, project)
        self.check_workspace(user, workspace, write=True)
        cuid = body.get("cuid")
        cuid = self._check_cuid(cuid) if cuid not in (None, "") else pysecrets.token_hex(4)
        run_id = run_id_for(cuid)
        ctx = self.store.run_context(run_id)
        if ctx is None:
            run = self._create_run(user, proj, cuid, run_id, body)
            if run is not None:
                self.store.touch_heartbeat(run_id)
                return self._run_json(cuid, run.info.run_name, run.info.start_time, "RUNNING"), True
            ctx = self.store.run_context(run_id)  # created concurrently: resume it
        if ctx.project_id != int(proj.experiment_id):
            raise SwanError(f"Experiment id '{cuid}' is already used in another project", RESOURCE_CONFLICT)
        if ctx.lifecycle_stage != ACTIVE:
            raise invalid(f"Experiment '{cuid}' was deleted")
        self.store.reopen_run(run_id)
        return self._run_json(cuid, ctx.name, ctx.start_time, "RUNNING"), False

    def _create_run(self, user: User, proj: Project, cuid: str, run_id: str, body: dict):
        name = _str(body.get("name"), "name", required=False) or cuid
        tags = {CUID_TAG: cuid, USER_TAG: user.name}
        description = _str(body.get("description"), "description", required=False)
        if description:
            tags[NOTE_TAG] = description[: v.MAX_TAG_VALUE_LENGTH]
        labels = []
        for label in body.get("labels") or []:
            text = label.get("name") if isinstance(label, dict) else label
            if isinstance(text, str) and text:
                labels.append(text)
        if labels:
            tags[LABELS_TAG] = json.dumps(labels, ensure_ascii=False)[: v.MAX_TAG_VALUE_LENGTH]
            for label in labels:
                try:
                    v.validate_tag(label, "")
                except SwanError:
                    continue  # not a valid tag name: kept in swanlab.tags only
                tags.setdefault(label, "")
        for field, tag in (("cluster", GROUP_TAG), ("job", JOB_TAG)):
            value = _str(body.get(field), field, required=False)
            if value:
                tags[tag] = value[: v.MAX_TAG_VALUE_LENGTH]
        start = parse_time(body.get("createdAt"), "createdAt")
        try:
            # RunService.create's rules (tag and name validation), with the id derived from the cuid.
            tags = dict(v.validate_tag(k, val) for k, val in tags.items())
            return self.store.create_run(proj.experiment_id, user.name, start, tags,
                                         v.validate_run_name(name[: v.MAX_RUN_NAME_LENGTH]), run_id=run_id)
        except SwanError as exc:
            if exc.error_code == RESOURCE_ALREADY_EXISTS:
                return None
            raise

    def get_run(self, user: User, workspace: str, project: str, cuid) -> dict:
        self.check_workspace(user, workspace, write=False)
        ctx = self._context(user, cuid, write=False, workspace=workspace, project=project)
        return self._run_json(cuid, ctx.name, ctx.start_time, ctx.status)

    def heartbeat(self, user: User, cuid) -> None:
        ctx = self._context(user, cuid, write=True)
        self.store.touch_heartbeat(ctx.run_id)

    def set_state(self, user: User, workspace: str, project: str, cuid, body) -> None:
        body = _obj(body)
        ctx = self._context(user, cuid, write=True, workspace=workspace, project=project)
        state = body.get("state")
        if state not in STATE_TO_STATUS:
            raise invalid(f"Invalid state {state!r}; expected one of {list(STATE_TO_STATUS)}")
        end = parse_time(body.get("finishedAt"), "finishedAt")
        self.store.end_run(ctx.run_id, STATE_TO_STATUS[state], end)
        self.logs.write_artifact(ctx.run_id, self.artifact_root(ctx))

    # -- profile ------------------------------------------------------------------------------
    def put_profile(self, user: User, workspace: str, project: str, cuid, body) -> None:
        body = _obj(body)
        ctx = self._context(user, cuid, write=True, workspace=workspace, project=project)
        kinds = [k for k in PROFILE_KINDS if k in body]
        if not kinds:
            raise invalid(f"A profile update needs one of {list(PROFILE_KINDS)}")
        for kind in kinds:
            self._put_profile_kind(ctx, kind, body[kind])

    def _put_profile_kind(self, ctx, kind: str, value) -> None:
        params = None
        if kind in ("config", "metadata"):
            if value is None:
                return
            new = _obj(value, kind)

            def update(old_text):
                merged = json.loads(old_text) if old_text else {}
                # A resumed run sends its config (maybe {}) and metadata (hardware null) again:
                # merge, so what the first run recorded is kept.
                merged.update({k: val for k, val in new.items() if val is not None})
                return json.dumps(merged, ensure_ascii=False, sort_keys=True)

            if kind == "config":
                params = {}
                for k, val in flatten_config(new).items():
                    try:
                        k, val = v.validate_param(k, val)
                    except SwanError:
                        continue  # not a valid param; the whole config stays in the profile
                    params[k] = val
        else:
            text = _str(value, kind, required=False) or ""

            def update(old_text):
                return text if text or old_text is None else old_text

        content = self.store.put_run_profile(ctx.run_id, kind, update, params)
        self.artifact_store.write(join(self.artifact_root(ctx), PROFILE_ARTIFACTS[kind]), BytesIO(content.encode()))

    # -- columns ------------------------------------------------------------------------------
    @staticmethod
    def _column(item, legacy: bool) -> ProjectColumn:
        item = _obj(item, "column")
        key = check_metric_key(item.get("key"))
        ctype = _str(item.get("type"), "type", max_len=32).upper()
        if legacy and item.get("class") == "SYSTEM":
            ctype = "SYSTEM"
        section = _str(item.get("sectionName"), "sectionName", required=False, max_len=250)
        x_axis = item.get("xAxis")
        x_axis = to_swan_key(check_metric_key(x_axis)) if isinstance(x_axis, str) and x_axis else None
        return ProjectColumn(to_swan_key(key), ctype, section, x_axis, bool(item.get("hidden")))

    def put_columns(self, user: User, workspace: str, project: str, body) -> None:
        proj = self.get_project(user, workspace, project)
        self.check_workspace(user, workspace, write=True)
        series = _list(_obj(body).get("series"), "series")
        self.store.upsert_project_columns(proj.experiment_id, [self._column(c, False) for c in series])

    def put_legacy_columns(self, user: User, cuid, body) -> None:
        ctx = self._context(user, cuid, write=True)
        items = body if isinstance(body, list) else _obj(body).get("columns", body.get("series"))
        columns = [self._column(c, True) for c in _list(items, "columns")]
        self.store.upsert_project_columns(str(ctx.project_id), columns)

    # -- metrics ------------------------------------------------------------------------------
    def ingest(self, user: User, body) -> int:
        body = _obj(body)
        kind = body.get("type")
        ctx = self._context(user, body.get("experimentId"), write=True, project_id=body.get("projectId"))
        items = _list(body.get("metrics"), "metrics")
        if kind == "scalar":
            return self._scalars(ctx, items)
        if kind == "media":
            return self._media(ctx, items)
        if kind == "log":
            return self._logs(ctx, items)
        raise invalid(f"Invalid metrics type {kind!r}; expected 'scalar', 'media' or 'log'")

    def _scalars(self, ctx, items: list) -> int:
        keys, steps, stamps, values = [], [], [], []
        checked: dict = {}  # a batch repeats a few keys many times: check each once
        times: dict = {}  # and the keys of one log() call share their create_time
        for item in items:
            item = _obj(item, "metric")
            raw = item.get("key")
            swan_key = checked.get(raw) if isinstance(raw, str) else None
            if swan_key is None:
                swan_key = checked[raw] = to_swan_key(check_metric_key(raw))
            data = item.get("data")
            index = item.get("index")
            created = item.get("create_time")
            when = times.get(created) if isinstance(created, str) else None
            if when is None:
                when = parse_time(created)
                if isinstance(created, str):
                    times[created] = when
            keys.append(swan_key)
            values.append(float(data) if type(data) in (float, int) else scalar_value(data, raw))
            steps.append(index if type(index) is int and 0 <= index < 2**63 else check_index(index, f"index of '{raw}'"))
            stamps.append(when)
        return self.store.log_metrics_once(ctx.run_id, keys, steps, stamps, values)

    def _media(self, ctx, items: list) -> int:
        rows = []
        for item in items:
            item = _obj(item, "media")
            key = check_media_key(item.get("key"))
            step = check_index(item.get("index"), f"index of '{key}'")
            when = parse_time(item.get("create_time"))
            paths = _list(item.get("data"), "data")
            more = item.get("more") if isinstance(item.get("more"), list) else []
            for seq, path in enumerate(paths):
                if not isinstance(path, str):
                    raise invalid(f"Invalid media path {path!r} for '{key}'")
                clean = safe_relative_path(path, allow_empty=False)
                extra = more[seq] if seq < len(more) and isinstance(more[seq], dict) else {}
                caption = extra.get("caption") if isinstance(extra.get("caption"), str) else None
                rows.append(MediaItem(key, step, seq, kind_of_path(clean), clean, caption, when))
        return self.media.add(ctx.run_id, rows)

    def _logs(self, ctx, items: list) -> int:
        lines = []
        for item in items:
            item = _obj(item, "log")
            message = item.get("message")
            if message is None:
                message = ""
            lines.append(LogLine(check_index(item.get("epoch"), "epoch"), item.get("level") or "INFO",
                                 message, parse_time(item.get("create_time"))))
        return self.logs.append(ctx.run_id, lines)

    def summaries(self, user: User, project_id: str, cuid) -> dict:
        ctx = self._context(user, cuid, write=False, project_id=project_id)
        scalars = [{"key": to_swanlab_key(k), "step": s} for k, s in sorted(self.store.series_last_steps(ctx.run_id).items())]
        scalar_keys = {s["key"] for s in scalars}
        media = [{"key": k, "step": s} for k, s in sorted(self.media.last_steps(ctx.run_id).items())
                 if k not in scalar_keys]
        last = self.logs.last_line(ctx.run_id)
        return {"scalar": scalars, "media": media, "log": [{"key": "log", "step": last}] if last else []}

    # -- object storage -----------------------------------------------------------------------
    @staticmethod
    def artifact_root(ctx) -> str:
        return proxy_uri_to_path(ctx.artifact_uri)

    def presign_put(self, user: User, body, base_url: str) -> list[str]:
        body = _obj(body)
        ctx = self._context(user, body.get("experimentId"), write=True)
        paths = _list(body.get("paths"), "paths")
        root = self.artifact_root(ctx)
        return [self.uploads.put_url(join(root, safe_relative_path(_str(p, "paths"), allow_empty=False)), base_url)
                for p in paths]

    def _file_path(self, ctx, path) -> str:
        rel = safe_relative_path(_str(path, "path"), allow_empty=False)
        return join(self.artifact_root(ctx), FILES_DIR, rel)

    def files_prepare(self, user: User, cuid, body, base_url: str) -> list[str]:
        ctx = self._context(user, cuid, write=True)
        files = _list(_obj(body).get("files"), "files")
        return [self.uploads.put_url(self._file_path(ctx, _obj(f, "file").get("path")), base_url) for f in files]

    def files_complete(self, user: User, cuid, body) -> None:
        ctx = self._context(user, cuid, write=True)
        for f in _list(_obj(body).get("files"), "files"):
            f = _obj(f, "file")
            path = self._file_path(ctx, f.get("path"))
            if f.get("state", "UPLOADED") == "UPLOADED" and not self.artifact_store.is_file(path):
                raise not_found(f"File '{f.get('path')}' was not uploaded")

    def files_prepare_multipart(self, user: User, cuid, body, base_url: str) -> list[dict]:
        ctx = self._context(user, cuid, write=True)
        out = []
        for f in _list(_obj(body).get("files"), "files"):
            f = _obj(f, "file")
            upload_id, parts = self.uploads.start_multipart(self._file_path(ctx, f.get("path")), f.get("count"), base_url)
            out.append({"uploadId": upload_id, "parts": parts})
        return out

    def files_complete_multipart(self, user: User, cuid, body) -> None:
        ctx = self._context(user, cuid, write=True)
        for f in _list(_obj(body).get("files"), "files"):
            f = _obj(f, "file")
            parts = []
            for p in _list(f.get("parts"), "parts"):
                p = _obj(p, "part")
                parts.append((check_index(p.get("partNumber"), "partNumber"), str(p.get("etag") or "")))
            self.uploads.complete_multipart(self._file_path(ctx, f.get("path")), _str(f.get("uploadId"), "uploadId"),
                                            parts)
