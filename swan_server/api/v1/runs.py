"""`/api/v1/runs`: create with a given id, name, times, tags, params and status; update; get;
list with filter, sort and paging; delete."""

from __future__ import annotations

from flask import request

from swan_server.api.common import services
from swan_server.api.v1 import bp
from swan_server.api.v1.shapes import run_json
from swan_server.api.v1.wire import arg_int, arg_str, current_user, error_responses, json_body, reply
from swan_server.errors import invalid

_RUN = {"$ref": "#/components/schemas/Run"}
_RUN_ID = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_STATUS = {"type": "string", "enum": ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]}
_RUN_REPLY = {"content": {"application/json": {"schema": {"type": "object", "properties": {"run": _RUN}}}}}

SPEC = {
    "paths": {
        "/runs": {
            "post": {
                "summary": "Create a run",
                "operationId": "createRun",
                "tags": ["runs"],
                "description": (
                    "The project is `project_id`, or `project` by name (created when missing), or the "
                    "Default project. `run_id` lets the caller choose the id; with `exist_ok` a run of "
                    "that id in the same project is returned unchanged (200) instead of a 400, so a "
                    "resent create is harmless. The user is the API key's owner when a key is sent."
                ),
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {
                        "project_id": {"type": "string"}, "project": {"type": "string"},
                        "run_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                        "name": {"type": "string", "maxLength": 250},
                        "start_time": {"type": "integer", "format": "int64", "description": "ms since the epoch"},
                        "end_time": {"type": "integer", "format": "int64"},
                        "status": _STATUS, "tags": _STR_MAP, "params": _STR_MAP,
                        "user": {"type": "string", "description": "Used only when no API key is sent"},
                        "exist_ok": {"type": "boolean", "default": False},
                    }}}}},
                "responses": {
                    "201": {"description": "Created", **_RUN_REPLY},
                    "200": {"description": "The existing run (exist_ok)", **_RUN_REPLY},
                    **error_responses(400, 404, 409),
                },
            },
            "get": {
                "summary": "List runs of projects, filtered, sorted and paged",
                "operationId": "listRuns",
                "tags": ["runs"],
                "parameters": [
                    {"name": "project_id", "in": "query", "schema": {"type": "array", "items": {"type": "string"}},
                     "style": "form", "explode": True},
                    {"name": "project", "in": "query", "schema": {"type": "string"}, "description": "A project name"},
                    {"name": "filter", "in": "query", "schema": {"type": "string"},
                     "description": "MLflow's filter grammar, e.g. `metrics.acc > 0.9 and tags.`source.id` = 'x'`"},
                    {"name": "order_by", "in": "query", "schema": {"type": "array", "items": {"type": "string"}},
                     "style": "form", "explode": True, "description": "e.g. `metrics.acc DESC`, `attributes.start_time`"},
                    {"name": "view", "in": "query", "schema": {"type": "string", "enum": ["active", "deleted", "all"]}},
                    {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    {"name": "page_token", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "One page", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"runs": {"type": "array", "items": _RUN},
                                                         "next_page_token": {"type": "string", "nullable": True}}}}}},
                    **error_responses(400, 404),
                },
            },
        },
        "/runs/{run_id}": {
            "get": {"summary": "One run with params, tags and latest metrics", "operationId": "getRun",
                    "tags": ["runs"], "parameters": [_RUN_ID],
                    "responses": {"200": {"description": "The run", **_RUN_REPLY}, **error_responses(404)}},
            "patch": {
                "summary": "Rename a run, set its status or end time",
                "operationId": "updateRun",
                "tags": ["runs"],
                "parameters": [_RUN_ID],
                "description": "A terminal status without an `end_time` ends the run now.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"name": {"type": "string"}, "status": _STATUS,
                                                     "end_time": {"type": "integer", "format": "int64"}}}}}},
                "responses": {"200": {"description": "The updated run", **_RUN_REPLY}, **error_responses(400, 404)},
            },
            "delete": {"summary": "Delete a run (it can be restored through MLflow's API)", "operationId": "deleteRun",
                       "tags": ["runs"], "parameters": [_RUN_ID],
                       "responses": {"200": {"description": "Deleted"}, **error_responses(404)}},
        },
    }
}


@bp.post("/runs")
def create_run():
    run, created = services().native.create_run(current_user(), json_body())
    return reply({"run": run_json(run)}, 201 if created else 200)


@bp.get("/runs/<run_id>")
def get_run(run_id):
    return reply({"run": run_json(services().runs.get(run_id))})


@bp.patch("/runs/<run_id>")
def update_run(run_id):
    return reply({"run": run_json(services().native.update_run(run_id, json_body()))})


@bp.delete("/runs/<run_id>")
def delete_run(run_id):
    services().native.delete_run(run_id)
    return reply({})


@bp.get("/runs")
def list_runs():
    native = services().native
    project_ids = request.args.getlist("project_id")
    name = arg_str("project")
    if name is not None:
        project_ids.append(native.project_by_name(name).experiment_id)
    for pid in project_ids:
        if not pid or "\x00" in pid:
            raise invalid("Invalid project_id")
    order_by = request.args.getlist("order_by")
    page = native.list_runs(project_ids, arg_str("filter"), order_by, arg_str("view", "active"),
                            arg_int("page_size", 100, 1, 1000), arg_str("page_token"))
    return reply({"runs": [run_json(r) for r in page.items], "next_page_token": page.token})
