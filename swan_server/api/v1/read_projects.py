"""Dashboard reads of projects: overview with run counts, the keys their runs use, and the run
table (MLflow's filter grammar, ordering, paging, chosen param and metric columns, a total)."""

from __future__ import annotations

from swan_server.api.common import services
from swan_server.api.v1 import bp
from swan_server.api.v1._readwire import arg_list, reply_json
from swan_server.api.v1.wire import arg_int, arg_str, error_responses

_OBJ = {"type": "object"}
SPEC = {
    "paths": {
        "/projects/overview": {
            "get": {
                "summary": "Projects with run counts and last activity (the dashboard's home page)",
                "operationId": "getProjectsOverview",
                "tags": ["dashboard"],
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"},
                                "description": "Only projects whose name contains this (case-insensitive)"}],
                "responses": {"200": {"description": "Projects, most recently active first", "content": {
                    "application/json": {"schema": {"type": "object", "properties": {"projects": {
                        "type": "array", "items": {"$ref": "#/components/schemas/ProjectOverview"}}}}}}}},
            }
        },
        "/projects/{project_id}/keys": {
            "get": {
                "summary": "Param, metric and tag keys used by the project's runs",
                "operationId": "getProjectKeys",
                "tags": ["dashboard"],
                "parameters": [{"name": "project_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "Keys", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {k: {"type": "array", "items": {"type": "string"}}
                                                     for k in ("params", "metrics", "tags")}}}}},
                              **error_responses(404)},
            }
        },
        "/projects/{project_id}/run-table": {
            "get": {
                "summary": "One page of the run table",
                "description": "Runs matching `filter` (MLflow's search grammar, e.g. `metrics.acc > 0.9 and "
                               "params.model = 'tree'`), ordered by `order_by` (e.g. `metrics.loss ASC`), with the "
                               "latest value of each `metric` and the value of each `param` column.",
                "operationId": "getRunTable",
                "tags": ["dashboard"],
                "parameters": [
                    {"name": "project_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "filter", "in": "query", "schema": {"type": "string"}},
                    {"name": "order_by", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    {"name": "param", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                    {"name": "metric", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                ],
                "responses": {"200": {"description": "A page of rows and the total", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/RunTablePage"}}}}, **error_responses(400, 404)},
            }
        },
    },
    "components": {"schemas": {
        "ProjectOverview": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "run_count": {"type": "integer"},
            "running": {"type": "integer"}, "creation_time": {"type": "integer"},
            "last_activity": {"type": "integer", "description": "ms since the epoch"}}},
        "RunTablePage": {"type": "object", "properties": {
            "total": {"type": "integer"}, "offset": {"type": "integer"},
            "runs": {"type": "array", "items": {"type": "object", "properties": {
                "run_id": {"type": "string"}, "name": {"type": "string"}, "status": {"type": "string"},
                "user_id": {"type": "string", "nullable": True}, "start_time": {"type": "integer", "nullable": True},
                "end_time": {"type": "integer", "nullable": True}, "tags": _OBJ, "params": _OBJ, "metrics": _OBJ}}}}},
    }},
}


@bp.get("/projects/overview")
def projects_overview():
    return reply_json({"projects": services().dashboard.projects(arg_str("q"))})


@bp.get("/projects/<project_id>/keys")
def project_keys(project_id):
    return reply_json(services().dashboard.project_keys(project_id))


@bp.get("/projects/<project_id>/run-table")
def run_table(project_id):
    page = services().dashboard.run_table(
        project_id, arg_str("filter"), arg_list("order_by", 10, split=False), arg_int("offset", 0, 0),
        arg_int("limit", 200, 1, 1000), arg_list("param", 200, split=False), arg_list("metric", 200, split=False),
    )
    return reply_json(page)
