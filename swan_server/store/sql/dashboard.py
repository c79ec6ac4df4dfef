"""Reads for the dashboard: project overviews, the run table (MLflow's filter grammar over the
summary rows, chosen param and metric columns, a total for virtual scrolling), run overviews,
metric keys of a set of runs, the media index, console search. None of them touch the points
table; every list is bounded by a page size."""

from __future__ import annotations

from sqlalchemy import and_, case, func, literal, select

from swan_server.db import schema as t
from swan_server.entities import ACTIVE
from swan_server.errors import invalid, not_found
from swan_server.search.filter import ATTRIBUTE, METRIC, PARAM, parse_run_filter, parse_run_order_by
from swan_server.store.sql.base import SqlStoreBase, chunks, decode_value, parse_experiment_id
from swan_server.store.sql.experiments import lifecycle_condition

R, PJ, S = t.runs, t.projects, t.metric_series
_ATTRIBUTE_COLUMNS = {
    "run_id": R.c.run_uuid, "run_name": R.c.name, "status": R.c.status, "user_id": R.c.user_id,
    "artifact_uri": R.c.artifact_uri, "lifecycle_stage": R.c.lifecycle_stage, "start_time": R.c.start_time,
    "end_time": R.c.end_time,
}
MAX_KEYS = 2000


def _num(value, is_nan=False):
    v = decode_value(value, is_nan) if value is not None else None
    if v is None or v != v:
        return None
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    return v


class DashboardMixin(SqlStoreBase):
    # -- projects ---------------------------------------------------------------------------------
    def project_overview(self, name_contains=None, limit=500, workspace_ids=None):
        runs = (
            select(
                R.c.project_id,
                func.count().label("run_count"),
                func.sum(case((R.c.status == "RUNNING", 1), else_=0)).label("running"),
                func.max(func.coalesce(R.c.end_time, R.c.start_time)).label("last_run_time"),
                func.max(R.c.start_time).label("last_start"),
            )
            .where(R.c.lifecycle_stage == ACTIVE)
            .group_by(R.c.project_id)
            .subquery()
        )
        query = (
            select(PJ.c.id, PJ.c.name, PJ.c.creation_time, PJ.c.last_update_time, runs.c.run_count, runs.c.running,
                   runs.c.last_run_time, runs.c.last_start)
            .select_from(PJ.outerjoin(runs, runs.c.project_id == PJ.c.id))
            .where(PJ.c.lifecycle_stage == ACTIVE)
        )
        if name_contains:
            query = query.where(func.lower(PJ.c.name).contains(name_contains.lower(), autoescape=True))
        if workspace_ids is not None:  # only the workspaces the caller may read
            query = query.where(PJ.c.workspace_id.in_(list(workspace_ids)))
        with self.read() as conn:
            rows = conn.execute(query.limit(limit)).all()
        out = []
        for r in rows:
            last = max(x for x in (r.last_update_time, r.last_run_time, r.last_start, r.creation_time) if x is not None)
            out.append({"id": str(r.id), "name": r.name, "run_count": int(r.run_count or 0),
                        "running": int(r.running or 0), "creation_time": r.creation_time, "last_activity": last})
        out.sort(key=lambda p: -p["last_activity"])
        return out

    def project_keys(self, experiment_id):
        exp = parse_experiment_id(experiment_id)
        active = select(R.c.id).where(R.c.project_id == exp, R.c.lifecycle_stage == ACTIVE)
        with self.read() as conn:
            if conn.execute(select(PJ.c.id).where(PJ.c.id == exp)).first() is None:
                raise not_found(f"No Experiment with id={experiment_id} exists")
            keys = {}
            for name, table in (("params", t.params), ("metrics", S), ("tags", t.run_tags)):
                keys[name] = sorted(conn.execute(
                    select(table.c.key).where(table.c.run_id.in_(active)).distinct().limit(MAX_KEYS)
                ).scalars())
        return keys

    # -- the run table ----------------------------------------------------------------------------
    def run_table(self, experiment_ids, filter_string, order_by, offset, limit, param_keys, metric_keys,
                  view_type="ACTIVE_ONLY"):
        comparisons = parse_run_filter(filter_string)
        orders = parse_run_order_by(order_by)
        exp_ids = [parse_experiment_id(e) for e in experiment_ids]
        base = select(R.c.id).where(R.c.project_id.in_(exp_ids))
        cond = lifecycle_condition(R.c.lifecycle_stage, view_type)
        if cond is not None:
            base = base.where(cond)
        for c in comparisons:
            base = base.where(self._condition(c))
        ordering = []
        query = base.add_columns(R.c.run_uuid)
        for i, o in enumerate(orders):
            if o.entity == ATTRIBUTE:
                col = _ATTRIBUTE_COLUMNS[o.key]
                ordering += [case((col.is_(None), 1), else_=0), col.asc() if o.ascending else col.desc()]
            elif o.entity == METRIC:
                s = S.alias(f"o{i}")
                query = query.outerjoin(s, and_(s.c.run_id == R.c.id, s.c.key == o.key))
                ordering += [case((s.c.id.is_(None), 2), (s.c.last_is_nan == literal(True), 1), else_=0),
                             s.c.last_value.asc() if o.ascending else s.c.last_value.desc()]
            else:
                table = (t.params if o.entity == PARAM else t.run_tags).alias(f"o{i}")
                query = query.outerjoin(table, and_(table.c.run_id == R.c.id, table.c.key == o.key))
                ordering += [case((table.c.run_id.is_(None), 1), else_=0),
                             table.c.value.asc() if o.ascending else table.c.value.desc()]
        if not any(o.entity == ATTRIBUTE and o.key == "start_time" for o in orders):
            ordering.append(R.c.start_time.desc())
        ordering.append(R.c.run_uuid.asc())
        with self.read() as conn:
            total = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
            ids = [r[0] for r in conn.execute(query.order_by(*ordering).offset(offset).limit(limit)).all()]
            rows = self._table_rows(conn, ids, param_keys, metric_keys)
        return {"total": total, "offset": offset, "runs": rows}

    def _table_rows(self, conn, ids, param_keys, metric_keys):
        if not ids:
            return []
        by_id = {}
        for r in conn.execute(
            select(R.c.id, R.c.run_uuid, R.c.name, R.c.status, R.c.user_id, R.c.start_time, R.c.end_time,
                   R.c.project_id, R.c.lifecycle_stage).where(R.c.id.in_(ids))
        ):
            by_id[r.id] = {"run_id": r.run_uuid, "name": r.name, "status": r.status, "user_id": r.user_id,
                           "start_time": r.start_time, "end_time": r.end_time, "project_id": str(r.project_id),
                           "lifecycle_stage": r.lifecycle_stage, "tags": {}, "params": {}, "metrics": {}}
        tg = t.run_tags
        for rid, k, v in conn.execute(
            select(tg.c.run_id, tg.c.key, tg.c.value).where(tg.c.run_id.in_(ids), ~tg.c.key.startswith("mlflow."))
        ):
            by_id[rid]["tags"][k] = v
        # Source and parent tags the table shows as their own columns.
        for rid, k, v in conn.execute(
            select(tg.c.run_id, tg.c.key, tg.c.value).where(
                tg.c.run_id.in_(ids), tg.c.key.in_(["mlflow.source.name", "mlflow.parentRunId", "mlflow.note.content"]))
        ):
            by_id[rid].setdefault("system_tags", {})[k] = v
        if param_keys:
            for part in chunks(list(param_keys), 500):
                for rid, k, v in conn.execute(
                    select(t.params.c.run_id, t.params.c.key, t.params.c.value).where(
                        t.params.c.run_id.in_(ids), t.params.c.key.in_(part))
                ):
                    by_id[rid]["params"][k] = v
        if metric_keys:
            for part in chunks(list(metric_keys), 500):
                for rid, k, v, nan in conn.execute(
                    select(S.c.run_id, S.c.key, S.c.last_value, S.c.last_is_nan).where(
                        S.c.run_id.in_(ids), S.c.key.in_(part))
                ):
                    by_id[rid]["metrics"][k] = _num(v, nan)
        return [by_id[i] for i in ids if i in by_id]

    # -- runs -------------------------------------------------------------------------------------
    def metric_summaries(self, run_ids):
        """{run_id: [{key, last, last_step, last_timestamp, min, max, count, min_step, max_step}]}"""
        if len(run_ids) > 100:
            raise invalid("Give at most 100 runs")
        out = {r: [] for r in run_ids}
        with self.read() as conn:
            known = dict(conn.execute(select(R.c.run_uuid, R.c.id).where(R.c.run_uuid.in_(list(run_ids)))).all())
            for r in run_ids:
                if r not in known:
                    raise not_found(f"Run with id={r} not found")
            back = {v: k for k, v in known.items()}
            for s in conn.execute(select(S).where(S.c.run_id.in_(list(known.values()))).order_by(S.c.key)):
                out[back[s.run_id]].append({
                    "key": s.key, "last": _num(s.last_value, s.last_is_nan), "last_step": s.last_step,
                    "last_timestamp": s.last_timestamp, "min": _num(s.min_value), "max": _num(s.max_value),
                    "count": s.point_count, "min_step": s.min_step, "max_step": s.max_step,
                    "min_timestamp": s.min_timestamp, "max_timestamp": s.max_timestamp,
                })
        return out

    def run_project(self, run_id):
        with self.read() as conn:
            row = conn.execute(
                select(PJ.c.id, PJ.c.name, R.c.id.label("pk")).join(R, R.c.project_id == PJ.c.id)
                .where(R.c.run_uuid == run_id)
            ).first()
            if row is None:
                raise not_found(f"Run with id={run_id} not found")
            media = conn.execute(
                select(func.count()).select_from(t.media_items).where(t.media_items.c.run_id == row.pk)).scalar_one()
            lines = conn.execute(
                select(func.count()).select_from(t.log_lines).where(t.log_lines.c.run_id == row.pk)).scalar_one()
        return {"id": str(row.id), "name": row.name, "media_count": media, "log_line_count": lines}

    # -- media ------------------------------------------------------------------------------------
    def media_index(self, run_id):
        M = t.media_items
        with self.read() as conn:
            run = self._run_row(conn, run_id)
            rows = conn.execute(
                select(M.c.key, M.c.kind, M.c.step, func.count()).where(M.c.run_id == run.id)
                .group_by(M.c.key, M.c.kind, M.c.step).order_by(M.c.key, M.c.step)
            ).all()
        keys: dict[str, dict] = {}
        for key, kind, step, count in rows:
            k = keys.setdefault(key, {"key": key, "kind": kind, "steps": [], "counts": []})
            k["steps"].append(step)
            k["counts"].append(count)
        return list(keys.values())

    def media_at(self, run_id, key, step):
        M = t.media_items
        with self.read() as conn:
            run = self._run_row(conn, run_id)
            rows = conn.execute(
                select(M).where(M.c.run_id == run.id, M.c.key == key, M.c.step == step).order_by(M.c.seq)
            ).all()
        return [{"key": r.key, "step": r.step, "seq": r.seq, "kind": r.kind, "path": r.path, "caption": r.caption,
                 "timestamp": r.timestamp} for r in rows]

    # -- console ----------------------------------------------------------------------------------
    def search_log_lines(self, run_id, query=None, level=None, start_line=None, limit=500):
        L = t.log_lines
        with self.read() as conn:
            run = self._run_row(conn, run_id)
            where = [L.c.run_id == run.id]
            if query:
                where.append(func.lower(L.c.message).contains(query.lower(), autoescape=True))
            if level:
                where.append(L.c.level == level)
            total = conn.execute(select(func.count()).select_from(L).where(*where)).scalar_one()
            if start_line is not None:
                where.append(L.c.line >= start_line)
            rows = conn.execute(
                select(L.c.line, L.c.level, L.c.message, L.c.timestamp).where(*where).order_by(L.c.line).limit(limit + 1)
            ).all()
            last = conn.execute(select(func.max(L.c.line)).where(L.c.run_id == run.id)).scalar()
        more = len(rows) > limit
        rows = rows[:limit]
        return {"total": total, "last_line": int(last or 0),
                "next_line": rows[-1].line + 1 if more else None,
                "lines": [{"line": r.line, "level": r.level, "message": r.message, "timestamp": r.timestamp}
                          for r in rows]}

