"""One principal per request: credentials → `services.access.Principal`, before any view runs.

Credentials, in this order:

* `Authorization: Bearer <api key>` (MLFLOW_TRACKING_TOKEN, `swan_client`, `/api/v1`);
* `Authorization: Basic base64(<user name>:<api key>)` (MLFLOW_TRACKING_USERNAME / _PASSWORD: the
  password is one of that user's API keys);
* `Authorization: <api key>` (a bare key, as the SwanLab SDK sends at login);
* the dashboard's session cookie (`swan_session`, from `POST /api/v1/auth/login`); a request it
  authenticates that changes something (any method but GET/HEAD/OPTIONS) must repeat the
  session's CSRF token in `X-CSRF-Token`;
* SwanLab's session cookie (`sid`, from `POST /api/login/api_key`), on the SwanLab routes only.

With authentication on (`swan server --auth`, SWAN_AUTH=true) a request without credentials is
refused with 401, except on the routes in PUBLIC_ENDPOINTS. With it off, a request without
credentials acts as the admin (a single-user server, as before); credentials that are presented
are still checked, so a wrong key is a 401 in both modes (a misconfigured client finds out before
authentication is turned on), and a valid key acts as its user, with that user's role.

Errors take each face's own format: the face's error handlers turn the SwanError raised here
into MLflow's `{"error_code", "message"}`, SwanLab's `{code, message}` or `/api/v1`'s
`{"error": {...}}`. Keys, cookies and Authorization headers are never logged."""

from __future__ import annotations

import base64
import binascii
import hmac

from flask import Flask, g, redirect, request

from swan_server.errors import PERMISSION_DENIED, UNAUTHENTICATED, SwanError
from swan_server.services import access
from swan_server.services.access import NOBODY, Principal
from swan_server.services.identity import hash_secret

SESSION_COOKIE = "swan_session"
CSRF_COOKIE = "swan_csrf"
CSRF_HEADER = "X-CSRF-Token"
SWANLAB_COOKIE = "sid"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# Flask endpoints anyone may call: the health check, the SwanLab ping, the logins (which check
# the key themselves), signed upload and download URLs (the signature is the credential), and the
# dashboard's shell and static files (the page itself asks for a login). `GET /version` is not
# here: the MLflow client sends its credentials with it as with every call (rest_utils.http_request
# with the tracking credentials), and MLflow's own auth app requires a login there too.
PUBLIC_ENDPOINTS = frozenset({
    "health", "swanlab.ping", "swanlab.login", "swanlab.signed_upload", "swanlab.signed_download",
    "v1.auth_login", "v1.auth_logout",
    "ui_index", "ui_asset", "static",
})

ANONYMOUS_ADMIN = Principal(None, "admin", "anonymous")


def _is_page(path: str) -> bool:
    return not path.startswith(("/api/", "/ajax-api/", "/get-artifact", "/v1/", "/metrics", "/version", "/health"))


def _unauthenticated(message: str) -> SwanError:
    return SwanError(message, UNAUTHENTICATED)


def csrf_token(services, sid: str) -> str:
    """The CSRF token of a dashboard session: an HMAC of the session id under a server secret,
    so it cannot be forged without the (HttpOnly) session cookie."""
    from secrets import token_hex

    secret = services.store.server_secret("csrf-key", lambda: token_hex(32))
    return hmac.new(secret.encode(), sid.encode("utf-8", "surrogatepass"), "sha256").hexdigest()


def _basic(value: str) -> tuple[str, str]:
    try:
        raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _unauthenticated("Malformed Basic credentials") from None
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise _unauthenticated("Basic credentials must be '<user name>:<api key>'")
    return user, password


def resolve(services, auth_enabled: bool) -> Principal:
    identity = services.identity
    policy = services.access
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, rest = header.strip().partition(" ")
        lowered = scheme.lower()
        if lowered == "bearer":
            return policy.principal_for(identity.authenticate_key(rest.strip()), "key")
        if lowered == "basic":
            user_name, key = _basic(rest)
            return policy.principal_for(identity.authenticate_key(key, user_name=user_name), "basic")
        if scheme and not rest.strip():
            # A bare key (the SwanLab SDK's login header).
            return policy.principal_for(identity.authenticate_key(scheme), "key")
        raise _unauthenticated("Authorization must be 'Bearer <api key>' or 'Basic <user:api key>'")
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        try:
            user = identity.session_user(sid)
        except SwanError:
            if auth_enabled:
                raise _unauthenticated("Your session has expired; log in again") from None
            user = None  # a stale cookie from an earlier run with authentication on
        if user is not None:
            if request.method not in SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER) or ""
                if not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"),
                                           csrf_token(services, sid).encode()):
                    raise SwanError("Missing or wrong CSRF token (send the X-CSRF-Token header)", PERMISSION_DENIED)
            return policy.principal_for(user, "session")
    if request.blueprint == "swanlab":
        lab_sid = request.cookies.get(SWANLAB_COOKIE)
        if lab_sid:
            return policy.principal_for(identity.session_user(lab_sid), "sid")
    if auth_enabled:
        raise _unauthenticated("Authentication required: send an API key (Authorization: Bearer <key>)")
    return ANONYMOUS_ADMIN


def register(app: Flask) -> None:
    services = app.extensions["swan"]
    auth_enabled = bool(services.settings.auth)

    @app.before_request
    def _authenticate():
        access.set_client(request.remote_addr)
        access.set_current(NOBODY)
        if request.method == "OPTIONS" or request.url_rule is None or request.endpoint in PUBLIC_ENDPOINTS:
            # Unknown paths fall through to their 404 (or the dashboard's page).
            access.set_current(None if request.url_rule is None else (NOBODY if auth_enabled else ANONYMOUS_ADMIN))
            return None
        try:
            access.set_current(resolve(services, auth_enabled))
        except SwanError as exc:
            if (exc.error_code == UNAUTHENTICATED and request.method == "GET" and _is_page(request.path)
                    and "text/html" in request.headers.get("Accept", "")):
                # A browser following a link (e.g. the run link the SwanLab SDK prints) goes to the
                # dashboard's login page, and back here once logged in.
                from urllib.parse import quote

                target = request.full_path if request.query_string else request.path
                return redirect("/?next=" + quote(target, safe="/"), code=302)
            raise
        return None

    @app.after_request
    def _retry_after(response):
        retry = g.pop("swan_retry_after", None)
        if retry is not None:
            response.headers["Retry-After"] = str(retry)
        return response

    @app.teardown_request
    def _forget(_exc=None):
        access.set_current(None)
        access.set_client(None)


__all__ = ["register", "resolve", "csrf_token", "hash_secret", "SESSION_COOKIE", "CSRF_COOKIE", "CSRF_HEADER"]
