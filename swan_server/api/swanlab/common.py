"""Shared plumbing of the SwanLab face: the blueprint, cookie auth, JSON bodies, replies."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from flask import Blueprint, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from swan_server.api.common import loads_lenient, services
from swan_server.entities import User
from swan_server.errors import UNAUTHENTICATED, SwanError
from swan_server.services import access

log = logging.getLogger("swan.swanlab")
bp = Blueprint("swanlab", __name__, url_prefix="/api")

# Routes that need no session: the ping, the login itself, and signed upload and download URLs.
PUBLIC_ENDPOINTS = {"swanlab.ping", "swanlab.login", "swanlab.signed_upload", "swanlab.signed_download"}


def status_line(code: int) -> str:
    """`404 Not Found`: the SDK compares the reason phrase (Werkzeug would send `NOT FOUND`)."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def reply(payload=None, code: int = 200) -> Response:
    body = json.dumps({} if payload is None else payload, separators=(",", ":"), ensure_ascii=False)
    return Response(body, status=status_line(code), mimetype="application/json")


def error(code: str, message: str, status: int) -> Response:
    return reply({"code": code, "message": message}, status)


def json_body():
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return loads_lenient(raw)  # the SDK's json.dumps writes NaN and Infinity bare
    except (ValueError, UnicodeDecodeError) as exc:
        raise SwanError(f"Malformed JSON body: {exc}", "BAD_REQUEST") from None


def swanlab():
    return services().swanlab


def user() -> User:
    return g.swan_user


def base_url() -> str:
    return request.host_url.rstrip("/")


@bp.before_request
def _authenticate():
    """The SwanLab routes always act as a user (the SDK logs in, with or without `--auth`): the
    app-wide hook (swan_server.auth) identified it from the `sid` cookie or an API key."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    principal = access.current()
    if principal.user is None:
        raise SwanError("Not logged in", UNAUTHENTICATED)
    g.swan_user = principal.user
    return None


@bp.errorhandler(SwanError)
def _swan_error(exc: SwanError):
    return error(exc.error_code, exc.message, exc.http_status)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    return error("PAYLOAD_TOO_LARGE", "Request body is too large", 413)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return error(exc.name.upper().replace(" ", "_"), exc.description or exc.name, exc.code or 400)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("Unhandled error on %s %s", request.method, request.path)
    return error("INTERNAL_ERROR", f"Internal error: {type(exc).__name__}", 500)
