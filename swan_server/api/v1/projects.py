"""`/api/v1/projects`: create (or get) and list projects (MLflow experiments)."""

from __future__ import annotations

from swan_server.api.common import services
from swan_server.api.v1 import bp
from swan_server.api.v1.shapes import project_json
from swan_server.api.v1.wire import arg_int, arg_str, error_responses, json_body, reply

_PROJECT = {"$ref": "#/components/schemas/Project"}
_PAGE_PARAMS = [
    {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
    {"name": "page_token", "in": "query", "schema": {"type": "string"}},
]

SPEC = {
    "paths": {
        "/projects": {
            "post": {
                "summary": "Create a project",
                "operationId": "createProject",
                "tags": ["projects"],
                "description": "With `exist_ok`, an existing active project of that name is returned (200) instead of a 400.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string", "maxLength": 500},
                                   "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                                   "exist_ok": {"type": "boolean", "default": False}}}}}},
                "responses": {
                    "201": {"description": "Created", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"project": _PROJECT, "created": {"type": "boolean"}}}}}},
                    "200": {"description": "Already there (exist_ok)"},
                    **error_responses(400, 409),
                },
            },
            "get": {
                "summary": "List projects, newest first (or find one by name)",
                "operationId": "listProjects",
                "tags": ["projects"],
                "parameters": [
                    {"name": "name", "in": "query", "schema": {"type": "string"}, "description": "Exact name"},
                    {"name": "view", "in": "query", "schema": {"type": "string", "enum": ["active", "deleted", "all"]}},
                    *_PAGE_PARAMS,
                ],
                "responses": {
                    "200": {"description": "One page", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"projects": {"type": "array", "items": _PROJECT},
                                                         "next_page_token": {"type": "string", "nullable": True}}}}}},
                    **error_responses(400),
                },
            },
        },
        "/projects/{project_id}": {
            "get": {
                "summary": "One project",
                "operationId": "getProject",
                "tags": ["projects"],
                "parameters": [{"name": "project_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The project", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"project": _PROJECT}}}}}, **error_responses(404)},
            }
        },
    }
}


@bp.post("/projects")
def create_project():
    body = json_body()
    exp, created = services().native.create_project(body.get("name"), body.get("tags"), bool(body.get("exist_ok")))
    return reply({"project": project_json(exp), "created": created}, 201 if created else 200)


@bp.get("/projects")
def list_projects():
    page = services().native.list_projects(
        arg_str("view", "active"), arg_int("page_size", 100, 1, 1000), arg_str("page_token"), arg_str("name")
    )
    return reply({"projects": [project_json(p) for p in page.items], "next_page_token": page.token})


@bp.get("/projects/<project_id>")
def get_project(project_id):
    return reply({"project": project_json(services().native.get_project(project_id))})
