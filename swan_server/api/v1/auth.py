"""`/api/v1/auth/login` and `/logout`: the dashboard's session cookie, exchanged for an API key.

The session cookie (`swan_session`) is HttpOnly, SameSite=Lax, and Secure when the request came
over https; the CSRF token (also in the readable `swan_csrf` cookie) must come back in the
`X-CSRF-Token` header of every state-changing request the cookie authenticates."""

from __future__ import annotations

from flask import request

from swan_server.api.common import services
from swan_server.api.v1 import bp
from swan_server.api.v1.wire import error_responses, json_body, reply
from swan_server.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, csrf_token
from swan_server.errors import UNAUTHENTICATED, SwanError
from swan_server.services.admin import user_json
from swan_server.services.identity import SESSION_DAYS

_USER = {"type": "object", "properties": {"name": {"type": "string"}, "role": {"type": "string"},
                                          "disabled": {"type": "boolean"},
                                          "display_name": {"type": "string", "nullable": True},
                                          "created_time": {"type": "integer"}}}

SPEC = {
    "paths": {
        "/auth/login": {
            "post": {
                "summary": "Log in with an API key: sets the dashboard's session cookie",
                "operationId": "login",
                "tags": ["auth"],
                "security": [],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["api_key"], "properties": {"api_key": {"type": "string"}}}}}},
                "responses": {
                    "200": {"description": "Logged in (cookies `swan_session` and `swan_csrf` set)",
                            "content": {"application/json": {"schema": {"type": "object", "properties": {
                                "user": _USER, "csrf_token": {"type": "string"}}}}}},
                    "429": {"description": "Too many failed logins (see Retry-After)"},
                    **error_responses(400, 401),
                },
            }
        },
        "/auth/logout": {
            "post": {
                "summary": "End the dashboard session (and clear its cookies)",
                "operationId": "logout",
                "tags": ["auth"],
                "security": [],
                "responses": {"200": {"description": "Logged out", "content": {"application/json": {}}}},
            }
        },
    }
}


def _cookie_args(http_only: bool) -> dict:
    return {"max_age": SESSION_DAYS * 86_400, "path": "/", "httponly": http_only, "samesite": "Lax",
            "secure": request.is_secure}


@bp.post("/auth/login")
def auth_login():
    body = json_body()
    key = body.get("api_key")
    if not isinstance(key, str):
        raise SwanError("Give your API key as 'api_key'", UNAUTHENTICATED)
    sid, _expires, user = services().identity.login(key)
    token = csrf_token(services(), sid)
    resp = reply({"user": user_json(user), "csrf_token": token})
    resp.set_cookie(SESSION_COOKIE, sid, **_cookie_args(True))
    resp.set_cookie(CSRF_COOKIE, token, **_cookie_args(False))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/auth/logout")
def auth_logout():
    import hmac

    from swan_server.services.identity import hash_secret

    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        sent = request.headers.get(CSRF_HEADER) or ""
        # Only the page holding the session may end it (a cross-site form cannot).
        if hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), csrf_token(services(), sid).encode()):
            services().store.delete_session(hash_secret(sid))
    resp = reply({})
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax", secure=request.is_secure)
    resp.delete_cookie(CSRF_COOKIE, path="/", samesite="Lax", secure=request.is_secure)
    return resp
