"""Swan's native API, `/api/v1`, described by the OpenAPI 3 document at `/api/v1/openapi.json`.

How the face is put together (the contract for anyone adding routes here):

* Every module in this package whose name does not start with `_` is imported by `register(app)`,
  in alphabetical order. Adding a file is enough: nothing here needs editing.
* A module adds routes to the shared blueprint `bp` (`from swan_server.api.v1 import bp`), whose
  prefix is `/api/v1`: `@bp.get("/runs/<run_id>")` serves `GET /api/v1/runs/<run_id>`.
* A module describes its routes with a module-level `SPEC` dict, an OpenAPI fragment of the form
  `{"paths": {"/runs/{run_id}": {"get": {...}}}, "components": {"schemas": {...}}}` (paths
  relative to `/api/v1`, as the document's `servers` entry says). `openapi_document()` merges
  every fragment into one document; the same path and method in two modules, or the same
  component name with a different body, is an error at start, not a silent overwrite.
* Shared helpers live in `swan_server.api.v1.wire`: `json_body()`, `reply()`, the error format
  `{"error": {"code": ..., "message": ...}}` (always 4xx for a client's mistake, never a 500
  with a traceback), `current_user()` (the caller identified by `Authorization: Bearer <key>`,
  or None: keys are not required yet), query-string parsers and the common schema names.
* Unknown paths under `/api/v1` answer 404 in the same error format.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil

from flask import Blueprint

bp = Blueprint("v1", __name__, url_prefix="/api/v1")

_BASE_DOCUMENT = {
    "openapi": "3.0.3",
    "info": {
        "title": "Swan native API",
        "version": "1",
        "description": (
            "Projects, runs and columnar bulk writes (metrics, params, tags, media and console "
            "lines). Errors are `{\"error\": {\"code\", \"message\"}}`. Send `Authorization: Bearer "
            "<api key>` to be identified."
        ),
    },
    "servers": [{"url": "/api/v1"}],
    "paths": {},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "A Swan API key"}},
        "schemas": {},
        "responses": {},
        "parameters": {},
    },
    "security": [{}, {"bearer": []}],
}

_loaded: list[str] = []


def _modules() -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    for name in names:
        full = f"{__name__}.{name}"
        importlib.import_module(full)
        if full not in _loaded:
            _loaded.append(full)
    return list(_loaded)


def merge_fragment(document: dict, fragment: dict, origin: str) -> None:
    """Merge one module's OpenAPI fragment into `document` (in place)."""
    for path, operations in (fragment.get("paths") or {}).items():
        target = document["paths"].setdefault(path, {})
        for method, op in operations.items():
            if method in target:
                raise RuntimeError(f"/api/v1 spec: {method.upper()} {path} is described twice (again in {origin})")
            target[method] = copy.deepcopy(op)
    for section, items in (fragment.get("components") or {}).items():
        target = document["components"].setdefault(section, {})
        for name, body in items.items():
            if name in target and target[name] != body:
                raise RuntimeError(f"/api/v1 spec: component {section}/{name} differs in {origin}")
            target[name] = copy.deepcopy(body)


def openapi_document() -> dict:
    """The OpenAPI document assembled from every module's `SPEC`."""
    document = copy.deepcopy(_BASE_DOCUMENT)
    for full in _modules():
        fragment = getattr(importlib.import_module(full), "SPEC", None)
        if fragment:
            merge_fragment(document, fragment, full)
    return document


def register(app) -> None:
    """Mount `/api/v1` on the app: import every route module, check the document assembles."""
    _modules()
    app.extensions["swan.v1.openapi"] = openapi_document()
    app.register_blueprint(bp)
