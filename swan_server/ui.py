"""The dashboard: the single-page app built from `ui/` (Vite), served at `/`.

Hashed files under `/assets/` are cached for a year; every client route (`/`, `/projects/...`,
`/runs/...`, `/compare`) answers `index.html`, which the browser never caches. Nothing here
shadows the API: `/api`, `/ajax-api`, `/health`, `/version` and `/get-artifact` are matched by
their own rules first, and unknown paths under them stay JSON 404s."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, abort, request, send_from_directory

API_PREFIXES = ("/api/", "/ajax-api/", "/get-artifact", "/health", "/version")
CLIENT_ROUTES = ("/projects/", "/runs/", "/compare")


def ui_dir() -> Path | None:
    """The built UI: $SWAN_UI_DIR, the copy installed inside the package, or the checkout's
    `ui/dist` (an editable install)."""
    candidates = []
    if os.environ.get("SWAN_UI_DIR"):
        candidates.append(Path(os.environ["SWAN_UI_DIR"]))
    here = Path(__file__).resolve().parent
    candidates += [here / "ui_dist", here.parent / "ui" / "dist"]
    for c in candidates:
        if (c / "index.html").is_file():
            return c
    return None


def is_client_route(path: str) -> bool:
    return path == "/" or path.startswith(CLIENT_ROUTES)


def register(app: Flask) -> None:
    @app.get("/")
    def ui_index():
        return _index()

    @app.get("/assets/<path:name>")
    def ui_asset(name):
        root = ui_dir()
        if root is None:
            abort(404)
        resp = send_from_directory(root / "assets", name, max_age=31536000)
        resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return resp


def _index() -> Response:
    root = ui_dir()
    if root is None:
        return Response(
            "<!doctype html><title>Swan</title><p>The dashboard is not built. Run <code>npm ci && npm run build</code> "
            "in <code>ui/</code>, or reinstall with <code>pip install .</code>. The APIs work without it.</p>",
            status=503, mimetype="text/html")
    resp = send_from_directory(root, "index.html", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def spa_fallback(path: str):
    """For a 404 on a GET that a browser navigates to: the app's index.html (the app routes it
    and shows its own not-found page). None when the path belongs to an API."""
    if request.method not in ("GET", "HEAD") or path.startswith(API_PREFIXES) or path.startswith("/assets/"):
        return None
    if is_client_route(path):
        return _index()
    if "text/html" in request.headers.get("Accept", ""):
        resp = _index()
        resp.status_code = 404 if resp.status_code == 200 else resp.status_code
        return resp
    return None
