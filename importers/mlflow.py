"""MLflow → neutral run records, from three kinds of source:

* an `mlruns/` folder (the file store), parsed directly (MLflow 3 refuses to open it without
  `MLFLOW_ALLOW_FILE_STORE=true`; we do not need MLflow at all);
* an MLflow database (`sqlite:///...`, `postgresql://...`, `mysql+pymysql://...`), read with plain
  SQL on MLflow's stable core tables, read-only;
* a live MLflow server (`http://...`), over its REST API, paged on every list.

Carried over: experiments (as projects, with their tags), runs with their own ids where free,
names, users, start and end times, status, deleted runs (imported, then deleted), params, tags
(the `mlflow.*` system tags too; `mlflow.parentRunId` pointing at the imported parent), full
metric histories with steps and timestamps, dataset inputs (through the server's MLflow
`log-inputs`, and as the artifact `mlflow/inputs.json`), artifacts; from a server also logged
models (the artifact `mlflow/logged_models.json` on their source run) and registered models
(their versions as `mlflow/registered_models.json` on the run each version came from).

After the runs, from every kind of source: MLflow 3 logged models with their files, and the model
registry (registered models, versions, aliases, prompts), so that `models:/NAME/VERSION` loads
from Swan; see `importers/mlflow_models.py`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from importers.records import (
    Artifact,
    Metrics,
    RunInfo,
    Skipped,
    SourceError,
    SourceRun,
    fingerprint,
    mlflow_pages,
)

KIND = "mlflow"
CHUNK_POINTS = 50_000
STATUS_NAMES = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}


def _status(value) -> str:
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return STATUS_NAMES.get(int(value), "FINISHED")
    return value if value in STATUS_NAMES.values() else "FINISHED"


def _float(text: str) -> float:
    return float(text)  # accepts nan, inf, -inf as MLflow writes them


def open_source(uri: str, experiments: list[str] | None = None):
    """The right reader for a folder, a database URI or a server URL; `experiments` (names or
    ids) limits the import to those experiments."""
    if uri.startswith(("http://", "https://")):
        src = MlflowServerSource(uri, experiments=experiments)
    elif "://" in uri and not uri.startswith("file:"):
        src = MlflowDbSource(uri, experiments=experiments)
    else:
        src = MlflowFolderSource(unquote(urlparse(uri).path) if uri.startswith("file:") else uri, experiments=experiments)
    if experiments:
        found = {e["name"] for e in src.experiments} | {e["id"] for e in src.experiments}
        missing = [x for x in experiments if x not in found]
        if missing:
            raise SourceError(f"{src.describe()}: no experiment named {', '.join(repr(m) for m in missing)}")
    return src


def _wanted(experiments: list[str] | None, exp_id: str, name: str) -> bool:
    return not experiments or exp_id in experiments or name in experiments


class _Source:
    kind = KIND
    tracking_uri = ""

    def __init__(self, experiments: list[str] | None = None):
        self.experiments: list[dict] = []  # {id, name, tags, lifecycle_stage}
        self.run_rows: list[dict] = []
        self.experiment_filter = experiments

    def project_tags(self) -> dict[str, dict[str, str]]:
        return {e["name"]: e.get("tags") or {} for e in self.experiments}

    def runs(self):
        for row in self.run_rows:
            yield MlflowRun(self, row)

    def source_id(self, run_id: str) -> str:
        return f"{KIND}:{self.tracking_uri}/{run_id}"

    # per run, implemented by each back-end
    def history(self, row) -> iter[Metrics]:
        raise NotImplementedError

    def artifacts(self, row):
        raise NotImplementedError

    def extra_artifacts(self, row) -> list[Artifact]:
        return []

    def import_models(self, importer):
        """Logged models and the model registry, once the runs are in (see mlflow_models)."""
        from importers.mlflow_models import import_models

        return import_models(self, importer)


class MlflowRun(SourceRun):
    def __init__(self, source: _Source, row: dict):
        run_id = row["run_id"]
        tags = dict(row.get("tags") or {})
        parent = tags.pop("mlflow.parentRunId", None)
        name = row.get("run_name") or tags.get("mlflow.runName") or run_id
        tags.pop("mlflow.runName", None)
        notes = tags.pop("mlflow.note.content", None)
        info = RunInfo(
            source_id=source.source_id(run_id),
            name=name,
            source_run_id=run_id,
            project=row.get("experiment_name"),
            start_time=row.get("start_time"),
            end_time=row.get("end_time"),
            status=_status(row.get("status")),
            user=row.get("user_id") or None,
            notes=notes,
            tags=tags,
            params=dict(row.get("params") or {}),
            preferred_run_id=run_id,
            parent_source_id=source.source_id(parent) if parent else None,
            deleted=row.get("lifecycle_stage") == "deleted",
            fingerprint=fingerprint(row.get("status"), row.get("end_time"), row.get("lifecycle_stage"),
                                    sorted((row.get("params") or {}).items()), sorted((row.get("tags") or {}).items()),
                                    row.get("metrics_fp")),
        )
        if parent:
            info.tags["swan.import.source_parent_run_id"] = parent
        super().__init__(info)
        self.source = source
        self.row = row

    def finalize(self, client, run_id: str, result) -> None:
        """Dataset inputs, through the server's MLflow face (the native API has none yet)."""
        inputs = self.row.get("inputs") or []
        if not inputs:
            return
        url = f"{client.tracking_uri}/api/2.0/mlflow/runs/log-inputs"
        resp = client.session.post(url, json=dataset_inputs_body(run_id, inputs), timeout=client.timeout)
        if resp.status_code >= 400:
            result.skipped.append(Skipped(f"dataset inputs not logged: {resp.status_code} {resp.text[:200]}",
                                          len(inputs)))

    def stream(self):
        yield from self.row.get("skipped") or ()  # damage found when the source was listed
        yield from self.source.history(self.row)
        inputs = self.row.get("inputs") or []
        if inputs:
            self.info.tags["swan.import.dataset_inputs"] = str(len(inputs))
            yield Artifact("mlflow/inputs.json", data=json.dumps(inputs, indent=1, sort_keys=True).encode())
        yield from self.source.artifacts(self.row)
        yield from self.source.extra_artifacts(self.row)


# -- mlruns/ folder -----------------------------------------------------------------------------------
def _yaml(path: Path) -> dict:
    try:
        import yaml
    except ImportError:
        raise SourceError("reading an mlruns/ folder needs PyYAML (pip install 'swan-tracking[import]')") from None
    # Bytes decoded as UTF-8 (what MLflow writes), not in the reader's locale encoding.
    data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    return data if isinstance(data, dict) else {}


def _files_under(folder: Path, skipped: list[Skipped] | None = None, what: str = "file") -> list[Path]:
    """Every file under `folder`, sorted, following symbolic links (but not a link back into a
    folder it is already inside, which would never end). What cannot be read is not dropped
    silently: a dangling link or an unreadable folder goes into `skipped` as "`what` not imported"
    (or, without that list, raises SourceError)."""
    found: list[Path] = []

    def problem(reason: str, where: Path) -> None:
        if skipped is None:
            raise SourceError(f"{where}: {reason}")
        skipped.append(Skipped(f"{what} not imported: {reason}", where=str(where)))

    def walk(d: Path, inside: frozenset = frozenset()) -> None:
        real = os.path.realpath(d)
        if real in inside:
            problem("symbolic link loop (a link to a folder it is inside)", d)
            return
        inside = inside | {real}
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            problem(f"folder could not be read ({exc.strerror or exc})", d)
            return
        for e in entries:
            path = Path(e.path)
            try:
                if e.is_dir():
                    walk(path, inside)
                elif e.is_file():
                    found.append(path)
                elif e.is_symlink():
                    problem("dangling symbolic link (its target is missing)", path)
            except OSError as exc:
                problem(f"could not be read ({exc.strerror or exc})", path)

    if folder.is_dir():
        walk(folder)
    return sorted(found)


def _key_files(folder: Path, skipped: list[Skipped] | None = None) -> dict[str, str]:
    """`params/`, `tags/`: one file per key (keys with '/' are nested folders), content = value.
    A file that cannot be read or is not UTF-8 text (a damaged value) is left out and reported
    in `skipped`; without that list it raises SourceError."""
    out = {}
    what = {"params": "param", "tags": "tag", "aliases": "alias"}.get(folder.name, folder.name)
    for f in _files_under(folder, skipped, what):
        key = f.relative_to(folder).as_posix()
        try:
            out[key] = f.read_bytes().decode("utf-8")
        except OSError as exc:
            reason = f"{what} not imported: its file could not be read ({exc.strerror or exc})"
        except UnicodeDecodeError as exc:
            reason = f"{what} not imported: its value is not UTF-8 text (damaged at byte {exc.start})"
        else:
            continue
        if skipped is None:
            raise SourceError(f"{f}: {reason}")
        skipped.append(Skipped(reason, where=str(f)))
    return out


_NOT_RUN_DIRS = {"tags", "datasets", "models", "traces", ".trash"}


class MlflowFolderSource(_Source):
    def __init__(self, path: str | os.PathLike, experiments: list[str] | None = None):
        super().__init__(experiments)
        root = Path(path).expanduser()
        if not root.exists():
            raise SourceError(f"{root}: no such file or folder")
        root = root.resolve()
        if not root.is_dir():
            raise SourceError(f"{root}: not an MLflow mlruns/ folder (not a folder)")
        if not any((d / "meta.yaml").is_file() for d in root.iterdir() if d.is_dir()) and (root / "mlruns").is_dir():
            root = root / "mlruns"
        self.root = root
        self.tracking_uri = root.as_uri()
        exp_dirs = [d for d in sorted(root.iterdir()) if d.is_dir() and (d / "meta.yaml").is_file()]
        trash = root / ".trash"
        if trash.is_dir():
            exp_dirs += [d for d in sorted(trash.iterdir()) if d.is_dir() and (d / "meta.yaml").is_file()]
        if not exp_dirs:
            raise SourceError(f"{root}: not an MLflow mlruns/ folder (no <experiment>/meta.yaml in it)")
        for d in exp_dirs:
            try:
                meta = _yaml(d / "meta.yaml")
            except OSError as exc:
                raise SourceError(f"cannot read {d / 'meta.yaml'}: {exc.strerror or exc}") from None
            except Exception as exc:  # noqa: BLE001 - a YAML error
                raise SourceError(f"{d / 'meta.yaml'}: not MLflow experiment metadata ({exc})") from None
            # Damage found while listing is reported with the run it belongs to (the experiment's
            # own, with its first run): the rest of the store is still imported.
            exp_skipped: list[Skipped] = []
            exp = {"id": str(meta.get("experiment_id", d.name)), "name": meta.get("name") or d.name,
                   "tags": _key_files(d / "tags", exp_skipped), "lifecycle_stage": meta.get("lifecycle_stage", "active"),
                   "dir": d}
            if not _wanted(experiments, exp["id"], exp["name"]):
                continue
            self.experiments.append(exp)
            datasets: dict[str, dict | Skipped] = {}
            if (d / "datasets").is_dir():
                for ds in sorted((d / "datasets").iterdir()):
                    if (ds / "meta.yaml").is_file():
                        try:
                            datasets[ds.name] = _yaml(ds / "meta.yaml")
                        except Exception as exc:  # noqa: BLE001 - unreadable or not YAML: its inputs are skipped
                            datasets[ds.name] = Skipped(f"dataset input not imported: its dataset's meta.yaml "
                                                        f"could not be read ({_reason(exc)})", where=str(ds / "meta.yaml"))
            for rd in sorted(d.iterdir()):
                if not rd.is_dir() or rd.name in _NOT_RUN_DIRS or not (rd / "meta.yaml").is_file():
                    continue
                try:
                    rmeta = _yaml(rd / "meta.yaml")
                except Exception as exc:  # noqa: BLE001 - unreadable or not YAML: no run to import from it
                    raise SourceError(f"{rd / 'meta.yaml'}: not readable MLflow run metadata ({_reason(exc)}); "
                                      f"nothing was imported") from None
                skipped, exp_skipped = exp_skipped, []
                run_id = str(rmeta.get("run_id") or rmeta.get("run_uuid") or rd.name)
                inputs = []
                if (rd / "inputs").is_dir():
                    for inp in sorted((rd / "inputs").iterdir()):
                        if not (inp / "meta.yaml").is_file():
                            continue
                        try:
                            im = _yaml(inp / "meta.yaml")
                        except Exception as exc:  # noqa: BLE001
                            skipped.append(Skipped(f"dataset input not imported: its meta.yaml could not be read "
                                                   f"({_reason(exc)})", where=str(inp / "meta.yaml")))
                            continue
                        ds = datasets.get(str(im.get("source_id")))
                        if isinstance(ds, Skipped):
                            skipped.append(ds)
                        elif ds is not None:
                            inputs.append({"dataset": _dataset(ds), "tags": im.get("tags") or {}})
                metric_files = _files_under(rd / "metrics", skipped, "metric")
                self.run_rows.append({
                    "run_id": run_id, "run_name": rmeta.get("run_name"), "experiment_name": exp["name"],
                    "user_id": rmeta.get("user_id"), "status": rmeta.get("status"),
                    "start_time": rmeta.get("start_time"), "end_time": rmeta.get("end_time"),
                    "lifecycle_stage": "deleted" if exp["lifecycle_stage"] == "deleted" else rmeta.get("lifecycle_stage"),
                    "artifact_uri": rmeta.get("artifact_uri"), "params": _key_files(rd / "params", skipped),
                    "tags": _key_files(rd / "tags", skipped), "inputs": inputs, "dir": rd,
                    "metric_files": metric_files,
                    "metrics_fp": [(f.relative_to(rd).as_posix(), f.stat().st_size) for f in metric_files],
                    "skipped": skipped,
                })

    def describe(self) -> str:
        return f"MLflow file store {self.root}"

    def history(self, row):
        """Each metric file line by line, every line on its own: a damaged line (a flipped byte,
        a field missing) is skipped and reported, and the lines around it still come in."""
        m = Metrics()
        base = row["dir"] / "metrics"
        for f in row["metric_files"]:
            key = f.relative_to(base).as_posix()
            try:
                data = f.read_bytes()
            except OSError as exc:
                yield Skipped(f"metric not imported: its file could not be read ({exc.strerror or exc})",
                              where=str(f))
                continue
            lines = data.split(b"\n")
            # MLflow ends every record with a newline; text after the last one is a record whose
            # write was cut off (its step or its value may be incomplete), never a whole record.
            unterminated = lines.pop()
            damaged = []
            for number, line in enumerate(lines, 1):
                point = _metric_line(line)
                if point is None:
                    if line.strip():
                        damaged.append(number)
                    continue
                m.add(key, point[2], point[0], point[1])
            if damaged:
                yield Skipped("damaged metric line (not 'timestamp value [step]' text)", len(damaged),
                              where=f"{f} line{'s' if len(damaged) > 1 else ''} {_line_list(damaged)}")
            if unterminated.strip():
                yield Skipped("cut-off last metric record (no newline after it: the write was interrupted)",
                              where=f"{f} line {len(lines) + 1}")
            if len(m) >= CHUNK_POINTS:
                yield m
                m = Metrics()
        if len(m):
            yield m

    def artifacts(self, row):
        yield from _local_artifacts(row.get("artifact_uri"), row["dir"] / "artifacts")


def _metric_line(line: bytes) -> tuple[int, float, int] | None:
    """(timestamp, value, step) of one line of a file store metric file, or None when the line is
    not what MLflow writes: `timestamp value step`, with `dataset_name dataset_digest` after it
    for a metric logged against a dataset, or `timestamp value` (step 0) from old MLflow."""
    try:
        fields = line.decode("utf-8").split()
    except UnicodeDecodeError:
        return None  # MLflow writes UTF-8 text: anything else is damage
    if len(fields) not in (2, 3, 5):
        return None
    numbers = fields[:3]
    # The numbers are plain ASCII: int() and float() would also read "1_0" as 10 or a non-ASCII
    # digit, which MLflow never writes. (A dataset name after them may hold either.)
    if any(not f.isascii() or "_" in f for f in numbers):
        return None
    try:
        return int(fields[0]), _float(fields[1]), int(fields[2]) if len(fields) > 2 else 0
    except ValueError:
        return None


def _line_list(numbers: list[int], most: int = 10) -> str:
    shown = ", ".join(str(n) for n in numbers[:most])
    return shown + (f" and {len(numbers) - most} more" if len(numbers) > most else "")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return str(exc.strerror or exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def _dataset(ds: dict) -> dict:
    return {"name": ds.get("name"), "digest": ds.get("digest"), "source_type": ds.get("source_type"),
            "source": ds.get("source"), "schema": ds.get("schema"), "profile": ds.get("profile")}


def _local_artifacts(artifact_uri: str | None, fallback: Path | None):
    """The files under a run's artifact location when it is a local folder; a note otherwise."""
    folder = None
    if artifact_uri:
        parsed = urlparse(artifact_uri)
        if parsed.scheme in ("", "file"):
            folder = Path(unquote(parsed.path))
    if folder is None or not folder.is_dir():
        if fallback is not None and fallback.is_dir():
            folder = fallback
        elif artifact_uri and urlparse(artifact_uri).scheme not in ("", "file"):
            yield Skipped(f"artifacts at {artifact_uri}: not a local folder (import them from a server URL)")
            return
        else:
            return
    problems: list[Skipped] = []
    for f in _files_under(folder, problems, "artifact"):
        try:
            # Opened here, not only when uploaded: an unreadable file is reported and skipped
            # instead of failing the whole run in the middle of its upload.
            with open(f, "rb"):
                size = f.stat().st_size
        except OSError as exc:
            problems.append(Skipped(f"artifact not imported: its file could not be read ({exc.strerror or exc})",
                                    where=str(f)))
            continue
        yield Artifact(f.relative_to(folder).as_posix(), local=f, size=size)
    yield from problems


# A plain `postgresql://` or `mysql://` URI (as MLflow users write them) means SQLAlchemy's default
# driver (psycopg2, mysqlclient), which Swan does not install; the drivers Swan does install
# (psycopg 3, PyMySQL) read the same databases.
_INSTALLED_DRIVERS = {
    "postgresql": ("psycopg2", "postgresql+psycopg", "psycopg"),
    "postgres": (None, "postgresql+psycopg", "psycopg"),
    "mysql": ("MySQLdb", "mysql+pymysql", "pymysql"),
    "mariadb": ("MySQLdb", "mysql+pymysql", "pymysql"),
}


def _with_installed_driver(url) -> str:
    """The database URI with a driver that is installed, when the one it names by default is not."""
    from importlib.util import find_spec

    default_module, replacement, module = _INSTALLED_DRIVERS.get(url.drivername, (None, None, None))
    if replacement and not (default_module and find_spec(default_module)) and find_spec(module):
        url = url.set(drivername=replacement)
    return url.render_as_string(hide_password=False)


# -- database -----------------------------------------------------------------------------------------
class MlflowDbSource(_Source):
    def __init__(self, uri: str, experiments: list[str] | None = None):
        super().__init__(experiments)
        from sqlalchemy import create_engine, inspect, text
        from sqlalchemy.engine import make_url

        try:
            url = make_url(uri)
        except Exception as exc:  # noqa: BLE001
            raise SourceError(f"{uri}: not a database URI ({exc})") from None
        self.tracking_uri = url.render_as_string(hide_password=True)
        if url.get_backend_name() == "sqlite":
            db = url.database
            if not db or not Path(db).is_file():
                raise SourceError(f"{uri}: no such SQLite database file")
            # Read-only: never migrate or lock the user's database.
            uri = f"sqlite:///file:{Path(db).resolve()}?mode=ro&uri=true"
        else:
            uri = _with_installed_driver(url)
        try:
            self.engine = create_engine(uri)
            with self.engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
        except Exception as exc:  # noqa: BLE001 - driver errors: unreachable, bad credentials, not a DB
            raise SourceError(f"cannot read the database {self.tracking_uri}: {str(exc).splitlines()[0]}") from None
        needed = {"experiments", "runs", "metrics", "params", "tags"}
        if not needed <= tables:
            raise SourceError(f"{self.tracking_uri}: not an MLflow database (missing tables: "
                              f"{', '.join(sorted(needed - tables))})")
        self.text = text
        self.has_inputs = {"inputs", "datasets", "input_tags"} <= tables
        try:
            with self.engine.connect() as conn:
                exps = conn.execute(text("SELECT experiment_id, name, lifecycle_stage FROM experiments "
                                         "ORDER BY experiment_id")).all()
                exp_tags: dict = {}
                if "experiment_tags" in tables:
                    for k, v, eid in conn.execute(text("SELECT key, value, experiment_id FROM experiment_tags")):
                        exp_tags.setdefault(str(eid), {})[k] = v
                names = {}
                for eid, name, stage in exps:
                    if not _wanted(experiments, str(eid), name):
                        continue
                    names[str(eid)] = (name, stage)
                    self.experiments.append({"id": str(eid), "name": name, "tags": exp_tags.get(str(eid), {}),
                                             "lifecycle_stage": stage})
                cols = {c["name"] for c in inspect(conn).get_columns("runs")}
                name_col = "name" if "name" in cols else "NULL"
                rows = conn.execute(text(
                    f"SELECT run_uuid, {name_col}, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, "
                    "artifact_uri FROM runs ORDER BY start_time, run_uuid")).all()
                params: dict = {}
                for k, v, rid in conn.execute(text("SELECT key, value, run_uuid FROM params")):
                    params.setdefault(rid, {})[k] = v
                tags: dict = {}
                for k, v, rid in conn.execute(text("SELECT key, value, run_uuid FROM tags")):
                    tags.setdefault(rid, {})[k] = v
                mfp: dict = {}
                for rid, n, mx in conn.execute(text("SELECT run_uuid, COUNT(*), MAX(timestamp) FROM metrics GROUP BY run_uuid")):
                    mfp[rid] = (n, mx)
                inputs: dict = {}
                if self.has_inputs:
                    itags: dict = {}
                    for iid, k, v in conn.execute(text("SELECT input_uuid, name, value FROM input_tags")):
                        itags.setdefault(iid, {})[k] = v
                    q = text("SELECT i.input_uuid, i.destination_id, d.name, d.digest, d.dataset_source_type, "
                             "d.dataset_source, d.dataset_schema, d.dataset_profile FROM inputs i JOIN datasets d "
                             "ON d.dataset_uuid = i.source_id WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN'")
                    for iid, rid, name, digest, stype, src, schema, profile in conn.execute(q):
                        inputs.setdefault(rid, []).append({
                            "dataset": {"name": name, "digest": digest, "source_type": stype, "source": src,
                                        "schema": schema, "profile": profile},
                            "tags": itags.get(iid, {})})
        except Exception as exc:  # noqa: BLE001 - a damaged database or a schema MLflow never wrote
            raise SourceError(f"cannot read the MLflow database {self.tracking_uri}: "
                              f"{_reason(exc)}; nothing was imported") from None
        for rid, name, eid, user, status, start, end, stage, art in rows:
            if str(eid) not in names:
                continue
            ename, estage = names[str(eid)]
            self.run_rows.append({
                "run_id": rid, "run_name": None if name_col == "NULL" else name, "experiment_name": ename,
                "user_id": user, "status": status, "start_time": start, "end_time": end,
                "lifecycle_stage": "deleted" if estage == "deleted" else stage, "artifact_uri": art,
                "params": params.get(rid, {}), "tags": tags.get(rid, {}), "inputs": inputs.get(rid, []),
                "metrics_fp": mfp.get(rid),
            })

    def describe(self) -> str:
        return f"MLflow database {self.tracking_uri}"

    def history(self, row):
        q = self.text("SELECT key, step, timestamp, value, is_nan FROM metrics WHERE run_uuid = :r "
                      "ORDER BY key, step, timestamp")
        m = Metrics()
        with self.engine.connect() as conn:
            for key, step, ts, value, is_nan in conn.execute(q, {"r": row["run_id"]}):
                m.add(key, int(step or 0), int(ts or 0), math.nan if is_nan else float(value))
                if len(m) >= CHUNK_POINTS:
                    yield m
                    m = Metrics()
        if len(m):
            yield m

    def artifacts(self, row):
        yield from _local_artifacts(row.get("artifact_uri"), None)


# -- live server --------------------------------------------------------------------------------------
class MlflowServerSource(_Source):
    # The most each list returns per request on an MLflow server; `page_size` asks for fewer.
    LARGEST_PAGE = {"experiments/search": 1000, "runs/search": 1000, "metrics/get-history": 25000,
                    "logged-models/search": 100, "registered-models/search": 1000, "model-versions/search": 10000}

    def __init__(self, url: str, session=None, page_size: int | None = None, experiments: list[str] | None = None):
        super().__init__(experiments)
        import requests

        self.base = url.rstrip("/")
        self.tracking_uri = self.base
        self.session = session or requests.Session()
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        elif os.environ.get("MLFLOW_TRACKING_USERNAME"):
            self.session.auth = (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
        self.page_size = page_size
        try:
            exps = list(self._paged("POST", "experiments/search", {"view_type": "ALL"},
                                    "experiments"))
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - unreachable, not MLflow
            raise SourceError(f"{self.base}: not a reachable MLflow server ({str(exc).splitlines()[0]})") from None
        ids = []
        for e in exps:
            if not _wanted(experiments, e["experiment_id"], e["name"]):
                continue
            tags = {t["key"]: t.get("value", "") for t in e.get("tags", [])}
            self.experiments.append({"id": e["experiment_id"], "name": e["name"], "tags": tags,
                                     "lifecycle_stage": e.get("lifecycle_stage", "active")})
            ids.append(e["experiment_id"])
        names = {e["id"]: e for e in self.experiments}
        for i in range(0, len(ids), 100):
            body = {"experiment_ids": ids[i:i + 100], "run_view_type": "ALL"}
            for r in self._paged("POST", "runs/search", body, "runs"):
                info, data = r["info"], r.get("data", {})
                exp = names.get(info["experiment_id"], {})
                inputs = []
                for di in (r.get("inputs") or {}).get("dataset_inputs", []):
                    ds = di.get("dataset", {})
                    inputs.append({"dataset": {"name": ds.get("name"), "digest": ds.get("digest"),
                                               "source_type": ds.get("source_type"), "source": ds.get("source"),
                                               "schema": ds.get("schema"), "profile": ds.get("profile")},
                                   "tags": {t["key"]: t.get("value", "") for t in di.get("tags", [])}})
                latest = {m["key"]: (m.get("step"), m.get("timestamp")) for m in data.get("metrics", [])}
                self.run_rows.append({
                    "run_id": info["run_id"], "run_name": info.get("run_name"), "experiment_name": exp.get("name"),
                    "user_id": info.get("user_id"), "status": info.get("status"),
                    "start_time": _int(info.get("start_time")), "end_time": _int(info.get("end_time")),
                    "lifecycle_stage": "deleted" if exp.get("lifecycle_stage") == "deleted" else info.get("lifecycle_stage"),
                    "artifact_uri": info.get("artifact_uri"),
                    "params": {p["key"]: p.get("value", "") for p in data.get("params", [])},
                    "tags": {t["key"]: t.get("value", "") for t in data.get("tags", [])},
                    "inputs": inputs, "metric_keys": sorted(latest), "metrics_fp": sorted(latest.items()),
                    "model_inputs": (r.get("inputs") or {}).get("model_inputs", []),
                    "model_outputs": (r.get("outputs") or {}).get("model_outputs", []),
                })
        self.models_by_run = self._models()

    def describe(self) -> str:
        return f"MLflow server {self.base}"

    def _call(self, method: str, path: str, body=None, params=None) -> dict:
        url = f"{self.base}/api/2.0/mlflow/{path}"
        resp = self.session.request(method, url, json=body if method != "GET" else None,
                                    params=params if method == "GET" else None, timeout=120)
        if resp.status_code >= 400:
            try:
                msg = resp.json().get("message", resp.text[:200])
            except ValueError:
                msg = resp.text[:200]
            raise SourceError(f"MLflow server {self.base}: {path}: {resp.status_code} {msg}")
        return resp.json()

    def _paged(self, method: str, path: str, body: dict, field: str):
        """Every item of a listing, page by page; `max_results` is set here for the lists that
        take one (the largest page the server gives, or `page_size` when that is smaller)."""
        largest = self.LARGEST_PAGE.get(path)
        if largest is not None:
            body = {**body, "max_results": min(largest, self.page_size or largest)}
        return mlflow_pages(self._call, method, path, body, field)

    def history(self, row):
        m = Metrics()
        for key in row.get("metric_keys", []):
            params = {"run_id": row["run_id"], "metric_key": key}
            for p in self._paged("GET", "metrics/get-history", params, "metrics"):
                v = p.get("value")
                v = float(v) if not isinstance(v, str) else float(v.replace("Infinity", "inf"))
                m.add(key, int(p.get("step") or 0), int(p.get("timestamp") or 0), v)
                if len(m) >= CHUNK_POINTS:
                    yield m
                    m = Metrics()
        if len(m):
            yield m

    def artifacts(self, row):
        run_id = row["run_id"]
        stack = [""]
        while stack:
            path = stack.pop()
            params = {"run_id": run_id}
            if path:
                params["path"] = path
            try:
                listing = self._paged("GET", "artifacts/list", params, "files")
                files = list(listing)
            except SourceError as exc:
                yield Skipped(f"artifacts could not be listed: {exc}")
                return
            for f in files:
                if f.get("is_dir"):
                    stack.append(f["path"])
                else:
                    yield Artifact(f["path"], fetch=self._downloader(run_id, f["path"]), size=_int(f.get("file_size")))

    def _downloader(self, run_id: str, path: str):
        def fetch(target: Path) -> None:
            url = f"{self.base}/get-artifact"
            with self.session.get(url, params={"path": path, "run_uuid": run_id}, stream=True, timeout=600) as resp:
                if resp.status_code >= 400:
                    raise OSError(f"download of artifact {path} failed: {resp.status_code} {resp.text[:200]}")
                with open(target, "wb") as out:
                    out.writelines(resp.iter_content(1 << 20))

        return fetch

    def _models(self) -> dict[str, dict]:
        """Logged models and registered model versions, by the run they came from."""
        by_run: dict[str, dict] = {}
        ids = [e["id"] for e in self.experiments]
        try:
            for i in range(0, len(ids), 100):
                for lm in self._paged("POST", "logged-models/search",
                                      {"experiment_ids": ids[i:i + 100]}, "models"):
                    rid = (lm.get("info") or {}).get("source_run_id")
                    if rid:
                        by_run.setdefault(rid, {}).setdefault("logged_models", []).append(lm)
        except SourceError:
            pass  # an MLflow 2 server: no logged models
        try:
            registered = {m["name"]: m for m in self._paged("GET", "registered-models/search",
                                                            {}, "registered_models")}
            ours = {r["run_id"] for r in self.run_rows}
            for mv in self._paged("GET", "model-versions/search", {}, "model_versions"):
                rid = mv.get("run_id")
                if rid in ours:
                    entry = by_run.setdefault(rid, {}).setdefault("registered_models", {})
                    model = entry.setdefault(mv["name"], {"model": registered.get(mv["name"], {"name": mv["name"]}),
                                                          "versions": []})
                    model["versions"].append(mv)
        except SourceError:
            pass
        return by_run

    def extra_artifacts(self, row):
        models = self.models_by_run.get(row["run_id"])
        if not models:
            return []
        out = []
        if models.get("logged_models"):
            out.append(Artifact("mlflow/logged_models.json",
                                data=json.dumps(models["logged_models"], indent=1, sort_keys=True).encode()))
        if models.get("registered_models"):
            out.append(Artifact("mlflow/registered_models.json",
                                data=json.dumps(models["registered_models"], indent=1, sort_keys=True).encode()))
        return out


def _int(v):
    return int(v) if v not in (None, "") else None


def dataset_inputs_body(run_id: str, inputs: list[dict]) -> dict:
    """The MLflow `runs/log-inputs` request for a run's dataset inputs."""
    return {"run_id": run_id, "datasets": [
        {"dataset": {k: v for k, v in i["dataset"].items() if v is not None},
         "tags": [{"key": k, "value": v} for k, v in (i.get("tags") or {}).items()]}
        for i in inputs]}


__all__ = [
    "MlflowDbSource",
    "MlflowFolderSource",
    "MlflowServerSource",
    "dataset_inputs_body",
    "open_source",
    "quote",
]
