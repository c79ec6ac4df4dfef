"""Dashboard reads of one run: its overview, the media index and the items at a step, console
search, and artifact previews (the first 256 KiB of text, JSON and CSV files)."""

from __future__ import annotations

import json

from swan_server.api.common import services
from swan_server.api.v1 import bp
from swan_server.api.v1._readwire import reply_json
from swan_server.api.v1.wire import arg_int, arg_str, error_responses

_RUN = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}
_OBJ = {"type": "object"}
SPEC = {
    "paths": {
        "/runs/{run_id}/overview": {
            "get": {
                "summary": "Everything the run page shows above its charts",
                "description": "Info, params, tags, description, system information (run profiles), the "
                               "run's project, and the summary of each metric series.",
                "operationId": "getRunOverview",
                "tags": ["dashboard"],
                "parameters": [_RUN],
                "responses": {"200": {"description": "The overview", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "run": _OBJ, "project": _OBJ, "params": _OBJ, "tags": _OBJ, "description": {"type": "string"},
                        "system": _OBJ, "metrics": {"type": "array", "items": {
                            "$ref": "#/components/schemas/SeriesSummary"}}}}}}},
                    **error_responses(404)},
            }
        },
        "/runs/{run_id}/media-index": {
            "get": {
                "summary": "Media keys of the run, each with its kind and the steps that have items",
                "operationId": "getMediaIndex",
                "tags": ["dashboard"],
                "parameters": [_RUN],
                "responses": {"200": {"description": "Keys", "content": {"application/json": {}}},
                              **error_responses(404)},
            }
        },
        "/runs/{run_id}/media-at": {
            "get": {
                "summary": "The media items of one key at one step",
                "operationId": "getMediaAt",
                "tags": ["dashboard"],
                "parameters": [_RUN, {"name": "key", "in": "query", "required": True, "schema": {"type": "string"}},
                               {"name": "step", "in": "query", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "Items, with `url` to fetch each", "content": {
                    "application/json": {}}}, **error_responses(400, 404)},
            }
        },
        "/runs/{run_id}/console/search": {
            "get": {
                "summary": "Console lines, paged, optionally only those containing `q` or at `level`",
                "operationId": "searchConsole",
                "tags": ["dashboard"],
                "parameters": [_RUN, {"name": "q", "in": "query", "schema": {"type": "string"}},
                               {"name": "level", "in": "query", "schema": {"type": "string",
                                                                            "enum": ["INFO", "WARN", "ERROR", "DEBUG"]}},
                               {"name": "start_line", "in": "query", "schema": {"type": "integer"}},
                               {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 5000}}],
                "responses": {"200": {"description": "Lines and the next line to ask for", "content": {
                    "application/json": {}}}, **error_responses(400, 404)},
            }
        },
        "/runs/{run_id}/artifact-preview": {
            "get": {
                "summary": "A preview of one artifact file",
                "description": "`kind` is image, json, csv, text or binary; text kinds carry up to 256 KiB of "
                               "`text` (`truncated` says whether there is more). Images are fetched from "
                               "`/runs/{run_id}/artifacts/{path}`.",
                "operationId": "getArtifactPreview",
                "tags": ["dashboard"],
                "parameters": [_RUN, {"name": "path", "in": "query", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The preview", "content": {"application/json": {}}},
                              **error_responses(400, 404)},
            }
        },
    }
}


def _system(profiles: dict) -> dict:
    out = {}
    for kind, content in profiles.items():
        try:
            out[kind] = json.loads(content)
        except ValueError:
            out[kind] = content
    return out


@bp.get("/runs/<run_id>/overview")
def run_overview(run_id):
    run, project, profiles, summaries = services().dashboard.run_overview(run_id)
    info = run.info
    tags = dict(run.tags)
    return reply_json({
        "run": {"run_id": info.run_id, "name": info.run_name, "status": info.status, "user_id": info.user_id,
                "start_time": info.start_time, "end_time": info.end_time, "lifecycle_stage": info.lifecycle_stage,
                "artifact_uri": info.artifact_uri, "experiment_id": info.experiment_id},
        "project": project,
        "params": run.params,
        "tags": tags,
        "description": tags.get("mlflow.note.content"),
        "system": _system(profiles),
        "inputs": [{"name": d.name, "digest": d.digest, "source_type": d.source_type, "tags": d.tags}
                   for d in run.inputs],
        "metrics": summaries,
    })


@bp.get("/runs/<run_id>/media-index")
def media_index(run_id):
    return reply_json({"keys": services().dashboard.media_index(run_id)})


@bp.get("/runs/<run_id>/media-at")
def media_at(run_id):
    items = services().dashboard.media_at(run_id, arg_str("key"), arg_int("step"))
    for item in items:
        item["url"] = f"/api/v1/runs/{run_id}/artifacts/{item['path']}"
    return reply_json({"items": items})


@bp.get("/runs/<run_id>/console/search")
def console_search(run_id):
    return reply_json(services().dashboard.console(
        run_id, arg_str("q"), arg_str("level"), arg_int("start_line", None, 0), arg_int("limit", 500, 1, 5000)))


@bp.get("/runs/<run_id>/artifact-preview")
def artifact_preview(run_id):
    from swan_server.errors import invalid

    path = arg_str("path")
    if not path:
        raise invalid("Missing value for required parameter 'path'")
    return reply_json(services().dashboard.artifact_preview(run_id, path))



