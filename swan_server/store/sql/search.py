"""search_runs: MLflow's filter grammar and ordering, compiled to one SQL query over the runs,
their params, tags, dataset inputs and metric summaries (never the points table)."""

from __future__ import annotations

from sqlalchemy import and_, bindparam, case, false, literal, or_, select, true
from sqlalchemy.sql import ColumnElement

from swan_server.db import schema as t

from swan_server.entities import PagedList
from swan_server.errors import SwanError, invalid
from swan_server.search.filter import (
    ATTRIBUTE,
    DATASET,
    METRIC,
    PARAM,
    TAG,
    Comparison,
    parse_run_filter,
    parse_run_order_by,
)
from swan_server.store.paging import encode_offset
from swan_server.store.sql.base import DBL_MAX, chunks, parse_experiment_id
from swan_server.store.sql.experiments import lifecycle_condition, page_offset
from swan_server.store.sql.runs import RunsMixin

R = t.runs
_ATTRIBUTE_COLUMNS = {
    "run_id": R.c.run_uuid,
    "run_name": R.c.name,
    "status": R.c.status,
    "user_id": R.c.user_id,
    "artifact_uri": R.c.artifact_uri,
    "lifecycle_stage": R.c.lifecycle_stage,
    "start_time": R.c.start_time,
    "end_time": R.c.end_time,
}
MAX_RESULTS_LIMIT = 50_000
# Distinct search statements kept per store (see RunSearchMixin._search_statement).
SEARCH_STATEMENT_CACHE = 128


def _known_experiment_id(experiment_id) -> int | None:
    """Searching an experiment that cannot exist matches nothing (MLflow does not fail)."""
    try:
        return parse_experiment_id(experiment_id)
    except SwanError:
        return None


class RunSearchMixin(RunsMixin):
    def _condition(self, c: Comparison, metric_joins: dict | None = None) -> ColumnElement:
        """The SQL condition of one comparison; `metric_joins` maps metric keys to the series
        aliases the query already outer-joins (for ordering), which a metric comparison reuses
        instead of probing the series again per run."""
        if c.entity == ATTRIBUTE:
            return self._compare(_ATTRIBUTE_COLUMNS[c.key], c.op, c.value)
        if c.entity == METRIC:
            joined = (metric_joins or {}).get(c.key)
            s = t.metric_series if joined is None else joined
            # Infinities are stored clamped to ±DBL_MAX; clamp the operand the same way.
            value = max(-DBL_MAX, min(DBL_MAX, c.value))
            # NaN is stored as 0 with last_is_nan set. As in IEEE arithmetic (and MLflow), NaN
            # satisfies no comparison except "!=", which it always satisfies.
            cmp = self._compare(s.c.last_value, c.op, value)
            if c.op == "!=":
                cmp = or_(cmp, s.c.last_is_nan == true())
            else:
                cmp = and_(cmp, s.c.last_is_nan == false())
            if joined is not None:
                # The series is already outer-joined for ordering (one row per run and key):
                # a run without it has NULLs there, which no comparison satisfies, as with EXISTS.
                return cmp
            return select(s.c.id).where(s.c.run_id == R.c.id, s.c.key == c.key, cmp).exists()
        if c.entity in (PARAM, TAG):
            table = t.params if c.entity == PARAM else t.run_tags
            has_key = select(table.c.run_id).where(table.c.run_id == R.c.id, table.c.key == c.key)
            if c.op == "IS NULL":
                return ~has_key.exists()
            if c.op == "IS NOT NULL":
                return has_key.exists()
            return has_key.where(self._compare(table.c.value, c.op, c.value)).exists()
        if c.entity == DATASET:
            ri, d, it = t.run_inputs, t.datasets, t.input_tags
            query = select(ri.c.id).join(d, d.c.id == ri.c.dataset_id).where(ri.c.run_id == R.c.id)
            if c.key == "context":
                query = query.join(it, and_(it.c.input_id == ri.c.id, it.c.key == "mlflow.data.context")).where(
                    self._compare(it.c.value, c.op, c.value)
                )
            else:
                query = query.where(self._compare(d.c[c.key], c.op, c.value))
            return query.exists()
        raise invalid(f"Unsupported filter entity {c.entity}")

    def search_runs(self, experiment_ids, filter_string, view_type, max_results, order_by, page_token):
        if max_results is None:
            max_results = 1000
        if not 1 <= max_results <= MAX_RESULTS_LIMIT:
            raise invalid(
                f"Invalid value {max_results} for parameter 'max_results' supplied. "
                f"max_results must be between 1 and {MAX_RESULTS_LIMIT}"
            )
        offset = page_offset(page_token)
        # Ids beyond 64 bits name no experiment (and would overflow in SQL).
        exp_ids = tuple(i for i in (_known_experiment_id(e) for e in experiment_ids) if i is not None)
        if not exp_ids:
            parse_run_filter(filter_string)  # a bad filter is still an error
            parse_run_order_by(order_by)
            return PagedList([], None)
        query = self._search_statement(exp_ids, filter_string, view_type, tuple(order_by or ()))
        with self.read() as conn:
            rows = conn.execute(query, {"page_offset": offset, "page_limit": max_results + 1}).all()
            has_more = len(rows) > max_results
            rows = rows[:max_results]
            runs = []
            for part in chunks(rows):
                runs.extend(self._load_runs(conn, part))
        return PagedList(runs, encode_offset(offset + max_results) if has_more else None)

    def _search_statement(self, exp_ids: tuple, filter_string, view_type, order_by: tuple):
        """The search's SELECT, built once per distinct request shape: building a statement
        costs about as much as SQLite running it, and dashboards and pagers repeat the same
        search. The page's offset and limit are bound at execution."""
        cache = self.__dict__.setdefault("_search_statements", {})
        key = (exp_ids, filter_string, view_type, order_by)
        try:
            query = cache.get(key)
        except TypeError:  # an unhashable argument: the parser will say what is wrong with it
            return self._build_search_statement(exp_ids, filter_string, view_type, order_by)
        if query is None:
            query = self._build_search_statement(exp_ids, filter_string, view_type, order_by)
            if len(cache) >= SEARCH_STATEMENT_CACHE:
                cache.clear()  # bounded: a burst of distinct filters costs a rebuild, never memory
            cache[key] = query
        return query

    def _build_search_statement(self, exp_ids: tuple, filter_string, view_type, order_by: tuple):
        comparisons = parse_run_filter(filter_string)
        orders = parse_run_order_by(list(order_by))
        query = select(R).where(R.c.project_id.in_(exp_ids))
        cond = lifecycle_condition(R.c.lifecycle_stage, view_type)
        if cond is not None:
            query = query.where(cond)

        ordering, metric_joins = [], {}
        for i, o in enumerate(orders):
            if o.entity == ATTRIBUTE:
                col = _ATTRIBUTE_COLUMNS[o.key]
                ordering += [case((col.is_(None), 1), else_=0), col.asc() if o.ascending else col.desc()]
                continue
            if o.entity == METRIC:
                s = metric_joins.get(o.key)
                if s is None:
                    s = metric_joins[o.key] = t.metric_series.alias(f"o{i}")
                    query = query.outerjoin(s, and_(s.c.run_id == R.c.id, s.c.key == o.key))
                # Missing values sort last in both directions, NaN just before them.
                ordering += [
                    case((s.c.id.is_(None), 2), (s.c.last_is_nan == literal(True), 1), else_=0),
                    s.c.last_value.asc() if o.ascending else s.c.last_value.desc(),
                ]
            else:
                table = (t.params if o.entity == PARAM else t.run_tags).alias(f"o{i}")
                query = query.outerjoin(table, and_(table.c.run_id == R.c.id, table.c.key == o.key))
                ordering += [
                    case((table.c.run_id.is_(None), 1), else_=0),
                    table.c.value.asc() if o.ascending else table.c.value.desc(),
                ]
        for c in comparisons:
            query = query.where(self._condition(c, metric_joins))
        if not any(o.entity == ATTRIBUTE and o.key == "start_time" for o in orders):
            ordering.append(R.c.start_time.desc())
        ordering.append(R.c.run_uuid.asc())
        return query.order_by(*ordering).offset(bindparam("page_offset")).limit(bindparam("page_limit"))
