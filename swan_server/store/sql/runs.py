"""Runs, params, tags and dataset inputs in SQL."""

from __future__ import annotations

import uuid
from functools import lru_cache
from operator import itemgetter

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from swan_server.db import schema as t
from swan_server.db.dialects import id_list, in_id_list, insert_ignore
from swan_server.entities import ACTIVE, DELETED, DatasetInput, Metric, Run, RunInfo
from swan_server.entities_mlflow3 import ModelOutput
from swan_server.errors import already_exists, invalid, not_found
from swan_server.store.sql.base import SqlStoreBase, chunks, decode_value, fetch_tuples, now_ms
from swan_server.store.sql.names import random_run_name

RUN_NAME_TAG = "mlflow.runName"


# Rows of `select(t.runs)` are read by position: a SQLAlchemy Row's attribute access costs about
# 0.2 us per field (2.7 us for a RunInfo), a fifth of loading a search page of runs.
_RUN_COLUMNS = tuple(c.name for c in t.runs.c)
_RUN_ID = itemgetter(_RUN_COLUMNS.index("id"))
_RUN_INFO_FIELDS = itemgetter(*(_RUN_COLUMNS.index(c) for c in (
    "run_uuid", "project_id", "name", "user_id", "status", "start_time", "end_time", "lifecycle_stage",
    "artifact_uri")))


def _check_run_rows(rows) -> None:
    if rows and tuple(rows[0]._fields) != _RUN_COLUMNS:
        raise TypeError(f"expected rows of select(runs), got columns {rows[0]._fields}")


def _run_info(row, experiment_id=None) -> RunInfo:
    """The RunInfo of a `select(t.runs)` row."""
    run_uuid, project_id, name, user_id, status, start_time, end_time, stage, artifact_uri = _RUN_INFO_FIELDS(row)
    return RunInfo(run_uuid, str(project_id if experiment_id is None else experiment_id), name, user_id, status,
                   start_time, end_time, stage, artifact_uri)



class _PageStatements:
    """What a page of runs carries, for a list of run ids bound as one parameter ("ids"): built
    once per dialect, so that a search does not build and compile them again on every call."""

    def __init__(self, dialect: str):
        def of_runs(column):
            return in_id_list(column, dialect)

        self.params = select(t.params.c.run_id, t.params.c.key, t.params.c.value).where(of_runs(t.params.c.run_id))
        self.tags = select(t.run_tags.c.run_id, t.run_tags.c.key, t.run_tags.c.value).where(
            of_runs(t.run_tags.c.run_id)
        )
        self.latest_metrics = select(
            t.metric_series.c.run_id, t.metric_series.c.key, t.metric_series.c.last_value,
            t.metric_series.c.last_is_nan, t.metric_series.c.last_timestamp, t.metric_series.c.last_step,
        ).where(of_runs(t.metric_series.c.run_id))
        self.model_outputs = (
            select(t.run_model_outputs.c.run_id, t.logged_models.c.model_id, t.run_model_outputs.c.step)
            .join(t.logged_models, t.logged_models.c.id == t.run_model_outputs.c.model_pk)
            .where(of_runs(t.run_model_outputs.c.run_id))
        )
        self.inputs = (
            select(t.run_inputs.c.id, t.run_inputs.c.run_id, t.datasets.c.name, t.datasets.c.digest,
                   t.datasets.c.source_type, t.datasets.c.source, t.datasets.c.schema, t.datasets.c.profile)
            .join(t.datasets, t.datasets.c.id == t.run_inputs.c.dataset_id)
            .where(of_runs(t.run_inputs.c.run_id))
            .order_by(t.run_inputs.c.id)
        )
        self.model_inputs = (
            select(t.run_model_inputs.c.run_id, t.logged_models.c.model_id)
            .join(t.logged_models, t.logged_models.c.id == t.run_model_inputs.c.model_pk)
            .where(of_runs(t.run_model_inputs.c.run_id))
        )


@lru_cache(maxsize=None)
def _page_statements(dialect: str) -> _PageStatements:
    return _PageStatements(dialect)


class RunsMixin(SqlStoreBase):
    def create_run(self, experiment_id, user_id, start_time, tags, run_name, run_id=None):
        tags = dict(tags or {})
        tag_name = tags.get(RUN_NAME_TAG)
        if run_name and tag_name and run_name != tag_name:
            raise invalid(
                f"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                f"different values (run_name='{run_name}', mlflow.runName='{tag_name}')."
            )
        run_name = run_name or tag_name or random_run_name()
        tags[RUN_NAME_TAG] = run_name
        run_uuid = run_id or uuid.uuid4().hex
        with self.write() as conn:
            exp = self._experiment_row(conn, experiment_id)
            if exp.lifecycle_stage != ACTIVE:
                raise invalid(
                    f"The experiment {exp.id} must be in the 'active' state. Current state is {exp.lifecycle_stage}."
                )
            if run_id is not None and conn.execute(select(t.runs.c.id).where(t.runs.c.run_uuid == run_id)).first():
                raise already_exists(f"Run with id={run_id} already exists.")
            row_id = conn.execute(
                t.runs.insert().values(
                    run_uuid=run_uuid,
                    project_id=exp.id,
                    name=run_name,
                    user_id=user_id,
                    status="RUNNING",
                    start_time=start_time if start_time is not None else now_ms(),
                    end_time=None,
                    lifecycle_stage=ACTIVE,
                    artifact_uri=f"{exp.artifact_location.rstrip('/')}/{run_uuid}/artifacts",
                )
            ).inserted_primary_key[0]
            conn.execute(t.run_tags.insert(), [{"run_id": row_id, "key": k, "value": v} for k, v in tags.items()])
        return self.get_run(run_uuid)

    def get_run(self, run_id):
        with self.read() as conn:
            row = self._run_row(conn, run_id)
            return self._load_runs(conn, [row])[0]

    def _load_runs(self, conn: Connection, rows: list) -> list[Run]:
        """Attach params, tags, latest metrics and inputs to run rows, a few queries per chunk."""
        _check_run_rows(rows)
        by_id = {_RUN_ID(r): Run(info=_run_info(r)) for r in rows}
        ids = list(by_id)
        statements = _page_statements(self.dialect)
        for part in chunks(ids):
            bound = {"ids": id_list(part, self.dialect)}
            for rid, k, v in fetch_tuples(conn, statements.params, bound):
                by_id[rid].params[k] = v
            for rid, k, v in fetch_tuples(conn, statements.tags, bound):
                by_id[rid].tags[k] = v
            for rid, k, value, is_nan, ts, step in fetch_tuples(conn, statements.latest_metrics, bound):
                by_id[rid].metrics.append(Metric(k, decode_value(value, is_nan), ts, step))
            self._load_inputs(conn, statements.inputs, bound, by_id)
            for rid, model_id, step in conn.execute(statements.model_outputs, bound):
                by_id[rid].outputs.append(ModelOutput(model_id, step))
            for rid, model_id in conn.execute(statements.model_inputs, bound):
                by_id[rid].model_inputs.append(model_id)
        return [by_id[_RUN_ID(r)] for r in rows]

    def _load_inputs(self, conn: Connection, statement, bound: dict, by_id: dict[int, Run]) -> None:
        inputs = conn.execute(statement, bound).all()
        if not inputs:
            return
        tags: dict[int, dict[str, str]] = {}
        for input_id, k, v in conn.execute(
            select(t.input_tags.c.input_id, t.input_tags.c.key, t.input_tags.c.value).where(
                t.input_tags.c.input_id.in_([i.id for i in inputs])
            )
        ):
            tags.setdefault(input_id, {})[k] = v
        for i in inputs:
            by_id[i.run_id].inputs.append(
                DatasetInput(i.name, i.digest, i.source_type, i.source, i.schema, i.profile, tags.get(i.id, {}))
            )

    def update_run_info(self, run_id, status, end_time, run_name):
        with self.write() as conn:
            row = self._active_run_row(conn, run_id)
            values = {}
            if status:
                values["status"] = status
            if end_time is not None:
                values["end_time"] = end_time
            if run_name:
                values["name"] = run_name
                self._set_tags(conn, row.id, {RUN_NAME_TAG: run_name})
            if values:
                conn.execute(update(t.runs).where(t.runs.c.id == row.id).values(**values))
            row = self._run_row(conn, run_id)
            _check_run_rows([row])
            return _run_info(row)

    def delete_run(self, run_id):
        self._set_lifecycle(run_id, DELETED, now_ms())

    def restore_run(self, run_id):
        self._set_lifecycle(run_id, ACTIVE, None)

    def _set_lifecycle(self, run_id, stage, deleted_time):
        with self.write() as conn:
            row = self._run_row(conn, run_id)
            conn.execute(
                update(t.runs).where(t.runs.c.id == row.id).values(lifecycle_stage=stage, deleted_time=deleted_time)
            )

    # -- params and tags, shared by log_batch and the single-item calls -----------------------------
    def _log_params(self, conn: Connection, run_row, params: dict[str, str]) -> None:
        if not params:
            return
        existing = dict(
            conn.execute(
                select(t.params.c.key, t.params.c.value).where(
                    t.params.c.run_id == run_row.id, t.params.c.key.in_(list(params))
                )
            ).all()
        )
        self._check_params_unchanged(run_row, params, existing)
        new = [{"run_id": run_row.id, "key": k, "value": v} for k, v in params.items() if k not in existing]
        if new:
            conn.execute(insert_ignore(t.params, self.dialect), new)
            # A concurrent writer may have inserted one of these keys first (the insert skipped
            # it): its value has to agree with ours, or the whole batch fails.
            stored = dict(
                conn.execute(
                    select(t.params.c.key, t.params.c.value).where(
                        t.params.c.run_id == run_row.id, t.params.c.key.in_([r["key"] for r in new])
                    )
                ).all()
            )
            self._check_params_unchanged(run_row, {r["key"]: r["value"] for r in new}, stored)

    @staticmethod
    def _check_params_unchanged(run_row, params: dict[str, str], existing: dict[str, str]) -> None:
        for key, value in params.items():
            old = existing.get(key)
            if old is not None and old != value:
                raise invalid(
                    f"Changing param values is not allowed. Param with key='{key}' was already logged "
                    f"with value='{old}' for run ID='{run_row.run_uuid}'. Attempted logging new value '{value}'."
                )

    def _set_tags(self, conn: Connection, run_pk: int, tags: dict[str, str]) -> None:
        if not tags:
            return
        conn.execute(delete(t.run_tags).where(t.run_tags.c.run_id == run_pk, t.run_tags.c.key.in_(list(tags))))
        conn.execute(t.run_tags.insert(), [{"run_id": run_pk, "key": k, "value": v} for k, v in tags.items()])
        if RUN_NAME_TAG in tags:
            conn.execute(update(t.runs).where(t.runs.c.id == run_pk).values(name=tags[RUN_NAME_TAG]))

    def delete_tag(self, run_id, key):
        with self.write() as conn:
            row = self._active_run_row(conn, run_id)
            res = conn.execute(delete(t.run_tags).where(t.run_tags.c.run_id == row.id, t.run_tags.c.key == key))
            if res.rowcount == 0:
                raise not_found(f"No tag with name: {key} in run with id {run_id}")

    def log_inputs(self, run_id, datasets):
        with self.write() as conn:
            row = self._active_run_row(conn, run_id)
            for ds in datasets:
                dataset_id = self._dataset_id(conn, row.project_id, ds)
                conn.execute(insert_ignore(t.run_inputs, self.dialect).values(run_id=row.id, dataset_id=dataset_id))
                input_id = conn.execute(
                    select(t.run_inputs.c.id).where(
                        t.run_inputs.c.run_id == row.id, t.run_inputs.c.dataset_id == dataset_id
                    )
                ).scalar_one()
                if ds.tags:
                    conn.execute(
                        delete(t.input_tags).where(
                            t.input_tags.c.input_id == input_id, t.input_tags.c.key.in_(list(ds.tags))
                        )
                    )
                    conn.execute(
                        t.input_tags.insert(),
                        [{"input_id": input_id, "key": k, "value": v} for k, v in ds.tags.items()],
                    )

    def _dataset_id(self, conn: Connection, project_id: int, ds: DatasetInput) -> int:
        d = t.datasets
        where = (d.c.project_id == project_id, d.c.name == ds.name, d.c.digest == ds.digest)
        found = conn.execute(select(d.c.id).where(*where)).first()
        if found:
            return found.id
        conn.execute(
            insert_ignore(d, self.dialect).values(
                project_id=project_id, name=ds.name, digest=ds.digest, source_type=ds.source_type,
                source=ds.source, schema=ds.schema, profile=ds.profile,
            )
        )
        return conn.execute(select(d.c.id).where(*where)).scalar_one()
