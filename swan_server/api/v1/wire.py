"""Wire conventions of `/api/v1`: JSON in and out, one error format, optional bearer keys.

Errors are `{"error": {"code": "INVALID_PARAMETER_VALUE", "message": "..."}}` with the status of
the code (`swan_server.errors.HTTP_STATUS`). A client's mistake is always a 4xx; an unexpected
failure is a 500 whose body names the exception type only (the traceback goes to the log)."""

from __future__ import annotations

import logging
import math

import orjson
from flask import Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from swan_server import __version__ as swan_version
from swan_server.api.common import services
from swan_server.api.v1 import bp
from swan_server.entities import User
from swan_server.services import access
from swan_server.errors import (
    BAD_REQUEST,
    ENDPOINT_NOT_FOUND,
    INTERNAL_ERROR,
    PAYLOAD_TOO_LARGE,
    SwanError,
    invalid,
)

log = logging.getLogger("swan.v1")

INT64 = (-(2**63), 2**63 - 1)

# Shared schema fragments other modules may reference.
ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}


def error_responses(*codes: int) -> dict:
    return {str(c): {"$ref": f"#/components/responses/E{c}"} for c in codes}


SPEC = {
    "paths": {
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "getOpenApi",
                "tags": ["meta"],
                "responses": {"200": {"description": "The OpenAPI 3 document", "content": {"application/json": {}}}},
            }
        },
        "/me": {
            "get": {
                "summary": "Who the API key belongs to",
                "operationId": "getMe",
                "tags": ["meta"],
                "responses": {
                    "200": {
                        "description": "The caller (`user` is null when no key was sent)",
                        "content": {"application/json": {"schema": {"type": "object", "properties": {
                            "user": {"nullable": True, "type": "object", "properties": {
                                "name": {"type": "string"}, "role": {"type": "string"},
                                "display_name": {"type": "string", "nullable": True}}},
                            "version": {"type": "string"}}}}},
                    },
                    **error_responses(401),
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    }
                },
            },
        },
        "responses": {
            f"E{code}": {"description": text, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
            for code, text in (
                (400, "Invalid request"), (401, "Missing or invalid API key"), (403, "Not allowed"),
                (404, "Not found"), (409, "Conflict"), (413, "Request too large"),
            )
        },
    },
}


# -- responses --------------------------------------------------------------------------------
def reply(payload, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")


def error(code: str, message: str, status: int) -> Response:
    return reply({"error": {"code": code, "message": message}}, status)


def float_out(value: float):
    """JSON has no NaN or infinities: they travel as the strings "NaN", "Infinity", "-Infinity"."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


# -- requests ---------------------------------------------------------------------------------
def json_body() -> dict:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SwanError(f"Malformed JSON body: {exc}", BAD_REQUEST) from None
    if not isinstance(data, dict):
        raise SwanError("Malformed request body: a JSON object is required", BAD_REQUEST)
    return data


def arg_int(name: str, default=None, minimum: int | None = None, maximum: int | None = None):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"Query parameter '{name}' must be an integer, got {raw[:50]!r}") from None
    if not INT64[0] <= value <= INT64[1]:
        raise invalid(f"Query parameter '{name}' is out of range")
    if minimum is not None and value < minimum:
        raise invalid(f"Query parameter '{name}' must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise invalid(f"Query parameter '{name}' must be at most {maximum}")
    return value


def arg_str(name: str, default=None):
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if "\x00" in value:
        raise invalid(f"Query parameter '{name}' contains a NUL character")
    return value


def current_user() -> User | None:
    """The user the request's credentials belong to (an API key, or the dashboard's session), or
    None when none were sent (only possible with authentication off)."""
    return g.get("swan_v1_user")


# -- hooks --------------------------------------------------------------------------------------
@bp.before_request
def _identify():
    # The app-wide hook (swan_server.auth) checked the credentials; None when none were sent.
    g.swan_v1_user = access.current().user
    return None


@bp.errorhandler(SwanError)
def _swan_error(exc: SwanError):
    return error(exc.error_code, exc.message, exc.http_status)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    return error(PAYLOAD_TOO_LARGE, "Request body is too large", 413)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 405:
        return error(ENDPOINT_NOT_FOUND, f"Method {request.method} is not allowed on {request.path}", 405)
    if exc.code == 404:
        return error(ENDPOINT_NOT_FOUND, f"No such endpoint: {request.method} {request.path}", 404)
    return error(BAD_REQUEST, exc.description or exc.name, exc.code or 400)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("Unhandled error on %s %s", request.method, request.path)
    return error(INTERNAL_ERROR, f"Internal error: {type(exc).__name__}", 500)


# -- meta routes ----------------------------------------------------------------------------------
@bp.get("/openapi.json")
def openapi():
    return reply(current_app.extensions["swan.v1.openapi"])


@bp.get("/me")
def me():
    user = current_user()
    return reply({
        "user": None if user is None else {"name": user.name, "role": user.role, "display_name": user.display_name},
        "version": swan_version,
    })


@bp.route("/<path:_rest>", methods=("GET", "POST", "PUT", "PATCH", "DELETE"))
def _unknown(_rest):
    """Any other path under /api/v1: 404 in this API's error format (routes with fixed segments
    always win over this catch-all)."""
    return error(ENDPOINT_NOT_FOUND, f"No such endpoint: {request.method} {request.path}", 404)
