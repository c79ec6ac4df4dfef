"""`POST /api/v1/runs/{run_id}/batches`: columnar bulk writes, one transaction each, at most once
per idempotency key."""

from __future__ import annotations

from swan_server.api.common import services
from swan_server.api.v1 import bp
from swan_server.api.v1.wire import error_responses, json_body, reply
from swan_server.records import MEDIA_KINDS
from swan_server.services.native import (
    MAX_LINES_PER_BATCH,
    MAX_MEDIA_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    MAX_POINTS_PER_BATCH,
    MAX_TAGS_PER_BATCH,
)

_INT_ARRAY = {"type": "array", "items": {"type": "integer", "format": "int64"}}
_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

SPEC = {
    "paths": {
        "/runs/{run_id}/batches": {
            "post": {
                "summary": "Write metrics, params, tags, media rows and console lines in one transaction",
                "operationId": "writeBatch",
                "tags": ["writes"],
                "description": (
                    "Everything in the batch lands, or nothing does. A batch whose `idempotency_key` was "
                    "applied to this run before changes nothing and answers `applied: false`, so a client "
                    "may resend a batch whose answer it did not get. Metric points are columns of equal "
                    f"length (at most {MAX_POINTS_PER_BATCH:,} points; more is a 413). Values are numbers; "
                    "`null` and \"NaN\" mean NaN, \"Infinity\"/\"-Infinity\" the infinities. `step` defaults "
                    "to 0 and `timestamp` to now (ms). An exact duplicate point is stored once. Params are "
                    "immutable: a different value for a logged param fails the whole batch (400). Media rows "
                    "index files already uploaded under the run's artifacts (`PUT /runs/{run_id}/artifacts/"
                    "{path}`); a row already indexed at (key, step, seq) is kept. Console lines are numbered "
                    f"per run; a line number already stored is kept. Limits per batch: {MAX_PARAMS_PER_BATCH:,} "
                    f"params, {MAX_TAGS_PER_BATCH:,} tags, {MAX_MEDIA_PER_BATCH:,} media rows, "
                    f"{MAX_LINES_PER_BATCH:,} console lines."
                ),
                "parameters": [{"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/WriteBatch"}}}},
                "responses": {
                    "200": {"description": "Applied now (`applied: true`, rows inserted) or before (`applied: false`)",
                            "content": {"application/json": {"schema": {"type": "object", "properties": {
                                "applied": {"type": "boolean"},
                                "inserted": {"type": "object", "properties": {
                                    "metrics": {"type": "integer"}, "media": {"type": "integer"},
                                    "console": {"type": "integer"}}}}}}}},
                    **error_responses(400, 404, 413),
                },
            }
        }
    },
    "components": {
        "schemas": {
            "WriteBatch": {
                "type": "object",
                "required": ["idempotency_key"],
                "properties": {
                    "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 200},
                    "metrics": {
                        "type": "object", "required": ["key", "value"],
                        "properties": {
                            "key": {"type": "array", "items": {"type": "string"}},
                            "step": _INT_ARRAY,
                            "timestamp": _INT_ARRAY,
                            "value": {"type": "array", "items": {"nullable": True, "oneOf": [
                                {"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]}},
                        },
                    },
                    "params": _STR_MAP,
                    "tags": _STR_MAP,
                    "media": {"type": "array", "items": {"$ref": "#/components/schemas/MediaItem"}},
                    "console": {
                        "type": "object", "required": ["line", "message"],
                        "properties": {
                            "line": _INT_ARRAY,
                            "message": {"type": "array", "items": {"type": "string"}},
                            "level": {"type": "array", "items": {"type": "string", "enum": ["INFO", "WARN", "ERROR", "DEBUG"]}},
                            "timestamp": _INT_ARRAY,
                        },
                    },
                },
            },
            "MediaItem": {
                "type": "object",
                "required": ["key", "kind", "path"],
                "properties": {
                    "key": {"type": "string"},
                    "step": {"type": "integer", "format": "int64", "default": 0},
                    "seq": {"type": "integer", "default": 0, "description": "Position within the step"},
                    "kind": {"type": "string", "enum": list(MEDIA_KINDS)},
                    "path": {"type": "string", "description": "Relative to the run's artifact root"},
                    "caption": {"type": "string", "nullable": True},
                    "timestamp": {"type": "integer", "format": "int64"},
                },
            },
        }
    },
}


@bp.post("/runs/<run_id>/batches")
def write_batch(run_id):
    inserted = services().native.write_batch(run_id, json_body())
    return reply({"applied": inserted is not None, "inserted": inserted or {"metrics": 0, "media": 0, "console": 0}})
