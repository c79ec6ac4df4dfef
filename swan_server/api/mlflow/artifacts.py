"""Proxied artifacts (`mlflow-artifacts:` URIs) and the run-relative artifact routes.

Bodies are streamed in both directions; nothing holds a whole file in memory."""

from __future__ import annotations

import mimetypes
import posixpath
import re
import unicodedata
from urllib.parse import quote

from flask import Response, request
from werkzeug.wsgi import wrap_file

from swan_server.api.common import UploadBody, json_response, services
from swan_server.api.mlflow.routes import routes
from swan_server.api.mlflow.wire import RequestData

ARTIFACTS_PREFIX = ("/api/2.0/mlflow-artifacts",)
DOWNLOAD_CHUNK = 1 << 20
# Types a browser would execute or render inline are served as plain text (no stored XSS).
_UNSAFE_TYPES = {
    "text/html", "application/xhtml+xml", "image/svg+xml", "application/javascript",
    "text/javascript", "application/ecmascript", "text/ecmascript", "text/xml", "application/xml",
    "text/xsl", "application/xslt+xml",
}


def _safe_mimetype(name: str) -> str:
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if (
        mime in _UNSAFE_TYPES
        or "html" in mime
        or "script" in mime
        or mime.endswith(("+xml", "/xml"))
    ):
        return "text/plain"
    return mime


def _content_disposition(name: str) -> str:
    """`attachment` with a header-safe name: an ASCII fallback plus RFC 5987 `filename*` for
    names that are not plain ASCII (a raw non-latin-1 header would break the response)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r'[\x00-\x1f\x7f"\\]', "_", ascii_name) or "download"
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def file_response(chunks, size: int, path: str) -> Response:
    name = posixpath.basename(path)
    if hasattr(chunks, "open") and hasattr(chunks, "fileno") and hasattr(chunks, "read"):
        # A local file: open it now (a vanished file is still a clean 404, and Content-Length
        # is the size of the very file sent), and let the WSGI server's file wrapper send it
        # (gunicorn uses sendfile).
        size = chunks.open()
        chunks = wrap_file(request.environ, chunks, DOWNLOAD_CHUNK)
    resp = Response(chunks, mimetype=_safe_mimetype(name), direct_passthrough=True)
    resp.headers["Content-Length"] = str(size)
    resp.headers["Content-Disposition"] = _content_disposition(name)
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


@routes.route("/artifacts/<anypath:artifact_path>", methods=("PUT",), prefixes=ARTIFACTS_PREFIX)
def upload_artifact(artifact_path):
    # Artifacts of any size are streamed to storage; see UploadBody for the body handling.
    services().artifacts.put(artifact_path, UploadBody())
    return json_response({})


@routes.route("/artifacts/<anypath:artifact_path>", methods=("GET",), prefixes=ARTIFACTS_PREFIX)
def download_artifact(artifact_path):
    chunks, size, clean = services().artifacts.get(artifact_path)
    return file_response(chunks, size, clean)


@routes.route("/artifacts/<anypath:artifact_path>", methods=("DELETE",), prefixes=ARTIFACTS_PREFIX)
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
