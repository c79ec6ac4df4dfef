"""Moving a project between servers (`swan export` / `swan import swan`), row for row.

Export reads every row that belongs to one project and replaces the server's own integer keys by
natural ones (run ids, dataset ids as exported, model ids, trace ids, registry names), so that
rows can land on any other server whatever ids it has already issued. Import matches rows by
those natural keys: a new row is inserted, an existing one is updated where the export differs
(a run's status, end time, name, lifecycle; a tag's value; a metric's summary...), and the tags,
params, aliases and trace metadata of every exported run, model, trace, project and registered
model become exactly the exported set (keys the export no longer has are removed). Append-only
rows (metric points, console lines, media items, run inputs) are inserted when missing.
Importing the same directory twice, or again after an interruption, changes nothing more; a
newer export of the same project brings the target up to date. Nothing is ever removed whole:
a run, model, trace or model version missing from the export stays as it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

from sqlalchemy import delete, func, or_, select, tuple_, update

from swan_server.db import schema as t
from swan_server.db.dialects import insert_ignore
from swan_server.errors import invalid, not_found
from swan_server.store.sql.base import chunks, now_ms, parse_experiment_id
from swan_server.store.sql.points import PointsMixin

# Rows per statement when reading or writing a table in pieces.
ROW_CHUNK = 2000
POINTS_PER_LINE = 10_000

# The tables of a project, in the order an import needs them (parents before children).
TABLE_ORDER = (
    "projects", "project_tags", "project_columns", "datasets", "runs", "params", "run_tags",
    "run_inputs", "input_tags", "metric_series", "media_items", "log_lines", "run_profiles",
    "run_heartbeats", "logged_models", "logged_model_tags", "logged_model_params",
    "logged_model_metrics", "run_model_outputs", "run_model_inputs", "traces", "trace_tags",
    "trace_metadata", "trace_run_links", "registered_models", "registered_model_tags",
    "model_versions", "model_version_tags", "registered_model_aliases",
)


def _cols(table, *drop: str) -> list:
    return [c for c in table.c if c.name not in drop]


def _as_dict(row, drop: tuple = ()) -> dict:
    # str(): column names come as `quoted_name`, a str subclass JSON encoders refuse as keys.
    return {str(k): v for k, v in row._asdict().items() if k not in drop}


@dataclass
class ImportContext:
    """Where the imported project landed and how the exported keys map to this server's."""

    project_pk: int | None = None
    rewrite: Callable[[str | None], str | None] = lambda uri: uri
    datasets: dict[int, int] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)  # run uuid -> pk
    inputs: dict[int, int] = field(default_factory=dict)
    series: dict[tuple[str, str], int] = field(default_factory=dict)  # (run uuid, key) -> id
    models: dict[str, int] = field(default_factory=dict)  # m-... -> pk
    traces: dict[str, int] = field(default_factory=dict)  # tr-... -> pk
    registered: dict[str, int] = field(default_factory=dict)  # name -> pk
    versions: dict[tuple[str, int], int] = field(default_factory=dict)  # (name, version) -> pk
    exported_versions: set[int] = field(default_factory=set)  # pks of the versions the export holds
    # Per table whose rows form a set per parent: the (parent pk, key...) the export holds.
    seen: dict[str, set] = field(default_factory=dict)
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)

    def count(self, table: str, n: int) -> None:
        self.inserted[table] = self.inserted.get(table, 0) + max(0, n or 0)

    def count_updated(self, table: str, n: int) -> None:
        if n:
            self.updated[table] = self.updated.get(table, 0) + n

    def count_removed(self, table: str, n: int) -> None:
        if n:
            self.removed[table] = self.removed.get(table, 0) + n


class TransferMixin(PointsMixin):
    # -- export ------------------------------------------------------------------------------------
    def find_project(self, name_or_id: str):
        """The project row named `name_or_id`, else the one with that id; RESOURCE_DOES_NOT_EXIST."""
        with self.read() as conn:
            row = conn.execute(select(t.projects).where(t.projects.c.name == name_or_id)).first()
            if row is None and name_or_id.lstrip("-").isdigit():
                row = conn.execute(select(t.projects).where(t.projects.c.id == parse_experiment_id(name_or_id))).first()
            if row is None:
                raise not_found(f"No project named or numbered '{name_or_id}'")
            return row

    def export_rows(self, project_pk: int) -> Iterator[tuple[str, list[dict]]]:
        """(table name, rows) pieces of every table of the project, in TABLE_ORDER."""
        R, LM, TR, RM, MV = t.runs, t.logged_models, t.traces, t.registered_models, t.model_versions
        with self.read() as conn:
            project = conn.execute(select(t.projects).where(t.projects.c.id == project_pk)).one()
            workspace = conn.execute(select(t.workspaces.c.name).where(t.workspaces.c.id == project.workspace_id)).scalar()
            yield "projects", [{**_as_dict(project, ("workspace_id",)), "workspace": workspace}]
            yield from self._export(conn, "project_tags", select(*_cols(t.project_tags, "project_id"))
                                    .where(t.project_tags.c.project_id == project_pk))
            yield from self._export(conn, "project_columns", select(*_cols(t.project_columns, "project_id"))
                                    .where(t.project_columns.c.project_id == project_pk))
            yield from self._export(conn, "datasets", select(*_cols(t.datasets, "project_id"))
                                    .where(t.datasets.c.project_id == project_pk).order_by(t.datasets.c.id))
            yield from self._export(conn, "runs", select(*_cols(R, "id", "project_id"))
                                    .where(R.c.project_id == project_pk).order_by(R.c.id))
            run_uuid = R.c.run_uuid.label("run")
            in_project = R.c.project_id == project_pk
            for name in ("params", "run_tags", "metric_series", "media_items", "log_lines", "run_profiles",
                         "run_heartbeats"):
                table = getattr(t, name)
                # A series' chunk counter is this server's own: the importer numbers its chunks.
                drop = ("run_id", "id", "chunk_seq") if name == "metric_series" else ("run_id",)
                yield from self._export(conn, name, select(run_uuid, *_cols(table, *drop))
                                        .select_from(table).join(R, R.c.id == table.c.run_id).where(in_project))
            RI = t.run_inputs
            yield from self._export(conn, "run_inputs", select(run_uuid, RI.c.id, RI.c.dataset_id)
                                    .select_from(RI).join(R, R.c.id == RI.c.run_id).where(in_project))
            yield from self._export(conn, "input_tags", select(t.input_tags)
                                    .join(RI, RI.c.id == t.input_tags.c.input_id)
                                    .join(R, R.c.id == RI.c.run_id).where(in_project))
            model_id = LM.c.model_id.label("model")
            yield from self._export(conn, "logged_models", select(*_cols(LM, "id", "project_id"))
                                    .where(LM.c.project_id == project_pk).order_by(LM.c.id))
            for name in ("logged_model_tags", "logged_model_params", "logged_model_metrics"):
                table = getattr(t, name)
                yield from self._export(conn, name, select(model_id, *_cols(table, "model_pk"))
                                        .select_from(table).join(LM, LM.c.id == table.c.model_pk).where(LM.c.project_id == project_pk))
            for name in ("run_model_outputs", "run_model_inputs"):
                table = getattr(t, name)
                yield from self._export(conn, name, select(run_uuid, model_id, *_cols(table, "run_id", "model_pk"))
                                        .select_from(table).join(R, R.c.id == table.c.run_id).join(LM, LM.c.id == table.c.model_pk)
                                        .where(in_project))
            trace_id = TR.c.trace_id.label("trace")
            yield from self._export(conn, "traces", select(*_cols(TR, "id", "project_id"))
                                    .where(TR.c.project_id == project_pk).order_by(TR.c.id))
            for name in ("trace_tags", "trace_metadata", "trace_run_links"):
                table = getattr(t, name)
                yield from self._export(conn, name, select(trace_id, *_cols(table, "trace_pk"))
                                        .select_from(table).join(TR, TR.c.id == table.c.trace_pk).where(TR.c.project_id == project_pk))
            # Registered models with a version made from one of the project's runs or models.
            run_ids = select(R.c.run_uuid).where(in_project)
            model_ids = select(LM.c.model_id).where(LM.c.project_id == project_pk)
            linked = select(MV.c.model_id).where(or_(MV.c.run_id.in_(run_ids), MV.c.logged_model_id.in_(model_ids)))
            rm_name = RM.c.name.label("model")
            yield from self._export(conn, "registered_models", select(*_cols(RM, "id")).where(RM.c.id.in_(linked)))
            for name in ("registered_model_tags", "registered_model_aliases"):
                table = getattr(t, name)
                yield from self._export(conn, name, select(rm_name, *_cols(table, "model_id"))
                                        .select_from(table).join(RM, RM.c.id == table.c.model_id).where(RM.c.id.in_(linked)))
            yield from self._export(conn, "model_versions", select(rm_name, *_cols(MV, "id", "model_id"))
                                    .select_from(MV).join(RM, RM.c.id == MV.c.model_id).where(RM.c.id.in_(linked)))
            MVT = t.model_version_tags
            yield from self._export(conn, "model_version_tags", select(rm_name, MV.c.version, *_cols(MVT, "version_id"))
                                    .select_from(MVT).join(MV, MV.c.id == MVT.c.version_id).join(RM, RM.c.id == MV.c.model_id)
                                    .where(RM.c.id.in_(linked)))

    def _export(self, conn, name: str, query) -> Iterator[tuple[str, list[dict]]]:
        result = conn.execution_options(stream_results=True, yield_per=ROW_CHUNK).execute(query)
        for part in result.partitions(ROW_CHUNK):
            yield name, [_as_dict(r) for r in part]

    def export_points(self, project_pk: int) -> Iterator[tuple[str, str, list[tuple]]]:
        """(run uuid, key, [(step, timestamp, stored value, is_nan), ...]) pieces of every series
        of the project, each series in step order."""
        S, R = t.metric_series, t.runs
        with self.read() as conn:
            series = conn.execute(
                select(S.c.id, R.c.run_uuid, S.c.key).select_from(S).join(R, R.c.id == S.c.run_id)
                .where(R.c.project_id == project_pk).order_by(S.c.id)
            ).all()
        for series_id, run_uuid, key in series:
            with self.read() as conn:
                pending: list[tuple] = []
                for block in self._iter_series_points(conn, series_id):
                    pending.extend(block)
                    while len(pending) >= POINTS_PER_LINE:
                        yield run_uuid, key, pending[:POINTS_PER_LINE]
                        pending = pending[POINTS_PER_LINE:]
                if pending:
                    yield run_uuid, key, pending

    # -- import ------------------------------------------------------------------------------------
    def import_project(self, row: dict, ctx: ImportContext) -> tuple[int, bool]:
        """Find (by name) or create the project; returns (its id, created). A new project gets
        its own id and, when its location was the exporting server's default one, the matching
        default location here."""
        P = t.projects
        with self.write() as conn:
            found = conn.execute(select(P).where(P.c.name == row["name"])).first()
            if found is not None:
                ctx.project_pk = found.id
                # Its lifecycle follows the export; its location and workspace stay this server's.
                values = {k: row[k] for k in ("lifecycle_stage", "creation_time", "last_update_time", "deleted_time")
                          if k in row and not _same(getattr(found, k), row[k])}
                if values:
                    conn.execute(update(P).where(P.c.id == found.id).values(**values))
                    ctx.count_updated("projects", 1)
                return found.id, False
            ws_name = row.get("workspace")
            ws = conn.execute(select(t.workspaces.c.id).where(t.workspaces.c.name == ws_name)).scalar()
            if ws is None:
                ws = conn.execute(t.workspaces.insert().values(name=ws_name, created_time=now_ms())).inserted_primary_key[0]
            values = {k: v for k, v in row.items() if k not in ("id", "workspace")}
            pk = conn.execute(P.insert().values(**values, workspace_id=ws)).inserted_primary_key[0]
            if row["artifact_location"].rstrip("/") == f"mlflow-artifacts:/{row['id']}":
                conn.execute(update(P).where(P.c.id == pk).values(artifact_location=f"mlflow-artifacts:/{pk}"))
            ctx.project_pk = pk
            ctx.count("projects", 1)
            return pk, True

    def import_rows(self, name: str, rows: list[dict], ctx: ImportContext) -> None:
        """Insert or update one piece of an exported table (never `projects`), in one
        transaction, and extend the key maps of `ctx`."""
        if not rows:
            return
        with self.write() as conn:
            handler = _IMPORTERS.get(name)
            if handler is None:
                raise invalid(f"Unknown table '{name}' in the export")
            handler(self, conn, rows, ctx)

    def _insert(self, conn, table, rows: list[dict], ctx: ImportContext) -> None:
        if not rows:
            return
        stmt = insert_ignore(table, self.dialect)
        if self.dialect in ("postgresql", "sqlite"):
            # executemany's rowcount is not reliable there; RETURNING counts what really landed.
            first = list(table.primary_key.columns)[0]
            ctx.count(table.name, len(conn.execute(stmt.returning(first), rows).all()))
        else:
            ctx.count(table.name, conn.execute(stmt, rows).rowcount)

    def prune_rows(self, name: str, ctx: ImportContext) -> int:
        """Once every piece of table `name` is imported: remove the rows of the exported parents
        (runs, models, traces, ...) that the export no longer has (a deleted tag)."""
        spec = _PRUNE.get(name)
        if spec is None:
            return 0
        parent, keys, attr = spec
        table = getattr(t, name)
        if attr == "project":
            parents = [ctx.project_pk]
        else:
            held = getattr(ctx, attr)
            parents = sorted(held.values() if isinstance(held, dict) else held)
        seen = ctx.seen.get(name, set())
        cols = [table.c[parent], *(table.c[k] for k in keys)]
        n = 0
        with self.write() as conn:
            for part in chunks(parents):
                gone = [tuple(r) for r in conn.execute(select(*cols).where(table.c[parent].in_(part))) if tuple(r) not in seen]
                for piece in chunks(gone, 500):
                    n += conn.execute(delete(table).where(tuple_(*cols).in_(piece))).rowcount or 0
        ctx.count_removed(name, n)
        return n

    def _sync(self, conn, table, rows: list[dict], keys: tuple[str, ...], ctx: ImportContext,
              fixed: tuple[str, ...] = (), merge: Callable[[dict, dict], dict] | None = None) -> None:
        """Insert the rows whose key (`keys`) is new here; update the columns (but `fixed`) of the
        others where they differ. `merge(existing row, changes)` may adjust the changes."""
        if not rows:
            return
        if table.name in _PRUNE:
            parent, names, _ = _PRUNE[table.name]
            ctx.seen.setdefault(table.name, set()).update((r[parent], *(r[k] for k in names)) for r in rows)
        key_cols = [table.c[k] for k in keys]
        existing: dict[tuple, dict] = {}
        wanted = list(dict.fromkeys(tuple(r[k] for k in keys) for r in rows))
        for part in chunks(wanted, 500):
            cond = key_cols[0].in_([p[0] for p in part]) if len(keys) == 1 else tuple_(*key_cols).in_(part)
            for row in conn.execute(select(table).where(cond)):
                m = row._mapping
                existing[tuple(m[k] for k in keys)] = dict(m)
        new, changed = [], 0
        for r in rows:
            key = tuple(r[k] for k in keys)
            old = existing.get(key)
            if old is None:
                new.append(r)
                continue
            values = {c: v for c, v in r.items()
                      if c not in keys and c not in fixed and c in old and not _same(old[c], v)}
            if merge is not None:
                values = merge(old, values)
            if values:
                conn.execute(update(table).where(*(col == v for col, v in zip(key_cols, key))).values(**values))
                old.update(values)
                changed += 1
        self._insert(conn, table, new, ctx)
        ctx.count_updated(table.name, changed)

    def _run_pk(self, ctx: ImportContext, run_uuid: str) -> int:
        try:
            return ctx.runs[run_uuid]
        except KeyError:
            raise invalid(f"The export refers to run {run_uuid}, which it does not contain") from None

    def import_points(self, run_uuid: str, key: str, points: list[tuple], ctx: ImportContext) -> int:
        series_id = ctx.series.get((run_uuid, key))
        if series_id is None:
            raise invalid(f"The export has points of series {run_uuid}/{key} but no such series")
        run_pk = self._run_pk(ctx, run_uuid)
        fresh = [(int(s), int(ts), float(v), bool(nan)) for s, ts, v, nan in points]
        with self.write() as conn:
            # As any batch: points the series holds already are skipped, the rest counted into
            # its summary.
            n = self._insert_grouped(conn, run_pk, {key: fresh}) if fresh else 0
        ctx.count("metric_points", n)
        return n

    def project_counts(self, project_pk: int) -> dict[str, int]:
        """Rows per table of one project (for the export manifest and checks)."""
        R, S = t.runs, t.metric_series
        with self.read() as conn:
            runs = conn.execute(select(func.count()).select_from(R).where(R.c.project_id == project_pk)).scalar()
            points = conn.execute(
                select(func.coalesce(func.sum(S.c.point_count), 0)).join(R, R.c.id == S.c.run_id)
                .where(R.c.project_id == project_pk)
            ).scalar()
        return {"runs": int(runs or 0), "metric_points": int(points or 0)}


# -- per-table import handlers -------------------------------------------------------------------------
def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is not None and b is not None and bool(a) == bool(b)
    return a == b


def _keys(table) -> tuple[str, ...]:
    return tuple(c.name for c in table.primary_key.columns)


# Tables whose rows form a set per parent, which an import makes equal to the exported set:
# table -> (parent column, key columns, ImportContext attribute holding the exported parents).
_PRUNE = {
    "project_tags": ("project_id", ("key",), "project"),
    "project_columns": ("project_id", ("key",), "project"),
    "params": ("run_id", ("key",), "runs"),
    "run_tags": ("run_id", ("key",), "runs"),
    "logged_model_tags": ("model_pk", ("key",), "models"),
    "logged_model_params": ("model_pk", ("key",), "models"),
    "trace_tags": ("trace_pk", ("key",), "traces"),
    "trace_metadata": ("trace_pk", ("key",), "traces"),
    "registered_model_tags": ("model_id", ("key",), "registered"),
    "registered_model_aliases": ("model_id", ("alias",), "registered"),
    "model_version_tags": ("version_id", ("key",), "exported_versions"),
}

# Append-only tables: a row, once written, never changes; the import only adds missing ones.
_APPEND_ONLY = {"log_lines", "media_items", "run_model_inputs", "trace_run_links"}


def _resolve(store: TransferMixin, r: dict, resolve: str | None, ctx: ImportContext) -> dict:
    r = dict(r)
    if resolve == "project":
        r["project_id"] = ctx.project_pk
    elif resolve == "run":
        r["run_id"] = store._run_pk(ctx, r.pop("run"))
    elif resolve == "model":
        r["model_pk"] = _lookup(ctx.models, r.pop("model"), "logged model")
    elif resolve == "trace":
        r["trace_pk"] = _lookup(ctx.traces, r.pop("trace"), "trace")
    elif resolve == "registered":
        r["model_id"] = _lookup(ctx.registered, r.pop("model"), "registered model")
    return r


def _simple(table_name: str, key: str | None = None, resolve: str | None = None):
    """Rows whose only foreign key is the project, or a natural key resolved through a ctx map,
    keyed by their primary key."""

    def handler(store: TransferMixin, conn, rows, ctx: ImportContext):
        table = getattr(t, table_name)
        out = [_resolve(store, r, resolve, ctx) for r in rows]
        if table_name in _APPEND_ONLY:
            store._insert(conn, table, out, ctx)
        else:
            store._sync(conn, table, out, _keys(table), ctx)

    return handler


def _lookup(mapping: dict, key, what: str):
    try:
        return mapping[key]
    except KeyError:
        raise invalid(f"The export refers to {what} {key!r}, which it does not contain") from None


def _datasets(store: TransferMixin, conn, rows, ctx):
    D = t.datasets
    store._sync(conn, D, [{**{k: v for k, v in r.items() if k != "id"}, "project_id": ctx.project_pk} for r in rows],
                ("project_id", "name", "digest"), ctx)
    for r in rows:
        ctx.datasets[r["id"]] = conn.execute(
            select(D.c.id).where(D.c.project_id == ctx.project_pk, D.c.name == r["name"], D.c.digest == r["digest"])
        ).scalar_one()


def _by_natural_key(store: TransferMixin, conn, rows, ctx, table, key: str, location: str | None, what: str) -> dict:
    """Insert the rows whose natural key (run id, model id, trace id) is new here and update the
    others, rewriting their artifact location; refuse a key that already belongs to another
    project. Returns {key: primary key}."""
    keys = [r[key] for r in rows]
    existing = {}
    for part in chunks(keys):
        existing.update(conn.execute(select(table.c[key], table.c.project_id).where(table.c[key].in_(part))).all())
    for k, project in existing.items():
        if project != ctx.project_pk:
            raise invalid(f"{what} {k} already exists here in another project (id {project})")
    out = []
    for r in rows:
        r = {**r, "project_id": ctx.project_pk}
        if location:
            r[location] = ctx.rewrite(r[location])
        out.append(r)
    store._sync(conn, table, out, (key,), ctx, fixed=("project_id",))
    found = {}
    for part in chunks(keys):
        found.update({k: pk for pk, k in conn.execute(select(table.c.id, table.c[key]).where(table.c[key].in_(part)))})
    return found


def _runs(store: TransferMixin, conn, rows, ctx):
    ctx.runs.update(_by_natural_key(store, conn, rows, ctx, t.runs, "run_uuid", "artifact_uri", "Run"))


def _run_inputs(store: TransferMixin, conn, rows, ctx):
    RI = t.run_inputs
    pairs = [(store._run_pk(ctx, r["run"]), _lookup(ctx.datasets, r["dataset_id"], "dataset"), r["id"]) for r in rows]
    store._insert(conn, RI, [{"run_id": run, "dataset_id": ds} for run, ds, _ in pairs], ctx)
    for run, ds, old in pairs:
        ctx.inputs[old] = conn.execute(select(RI.c.id).where(RI.c.run_id == run, RI.c.dataset_id == ds)).scalar_one()


def _input_tags(store: TransferMixin, conn, rows, ctx):
    store._sync(conn, t.input_tags, [{**r, "input_id": _lookup(ctx.inputs, r["input_id"], "run input")} for r in rows],
                ("input_id", "key"), ctx)


_SERIES_SUMMARY = tuple(c.name for c in t.metric_series.c if c.name not in ("id", "run_id", "key"))


def _metric_series(store: TransferMixin, conn, rows, ctx):
    S = t.metric_series
    out = []
    for r in rows:
        r = dict(r)
        r["run_id"] = store._run_pk(ctx, r.pop("run"))
        out.append(r)
    # A new series starts from the exporting server's summary with no points counted; the points
    # that follow are counted into it as they are written, and a series this server has keeps
    # its own summary, into which the new points are merged. So the summary always describes
    # exactly the points stored (ingestion trusts it to tell an append from a resend).
    for r in out:
        r["point_count"] = 0
    store._sync(conn, S, out, ("run_id", "key"), ctx, fixed=_SERIES_SUMMARY)
    by_pk = {pk: u for u, pk in ctx.runs.items()}
    for part in chunks(sorted({r["run_id"] for r in out}), 1000):
        for sid, run_pk, key in conn.execute(select(S.c.id, S.c.run_id, S.c.key).where(S.c.run_id.in_(part))):
            ctx.series[(by_pk[run_pk], key)] = sid


def _logged_models(store: TransferMixin, conn, rows, ctx):
    ctx.models.update(
        _by_natural_key(store, conn, rows, ctx, t.logged_models, "model_id", "artifact_location", "Logged model")
    )


def _run_models(table_name: str):
    def handler(store: TransferMixin, conn, rows, ctx):
        table = getattr(t, table_name)
        out = []
        for r in rows:
            r = dict(r)
            r["run_id"] = store._run_pk(ctx, r.pop("run"))
            r["model_pk"] = _lookup(ctx.models, r.pop("model"), "logged model")
            out.append(r)
        if table_name in _APPEND_ONLY:
            store._insert(conn, table, out, ctx)
        else:
            store._sync(conn, table, out, _keys(table), ctx)

    return handler


def _traces(store: TransferMixin, conn, rows, ctx):
    ctx.traces.update(_by_natural_key(store, conn, rows, ctx, t.traces, "trace_id", None, "Trace"))


def _trace_tags(store: TransferMixin, conn, rows, ctx):
    out = []
    for r in rows:
        r = dict(r)
        r["trace_pk"] = _lookup(ctx.traces, r.pop("trace"), "trace")
        if r["key"] == "mlflow.artifactLocation":
            r["value"] = ctx.rewrite(r["value"])
        out.append(r)
    store._sync(conn, t.trace_tags, out, ("trace_pk", "key"), ctx)


def _registered_models(store: TransferMixin, conn, rows, ctx):
    RM = t.registered_models
    names = [r["name"] for r in rows]

    def keep_larger_number(old: dict, changes: dict) -> dict:
        # A model that already existed keeps counting from the larger number.
        if "last_version" in changes and changes["last_version"] < old["last_version"]:
            del changes["last_version"]
        return changes

    store._sync(conn, RM, rows, ("name",), ctx, merge=keep_larger_number)
    ctx.registered.update({n: pk for pk, n in conn.execute(select(RM.c.id, RM.c.name).where(RM.c.name.in_(names)))})


def _model_versions(store: TransferMixin, conn, rows, ctx):
    MV = t.model_versions
    out = []
    for r in rows:
        r = dict(r)
        r["model_id"] = _lookup(ctx.registered, r.pop("model"), "registered model")
        r["source"] = ctx.rewrite(r["source"])
        r["storage_location"] = ctx.rewrite(r["storage_location"])
        out.append(r)
    store._sync(conn, MV, out, ("model_id", "version"), ctx)
    by_pk = {pk: n for n, pk in ctx.registered.items()}
    exported = {(r["model_id"], r["version"]) for r in out}
    for part in chunks(sorted({r["model_id"] for r in out}), 1000):
        for pk, model_pk, version in conn.execute(select(MV.c.id, MV.c.model_id, MV.c.version).where(MV.c.model_id.in_(part))):
            ctx.versions[(by_pk[model_pk], version)] = pk
            if (model_pk, version) in exported:
                ctx.exported_versions.add(pk)


def _model_version_tags(store: TransferMixin, conn, rows, ctx):
    out = [{"version_id": _lookup(ctx.versions, (r["model"], r["version"]), "model version"),
            "key": r["key"], "value": r["value"]} for r in rows]
    store._sync(conn, t.model_version_tags, out, ("version_id", "key"), ctx)


_IMPORTERS = {
    "project_tags": _simple("project_tags", resolve="project"),
    "project_columns": _simple("project_columns", resolve="project"),
    "datasets": _datasets,
    "runs": _runs,
    "params": _simple("params", resolve="run"),
    "run_tags": _simple("run_tags", resolve="run"),
    "run_inputs": _run_inputs,
    "input_tags": _input_tags,
    "metric_series": _metric_series,
    "media_items": _simple("media_items", resolve="run"),
    "log_lines": _simple("log_lines", resolve="run"),
    "run_profiles": _simple("run_profiles", resolve="run"),
    "run_heartbeats": _simple("run_heartbeats", resolve="run"),
    "logged_models": _logged_models,
    "logged_model_tags": _simple("logged_model_tags", resolve="model"),
    "logged_model_params": _simple("logged_model_params", resolve="model"),
    "logged_model_metrics": _simple("logged_model_metrics", resolve="model"),
    "run_model_outputs": _run_models("run_model_outputs"),
    "run_model_inputs": _run_models("run_model_inputs"),
    "traces": _traces,
    "trace_tags": _trace_tags,
    "trace_metadata": _simple("trace_metadata", resolve="trace"),
    "trace_run_links": _simple("trace_run_links", resolve="trace"),
    "registered_models": _registered_models,
    "registered_model_tags": _simple("registered_model_tags", resolve="registered"),
    "registered_model_aliases": _simple("registered_model_aliases", resolve="registered"),
    "model_versions": _model_versions,
    "model_version_tags": _model_version_tags,
}
