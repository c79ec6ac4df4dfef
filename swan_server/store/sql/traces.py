"""MLflow 3 traces in SQL: the trace info, its tags, metadata and run links.

Span data is not here: it lives in the trace's artifact folder (`traces.json`). Writers of span
data hold the trace row's lock while they rewrite that file (`trace_for_spans`)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.engine import Connection, Row

from swan_server.db import schema as t
from swan_server.db.dialects import insert_ignore
from swan_server.entities import ACTIVE, PagedList
from swan_server.entities_mlflow3 import TraceInfo
from swan_server.errors import invalid, not_found
from swan_server.search.filter import TAG, Comparison
from swan_server.search.registry_filter import METADATA, parse_trace_filter, parse_trace_order_by
from swan_server.store.paging import encode_offset
from swan_server.store.sql.base import SqlStoreBase, chunks, parse_experiment_id
from swan_server.store.sql.experiments import page_offset

T, TT, TM, TL = t.traces, t.trace_tags, t.trace_metadata, t.trace_run_links
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
TRACE_NAME_TAG = "mlflow.traceName"
SOURCE_RUN_METADATA = "mlflow.sourceRun"


@dataclass
class SpanWrite:
    """Handed to a span writer while it holds the trace's lock."""

    trace_id: str
    artifact_location: str
    info_finalized: bool
    updates: dict = field(default_factory=dict)  # trace columns to set before the lock is released


class TracesMixin(SqlStoreBase):
    def _trace_row(self, conn: Connection, trace_id: str, for_update: bool = False) -> Row:
        query = select(T).where(T.c.trace_id == trace_id)
        if for_update:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise not_found(f"Trace with ID {trace_id} is not found.")
        return row

    def _active_experiment(self, conn: Connection, experiment_id) -> Row:
        exp = self._experiment_row(conn, experiment_id)
        if exp.lifecycle_stage != ACTIVE:
            raise invalid(
                f"The experiment {exp.id} must be in the 'active' state. Current state is {exp.lifecycle_stage}."
            )
        return exp

    def _ensure_trace(self, conn: Connection, exp: Row, trace_id: str, values: dict) -> tuple[Row, bool]:
        """The trace's row, locked for this transaction, and whether this call created it.

        Spans (OTLP) and StartTraceV3 may race to create the same trace: the insert skips an
        existing row instead of failing, then the row is locked."""
        insert = insert_ignore(T, self.dialect).values(trace_id=trace_id, project_id=exp.id, **values)
        if self.dialect == "postgresql":
            # The implicit RETURNING of the new id leaves rowcount at -1: ask for the row instead.
            created = conn.execute(insert.returning(T.c.id)).first() is not None
        else:
            created = conn.execute(insert).rowcount == 1
        row = self._trace_row(conn, trace_id, for_update=True)
        if created:
            location = f"{exp.artifact_location.rstrip('/')}/traces/{trace_id}/artifacts"
            conn.execute(insert_ignore(TT, self.dialect).values(trace_pk=row.id, key=ARTIFACT_LOCATION_TAG, value=location))
        elif row.project_id != exp.id:
            raise invalid(f"Trace {trace_id} belongs to experiment {row.project_id}, not {exp.id}")
        return row, created

    def _merge(self, conn: Connection, table, pk: int, items: dict[str, str]) -> None:
        if items:
            conn.execute(delete(table).where(table.c.trace_pk == pk, table.c.key.in_(list(items))))
            conn.execute(insert_ignore(table, self.dialect), [{"trace_pk": pk, "key": k, "value": v} for k, v in items.items()])

    def _load_trace_infos(self, conn: Connection, rows: list[Row]) -> list[TraceInfo]:
        out = {
            r.id: TraceInfo(
                trace_id=r.trace_id, experiment_id=str(r.project_id), request_time=r.request_time, state=r.state,
                execution_duration=r.execution_duration, client_request_id=r.client_request_id,
                request_preview=r.request_preview, response_preview=r.response_preview,
            )
            for r in rows
        }
        for part in chunks(list(out)):
            for pk, k, v in conn.execute(select(TT.c.trace_pk, TT.c.key, TT.c.value).where(TT.c.trace_pk.in_(part))):
                out[pk].tags[k] = v
            for pk, k, v in conn.execute(select(TM.c.trace_pk, TM.c.key, TM.c.value).where(TM.c.trace_pk.in_(part))):
                out[pk].metadata[k] = v
        return [out[r.id] for r in rows]

    # -- writes ------------------------------------------------------------------------------------
    def start_trace(self, info: TraceInfo) -> TraceInfo:
        """Create the trace, or complete the one its spans created (spans may arrive first)."""
        values = dict(
            client_request_id=info.client_request_id, request_time=info.request_time,
            execution_duration=info.execution_duration, state=info.state, request_preview=info.request_preview,
            response_preview=info.response_preview, info_finalized=True,
        )
        with self.write() as conn:
            exp = self._active_experiment(conn, info.experiment_id)
            row, created = self._ensure_trace(conn, exp, info.trace_id, values)
            pk = row.id
            if not created:
                conn.execute(update(T).where(T.c.id == pk).values(**values))
            tags = {k: v for k, v in info.tags.items() if k != ARTIFACT_LOCATION_TAG}
            self._merge(conn, TT, pk, tags)
            self._merge(conn, TM, pk, info.metadata)
            return self._load_trace_infos(conn, [self._trace_row(conn, info.trace_id)])[0]

    @contextmanager
    def trace_for_spans(self, trace_id: str, experiment_id: str, request_time: int) -> Iterator[SpanWrite]:
        """Lock the trace (creating it, IN_PROGRESS, when its spans come first) for a span writer;
        `updates` set by the writer are applied before the lock is released."""
        with self.write() as conn:
            exp = self._active_experiment(conn, experiment_id)
            row, _ = self._ensure_trace(conn, exp, trace_id, dict(
                client_request_id=None, request_time=request_time, execution_duration=None,
                state="IN_PROGRESS", request_preview=None, response_preview=None, info_finalized=False,
            ))
            location = conn.execute(
                select(TT.c.value).where(TT.c.trace_pk == row.id, TT.c.key == ARTIFACT_LOCATION_TAG)
            ).scalar()
            handle = SpanWrite(trace_id, location, bool(row.info_finalized))
            yield handle
            tags = handle.updates.pop("tags", None)
            if tags:
                self._merge(conn, TT, row.id, tags)
            if handle.updates:
                conn.execute(update(T).where(T.c.id == row.id).values(**handle.updates))

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        with self.write() as conn:
            self._merge(conn, TT, self._trace_row(conn, trace_id).id, {key: value})

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        with self.write() as conn:
            row = self._trace_row(conn, trace_id)
            res = conn.execute(delete(TT).where(TT.c.trace_pk == row.id, TT.c.key == key))
            if res.rowcount == 0:
                raise not_found(f"No trace tag with key '{key}' for trace with ID '{trace_id}'")

    def link_traces_to_run(self, trace_ids: list[str], run_id: str) -> None:
        with self.write() as conn:
            run = self._run_row(conn, run_id)
            for trace_id in trace_ids:
                row = self._trace_row(conn, trace_id)
                if row.project_id != run.project_id:
                    raise invalid(f"Trace {trace_id} and run {run_id} belong to different experiments")
                conn.execute(insert_ignore(TL, self.dialect).values(trace_pk=row.id, run_id=run_id))

    def delete_traces(self, experiment_id, max_timestamp_millis, max_traces, trace_ids) -> list[str]:
        """Delete traces by id or by age; returns the artifact locations of the deleted traces."""
        with self.write() as conn:
            exp = self._experiment_row(conn, experiment_id)
            query = select(T.c.id).where(T.c.project_id == exp.id)
            if trace_ids:
                query = query.where(T.c.trace_id.in_(list(trace_ids)))
            else:
                query = query.where(T.c.request_time <= max_timestamp_millis).order_by(T.c.request_time)
                if max_traces:
                    query = query.limit(max_traces)
            pks = [r.id for r in conn.execute(query)]
            locations = []
            for part in chunks(pks):
                locations += [
                    v for (v,) in conn.execute(
                        select(TT.c.value).where(TT.c.trace_pk.in_(part), TT.c.key == ARTIFACT_LOCATION_TAG)
                    )
                ]
                for table in (TT, TM, TL):
                    conn.execute(delete(table).where(table.c.trace_pk.in_(part)))
                conn.execute(delete(T).where(T.c.id.in_(part)))
            return locations

    # -- reads ---------------------------------------------------------------------------------------
    def get_trace_info(self, trace_id: str) -> TraceInfo:
        with self.read() as conn:
            return self._load_trace_infos(conn, [self._trace_row(conn, trace_id)])[0]

    def batch_get_trace_infos(self, trace_ids: list[str]) -> list[TraceInfo]:
        with self.read() as conn:
            rows = []
            for part in chunks(list(trace_ids)):
                rows += conn.execute(select(T).where(T.c.trace_id.in_(part))).all()
            order = {tid: i for i, tid in enumerate(trace_ids)}
            rows.sort(key=lambda r: order.get(r.trace_id, 0))
            return self._load_trace_infos(conn, rows)

    def _kv_condition(self, table, c: Comparison):
        has = select(table.c.trace_pk).where(table.c.trace_pk == T.c.id, table.c.key == c.key)
        if c.op == "IS NULL":
            return ~has.exists()
        if c.op == "IS NOT NULL":
            return has.exists()
        return has.where(self._compare(table.c.value, c.op, c.value)).exists()

    def _trace_condition(self, c: Comparison):
        if c.entity == TAG:
            return self._kv_condition(TT, c)
        if c.entity == METADATA:
            return self._kv_condition(TM, c)
        if c.key == "name":
            return self._kv_condition(TT, Comparison(TAG, TRACE_NAME_TAG, c.op, c.value))
        if c.key == "run_id":
            source = self._kv_condition(TM, Comparison(METADATA, SOURCE_RUN_METADATA, c.op, c.value))
            linked = select(TL.c.trace_pk).where(TL.c.trace_pk == T.c.id, self._compare(TL.c.run_id, c.op, c.value))
            return or_(source, linked.exists())
        column = {
            "request_id": T.c.trace_id, "status": T.c.state, "client_request_id": T.c.client_request_id,
            "timestamp_ms": T.c.request_time, "execution_time_ms": T.c.execution_duration,
            "end_time_ms": T.c.request_time + T.c.execution_duration,
        }[c.key]
        return self._compare(column, c.op, c.value)

    def search_traces(self, experiment_ids, filter_string, max_results, order_by, page_token) -> PagedList:
        comparisons = parse_trace_filter(filter_string)
        orders = parse_trace_order_by(order_by)
        offset = page_offset(page_token)
        exp_ids = [parse_experiment_id(e) for e in experiment_ids]
        query = select(T).where(T.c.project_id.in_(exp_ids))
        for c in comparisons:
            query = query.where(self._trace_condition(c))
        ordering = []
        for o in orders:
            if o.key == "name":
                col = select(TT.c.value).where(TT.c.trace_pk == T.c.id, TT.c.key == TRACE_NAME_TAG).scalar_subquery()
            else:
                col = {
                    "request_id": T.c.trace_id, "status": T.c.state, "timestamp_ms": T.c.request_time,
                    "execution_time_ms": T.c.execution_duration,
                    "end_time_ms": T.c.request_time + T.c.execution_duration,
                }[o.key]
            ordering += [case((col.is_(None), 1), else_=0), col.asc() if o.ascending else col.desc()]
        if not any(o.key == "timestamp_ms" for o in orders):
            ordering.append(T.c.request_time.desc())
        ordering.append(T.c.trace_id.asc())
        query = query.order_by(*ordering).offset(offset).limit(max_results + 1)
        with self.read() as conn:
            rows = conn.execute(query).all()
            has_more = len(rows) > max_results
            infos = self._load_trace_infos(conn, rows[:max_results])
        return PagedList(infos, encode_offset(offset + max_results) if has_more else None)


__all__ = ["TracesMixin", "SpanWrite"]
