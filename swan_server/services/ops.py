"""Operations: retention (`swan gc`) and moving a project between servers (`swan export`,
`swan import swan`).

An export is a plain directory:

    manifest.json              written last: format, source, counts, and the sha256 of every file
    tables/<table>-NNNN.jsonl  one JSON object per row, natural keys instead of the server's ids
    points/points-NNNN.jsonl   metric points: one [run_id, key, [[step, timestamp, value, is_nan], ...]]
                               per line, values as stored (NaN is 0 with is_nan; ±inf is ±DBL_MAX)
    artifacts/...              the project's artifact tree, relative to its artifact root

    tables/users-NNNN.jsonl    the server's users (unless left out): name, role, workspaces, memberships
                               and API keys as their stored SHA-256 digests, never plain keys

Import checks every checksum before it writes anything, then writes artifacts, rows and points
matched by natural keys: new rows are inserted, changed ones updated, the tags (params, aliases,
...) of each exported run, model, trace and registered model become the exported set, and points
are added when missing. Running it twice, or again after an interruption, duplicates nothing
and changes nothing more; importing a newer export of the same project brings the target up to
date (runs, models, versions missing from the newer export are kept, never removed). Artifact
files are copied when missing or different (by size, and by checksum up to 8 MiB); files
removed at the source stay. Users that exist here by name are kept unless the import replaces
them."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import orjson

from swan_server.artifacts import ArtifactStore
from swan_server.errors import RESOURCE_DOES_NOT_EXIST, SwanError, invalid
from swan_server.store.sql.transfer import TABLE_ORDER, ImportContext

FORMAT = "swan-export"
FORMAT_VERSION = 1
PROXY = "mlflow-artifacts:"
ROWS_PER_FILE = 200_000
# Columns that hold artifact locations (whose files the export carries).
_URI_COLUMNS = {
    "projects": ("artifact_location",), "runs": ("artifact_uri",), "logged_models": ("artifact_location",),
    "model_versions": ("source", "storage_location"),
}
POINTS_PER_FILE = 1_000_000

Echo = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


def proxy_path(uri: str | None) -> str | None:
    """`mlflow-artifacts:/1/abc/artifacts` → `1/abc/artifacts`; None for other schemes."""
    if not uri or not uri.startswith(PROXY):
        return None
    return uri[len(PROXY):].strip("/")


def parse_age(text: str) -> int:
    """'30d', '12h', '90m', '45s', '2w' or a number of days → milliseconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    text = text.strip().lower()
    unit = text[-1] if text and text[-1] in units else "d"
    number = text[:-1] if text and text[-1] in units else text
    try:
        value = float(number)
    except ValueError:
        raise invalid(f"Cannot read the age '{text}' (use e.g. 30d, 12h, 90m, 0s)") from None
    if value < 0:
        raise invalid(f"The age '{text}' is negative")
    return int(value * units[unit] * 1000)


# ------------------------------------------------------------------------------------------------
# gc
# ------------------------------------------------------------------------------------------------
@dataclass
class GcReport:
    projects: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)  # logged models purged
    kept_models: list[str] = field(default_factory=list)  # kept: a registered model version uses them
    points: int = 0
    artifact_trees: int = 0
    batch_keys: int = 0
    sessions: int = 0
    skipped_uris: list[str] = field(default_factory=list)


class GcService:
    """Permanently remove deleted runs, projects and logged models: artifacts first, then rows,
    so that an interrupted gc leaves rows the next gc finds again, never files nothing points to.

    Logged models go when their own deletion is old enough (as `mlflow gc` does) and with the run
    that produced them; one that a registered model version was made from is kept, files and all
    (the version downloads from it). Model versions are left as they are: one whose run was
    purged keeps reading as before (its files, under the run, are gone, as with `mlflow gc`)."""

    # Idempotency keys only need to outlive a client's retries of one batch.
    BATCH_KEY_RETENTION_MS = 24 * 3600 * 1000

    def __init__(self, store, artifacts: ArtifactStore):
        self.store = store
        self.artifacts = artifacts

    def run(self, older_than_ms: int, run_ids: list[str] | None = None, experiment_ids: list[str] | None = None,
            dry_run: bool = False, echo: Echo = _quiet, model_ids: list[str] | None = None) -> GcReport:
        now = int(time.time() * 1000)
        neither = run_ids is None and experiment_ids is None and model_ids is None
        if model_ids is not None and run_ids is None and experiment_ids is None:
            projects, runs = [], []  # only the named models
        else:
            projects, runs = self.store.gc_candidates(now - older_than_ms, run_ids, experiment_ids)
        models, kept = self.store.gc_model_candidates(
            now - older_than_ms, [r.run_id for r in runs], model_ids, neither, {p.project_id for p in projects})
        by_run: dict[str, list] = {}
        for m in models:
            if m.reason == "run":
                by_run.setdefault(m.source_run_id, []).append(m)
        report = GcReport(kept_models=kept)
        verb = "would remove" if dry_run else "removing"
        for mid in kept:
            echo(f"keeping logged model {mid}: a registered model version was made from it")
        for run in runs:
            echo(f"{verb} run {run.run_id}")
            report.runs.append(run.run_id)
            own = by_run.get(run.run_id, [])
            for m in own:
                echo(f"{verb} logged model {m.model_id} of run {run.run_id}")
                report.models.append(m.model_id)
            if not dry_run:
                self._delete_run_artifacts(run.run_id, run.artifact_uri, report)
                for m in own:
                    self._delete_model_artifacts(m.model_id, m.artifact_location, report)
                report.points += self.store.purge_run(run.run_id, [m.model_id for m in own])
        for m in models:
            if m.reason == "run":
                continue
            echo(f"{verb} logged model {m.model_id}")
            report.models.append(m.model_id)
            if not dry_run:
                self._delete_model_artifacts(m.model_id, m.artifact_location, report)
                self.store.purge_logged_model(m.model_id)
        for project in projects:
            echo(f"{verb} project {project.project_id} '{project.name}' "
                 f"with {len(project.runs)} run(s)")
            report.projects.append(project.name)
            report.runs.extend(r.run_id for r in project.runs)
            if dry_run:
                continue
            for run in project.runs:
                self._delete_run_artifacts(run.run_id, run.artifact_uri, report)
                report.points += self.store.purge_run(run.run_id)
            for uri in project.model_locations + project.trace_locations:
                self._delete_uri(uri, report)
            if project.root_is_own:
                self._delete_uri(project.artifact_location, report)
            self.store.purge_project(project.project_id)
        if not dry_run and neither:
            report.batch_keys, report.sessions = self.store.purge_housekeeping(now - self.BATCH_KEY_RETENTION_MS, now)
        return report

    def _delete_run_artifacts(self, run_id: str, uri: str, report: GcReport) -> None:
        self._delete_owned_folder(run_id, uri, report)

    def _delete_model_artifacts(self, model_id: str, uri: str, report: GcReport) -> None:
        self._delete_owned_folder(model_id, uri, report)

    def _delete_owned_folder(self, owner_id: str, uri: str, report: GcReport) -> None:
        path = proxy_path(uri)
        # `<root>/<run id>/artifacts`, `<root>/models/<model id>/artifacts`: the whole folder goes.
        if path and posixpath.basename(path) == "artifacts" and posixpath.basename(posixpath.dirname(path)) == owner_id:
            uri = PROXY + "/" + posixpath.dirname(path)
        self._delete_uri(uri, report)

    def _delete_uri(self, uri: str, report: GcReport) -> None:
        path = proxy_path(uri)
        if not path:
            if uri:
                report.skipped_uris.append(uri)  # not in this server's artifact destination
            return
        try:
            self.artifacts.delete(path)
            report.artifact_trees += 1
        except SwanError as exc:
            if exc.error_code != RESOURCE_DOES_NOT_EXIST:
                raise


# ------------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------------
class _Chunked:
    """JSON-lines files `<prefix>-NNNN.jsonl` of at most `limit` units each, hashed as written."""

    def __init__(self, root: Path, folder: str, prefix: str, limit: int, files: list):
        self.root, self.folder, self.prefix, self.limit, self.files = root, folder, prefix, limit, files
        self.index = 0
        self.units = 0
        self.f = None
        self.hash = None
        self.size = 0

    def write(self, line: bytes, units: int = 1) -> None:
        if self.f is None or self.units >= self.limit:
            self.close()
            self.index += 1
            (self.root / self.folder).mkdir(parents=True, exist_ok=True)
            self.rel = f"{self.folder}/{self.prefix}-{self.index:04d}.jsonl"
            self.f = open(self.root / self.rel, "wb")
            self.hash, self.size, self.units = hashlib.sha256(), 0, 0
        data = line + b"\n"
        self.f.write(data)
        self.hash.update(data)
        self.size += len(data)
        self.units += units

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.files.append({"path": self.rel, "sha256": self.hash.hexdigest(), "bytes": self.size,
                               "kind": self.folder, "name": self.prefix, "units": self.units})
            self.f = None


class Exporter:
    def __init__(self, store, artifacts: ArtifactStore):
        self.store = store
        self.artifacts = artifacts

    def export(self, project: str, out_dir: str | Path, echo: Echo = _quiet, users: bool = True) -> dict:
        from swan_server import __version__ as swan_version
        from swan_server.db.engine import current_revision

        out = Path(out_dir)
        if out.exists() and any(out.iterdir()):
            raise invalid(f"The export directory {out} is not empty")
        out.mkdir(parents=True, exist_ok=True)
        row = self.store.find_project(project)
        files: list[dict] = []
        counts: dict[str, int] = {}
        uris: set[str] = set()
        writers: dict[str, _Chunked] = {}
        for name, rows in self.store.export_rows(row.id):
            writer = writers.get(name) or writers.setdefault(name, _Chunked(out, "tables", name, ROWS_PER_FILE, files))
            for r in rows:
                writer.write(orjson.dumps(r))
                for key in _URI_COLUMNS.get(name, ()):
                    if isinstance(r.get(key), str):
                        uris.add(r[key])
                if name == "trace_tags" and r.get("key") == "mlflow.artifactLocation":
                    uris.add(r["value"])
            counts[name] = counts.get(name, 0) + len(rows)
        if users:
            writer = writers.setdefault("users", _Chunked(out, "tables", "users", ROWS_PER_FILE, files))
            exported_users = self.store.export_users()
            for u in exported_users:
                writer.write(orjson.dumps(u))
            counts["users"] = len(exported_users)
        for w in writers.values():
            w.close()
        echo(f"rows: {sum(v for k, v in counts.items() if k != 'users')} in {len(writers)} table(s)"
             + (f", {counts['users']} user(s)" if users else ""))

        points = _Chunked(out, "points", "points", POINTS_PER_FILE, files)
        n_points = 0
        for run_uuid, key, part in self.store.export_points(row.id):
            points.write(orjson.dumps([run_uuid, key, part]), len(part))
            n_points += len(part)
        points.close()
        counts["metric_points"] = n_points
        echo(f"metric points: {n_points}")

        # The artifact tree under the project's root. Locations outside it (a custom experiment
        # location, a registered model's version from another project) are listed, not copied.
        root = proxy_path(row.artifact_location.rstrip("/"))
        roots = [root] if root else []
        external = []
        for uri in sorted(uris):
            if uri.startswith(("runs:/", "models:/")):
                continue
            path = proxy_path(uri)
            if path is None or not root or not (path == root or path.startswith(root + "/")):
                external.append(uri)
        n_files = n_bytes = 0
        for base in roots:
            for rel, size in self._walk(base):
                target = out / "artifacts" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                chunks, _ = self.artifacts.open_read(rel)
                with open(target, "wb") as f:
                    for chunk in chunks:
                        f.write(chunk)
                        digest.update(chunk)
                written = target.stat().st_size
                files.append({"path": f"artifacts/{rel}", "sha256": digest.hexdigest(), "bytes": written,
                              "kind": "artifacts"})
                n_files += 1
                n_bytes += written
        counts["artifact_files"] = n_files
        counts["artifact_bytes"] = n_bytes
        echo(f"artifacts: {n_files} file(s), {n_bytes} bytes")
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "swan_version": swan_version,
            "schema_revision": current_revision(self.store.engine),
            "source_dialect": self.store.dialect,
            "created_time": int(time.time() * 1000),
            "project": {"id": row.id, "name": row.name, "artifact_location": row.artifact_location},
            "artifact_root": root,
            "external_artifact_uris": external,
            "counts": counts,
            "files": files,
        }
        tmp = out / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1))
        os.replace(tmp, out / "manifest.json")  # its presence marks a complete export
        return manifest

    def _walk(self, base: str) -> Iterator[tuple[str, int]]:
        stack = [base]
        while stack:
            folder = stack.pop()
            for info in self.artifacts.list_dir(folder):
                path = posixpath.join(folder, info.path)
                if info.is_dir:
                    stack.append(path)
                else:
                    yield path, info.file_size or 0


# ------------------------------------------------------------------------------------------------
# import
# ------------------------------------------------------------------------------------------------
def read_manifest(src: Path) -> dict:
    path = src / "manifest.json"
    if not path.is_file():
        raise invalid(f"{src} is not a complete Swan export (no manifest.json)")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise invalid(f"{src} is not a Swan export (format {manifest.get('format')!r})")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise invalid(f"{src} was written by a newer Swan (export format {manifest['format_version']})")
    return manifest


def verify(src: Path, manifest: dict) -> None:
    """Every file the manifest lists exists with its size and sha256."""
    for entry in manifest["files"]:
        path = src / entry["path"]
        if not path.is_file():
            raise invalid(f"The export is damaged: {entry['path']} is missing")
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != entry["sha256"]:
            raise invalid(f"The export is damaged: {entry['path']} does not match its checksum")


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield line


USERS_KEEP, USERS_REPLACE, USERS_SKIP = "keep", "replace", "skip"
SMALL_FILE = 8 << 20  # same-size artifact files up to this size are compared by checksum


class Importer:
    BATCH = 2000

    def __init__(self, store, artifacts: ArtifactStore):
        self.store = store
        self.artifacts = artifacts

    def import_dir(self, src_dir: str | Path, echo: Echo = _quiet, users: str = USERS_KEEP) -> dict:
        src = Path(src_dir)
        manifest = read_manifest(src)
        verify(src, manifest)
        echo(f"checked {len(manifest['files'])} file(s) of the export of '{manifest['project']['name']}'")
        by_kind: dict[str, list[dict]] = {}
        for entry in manifest["files"]:
            by_kind.setdefault(entry["kind"], []).append(entry)
        table_files: dict[str, list[dict]] = {}
        for entry in by_kind.get("tables", []):
            table_files.setdefault(entry["name"], []).append(entry)

        project_rows = [orjson.loads(line) for e in table_files.get("projects", []) for line in _lines(src / e["path"])]
        if len(project_rows) != 1:
            raise invalid("The export must hold exactly one project")
        user_result = None
        if users != USERS_SKIP and table_files.get("users"):
            # First: the project's workspace may be a user's, made here with its owner.
            user_rows = [orjson.loads(line) for e in table_files["users"] for line in _lines(src / e["path"])]
            user_result = self.store.import_users(user_rows, replace=users == USERS_REPLACE)
            echo(f"users: {len(user_result['created'])} created, {len(user_result['replaced'])} replaced, "
                 f"{len(user_result['kept'])} kept as they are here")
        ctx = ImportContext()
        pk, created = self.store.import_project(project_rows[0], ctx)
        here = self.store.get_experiment(str(pk)).artifact_location.rstrip("/")
        old_root, new_root = manifest.get("artifact_root"), proxy_path(here)
        ctx.rewrite = _rewriter(old_root, new_root)
        echo(f"{'created' if created else 'merging into'} project {pk} '{project_rows[0]['name']}'")

        # Files first: a run becomes visible with its artifacts already in place.
        copied = replaced = skipped = 0
        sizes: dict[str, dict[str, int | None]] = {}
        for entry in by_kind.get("artifacts", []):
            rel = entry["path"][len("artifacts/"):]
            target = _rebase(rel, old_root, new_root)
            folder, base = posixpath.split(target)
            if folder not in sizes:
                sizes[folder] = {i.path: i.file_size for i in self.artifacts.list_dir(folder) if not i.is_dir}
            if base in sizes[folder]:
                if sizes[folder][base] == entry["bytes"] and (
                        entry["bytes"] > SMALL_FILE or self._sha256(target) == entry["sha256"]):
                    skipped += 1
                    continue
                replaced += 1
            with open(src / entry["path"], "rb") as f:
                self.artifacts.write(target, f)
            copied += 1
        echo(f"artifacts: {copied} copied ({replaced} of them replaced a different file), {skipped} already here")

        for name in TABLE_ORDER:
            if name == "projects":
                continue
            batch: list[dict] = []
            for entry in table_files.get(name, []):
                for line in _lines(src / entry["path"]):
                    batch.append(orjson.loads(line))
                    if len(batch) >= self.BATCH:
                        self.store.import_rows(name, batch, ctx)
                        batch = []
            self.store.import_rows(name, batch, ctx)
            self.store.prune_rows(name, ctx)
        for entry in by_kind.get("points", []):
            for line in _lines(src / entry["path"]):
                run_uuid, key, points = orjson.loads(line)
                self.store.import_points(run_uuid, key, [tuple(p) for p in points], ctx)
        echo("rows added: " + (", ".join(f"{k} {v}" for k, v in sorted(ctx.inserted.items()) if v) or "none"))
        echo("rows updated: " + (", ".join(f"{k} {v}" for k, v in sorted(ctx.updated.items()) if v) or "none"))
        echo("rows removed: " + (", ".join(f"{k} {v}" for k, v in sorted(ctx.removed.items()) if v) or "none"))
        return {"project_id": str(pk), "created": created, "inserted": dict(ctx.inserted),
                "updated": dict(ctx.updated), "removed": dict(ctx.removed),
                "artifacts_copied": copied, "artifacts_replaced": replaced, "artifacts_skipped": skipped,
                "users": user_result}

    def _sha256(self, path: str) -> str:
        digest = hashlib.sha256()
        chunks, _ = self.artifacts.open_read(path)
        for chunk in chunks:
            digest.update(chunk)
        return digest.hexdigest()


def _rebase(path: str, old_root: str | None, new_root: str | None) -> str:
    if old_root and new_root is not None and (path == old_root or path.startswith(old_root + "/")):
        return new_root + path[len(old_root):]
    return path


def _rewriter(old_root: str | None, new_root: str | None):
    def rewrite(uri):
        path = proxy_path(uri)
        if path is None or not old_root or new_root is None:
            return uri
        rebased = _rebase(path, old_root, new_root)
        return uri if rebased == path else f"{PROXY}/{rebased}"

    return rewrite
