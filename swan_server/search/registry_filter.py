"""Search grammars of the MLflow 3 surface, on top of the shared filter tokenizer:

* registered models: `name` (= != LIKE ILIKE), `tags.<key>` (= != LIKE ILIKE);
  order_by `name`, `timestamp`, `last_updated_timestamp`;
* model versions: `name` (= != LIKE ILIKE IN NOT IN), `version_number` (numeric), `run_id`
  (= != IN NOT IN), `source_path` (= != LIKE ILIKE), `tags.<key>`; order_by `name`,
  `version_number`, `creation_timestamp`, `last_updated_timestamp`;
* logged models: `metrics.<key>` (numeric), `params.<key>` and `tags.<key>` (= != LIKE ILIKE IN NOT IN),
  attributes `name`, `model_id`, `model_type`, `status`, `source_run_id` (strings) and
  `creation_timestamp`, `last_updated_timestamp` (numeric);
* traces: attributes (`request_id`/`trace_id`, `timestamp_ms`, `execution_time_ms`, `status`/
  `state`, `name`, `run_id`, `client_request_id`), `tags.<key>`, `metadata.<key>`.

Each parser returns `Comparison`s (entity, key, op, value) with MLflow's checks and messages.
"""

from __future__ import annotations

import math

from swan_server.errors import invalid
from swan_server.search.filter import (
    ATTRIBUTE,
    METRIC,
    PARAM,
    TAG,
    Comparison,
    OrderBy,
    _parse_order_clause,
    _Parser,
)

METADATA = "metadata"
DBL_MAX = 1.7976931348623157e308

NUMERIC_OPS = ("=", "!=", ">", ">=", "<", "<=")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE")
SET_OPS = ("IN", "NOT IN")
NULL_OPS = ("IS NULL", "IS NOT NULL")

_TAG_NAMES = {"tag", "tags"}
_ATTR_NAMES = {"attribute", "attributes", "attr", "trace", "run"}
_METRIC_NAMES = {"metric", "metrics"}
_PARAM_NAMES = {"param", "params", "parameter", "parameters"}
_METADATA_NAMES = {"metadata", "request_metadata"}


def _entity(entity: str | None, allowed: dict[str, set[str]], text: str) -> str:
    if entity is None:
        return ATTRIBUTE
    low = entity.lower()
    for kind, names in allowed.items():
        if low in names:
            return kind
    raise invalid(f"Invalid entity type '{entity}' in filter string '{text}'")


def _check(kind: str, key: str, op: str, value, ops, numeric: bool) -> Comparison:
    if op not in ops:
        raise invalid(f"Invalid comparator '{op}' for '{key}': must be one of {list(ops)}")
    if op in SET_OPS:
        return Comparison(kind, key, op, tuple(value))
    if op in NULL_OPS:
        return Comparison(kind, key, op, None)
    if numeric:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise invalid(f"Expected numeric value type for '{key}'. Found {value!r}") from None
        if not isinstance(value, float) or math.isnan(value):
            raise invalid(f"Expected numeric value type for '{key}'. Found {value!r}")
        # 1e400 parses as infinity, which not every database can compare: clamp it.
        return Comparison(kind, key, op, max(-DBL_MAX, min(DBL_MAX, value)))
    if not isinstance(value, str):
        raise invalid(f"Expected a quoted string value for '{key}'. Found {value!r}")
    return Comparison(kind, key, op, value)


def _parse(text, allowed, attribute_rules: dict[str, tuple[tuple[str, ...], bool]],
           entity_rules: dict[str, tuple[tuple[str, ...], bool]], aliases=None) -> list[Comparison]:
    if not text or not text.strip():
        return []
    out = []
    for entity, key, op, value in _Parser(text).parse():
        kind = _entity(entity, allowed, text)
        if kind == ATTRIBUTE:
            key = (aliases or {}).get(key, key)
            if key not in attribute_rules:
                raise invalid(
                    f"Invalid attribute key '{key}' specified. Valid keys are '{sorted(attribute_rules)}'"
                )
            ops, numeric = attribute_rules[key]
        else:
            ops, numeric = entity_rules[kind]
        out.append(_check(kind, key, op, value, ops, numeric))
    return out


def parse_registered_model_filter(text: str | None) -> list[Comparison]:
    return _parse(text, {TAG: _TAG_NAMES, ATTRIBUTE: _ATTR_NAMES},
                  {"name": (STRING_OPS, False)}, {TAG: (STRING_OPS, False)})


def parse_model_version_filter(text: str | None) -> list[Comparison]:
    return _parse(
        text, {TAG: _TAG_NAMES, ATTRIBUTE: _ATTR_NAMES},
        {
            "name": (STRING_OPS + SET_OPS, False),
            "version_number": (NUMERIC_OPS, True),
            "run_id": (("=", "!=") + SET_OPS, False),
            "source_path": (STRING_OPS, False),
        },
        {TAG: (STRING_OPS, False)},
    )


LOGGED_MODEL_STRING_ATTRIBUTES = ("name", "model_id", "model_type", "status", "source_run_id")
LOGGED_MODEL_NUMERIC_ATTRIBUTES = ("creation_timestamp", "last_updated_timestamp")
_LOGGED_MODEL_ALIASES = {"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"}


def parse_logged_model_filter(text: str | None) -> list[Comparison]:
    rules = {k: (STRING_OPS + SET_OPS, False) for k in LOGGED_MODEL_STRING_ATTRIBUTES}
    rules.update({k: (NUMERIC_OPS, True) for k in LOGGED_MODEL_NUMERIC_ATTRIBUTES})
    return _parse(
        text,
        {TAG: _TAG_NAMES, ATTRIBUTE: _ATTR_NAMES, METRIC: _METRIC_NAMES, PARAM: _PARAM_NAMES},
        rules,
        {TAG: (STRING_OPS + SET_OPS, False), PARAM: (STRING_OPS + SET_OPS, False), METRIC: (NUMERIC_OPS, True)},
        _LOGGED_MODEL_ALIASES,
    )


TRACE_STRING_ATTRIBUTES = ("request_id", "status", "name", "run_id", "client_request_id")
TRACE_NUMERIC_ATTRIBUTES = ("timestamp_ms", "execution_time_ms", "end_time_ms")
_TRACE_ALIASES = {
    "trace_id": "request_id", "state": "status", "timestamp": "timestamp_ms",
    "execution_time": "execution_time_ms", "end_time": "end_time_ms",
}


def parse_trace_filter(text: str | None) -> list[Comparison]:
    rules = {k: (STRING_OPS + SET_OPS, False) for k in TRACE_STRING_ATTRIBUTES}
    rules.update({k: (NUMERIC_OPS, True) for k in TRACE_NUMERIC_ATTRIBUTES})
    return _parse(
        text,
        {TAG: _TAG_NAMES, ATTRIBUTE: _ATTR_NAMES, METADATA: _METADATA_NAMES},
        rules,
        {TAG: (STRING_OPS + NULL_OPS, False), METADATA: (STRING_OPS + NULL_OPS, False)},
        _TRACE_ALIASES,
    )


def _parse_orders(clauses, keys: set[str], aliases: dict[str, str] | None = None) -> list[OrderBy]:
    out, seen = [], set()
    for clause in clauses or []:
        entity, key, ascending = _parse_order_clause(clause)
        if entity is not None and entity.lower() not in _ATTR_NAMES:
            raise invalid(f"Invalid order_by clause '{clause}'. Valid keys are {sorted(keys)}")
        key = (aliases or {}).get(key, key)
        if key not in keys:
            raise invalid(f"Invalid order by key '{key}' specified. Valid keys are {sorted(keys)}")
        if key in seen:
            raise invalid(f"`order_by` contains duplicate fields: {clauses}")
        seen.add(key)
        out.append(OrderBy(ATTRIBUTE, key, ascending))
    return out


def parse_registered_model_order_by(clauses) -> list[OrderBy]:
    # As in MLflow, `timestamp` orders by the last update.
    return _parse_orders(clauses, {"name", "last_updated_timestamp"}, {"timestamp": "last_updated_timestamp"})


def parse_model_version_order_by(clauses) -> list[OrderBy]:
    return _parse_orders(clauses, {"name", "version_number", "creation_timestamp", "last_updated_timestamp"})


def parse_trace_order_by(clauses) -> list[OrderBy]:
    return _parse_orders(
        clauses,
        {"timestamp_ms", "execution_time_ms", "status", "request_id", "name", "end_time_ms"},
        _TRACE_ALIASES,
    )
