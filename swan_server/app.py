"""The Flask application: every face mounted on one set of services."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import PathConverter

from swan_server.api.common import BODY_CONSUMED
from swan_server.api.mlflow import register as register_mlflow
from swan_server.api.swanlab import register as register_swanlab
from swan_server.api.v1 import register as register_v1
from swan_server import ui
from swan_server.api.mlflow.wire import error_response, swan_error_response
from swan_server.config import Settings
from swan_server.errors import BAD_REQUEST, ENDPOINT_NOT_FOUND, INTERNAL_ERROR, PAYLOAD_TOO_LARGE, SwanError
from swan_server.services.container import Services

log = logging.getLogger("swan.server")


class AnyPathConverter(PathConverter):
    """Like `path`, but also matches a leading '/' so the view can reject it explicitly."""

    regex = ".+?"
    part_isolating = False  # the pattern spans '/' separators


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask("swan_server", static_folder=None)
    from swan_server.limits import SwanRequest

    app.request_class = SwanRequest  # chunked bodies over the limit are a 413, not cut short
    # A doubled slash must reach the views (which refuse absolute artifact paths with a 400)
    # instead of being merged and redirected to a different path.
    app.url_map.merge_slashes = False
    app.url_map.converters["anypath"] = AnyPathConverter
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.extensions["swan"] = services or Services.build(settings)

    @app.get("/health")
    def health():
        return Response("OK", mimetype="text/plain")

    register_mlflow(app)
    register_swanlab(app)
    register_v1(app)
    ui.register(app)  # the dashboard at / (after the APIs: it never shadows them)
    from swan_server.observability import register as register_observability

    register_observability(app, app.extensions["swan"].store)  # /metrics, request counters, access log
    from swan_server.auth import register as register_auth

    register_auth(app)  # one principal per request (after the request timer: refusals are counted)
    _register_error_handlers(app)
    app.after_request(_close_if_body_unread)
    if settings.trusted_proxies:
        # Behind N proxies the client's address, scheme and host come from the headers they set.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    return app


# Unread request bodies up to this size are read (and dropped) before an early answer goes out.
DRAIN_LIMIT = 16 * 1024 * 1024


def _close_if_body_unread(response: Response) -> Response:
    """A response sent before the request body was read (an early 4xx such as a 401 or 403, an
    unknown route) must not leave the body on the connection: otherwise the WSGI server skips it
    after the answer went out, and gunicorn (26) can read the client's next request into its
    buffer while doing so and stall the keep-alive connection until its timeout. gunicorn also
    ignores an application's `Connection: close`, so a body of up to DRAIN_LIMIT bytes is read
    and dropped here, before answering; a larger one is left to gunicorn, which gives up after
    64 KiB and closes the connection."""
    has_body = request.content_length or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if has_body and not request.environ.get(BODY_CONSUMED) and not _stream_exhausted():
        response.headers["Connection"] = "close"
        _drain_body()
    return response


def _stream_exhausted() -> bool:
    try:
        return bool(getattr(request.stream, "is_exhausted", False))
    except RequestEntityTooLarge:  # a body over the limit: Werkzeug refuses to even wrap it
        return False


def _drain_body() -> None:
    length = request.content_length
    if length is not None and length > DRAIN_LIMIT:
        return
    from werkzeug.wsgi import get_input_stream

    try:
        stream = get_input_stream(request.environ, safe_fallback=True, max_content_length=None)
        left = DRAIN_LIMIT
        while left > 0:
            chunk = stream.read(min(1 << 16, left))
            if not chunk:
                break
            left -= len(chunk)
    except Exception:  # a client that went away: nothing to keep alive
        pass


def _is_api_path(path: str) -> bool:
    return path.startswith(("/api/", "/ajax-api/", "/get-artifact"))


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(SwanError)
    def _swan_error(exc: SwanError):
        return swan_error_response(exc)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        return error_response(PAYLOAD_TOO_LARGE, "Request body is too large", 413)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code == 404 and (page := ui.spa_fallback(request.path)) is not None:
            return page
        if not _is_api_path(request.path):
            return exc
        if request.path.startswith("/api/v1/"):
            # A path no /api/v1 rule matches at all (e.g. one with a newline in it) still gets
            # /api/v1's error format.
            from swan_server.api.v1.wire import _http_error as v1_http_error

            return v1_http_error(exc)
        if request.path.startswith("/api/") and not request.path.startswith(("/api/2.0/", "/api/3.0/")):
            # ... and the SwanLab face's routes (everything else under /api) SwanLab's.
            from swan_server.api.swanlab.common import _http_error as swanlab_http_error

            return swanlab_http_error(exc)
        if exc.code == 404:
            return error_response(ENDPOINT_NOT_FOUND, f"No such endpoint: {request.method} {request.path}", 404)
        if exc.code == 405:
            return error_response(ENDPOINT_NOT_FOUND, f"Method {request.method} is not allowed on {request.path}", 405)
        return error_response(BAD_REQUEST, exc.description or exc.name, exc.code or 400)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Logged with its traceback on the server; the client only gets a clean error.
        log.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(INTERNAL_ERROR, f"Internal error: {type(exc).__name__}", 500)
