"""MLflow 3 logged models in SQL: models, their tags, params and metrics, and run outputs."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import and_, case, delete, false, or_, select, update
from sqlalchemy.engine import Connection, Row

from swan_server.db import schema as t
from swan_server.db.dialects import insert_ignore
from swan_server.entities import ACTIVE, DELETED, Metric, PagedList
from swan_server.entities_mlflow3 import MODEL_PENDING, LoggedModel, ModelMetric
from swan_server.errors import invalid, not_found
from swan_server.search.filter import ATTRIBUTE, METRIC, PARAM, Comparison
from swan_server.search.registry_filter import (
    LOGGED_MODEL_NUMERIC_ATTRIBUTES,
    LOGGED_MODEL_STRING_ATTRIBUTES,
    parse_logged_model_filter,
)
from swan_server.store.paging import encode_offset
from swan_server.store.sql.base import (
    DBL_MAX,
    SqlStoreBase,
    chunks,
    decode_value,
    encode_value,
    now_ms,
    parse_experiment_id,
)
from swan_server.store.sql.experiments import page_offset
from swan_server.store.sql.names import random_run_name

LM, LMT, LMP, LMM = t.logged_models, t.logged_model_tags, t.logged_model_params, t.logged_model_metrics
OUT, INP = t.run_model_outputs, t.run_model_inputs

_ATTRIBUTE_COLUMNS = {
    "name": LM.c.name,
    "model_id": LM.c.model_id,
    "model_type": LM.c.model_type,
    "status": LM.c.status,
    "source_run_id": LM.c.source_run_id,
    "creation_timestamp": LM.c.creation_time,
    "last_updated_timestamp": LM.c.last_updated_time,
}
assert set(_ATTRIBUTE_COLUMNS) == set(LOGGED_MODEL_STRING_ATTRIBUTES) | set(LOGGED_MODEL_NUMERIC_ATTRIBUTES)


def _dataset_key(name: str | None, digest: str | None) -> str:
    if not name and not digest:
        return ""
    return hashlib.sha1(f"{name or ''}\0{digest or ''}".encode()).hexdigest()


def _dataset_condition(datasets):
    """Metric rows on any of the given datasets ([(name, digest or None)]); None means any."""
    if not datasets:
        return None
    conds = []
    for name, digest in datasets:
        cond = LMM.c.dataset_name == name
        if digest:
            cond = and_(cond, LMM.c.dataset_digest == digest)
        conds.append(cond)
    return or_(*conds)


class LoggedModelsMixin(SqlStoreBase):
    def _lm_row(self, conn: Connection, model_id: str, allow_deleted: bool = False) -> Row:
        if not isinstance(model_id, str) or not model_id:
            raise invalid(f"Invalid value {model_id!r} for parameter 'model_id' supplied")
        row = conn.execute(select(LM).where(LM.c.model_id == model_id)).first()
        if row is None or (row.lifecycle_stage != ACTIVE and not allow_deleted):
            raise not_found(f"Logged model with ID '{model_id}' not found.")
        return row

    def _load_logged_models(self, conn: Connection, rows: list[Row]) -> list[LoggedModel]:
        out = {
            r.id: LoggedModel(
                model_id=r.model_id, experiment_id=str(r.project_id), name=r.name,
                artifact_location=r.artifact_location, status=r.status, creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time, model_type=r.model_type,
                source_run_id=r.source_run_id, status_message=r.status_message,
            )
            for r in rows
        }
        for part in chunks(list(out)):
            for pk, k, v in conn.execute(select(LMT.c.model_pk, LMT.c.key, LMT.c.value).where(LMT.c.model_pk.in_(part))):
                out[pk].tags[k] = v
            for pk, k, v in conn.execute(select(LMP.c.model_pk, LMP.c.key, LMP.c.value).where(LMP.c.model_pk.in_(part))):
                out[pk].params[k] = v
            for m in conn.execute(select(LMM).where(LMM.c.model_pk.in_(part)).order_by(LMM.c.key)):
                out[m.model_pk].metrics.append(
                    ModelMetric(m.key, decode_value(m.value, m.is_nan), m.timestamp, m.step, m.run_id,
                                m.dataset_name, m.dataset_digest)
                )
        by_model_id = {m.model_id: m for m in out.values()}
        registrations = self.versions_of_logged_model(conn, list(by_model_id))
        for mid, regs in registrations.items():
            by_model_id[mid].registrations = regs
        return [out[r.id] for r in rows]

    # -- create / read / lifecycle ----------------------------------------------------------------
    def create_logged_model(self, experiment_id, name, model_type, source_run_id, params, tags):
        model_id = f"m-{uuid.uuid4().hex}"
        ts = now_ms()
        with self.write() as conn:
            exp = self._experiment_row(conn, experiment_id)
            if exp.lifecycle_stage != ACTIVE:
                raise invalid(
                    f"The experiment {exp.id} must be in the 'active' state. Current state is {exp.lifecycle_stage}."
                )
            if source_run_id:
                self._run_row(conn, source_run_id)
            pk = conn.execute(
                LM.insert().values(
                    model_id=model_id, project_id=exp.id, name=name or random_run_name(),
                    artifact_location=f"{exp.artifact_location.rstrip('/')}/models/{model_id}/artifacts",
                    status=MODEL_PENDING, status_message=None, model_type=model_type or None,
                    source_run_id=source_run_id or None, creation_time=ts, last_updated_time=ts,
                    lifecycle_stage=ACTIVE,
                )
            ).inserted_primary_key[0]
            if tags:
                conn.execute(LMT.insert(), [{"model_pk": pk, "key": k, "value": v} for k, v in tags.items()])
            if params:
                conn.execute(LMP.insert(), [{"model_pk": pk, "key": k, "value": v} for k, v in params.items()])
            return self._load_logged_models(conn, [self._lm_row(conn, model_id)])[0]

    def get_logged_model(self, model_id, allow_deleted=False):
        with self.read() as conn:
            return self._load_logged_models(conn, [self._lm_row(conn, model_id, allow_deleted)])[0]

    def finalize_logged_model(self, model_id, status):
        with self.write() as conn:
            row = self._lm_row(conn, model_id)
            conn.execute(update(LM).where(LM.c.id == row.id).values(status=status, last_updated_time=now_ms()))
            return self._load_logged_models(conn, [self._lm_row(conn, model_id)])[0]

    def delete_logged_model(self, model_id):
        with self.write() as conn:
            row = self._lm_row(conn, model_id)
            conn.execute(update(LM).where(LM.c.id == row.id).values(lifecycle_stage=DELETED, last_updated_time=now_ms()))

    def set_logged_model_tags(self, model_id, tags):
        with self.write() as conn:
            row = self._lm_row(conn, model_id)
            if tags:
                conn.execute(delete(LMT).where(LMT.c.model_pk == row.id, LMT.c.key.in_(list(tags))))
                conn.execute(insert_ignore(LMT, self.dialect), [{"model_pk": row.id, "key": k, "value": v} for k, v in tags.items()])
                conn.execute(update(LM).where(LM.c.id == row.id).values(last_updated_time=now_ms()))
            return self._load_logged_models(conn, [self._lm_row(conn, model_id)])[0]

    def delete_logged_model_tag(self, model_id, key):
        with self.write() as conn:
            row = self._lm_row(conn, model_id)
            res = conn.execute(delete(LMT).where(LMT.c.model_pk == row.id, LMT.c.key == key))
            if res.rowcount == 0:
                raise not_found(f"No tag with key {key!r} found for model with ID {model_id!r}.")

    def log_logged_model_params(self, model_id, params):
        with self.write() as conn:
            row = self._lm_row(conn, model_id)
            existing = dict(
                conn.execute(select(LMP.c.key, LMP.c.value).where(LMP.c.model_pk == row.id, LMP.c.key.in_(list(params)))).all()
            )
            for key, value in params.items():
                if key in existing and existing[key] != value:
                    raise invalid(
                        f"Changing param values is not allowed. Param with key='{key}' was already logged "
                        f"with value='{existing[key]}' for model ID='{model_id}'. Attempted logging new value '{value}'."
                    )
            new = [{"model_pk": row.id, "key": k, "value": v} for k, v in params.items() if k not in existing]
            if new:
                conn.execute(insert_ignore(LMP, self.dialect), new)

    # -- metrics logged with a model_id, and run outputs -----------------------------------------
    def record_model_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        """Fold metrics that carry a model_id into the models' latest values (per key and dataset)."""
        with self.write() as conn:
            run = self._run_row(conn, run_id)
            ids = sorted({m.model_id for m in metrics})
            pks = dict(conn.execute(select(LM.c.model_id, LM.c.id).where(LM.c.model_id.in_(ids))).all())
            missing = [i for i in ids if i not in pks]
            if missing:
                raise not_found(f"Logged model with ID '{missing[0]}' not found.")
            latest: dict[tuple, Metric] = {}
            for m in metrics:
                k = (pks[m.model_id], m.key, _dataset_key(m.dataset_name, m.dataset_digest))
                if k not in latest or (m.step, m.timestamp) >= (latest[k].step, latest[k].timestamp):
                    latest[k] = m
            for (pk, key, dkey), m in latest.items():
                where = (LMM.c.model_pk == pk, LMM.c.key == key, LMM.c.dataset_key == dkey)
                old = conn.execute(select(LMM.c.step, LMM.c.timestamp).where(*where)).first()
                if old is not None and (old.step, old.timestamp) > (m.step, m.timestamp):
                    continue
                value, is_nan = encode_value(m.value)
                values = dict(value=value, is_nan=is_nan, timestamp=m.timestamp, step=m.step, run_id=run.run_uuid)
                if old is None:
                    conn.execute(insert_ignore(LMM, self.dialect).values(
                        model_pk=pk, key=key, dataset_key=dkey, dataset_name=m.dataset_name or None,
                        dataset_digest=m.dataset_digest or None, **values))
                else:
                    conn.execute(update(LMM).where(*where).values(**values))

    def log_outputs(self, run_id: str, outputs: list[tuple[str, int]]) -> None:
        with self.write() as conn:
            run = self._active_run_row(conn, run_id)
            for model_id, step in outputs:
                row = self._lm_row(conn, model_id)
                conn.execute(delete(OUT).where(OUT.c.run_id == run.id, OUT.c.model_pk == row.id))
                conn.execute(insert_ignore(OUT, self.dialect).values(run_id=run.id, model_pk=row.id, step=step))

    def log_model_inputs(self, run_id: str, model_ids: list[str]) -> None:
        with self.write() as conn:
            run = self._active_run_row(conn, run_id)
            for model_id in model_ids:
                row = self._lm_row(conn, model_id)
                conn.execute(insert_ignore(INP, self.dialect).values(run_id=run.id, model_pk=row.id))

    # -- search --------------------------------------------------------------------------------------
    def _lm_condition(self, c: Comparison, datasets):
        if c.entity == ATTRIBUTE:
            return self._compare(_ATTRIBUTE_COLUMNS[c.key], c.op, c.value)
        if c.entity == METRIC:
            value = max(-DBL_MAX, min(DBL_MAX, c.value))
            query = select(LMM.c.model_pk).where(
                LMM.c.model_pk == LM.c.id, LMM.c.key == c.key, LMM.c.is_nan == false(),
                self._compare(LMM.c.value, c.op, value),
            )
            ds = _dataset_condition(datasets)
            if ds is not None:
                query = query.where(ds)
            return query.exists()
        table = LMP if c.entity == PARAM else LMT
        return select(table.c.model_pk).where(
            table.c.model_pk == LM.c.id, table.c.key == c.key, self._compare(table.c.value, c.op, c.value)
        ).exists()

    def search_logged_models(self, experiment_ids, filter_string, datasets, max_results, order_by, page_token):
        """order_by: [(field_name, ascending, dataset_name, dataset_digest)]; datasets: [(name, digest)]."""
        comparisons = parse_logged_model_filter(filter_string)
        offset = page_offset(page_token)
        exp_ids = [parse_experiment_id(e) for e in experiment_ids]
        query = select(LM).where(LM.c.project_id.in_(exp_ids), LM.c.lifecycle_stage == ACTIVE)
        for c in comparisons:
            query = query.where(self._lm_condition(c, datasets))
        ordering = []
        for field_name, ascending, dname, ddigest in order_by or []:
            if field_name.startswith(("metrics.", "metric.")):
                key = field_name.split(".", 1)[1]
                sub = select(LMM.c.value).where(LMM.c.model_pk == LM.c.id, LMM.c.key == key, LMM.c.is_nan == false())
                if dname:
                    sub = sub.where(LMM.c.dataset_name == dname)
                    if ddigest:
                        sub = sub.where(LMM.c.dataset_digest == ddigest)
                sub = sub.order_by(LMM.c.step.desc(), LMM.c.timestamp.desc()).limit(1).scalar_subquery()
                ordering += [case((sub.is_(None), 1), else_=0), sub.asc() if ascending else sub.desc()]
                continue
            key = field_name.split(".", 1)[1] if field_name.startswith(("attributes.", "attribute.")) else field_name
            key = {"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"}.get(key, key)
            if key not in _ATTRIBUTE_COLUMNS:
                raise invalid(f"Invalid order by field name: {field_name}")
            col = _ATTRIBUTE_COLUMNS[key]
            ordering += [case((col.is_(None), 1), else_=0), col.asc() if ascending else col.desc()]
        ordering += [LM.c.creation_time.desc(), LM.c.id.asc()]
        query = query.order_by(*ordering).offset(offset).limit(max_results + 1)
        with self.read() as conn:
            rows = conn.execute(query).all()
            has_more = len(rows) > max_results
            models = self._load_logged_models(conn, rows[:max_results])
        return PagedList(models, encode_offset(offset + max_results) if has_more else None)

    def list_logged_model_root(self, model_id: str) -> str:
        with self.read() as conn:
            return self._lm_row(conn, model_id).artifact_location

