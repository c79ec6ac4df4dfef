"""Proxied artifacts (`mlflow-artifacts:` URIs) and the run-relative artifact routes.

Bodies are streamed in both directions; nothing holds a whole file in memory."""

from __future__ import annotations

import mimetypes
import posixpath

from flask import Response, request

from swan_server.api.common import json_response, services
from swan_server.api.mlflow.routes import routes
from swan_server.api.mlflow.wire import RequestData

ARTIFACTS_PREFIX = ("/api/2.0/mlflow-artifacts",)
# Types a browser would execute or render inline are served as plain text (no stored XSS).
_UNSAFE_TYPES = {"text/html", "application/xhtml+xml", "image/svg+xml", "application/javascript", "text/javascript", "text/xml", "application/xml"}


def file_response(chunks, size: int, path: str) -> Response:
    name = posixpath.basename(path)
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if mime in _UNSAFE_TYPES:
        mime = "text/plain"
    resp = Response(chunks, mimetype=mime, direct_passthrough=True)
    resp.headers["Content-Length"] = str(size)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def _files_json(files) -> list[dict]:
    out = []
    for f in files:
        item = {"path": f.path, "is_dir": f.is_dir}
        if not f.is_dir and f.file_size is not None:
            item["file_size"] = f.file_size
        out.append(item)
    return out


@routes.route("/artifacts/<path:artifact_path>", methods=("PUT",), prefixes=ARTIFACTS_PREFIX)
def upload_artifact(artifact_path):
    request.max_content_length = None  # artifacts are streamed to storage, any size
    services().artifacts.put(artifact_path, request.stream)
    return json_response({})


@routes.route("/artifacts/<path:artifact_path>", methods=("GET",), prefixes=ARTIFACTS_PREFIX)
def download_artifact(artifact_path):
    chunks, size, clean = services().artifacts.get(artifact_path)
    return file_response(chunks, size, clean)


@routes.route("/artifacts/<path:artifact_path>", methods=("DELETE",), prefixes=ARTIFACTS_PREFIX)
def delete_artifact(artifact_path):
    services().artifacts.delete(artifact_path)
    return json_response({})


@routes.route("/artifacts", methods=("GET",), prefixes=ARTIFACTS_PREFIX)
def list_artifacts_proxied():
    files = services().artifacts.list(request.args.get("path"))
    return json_response({"files": _files_json(files)} if files else {})


@routes.get("/artifacts/list")
def list_run_artifacts():
    req = RequestData.current()
    run_id = req.str("run_id", required=True, aliases=("run_uuid",))
    _, files = services().artifacts.list_run(run_id, req.str("path"))
    root_uri = services().runs.get(run_id).info.artifact_uri
    out = {"root_uri": root_uri}
    if files:
        out["files"] = _files_json(files)
    return json_response(out)


@routes.route("/get-artifact", methods=("GET",), prefixes=("", "/ajax-api/2.0/mlflow"))
def get_run_artifact():
    req = RequestData.current()
    chunks, size, rel = services().artifacts.get_run_file(
        req.str("run_id", required=True, aliases=("run_uuid",)), req.str("path", required=True)
    )
    return file_response(chunks, size, rel)
