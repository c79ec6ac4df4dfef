"""What a run holds, read back in full: metric histories (columnar, paged), the media index,
console lines, and the run's artifact files (upload, download, list)."""

from __future__ import annotations

import math

from swan_server.api.common import UploadBody, services
from swan_server.api.mlflow.artifacts import file_response
from swan_server.api.v1 import bp
from swan_server.api.v1.wire import arg_int, arg_str, error_responses, reply
from swan_server.artifacts.paths import join
from swan_server.services.native import MAX_HISTORY_PAGE, MAX_LINES_PER_BATCH

_RUN_ID = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}
_PATH = {"name": "path", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "Relative to the run's artifact root"}

SPEC = {
    "paths": {
        "/runs/{run_id}/metrics/history": {
            "get": {
                "summary": "Every point of one metric, as columns, in pages",
                "operationId": "getMetricHistory",
                "tags": ["reads"],
                "parameters": [
                    _RUN_ID,
                    {"name": "key", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "page_size", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_HISTORY_PAGE}},
                    {"name": "page_token", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "Points ordered by step, then timestamp", "content": {"application/json": {
                        "schema": {"type": "object", "properties": {
                            "key": {"type": "string"},
                            "step": {"type": "array", "items": {"type": "integer"}},
                            "timestamp": {"type": "array", "items": {"type": "integer"}},
                            "value": {"type": "array", "items": {"oneOf": [
                                {"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]}},
                            "next_page_token": {"type": "string", "nullable": True}}}}}},
                    **error_responses(400, 404),
                },
            }
        },
        "/runs/{run_id}/media": {
            "get": {
                "summary": "The run's media index",
                "operationId": "listMedia",
                "tags": ["reads"],
                "parameters": [_RUN_ID, {"name": "key", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "Items ordered by key, step, seq", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {"media": {"type": "array", "items": {
                        "$ref": "#/components/schemas/MediaItem"}}}}}}}, **error_responses(404)},
            }
        },
        "/runs/{run_id}/console": {
            "get": {
                "summary": "Console lines, as columns",
                "operationId": "getConsole",
                "tags": ["reads"],
                "parameters": [
                    _RUN_ID,
                    {"name": "start_line", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {"name": "max_lines", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LINES_PER_BATCH}},
                ],
                "responses": {"200": {"description": "Lines ordered by number", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {
                        "line": {"type": "array", "items": {"type": "integer"}},
                        "level": {"type": "array", "items": {"type": "string"}},
                        "message": {"type": "array", "items": {"type": "string"}},
                        "timestamp": {"type": "array", "items": {"type": "integer"}},
                        "last_line": {"type": "integer", "description": "The run's largest line number (0: none)"}}}}}},
                    **error_responses(400, 404)},
            }
        },
        "/runs/{run_id}/artifacts": {
            "get": {
                "summary": "List a folder of the run's artifacts",
                "operationId": "listArtifacts",
                "tags": ["artifacts"],
                "parameters": [_RUN_ID, {"name": "path", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "Direct children", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"files": {"type": "array", "items": {"type": "object", "properties": {
                        "path": {"type": "string"}, "is_dir": {"type": "boolean"},
                        "file_size": {"type": "integer", "nullable": True}}}}}}}}}, **error_responses(400, 404)},
            }
        },
        "/runs/{run_id}/artifacts/{path}": {
            "put": {
                "summary": "Upload one file (streamed; any size). Uploading the same path again replaces it.",
                "operationId": "uploadArtifact",
                "tags": ["artifacts"],
                "parameters": [_RUN_ID, _PATH],
                "requestBody": {"required": True, "content": {"application/octet-stream": {}}},
                "responses": {"200": {"description": "Stored", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"path": {"type": "string"}, "size": {"type": "integer"}}}}}},
                    **error_responses(400, 404)},
            },
            "get": {
                "summary": "Download one file",
                "operationId": "downloadArtifact",
                "tags": ["artifacts"],
                "parameters": [_RUN_ID, _PATH],
                "responses": {"200": {"description": "The bytes", "content": {"application/octet-stream": {}}},
                              **error_responses(400, 404)},
            },
        },
    }
}


def _value(v: float):
    if math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


@bp.get("/runs/<run_id>/metrics/history")
def metric_history(run_id):
    key = arg_str("key")
    page = services().native.history(run_id, key, arg_int("page_size", None, 1, MAX_HISTORY_PAGE),
                                     arg_str("page_token"))
    items = page.items
    return reply({
        "key": key,
        "step": [p[0] for p in items],
        "timestamp": [p[1] for p in items],
        "value": [p[2] if not p[3] and math.isfinite(p[2]) else _value(p[2]) for p in items],
        "next_page_token": page.token,
    })


@bp.get("/runs/<run_id>/media")
def list_media(run_id):
    items = services().native.media_items(run_id, arg_str("key"))
    return reply({"media": [
        {"key": m.key, "step": m.step, "seq": m.seq, "kind": m.kind, "path": m.path, "caption": m.caption,
         "timestamp": m.timestamp}
        for m in items
    ]})


@bp.get("/runs/<run_id>/console")
def console(run_id):
    lines = services().native.console(run_id, arg_int("start_line", None, 0),
                                      arg_int("max_lines", None, 1, MAX_LINES_PER_BATCH))
    return reply({
        "line": [ln.line for ln in lines],
        "level": [ln.level for ln in lines],
        "message": [ln.message for ln in lines],
        "timestamp": [ln.timestamp for ln in lines],
        "last_line": services().logs.last_line(run_id),
    })


@bp.get("/runs/<run_id>/artifacts")
def list_artifacts(run_id):
    native = services().native
    rel = arg_str("path", "")
    files = services().artifact_store.list_dir(native.artifact_path(run_id, rel, allow_empty=True))
    return reply({"files": [
        {"path": join(rel, f.path) if rel else f.path, "is_dir": f.is_dir, "file_size": f.file_size} for f in files
    ]})


@bp.route("/runs/<run_id>/artifacts/<anypath:path>", methods=("PUT",))
def upload_artifact(run_id, path):
    target = services().native.artifact_path(run_id, path, write=True)
    size = services().artifact_store.write(target, UploadBody())
    return reply({"path": path, "size": size})


@bp.get("/runs/<run_id>/artifacts/<anypath:path>")
def download_artifact(run_id, path):
    target = services().native.artifact_path(run_id, path)
    chunks, size = services().artifact_store.open_read(target)
    return file_response(chunks, size, target)

