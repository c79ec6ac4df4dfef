"""MLflow models → Swan: MLflow 3 logged models (params, tags, metrics, status, run links and their
artifact files) and the model registry (registered models with their tags, descriptions and
aliases; versions with their tags, descriptions and stages; prompts, which MLflow keeps as
registered models tagged `mlflow.prompt.is_prompt`).

Read from the same three kinds of source as the runs (`importers/mlflow.py`) and written after
them, through Swan's MLflow-compatible REST face (`/api/2.0/mlflow/...`, artifacts through
`/api/2.0/mlflow-artifacts/...`): Swan's own API has no model routes, and that face applies the
same rules as an MLflow client talking to Swan.

* A logged model gets a new id in Swan; it carries its source identity in the tag
  `swan.import.source` and, once complete, `swan.import.fingerprint`. Its source run and the
  runs that logged it as an output or used it as an input point at the imported runs. Model
  metrics are sent as the run's metrics with the model's id (the run already holds those exact
  points, which Swan stores once), so the run's history is unchanged.
* A registered model keeps its name; each version keeps its number (numbers MLflow deleted are
  created and deleted again, so that the next one matches) and its `source` is rewritten to the
  imported run (`runs:/<run>/<path>`) or logged model (`models:/<model_id>`), so that
  `models:/NAME/VERSION` and `models:/NAME@ALIAS` load the same files from Swan. Registered
  models and versions carry `swan.import.source` too.
* A re-run writes only what differs: a logged model whose fingerprint matches is not touched,
  and registry descriptions, tags, stages and aliases are set only where they differ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from importers.records import (
    FINGERPRINT_TAG, SOURCE_TAG, Artifact, RunInfo, Skipped, SourceError, fingerprint, mlflow_pages,
)

IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
PROMPT_EXPERIMENTS_TAG = "_mlflow_experiment_ids"
MODEL_VERSIONS_TAG = "mlflow.modelVersions"  # kept by the server on each logged model
PROMPT_SOURCES = ("dummy-source", "prompt-template")
DELETED_STAGE = "Deleted_Internal"
PLACEHOLDER_TAG = "swan.import.placeholder"
METRICS_PER_REQUEST = 1000

LM_STATUS = {1: "LOGGED_MODEL_PENDING", 2: "LOGGED_MODEL_READY", 3: "LOGGED_MODEL_UPLOAD_FAILED",
             "PENDING": "LOGGED_MODEL_PENDING", "READY": "LOGGED_MODEL_READY",
             "UPLOAD_FAILED": "LOGGED_MODEL_UPLOAD_FAILED", "FAILED": "LOGGED_MODEL_UPLOAD_FAILED"}
FINAL_STATUSES = ("LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")


def lm_status(value) -> str:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, str) and value.startswith("LOGGED_MODEL_"):
        return value
    return LM_STATUS.get(value, "LOGGED_MODEL_PENDING")


# -- neutral records --------------------------------------------------------------------------------
@dataclass
class ModelMetric:
    key: str
    value: float
    timestamp: int
    step: int
    run_id: str | None
    dataset_name: str | None = None
    dataset_digest: str | None = None

    def sort_key(self):
        return (self.key, self.step, self.timestamp, repr(self.value), self.run_id or "", self.dataset_name or "",
                self.dataset_digest or "")


@dataclass
class LoggedModel:
    model_id: str
    experiment_id: str
    experiment_name: str
    name: str | None
    model_type: str | None = None
    status: str = "LOGGED_MODEL_PENDING"
    status_message: str | None = None
    source_run_id: str | None = None
    lifecycle_stage: str = "active"
    artifact_uri: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[ModelMetric] = field(default_factory=list)
    local_artifacts: Path | None = None  # the folder of a file store's model, as a fallback


@dataclass
class Version:
    name: str
    version: int
    source: str | None
    run_id: str | None = None
    model_id: str | None = None
    description: str | None = None
    stage: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_link: str | None = None
    storage_location: str | None = None
    status: str | None = None

    @property
    def deleted(self) -> bool:
        return self.stage == DELETED_STAGE


@dataclass
class RegisteredModel:
    name: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: list[Version] = field(default_factory=list)

    @property
    def is_prompt(self) -> bool:
        return (self.tags.get(IS_PROMPT_TAG) or "").lower() == "true"


@dataclass
class ModelSet:
    logged_models: list[LoggedModel] = field(default_factory=list)
    registered: list[RegisteredModel] = field(default_factory=list)
    outputs: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # model id -> [(run id, step)]
    inputs: dict[str, list[str]] = field(default_factory=dict)  # model id -> [run id]


def _model_id_of(source: str | None) -> str | None:
    if source and source.startswith("models:/m-"):
        return source[len("models:/"):].split("/", 1)[0]
    return None


# -- results ------------------------------------------------------------------------------------------
@dataclass
class ModelResult:
    kind: str  # logged model | registered model | prompt
    name: str
    source_id: str
    state: str = "imported"  # imported | updated | already imported | would import | failed
    id: str | None = None
    artifacts: int = 0
    versions: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    error: str | None = None


@dataclass
class ModelsSummary:
    results: list[ModelResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(r.state == "failed" for r in self.results)

    def to_dict(self) -> list[dict]:
        return [{"kind": r.kind, "name": r.name, "source_id": r.source_id, "state": r.state, "id": r.id,
                 "artifacts": r.artifacts, "versions": r.versions, "error": r.error,
                 "skipped": [{"reason": s.reason, "count": s.count, "where": s.where} for s in r.skipped]}
                for r in self.results]

    def lines(self) -> list[str]:
        if not self.results:
            return []
        out = ["Models:"]
        for r in self.results:
            what = f"  {r.kind} {r.name}: {r.state}"
            if r.kind == "logged model":
                what += f", {r.artifacts} artifact file(s)"
            else:
                what += f", {r.versions} version(s)"
            if r.id and r.id != r.name:
                what += f" → {r.id}"
            if r.error:
                what += f" ({r.error})"
            out.append(what)
            out += [f"    skipped: {s.reason}" for s in r.skipped]
        return out


# -- reading: mlruns/ folder ----------------------------------------------------------------------------
def read_folder(src) -> ModelSet:
    from importers.mlflow import _key_files, _yaml

    out = ModelSet()
    for exp in src.experiments:
        models = exp["dir"] / "models"
        if not models.is_dir():
            continue
        for md in sorted(models.iterdir()):
            if not (md / "meta.yaml").is_file():
                continue
            meta = _yaml(md / "meta.yaml")
            metrics = []
            if (md / "metrics").is_dir():
                for f in sorted(p for p in (md / "metrics").rglob("*") if p.is_file()):
                    key = f.relative_to(md / "metrics").as_posix()
                    for line in f.read_text(encoding="utf-8").splitlines():
                        parts = line.split(" ")
                        if len(parts) < 3:
                            continue
                        metrics.append(ModelMetric(key, float(parts[1]), int(parts[0]), int(parts[2]),
                                                   parts[3] if len(parts) > 3 else None,
                                                   parts[4] if len(parts) > 5 else None,
                                                   parts[5] if len(parts) > 5 else None))
            out.logged_models.append(LoggedModel(
                model_id=str(meta.get("model_id") or md.name), experiment_id=exp["id"], experiment_name=exp["name"],
                name=meta.get("name"), model_type=meta.get("model_type"), status=lm_status(meta.get("status")),
                status_message=meta.get("status_message"), source_run_id=meta.get("source_run_id"),
                lifecycle_stage=meta.get("lifecycle_stage") or "active", artifact_uri=meta.get("artifact_location"),
                params=_key_files(md / "params"), tags=_key_files(md / "tags"), metrics=metrics,
                local_artifacts=md / "artifacts"))
    for row in src.run_rows:
        rd = row["dir"]
        if (rd / "outputs").is_dir():
            for od in sorted((rd / "outputs").iterdir()):
                if (od / "meta.yaml").is_file():
                    meta = _yaml(od / "meta.yaml")
                    out.outputs.setdefault(str(meta.get("source_id") or od.name), []).append(
                        (row["run_id"], int(meta.get("step") or 0)))
        if (rd / "inputs").is_dir():
            for idir in sorted((rd / "inputs").iterdir()):
                if (idir / "meta.yaml").is_file():
                    meta = _yaml(idir / "meta.yaml")
                    if meta.get("source_type") == "MODEL" and meta.get("source_id"):
                        out.inputs.setdefault(str(meta["source_id"]), []).append(row["run_id"])
    registry = src.root / "models"
    if registry.is_dir():
        for rmd in sorted(registry.iterdir()):
            if not (rmd / "meta.yaml").is_file():
                continue
            meta = _yaml(rmd / "meta.yaml")
            rm = RegisteredModel(name=str(meta.get("name") or rmd.name), description=meta.get("description"),
                                 tags=_key_files(rmd / "tags"),
                                 aliases={str(a): int(v) for a, v in (meta.get("aliases") or {}).items()})
            for a, v in _key_files(rmd / "aliases").items():
                rm.aliases.setdefault(a, int(v))
            for vd in sorted(rmd.iterdir()):
                if vd.is_dir() and vd.name.startswith("version-") and (vd / "meta.yaml").is_file():
                    vm = _yaml(vd / "meta.yaml")
                    rm.versions.append(Version(
                        name=rm.name, version=int(vm.get("version") or vd.name.split("-", 1)[1]), source=vm.get("source"),
                        run_id=vm.get("run_id") or None, model_id=vm.get("model_id") or _model_id_of(vm.get("source")),
                        description=vm.get("description"), stage=vm.get("current_stage"), tags=_key_files(vd / "tags"),
                        run_link=vm.get("run_link") or None, storage_location=vm.get("storage_location"),
                        status=vm.get("status")))
            out.registered.append(rm)
    return out


# -- reading: database --------------------------------------------------------------------------------------
def read_db(src) -> ModelSet:
    from sqlalchemy import inspect

    text = src.text
    out = ModelSet()
    exp_names = {e["id"]: e["name"] for e in src.experiments}
    with src.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())

        def rows(sql, **kw):
            return conn.execute(text(sql), kw).mappings().all()

        if "logged_models" in tables:
            params: dict = {}
            tags: dict = {}
            metrics: dict = {}
            if "logged_model_params" in tables:
                for r in rows("SELECT model_id, param_key, param_value FROM logged_model_params"):
                    params.setdefault(r["model_id"], {})[r["param_key"]] = r["param_value"]
            if "logged_model_tags" in tables:
                for r in rows("SELECT model_id, tag_key, tag_value FROM logged_model_tags"):
                    tags.setdefault(r["model_id"], {})[r["tag_key"]] = r["tag_value"]
            if "logged_model_metrics" in tables:
                for r in rows("SELECT * FROM logged_model_metrics"):
                    value = r["metric_value"]
                    metrics.setdefault(r["model_id"], []).append(ModelMetric(
                        r["metric_name"], float("nan") if value is None else float(value), int(r["metric_timestamp_ms"]),
                        int(r["metric_step"]), r["run_id"], r.get("dataset_name"), r.get("dataset_digest")))
            for r in rows("SELECT * FROM logged_models ORDER BY creation_timestamp_ms, model_id"):
                eid = str(r["experiment_id"])
                if eid not in exp_names:
                    continue
                mid = r["model_id"]
                out.logged_models.append(LoggedModel(
                    model_id=mid, experiment_id=eid, experiment_name=exp_names[eid], name=r["name"],
                    model_type=r.get("model_type"), status=lm_status(r["status"]), status_message=r.get("status_message"),
                    source_run_id=r.get("source_run_id"), lifecycle_stage=r.get("lifecycle_stage") or "active",
                    artifact_uri=r["artifact_location"], params=params.get(mid, {}), tags=tags.get(mid, {}),
                    metrics=metrics.get(mid, [])))
        if "inputs" in tables:
            for r in rows("SELECT source_type, source_id, destination_type, destination_id, step FROM inputs "
                          "WHERE source_type IN ('RUN_OUTPUT', 'RUN_INPUT')"):
                if r["source_type"] == "RUN_OUTPUT" and r["destination_type"] == "MODEL_OUTPUT":
                    out.outputs.setdefault(r["destination_id"], []).append((r["source_id"], int(r.get("step") or 0)))
                elif r["source_type"] == "RUN_INPUT" and r["destination_type"] == "MODEL_INPUT":
                    out.inputs.setdefault(r["destination_id"], []).append(r["source_id"])
        if {"registered_models", "model_versions"} <= tables:
            rtags: dict = {}
            vtags: dict = {}
            aliases: dict = {}
            if "registered_model_tags" in tables:
                for r in rows("SELECT name, key, value FROM registered_model_tags"):
                    rtags.setdefault(r["name"], {})[r["key"]] = r["value"] or ""
            if "model_version_tags" in tables:
                for r in rows("SELECT name, version, key, value FROM model_version_tags"):
                    vtags.setdefault((r["name"], int(r["version"])), {})[r["key"]] = r["value"] or ""
            if "registered_model_aliases" in tables:
                for r in rows("SELECT name, alias, version FROM registered_model_aliases"):
                    aliases.setdefault(r["name"], {})[r["alias"]] = int(r["version"])
            by_name = {}
            for r in rows("SELECT name, description FROM registered_models ORDER BY name"):
                by_name[r["name"]] = RegisteredModel(r["name"], r["description"], rtags.get(r["name"], {}),
                                                     aliases.get(r["name"], {}))
            for r in rows("SELECT * FROM model_versions ORDER BY name, version"):
                rm = by_name.get(r["name"])
                if rm is None:
                    continue
                number = int(r["version"])
                rm.versions.append(Version(
                    name=r["name"], version=number, source=r["source"], run_id=r.get("run_id") or None,
                    model_id=r.get("model_id") or _model_id_of(r["source"]), description=r.get("description"),
                    stage=r.get("current_stage"), tags=vtags.get((r["name"], number), {}),
                    run_link=r.get("run_link") or None, storage_location=r.get("storage_location"),
                    status=r.get("status")))
            out.registered = list(by_name.values())
    return out


# -- reading: live server -------------------------------------------------------------------------------
def _pairs(items) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in items or []}


def read_server(src) -> ModelSet:
    out = ModelSet()
    names = {e["id"]: e["name"] for e in src.experiments}
    ids = list(names)
    try:
        for i in range(0, len(ids), 100):
            for m in src._paged("POST", "logged-models/search", {"experiment_ids": ids[i:i + 100]},
                                "models"):
                info, data = m.get("info") or {}, m.get("data") or {}
                eid = str(info.get("experiment_id"))
                metrics = []
                for x in data.get("metrics") or []:
                    v = x.get("value")
                    v = float(v) if not isinstance(v, str) else float(v.replace("Infinity", "inf"))
                    metrics.append(ModelMetric(x["key"], v, int(x.get("timestamp") or 0), int(x.get("step") or 0),
                                               x.get("run_id"), x.get("dataset_name"), x.get("dataset_digest")))
                out.logged_models.append(LoggedModel(
                    model_id=info["model_id"], experiment_id=eid, experiment_name=names.get(eid, eid),
                    name=info.get("name"), model_type=info.get("model_type"), status=lm_status(info.get("status")),
                    status_message=info.get("status_message"), source_run_id=info.get("source_run_id"),
                    artifact_uri=info.get("artifact_uri"), params=_pairs(data.get("params")),
                    tags=_pairs(info.get("tags")), metrics=metrics))
    except SourceError:
        pass  # an MLflow 2 server: no logged models
    for row in src.run_rows:
        for o in row.get("model_outputs") or []:
            out.outputs.setdefault(o["model_id"], []).append((row["run_id"], int(o.get("step") or 0)))
        for m in row.get("model_inputs") or []:
            out.inputs.setdefault(m["model_id"], []).append(row["run_id"])
    try:
        models = list(src._paged("GET", "registered-models/search", {}, "registered_models"))
        versions = list(src._paged("GET", "model-versions/search", {}, "model_versions"))
    except SourceError:
        return out
    by_name = {}
    for m in models:
        by_name[m["name"]] = RegisteredModel(m["name"], m.get("description"), _pairs(m.get("tags")),
                                             {a["alias"]: int(a["version"]) for a in m.get("aliases") or []})
    for v in versions:
        rm = by_name.get(v["name"])
        if rm is None:
            continue
        rm.versions.append(Version(
            name=v["name"], version=int(v["version"]), source=v.get("source"), run_id=v.get("run_id") or None,
            model_id=v.get("model_id") or _model_id_of(v.get("source")), description=v.get("description"),
            stage=v.get("current_stage"), tags=_pairs(v.get("tags")), run_link=v.get("run_link") or None,
            storage_location=v.get("storage_location"), status=v.get("status")))
    out.registered = [by_name[n] for n in sorted(by_name)]
    return out


def server_artifacts(src, lm: LoggedModel):
    """A logged model's files on a live MLflow server, listed through its logged-model routes."""
    stack = [""]
    while stack:
        path = stack.pop()
        params = {"artifact_directory_path": path} if path else {}
        try:
            listing = src._call("GET", f"logged-models/{quote(lm.model_id)}/artifacts/directories", params=params)
        except SourceError as exc:
            yield Skipped(f"logged model artifacts could not be listed: {exc}")
            return
        for f in listing.get("files") or []:
            if f.get("is_dir"):
                stack.append(f["path"])
            else:
                yield Artifact(f["path"], fetch=_server_downloader(src, lm.model_id, f["path"]),
                               size=int(f["file_size"]) if f.get("file_size") not in (None, "") else None)


def _server_downloader(src, model_id: str, path: str):
    def fetch(target: Path) -> None:
        url = f"{src.base}/ajax-api/2.0/mlflow/logged-models/{quote(model_id)}/artifacts/files"
        with src.session.get(url, params={"artifact_file_path": path}, stream=True, timeout=600) as resp:
            if resp.status_code >= 400:
                raise OSError(f"download of model artifact {path} failed: {resp.status_code} {resp.text[:200]}")
            with open(target, "wb") as out:
                out.writelines(resp.iter_content(1 << 20))

    return fetch


# -- writing ----------------------------------------------------------------------------------------------
class _Rest:
    """Swan's MLflow face, with the client's session (and API key) and its retry rules."""

    def __init__(self, client):
        self.client = client
        self.base = client.tracking_uri

    def _send(self, method: str, url: str, **kw):
        from swan_client.api import SwanApiError, backoff_delay

        attempt = 0
        while True:
            data = kw.get("data")
            if hasattr(data, "seek"):
                data.seek(0)
            try:
                resp = self.client.session.request(method, url, timeout=self.client.timeout, **kw)
            except Exception as exc:  # noqa: BLE001 - requests' network errors
                err = SwanApiError(None, "NETWORK_ERROR", f"{type(exc).__name__}: {exc}")
            else:
                if resp.status_code < 400:
                    return resp
                err = self.client._error(resp)
            if not err.transient or attempt >= self.client.retries:
                raise err
            time.sleep(backoff_delay(attempt))
            attempt += 1

    def call(self, method: str, path: str, body=None, params=None, missing_ok: bool = False):
        from swan_client.api import SwanApiError

        url = f"{self.base}/api/2.0/mlflow/{path}"
        try:
            resp = self._send(method, url, json=body, params=params)
        except SwanApiError as exc:
            if missing_ok and exc.status == 404:
                return None
            raise
        return resp.json() if resp.content else {}

    def paged(self, method: str, path: str, body: dict, field_name: str):
        return mlflow_pages(self.call, method, path, body, field_name)

    def upload(self, location: str, rel: str, data) -> None:
        if not location.startswith("mlflow-artifacts:"):
            raise RuntimeError(f"cannot upload into {location}: not an mlflow-artifacts: location")
        root = location[len("mlflow-artifacts:"):].strip("/")
        url = f"{self.base}/api/2.0/mlflow-artifacts/artifacts/{quote(root + '/' + rel)}"
        self._send("PUT", url, data=data, headers={"Content-Type": "application/octet-stream"})


def _tag_list(tags: dict[str, str]) -> list[dict]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _float_wire(v: float):
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _local_path(uri: str | None) -> str | None:
    if not uri:
        return None
    p = urlparse(uri)
    if p.scheme in ("", "file"):
        return unquote(p.path).rstrip("/")
    return None


def _inside(location: str | None, root: str | None) -> str | None:
    """The path of `location` relative to `root` ('' for the root itself), or None."""
    if not location or not root:
        return None
    a, b = _local_path(location), _local_path(root)
    if a is None or b is None:
        a, b = location.rstrip("/"), root.rstrip("/")
    if a == b:
        return ""
    if a.startswith(b + "/"):
        return a[len(b) + 1:]
    return None


class ModelImporter:
    """Writes a source's logged models and registry through Swan's MLflow face, after its runs."""

    def __init__(self, source, importer, models: ModelSet):
        self.source = source
        self.importer = importer
        self.models = models
        self.dry_run = importer.dry_run
        self.rest = None if self.dry_run else _Rest(importer.client)
        self.summary = ModelsSummary()
        self.lm_ids: dict[str, str] = {}  # source logged model id -> Swan id
        self.lm_locations: dict[str, str] = {}  # source logged model id -> its source artifact location
        self._projects: dict[str, str] = {}
        self.selected_runs = {r["run_id"] for r in source.run_rows}
        self.run_uris = {r["run_id"]: r.get("artifact_uri") for r in source.run_rows}
        self.exp_ids: dict[str, str] = {}  # source experiment id -> Swan project id
        self._all_projects = False

    # -- helpers ------------------------------------------------------------------------------------
    def run_id(self, source_run_id: str | None) -> str | None:
        if not source_run_id:
            return None
        return self.importer._ids.get(self.source.source_id(source_run_id))

    def project_id(self, exp_id: str, exp_name: str) -> str:
        full = self.importer.project_of(RunInfo(source_id="", project=exp_name))
        if full not in self._projects:
            self._projects[full] = str(self.importer.client.create_project(full, exist_ok=True)["id"])
        self.exp_ids[exp_id] = self._projects[full]
        return self._projects[full]

    def source_id(self, kind: str, name: str) -> str:
        return f"mlflow:{self.source.tracking_uri}/{kind}/{name}"

    # -- the import -------------------------------------------------------------------------------
    def run(self) -> ModelsSummary:
        existing: dict[str, dict] = {}
        active = [m for m in self.models.logged_models if m.lifecycle_stage != "deleted"]
        for m in self.models.logged_models:
            if m.lifecycle_stage == "deleted":
                self.summary.results.append(ModelResult(
                    "logged model", m.name or m.model_id, self.source_id("logged-models", m.model_id), state="skipped",
                    skipped=[Skipped("deleted in the source")]))
        if not self.dry_run and active:
            try:
                pids = sorted({self.project_id(m.experiment_id, m.experiment_name) for m in active})
                for pid in pids:
                    for lm in self.rest.paged("POST", "logged-models/search",
                                              {"experiment_ids": [pid], "max_results": 1000}, "models"):
                        sid = _pairs(lm["info"].get("tags")).get(SOURCE_TAG)
                        if sid:
                            existing.setdefault(sid, lm)
            except Exception as exc:  # noqa: BLE001 - no logged model can be matched: none is written
                self.summary.results.append(ModelResult("logged models", "(all)", self.source_id("logged-models", ""),
                                                        state="failed", error=_describe(exc)))
                active = []
        for m in active:
            self.lm_locations[m.model_id] = m.artifact_uri
            result = ModelResult("logged model", m.name or m.model_id, self.source_id("logged-models", m.model_id))
            self.summary.results.append(result)
            try:
                self.logged_model(m, existing.get(result.source_id), result)
            except Exception as exc:  # noqa: BLE001 - this model fails; the others go on
                result.state, result.error = "failed", _describe(exc)
        same_server = (getattr(self.source, "base", None) or "").rstrip("/") == \
            (getattr(self.importer.client, "tracking_uri", None) or "").rstrip("/")
        for rm in self.models.registered:
            kind = "prompt" if rm.is_prompt else "registered model"
            result = ModelResult(kind, rm.name, self.source_id("registered-models", rm.name))
            if not self.wanted(rm):
                continue
            self.summary.results.append(result)
            if same_server:
                result.state = "skipped"
                result.skipped.append(Skipped("the source is this Swan server's own registry"))
                continue
            try:
                self.registered_model(rm, result)
            except Exception as exc:  # noqa: BLE001
                result.state, result.error = "failed", _describe(exc)
        return self.summary

    def wanted(self, rm: RegisteredModel) -> bool:
        """With --experiment, the registered models with a version from an imported run or logged
        model, and the prompts linked to an imported experiment; else all."""
        if not getattr(self.source, "experiment_filter", None):
            return True
        if rm.is_prompt:
            linked = {x for x in (rm.tags.get(PROMPT_EXPERIMENTS_TAG) or "").split(",") if x}
            return bool(linked & {e["id"] for e in self.source.experiments})
        return any((v.run_id in self.selected_runs) or (v.model_id in self.lm_locations) for v in rm.versions)

    # -- logged models ------------------------------------------------------------------------------
    def artifacts_of(self, m: LoggedModel) -> list:
        from importers.mlflow import MlflowServerSource, _local_artifacts

        if isinstance(self.source, MlflowServerSource):
            return list(server_artifacts(self.source, m))
        return list(_local_artifacts(m.artifact_uri, m.local_artifacts))

    def logged_model(self, m: LoggedModel, existing: dict | None, result: ModelResult) -> None:
        arts = self.artifacts_of(m)
        files = [a for a in arts if isinstance(a, Artifact)]
        result.skipped += [a for a in arts if isinstance(a, Skipped)]
        tags = {k: v for k, v in m.tags.items() if k != MODEL_VERSIONS_TAG}
        fp = fingerprint(m.name, m.model_type, m.status, m.status_message, m.source_run_id, sorted(m.params.items()),
                         sorted(tags.items()), sorted(x.sort_key() for x in m.metrics),
                         sorted((a.path, a.size) for a in files), sorted(self.models.outputs.get(m.model_id, [])),
                         sorted(self.models.inputs.get(m.model_id, [])))
        result.artifacts = len(files)
        if self.dry_run:
            result.state = "would import"
            return
        if existing is not None:
            info = existing["info"]
            self.lm_ids[m.model_id] = result.id = info["model_id"]
            current = _pairs(info.get("tags"))
            if current.get(FINGERPRINT_TAG) == fp:
                result.state = "already imported"
                return
            result.state = "updated"
        else:
            body = {"experiment_id": self.project_id(m.experiment_id, m.experiment_name), "name": m.name,
                    "model_type": m.model_type, "source_run_id": self.run_id(m.source_run_id),
                    "params": _tag_list(m.params), "tags": _tag_list({**tags, SOURCE_TAG: result.source_id})}
            existing = self.rest.call("POST", "logged-models", {k: v for k, v in body.items() if v is not None})["model"]
            info = existing["info"]
            self.lm_ids[m.model_id] = result.id = info["model_id"]
            current = _pairs(info.get("tags"))
        mid = info["model_id"]
        if m.source_run_id and not self.run_id(m.source_run_id):
            result.skipped.append(Skipped(f"source run {m.source_run_id} was not imported: the model is not linked to it"))
        changed = {k: v for k, v in tags.items() if current.get(k) != v}
        if changed:
            self.rest.call("PATCH", f"logged-models/{mid}/tags", {"tags": _tag_list(changed)})
        have = _pairs((existing.get("data") or {}).get("params"))
        missing = {k: v for k, v in m.params.items() if k not in have}
        if missing:
            self.rest.call("POST", f"logged-models/{mid}/params", {"params": _tag_list(missing)})
        for k, v in m.params.items():
            if k in have and have[k] != v:
                result.skipped.append(Skipped(f"param {k!r} differs in Swan and cannot change"))
        location = info["artifact_uri"]
        for a in files:
            self._upload(location, a)
        self._metrics(m, mid, result)
        for rid, step in self.models.outputs.get(m.model_id, []):
            new = self.run_id(rid)
            if new:
                self._maybe(result, f"output link to run {rid}", "POST", "runs/outputs",
                            {"run_id": new, "models": [{"model_id": mid, "step": step}]})
        for rid in self.models.inputs.get(m.model_id, []):
            new = self.run_id(rid)
            if new:
                self._maybe(result, f"input link to run {rid}", "POST", "runs/log-inputs",
                            {"run_id": new, "datasets": [], "models": [{"model_id": mid}]})
        if m.status in FINAL_STATUSES and info.get("status") != m.status:
            self.rest.call("PATCH", f"logged-models/{mid}", {"status": m.status})
        # Last: the mark that this source content is in, so a re-run leaves the model alone.
        self.rest.call("PATCH", f"logged-models/{mid}/tags", {"tags": _tag_list({FINGERPRINT_TAG: fp})})

    def _maybe(self, result: ModelResult, what: str, method: str, path: str, body: dict) -> None:
        from swan_client.api import SwanApiError

        try:
            self.rest.call(method, path, body)
        except SwanApiError as exc:
            if exc.status is None or exc.status >= 500:
                raise
            result.skipped.append(Skipped(f"{what} not made: {exc.message[:200]}"))

    def _upload(self, location: str, a: Artifact) -> None:
        import tempfile

        if a.data is not None:
            self.rest.upload(location, a.path, a.data)
        elif a.local is not None:
            with open(a.local, "rb") as f:
                self.rest.upload(location, a.path, f)
        elif a.fetch is not None:
            with tempfile.TemporaryDirectory(prefix="swan-import-") as tmp:
                target = Path(tmp) / "f"
                a.fetch(target)
                with open(target, "rb") as f:
                    self.rest.upload(location, a.path, f)

    def _metrics(self, m: LoggedModel, mid: str, result: ModelResult) -> None:
        """As the run's metrics with the model's id: Swan keeps one copy of a point, so the run's
        imported history stays as it is, and the model gets its metrics."""
        by_run: dict[str, list[ModelMetric]] = {}
        for x in m.metrics:
            by_run.setdefault(x.run_id or "", []).append(x)
        for src_run, points in by_run.items():
            new = self.run_id(src_run)
            if not new:
                result.skipped.append(Skipped(f"model metrics of run {src_run or '(none)'}: that run was not imported",
                                              len(points)))
                continue
            for i in range(0, len(points), METRICS_PER_REQUEST):
                chunk = [{k: v for k, v in {"key": x.key, "value": _float_wire(x.value), "timestamp": x.timestamp,
                                            "step": x.step, "model_id": mid, "dataset_name": x.dataset_name,
                                            "dataset_digest": x.dataset_digest}.items() if v is not None}
                         for x in points[i:i + METRICS_PER_REQUEST]]
                self._maybe(result, f"model metrics of run {src_run}", "POST", "runs/log-batch",
                            {"run_id": new, "metrics": chunk})

    # -- the registry -------------------------------------------------------------------------------
    def rewrite(self, v: Version) -> tuple[str, str | None, str | None]:
        """(source, run id, logged model id) of a version in Swan, or ValueError."""
        if v.source in PROMPT_SOURCES or (v.tags.get(IS_PROMPT_TAG) or "").lower() == "true":
            return v.source or "dummy-source", None, None
        run_id = self.run_id(v.run_id)
        src = v.source or ""
        mid = v.model_id or _model_id_of(src)
        if mid and mid in self.lm_ids:
            sub = ""
            if src.startswith(f"models:/{mid}/"):
                sub = src[len(f"models:/{mid}/"):]
            else:
                sub = _inside(v.storage_location or src, self.lm_locations.get(mid)) or ""
            new = self.lm_ids[mid]
            return f"models:/{new}" + (f"/{sub}" if sub else ""), run_id, new
        if src.startswith("runs:/"):
            rid, _, sub = src[len("runs:/"):].partition("/")
            new = self.run_id(rid)
            if new:
                return f"runs:/{new}" + (f"/{sub}" if sub else ""), new, None
            raise ValueError(f"source {src}: run {rid} was not imported")
        for location in (src, v.storage_location):
            for rid, uri in self.run_uris.items():
                rel = _inside(location, uri)
                if rel is not None and self.run_id(rid):
                    new = self.run_id(rid)
                    return f"runs:/{new}" + (f"/{rel}" if rel else ""), new, None
            for smid, uri in self.lm_locations.items():
                rel = _inside(location, uri)
                if rel is not None and smid in self.lm_ids:
                    new = self.lm_ids[smid]
                    return f"models:/{new}" + (f"/{rel}" if rel else ""), run_id, new
        if src.startswith("models:/") and not mid:
            return src, run_id, None  # another registered model's version: the same name in Swan
        raise ValueError(f"source {src}: not inside an imported run or logged model")

    def _tags(self, tags: dict[str, str]) -> dict[str, str]:
        out = dict(tags)
        linked = out.get(PROMPT_EXPERIMENTS_TAG)
        if linked and self.exp_ids:
            out[PROMPT_EXPERIMENTS_TAG] = ",".join(self.exp_ids.get(x, x) for x in linked.split(","))
        return out

    def registered_model(self, rm: RegisteredModel, result: ModelResult) -> None:
        live = [v for v in sorted(rm.versions, key=lambda v: v.version) if not v.deleted]
        result.versions = len(live)
        if self.dry_run:
            result.state = "would import"
            return
        if rm.is_prompt and not self._all_projects:
            self._all_projects = True
            for e in self.source.experiments:
                if e["id"] not in self.exp_ids:
                    full = self.importer.project_of(RunInfo(source_id="", project=e["name"]))
                    found = self.importer.client.project_by_name(full)
                    if found:
                        self.exp_ids[e["id"]] = str(found["id"])
        tags = self._tags(rm.tags)
        fp = fingerprint(rm.description, sorted(tags.items()), sorted(rm.aliases.items()),
                         [(v.version, self._rewrite_or_none(v), v.description, v.stage, sorted(self._tags(v.tags).items()),
                           v.run_link) for v in live])
        target = self.rest.call("GET", "registered-models/get", params={"name": rm.name}, missing_ok=True)
        changed = False
        if target is None:
            body = {"name": rm.name, "tags": _tag_list({**tags, SOURCE_TAG: result.source_id})}
            if rm.description:
                body["description"] = rm.description
            self.rest.call("POST", "registered-models/create", body)
            target_tags, target_aliases = {**tags, SOURCE_TAG: result.source_id}, {}
            changed = True
        else:
            t = target["registered_model"]
            target_tags = _pairs(t.get("tags"))
            if target_tags.get(SOURCE_TAG) != result.source_id:
                raise RuntimeError(f"a registered model named {rm.name!r} exists in Swan and was not imported from "
                                   "this source; rename one of them to import it")
            target_aliases = {a["alias"]: int(a["version"]) for a in t.get("aliases") or []}
            if target_tags.get(FINGERPRINT_TAG) == fp:
                result.state = "already imported"
                return
            if (t.get("description") or None) != (rm.description or None):
                self.rest.call("PATCH", "registered-models/update", {"name": rm.name, "description": rm.description or ""})
                changed = True
        for k, v in tags.items():
            if target_tags.get(k) != v:
                self.rest.call("POST", "registered-models/set-tag", {"name": rm.name, "key": k, "value": v})
                changed = True
        if "'" in rm.name or "\\" in rm.name:  # no quoting to trust in a filter: read them all
            versions = [x for x in self.rest.paged("GET", "model-versions/search", {"max_results": 10000},
                                                   "model_versions") if x["name"] == rm.name]
        else:
            versions = list(self.rest.paged("GET", "model-versions/search",
                                            {"filter": f"name = '{rm.name}'", "max_results": 10000}, "model_versions"))
        by_sid = {}
        numbers = set()
        for tv in versions:
            numbers.add(int(tv["version"]))
            sid = _pairs(tv.get("tags")).get(SOURCE_TAG)
            if sid:
                by_sid[sid] = tv
        last = max(numbers, default=0)
        mapping: dict[int, int] = {}
        for v in live:
            vsid = f"{result.source_id}/{v.version}"
            tv = by_sid.get(vsid)
            if tv is None:
                try:
                    source, run_id, model_id = self.rewrite(v)
                except ValueError as exc:
                    result.skipped.append(Skipped(f"version {v.version} not imported: {exc}"))
                    continue
                while last + 1 < v.version and v.version not in numbers:
                    last = self._placeholder(rm.name)
                body = {"name": rm.name, "source": source, "run_id": run_id, "model_id": model_id,
                        "tags": _tag_list({**self._tags(v.tags), SOURCE_TAG: vsid}), "description": v.description,
                        "run_link": v.run_link}
                tv = self.rest.call("POST", "model-versions/create",
                                    {k: x for k, x in body.items() if x is not None})["model_version"]
                last = int(tv["version"])
                changed = True
                if last != v.version:
                    result.skipped.append(Skipped(f"version {v.version} imported as version {last} (that number is "
                                                  "taken or was used before in Swan)"))
            number = int(tv["version"])
            mapping[v.version] = number
            current_tags = _pairs(tv.get("tags"))
            for k, x in self._tags(v.tags).items():
                if current_tags.get(k) != x:
                    self.rest.call("POST", "model-versions/set-tag", {"name": rm.name, "version": str(number), "key": k,
                                                                      "value": x})
                    changed = True
            if (tv.get("description") or None) != (v.description or None):
                self.rest.call("PATCH", "model-versions/update",
                               {"name": rm.name, "version": str(number), "description": v.description or ""})
                changed = True
            stage = v.stage or "None"
            if (tv.get("current_stage") or "None") != stage:
                self.rest.call("POST", "model-versions/transition-stage",
                               {"name": rm.name, "version": str(number), "stage": stage,
                                "archive_existing_versions": False})
                changed = True
        for alias, number in sorted(rm.aliases.items()):
            if number not in mapping:
                result.skipped.append(Skipped(f"alias {alias!r}: version {number} was not imported"))
                continue
            if target_aliases.get(alias) != mapping[number]:
                self.rest.call("POST", "registered-models/alias",
                               {"name": rm.name, "alias": alias, "version": str(mapping[number])})
                changed = True
        if target is not None:
            result.state = "updated" if changed else "already imported"
        # Last: the mark that this source content is in, so a re-run leaves the model alone.
        if not result.skipped:
            self.rest.call("POST", "registered-models/set-tag", {"name": rm.name, "key": FINGERPRINT_TAG, "value": fp})

    def _rewrite_or_none(self, v: Version):
        try:
            return self.rewrite(v)
        except ValueError:
            return None

    def _placeholder(self, name: str) -> int:
        """Use up one version number (the source deleted that version): create and delete."""
        tv = self.rest.call("POST", "model-versions/create", {
            "name": name, "source": "dummy-source",
            "tags": _tag_list({IS_PROMPT_TAG: "true", PLACEHOLDER_TAG: "true"})})["model_version"]
        self.rest.call("DELETE", "model-versions/delete", {"name": name, "version": tv["version"]})
        return int(tv["version"])


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]


def import_models(source, importer) -> ModelsSummary:
    """Logged models and the registry of `source`, after `importer` has imported its runs."""
    from importers.mlflow import MlflowDbSource, MlflowFolderSource

    try:
        if isinstance(source, MlflowFolderSource):
            models = read_folder(source)
        elif isinstance(source, MlflowDbSource):
            models = read_db(source)
        else:
            models = read_server(source)
    except Exception as exc:  # noqa: BLE001 - the runs are in; say what could not be read
        return ModelsSummary([ModelResult("models", "(all)", f"mlflow:{source.tracking_uri}", state="failed",
                                          error=f"the source's models could not be read: {_describe(exc)}")])
    return ModelImporter(source, importer, models).run()

