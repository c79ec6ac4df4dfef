"""Chart reads: the metric keys of a set of runs and bucketed series (min, max and last value per
bucket, computed from the rollup blocks, bounded by the number of buckets)."""

from __future__ import annotations

from flask import request

from swan_server.api.common import services
from swan_server.api.v1 import bp
from swan_server.api.v1._readwire import arg_list, reply_json
from swan_server.api.v1.wire import arg_int, arg_str, error_responses, json_body
from swan_server.errors import invalid

_NUMS = {"type": "array", "items": {"type": "number", "nullable": True}}
_RUN_IDS = {"name": "run_id", "in": "query", "required": True, "schema": {"type": "array", "items": {"type": "string"}},
            "description": "Repeat, or separate with commas; at most 100"}
SPEC = {
    "paths": {
        "/metric-keys": {
            "get": {
                "summary": "The metric keys of a set of runs, with each series' summary",
                "operationId": "getMetricKeys",
                "tags": ["dashboard"],
                "parameters": [_RUN_IDS],
                "responses": {"200": {"description": "Keys (union) and per-run summaries", "content": {
                    "application/json": {"schema": {"type": "object", "properties": {
                        "keys": {"type": "array", "items": {"type": "string"}},
                        "runs": {"type": "object", "additionalProperties": {"type": "array", "items": {
                            "$ref": "#/components/schemas/SeriesSummary"}}}}}}}},
                    **error_responses(400, 404)},
            }
        },
        "/series/buckets": {
            "get": {
                "summary": "Bucketed series for charts",
                "description": (
                    "For each `key`, about `n` buckets (the chart's width in pixels) of every run over [`lo`, "
                    "`hi`] of the x axis: `step`, `time` (epoch ms) or `relative` (ms since the run's start). "
                    "Each bucket has the min, max and last value of its points. Buckets are aligned the same "
                    "way for every run (`x` is the bucket's start). The cost is bounded by `n`, not by the "
                    "length of the series. NaN values are null."
                ),
                "operationId": "getBuckets",
                "tags": ["dashboard"],
                "parameters": [
                    {"name": "key", "in": "query", "required": True, "description": "Repeat for several keys",
                     "schema": {"type": "array", "items": {"type": "string"}}},
                    _RUN_IDS,
                    {"name": "x", "in": "query", "schema": {"type": "string", "enum": ["step", "time", "relative"]}},
                    {"name": "lo", "in": "query", "schema": {"type": "integer"}},
                    {"name": "hi", "in": "query", "schema": {"type": "integer"}},
                    {"name": "n", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000}},
                ],
                "responses": {"200": {"description": "One entry per key", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {"series": {"type": "array", "items": {
                        "$ref": "#/components/schemas/BucketedSeries"}}}}}}}, **error_responses(400, 404)},
            },
            "post": {
                "summary": "Bucketed series (the same, with a JSON body for long run lists)",
                "operationId": "postBuckets",
                "tags": ["dashboard"],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                    "keys": {"type": "array", "items": {"type": "string"}},
                    "run_ids": {"type": "array", "items": {"type": "string"}},
                    "x": {"type": "string"}, "lo": {"type": "integer"}, "hi": {"type": "integer"},
                    "n": {"type": "integer"}}}}}},
                "responses": {"200": {"description": "As GET", "content": {"application/json": {}}},
                              **error_responses(400, 404)},
            },
        },
    },
    "components": {"schemas": {
        "SeriesSummary": {"type": "object", "properties": {
            k: {"type": "number", "nullable": True} for k in (
                "last", "min", "max", "last_step", "last_timestamp", "count", "min_step", "max_step",
                "min_timestamp", "max_timestamp")} | {"key": {"type": "string"}}},
        "BucketedSeries": {"type": "object", "properties": {
            "key": {"type": "string"}, "x_axis": {"type": "string"}, "lo": {"type": "integer", "nullable": True},
            "hi": {"type": "integer", "nullable": True}, "width": {"type": "integer", "nullable": True},
            "level": {"type": "integer", "nullable": True}, "n": {"type": "integer"},
            "rows_read": {"type": "integer", "description": "Rollup blocks and raw points read"},
            "runs": {"type": "array", "items": {"type": "object", "properties": {
                "run_id": {"type": "string"}, "x": _NUMS, "min": _NUMS, "max": _NUMS, "last": _NUMS,
                "last_x": _NUMS}}}}},
    }},
}


@bp.get("/metric-keys")
def metric_keys():
    runs = services().dashboard.metric_keys(arg_list("run_id", 100))
    keys = sorted({s["key"] for summaries in runs.values() for s in summaries})
    return reply_json({"keys": keys, "runs": runs})


def _int(value, name):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise invalid(f"'{name}' must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"'{name}' must be an integer") from None


@bp.route("/series/buckets", methods=("GET", "POST"))
def buckets():
    if request.method == "POST":
        body = json_body()
        keys, run_ids = body.get("keys") or [], body.get("run_ids") or []
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise invalid("'keys' must be a list of strings")
        if not isinstance(run_ids, list) or not all(isinstance(r, str) for r in run_ids):
            raise invalid("'run_ids' must be a list of strings")
        x, lo, hi, n = body.get("x") or "step", _int(body.get("lo"), "lo"), _int(body.get("hi"), "hi"), \
            _int(body.get("n"), "n") or 1000
    else:
        keys, run_ids = arg_list("key", 50, split=False), arg_list("run_id", 100)
        x, lo, hi, n = arg_str("x", "step"), arg_int("lo"), arg_int("hi"), arg_int("n", 1000, 1, 5000)
    series = services().dashboard.buckets(run_ids, keys, x, lo, hi, n)
    return reply_json({"series": series})
