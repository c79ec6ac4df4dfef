"""`/api/v1/users`, `/api/v1/keys`, `/api/v1/workspaces`: users, API keys and workspace members.

Users and keys are admin-only (403 for members and viewers); workspace members are managed by
the admins and the workspace's owners. The rules live in `services.admin`."""

from __future__ import annotations

from swan_server.api.common import services
from swan_server.api.v1 import bp
from swan_server.api.v1.wire import error_responses, json_body, reply
from swan_server.services.admin import user_json

_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_OBJ = {"application/json": {"schema": {"type": "object"}}}


def _op(summary, op_id, tag, responses, params=None, body=None):
    op = {"summary": summary, "operationId": op_id, "tags": [tag],
          "responses": {**responses, **error_responses(400, 401, 403, 404)}}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


_OK = {"200": {"description": "OK", "content": _OBJ}}
_CREATED = {"201": {"description": "Created", "content": _OBJ}}

SPEC = {
    "paths": {
        "/users": {
            "get": _op("List users (admin)", "listUsers", "admin", _OK),
            "post": _op("Create a user (admin); the answer holds its first API key", "createUser", "admin", _CREATED,
                        body={"type": "object", "required": ["name"], "properties": {
                            "name": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "member", "viewer"]},
                            "display_name": {"type": "string"}}}),
        },
        "/users/{name}": {
            "patch": _op("Disable, enable or change the role of a user (admin)", "updateUser", "admin", _OK, [_NAME],
                         {"type": "object", "properties": {"disabled": {"type": "boolean"},
                                                           "role": {"type": "string",
                                                                    "enum": ["admin", "member", "viewer"]}}}),
        },
        "/users/{name}/keys": {
            "get": _op("A user's API keys: prefixes only (admin)", "listKeys", "admin", _OK, [_NAME]),
            "post": _op("Create an API key for a user (admin); shown once", "createKey", "admin", _CREATED, [_NAME],
                        {"type": "object", "properties": {"description": {"type": "string"}}}),
        },
        "/keys/{prefix}": {
            "delete": _op("Revoke the active keys starting with this prefix (admin)", "revokeKey", "admin", _OK,
                          [{"name": "prefix", "in": "path", "required": True, "schema": {"type": "string"}}]),
        },
        "/workspaces": {
            "get": _op("Workspaces the caller may read", "listWorkspaces", "admin", _OK),
            "post": _op("Create a (team) workspace (admin)", "createWorkspace", "admin", _CREATED,
                        body={"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}),
        },
        "/workspaces/{name}/members": {
            "get": _op("A workspace's members", "listMembers", "admin", _OK, [_NAME]),
        },
        "/workspaces/{name}/members/{user}": {
            "put": _op("Add a member or change its role (admins and owners)", "setMember", "admin", _OK,
                       [_NAME, {"name": "user", "in": "path", "required": True, "schema": {"type": "string"}}],
                       {"type": "object", "required": ["role"],
                        "properties": {"role": {"type": "string", "enum": ["owner", "member", "viewer"]}}}),
            "delete": _op("Remove a member (admins and owners)", "removeMember", "admin", _OK,
                          [_NAME, {"name": "user", "in": "path", "required": True, "schema": {"type": "string"}}]),
        },
    }
}


def _admin():
    return services().admin


@bp.get("/users")
def list_users():
    return reply({"users": [user_json(u) for u in _admin().list_users()]})


@bp.post("/users")
def create_user():
    body = json_body()
    user, key = _admin().create_user(body.get("name"), body.get("role"), body.get("display_name"))
    return reply({"user": user_json(user), "api_key": key}, 201)


@bp.patch("/users/<name>")
def update_user(name):
    body = json_body()
    return reply({"user": user_json(_admin().update_user(name, body.get("disabled"), body.get("role")))})


@bp.get("/users/<name>/keys")
def list_keys(name):
    return reply({"keys": _admin().list_keys(name)})


@bp.post("/users/<name>/keys")
def create_key(name):
    key = _admin().create_key(name, json_body().get("description"))
    return reply({"api_key": key, "prefix": key[:11]}, 201)


@bp.delete("/keys/<prefix>")
def revoke_key(prefix):
    return reply({"revoked": _admin().revoke_key(prefix)})


@bp.get("/workspaces")
def list_workspaces():
    return reply({"workspaces": _admin().list_workspaces()})


@bp.post("/workspaces")
def create_workspace():
    return reply({"workspace": _admin().create_workspace(json_body().get("name"))}, 201)


@bp.get("/workspaces/<name>/members")
def list_members(name):
    return reply({"members": _admin().members(name)})


@bp.put("/workspaces/<name>/members/<user>")
def set_member(name, user):
    _admin().set_member(name, user, json_body().get("role"))
    return reply({})


@bp.delete("/workspaces/<name>/members/<user>")
def remove_member(name, user):
    _admin().remove_member(name, user)
    return reply({})
