"""Object storage: presigned media PUTs, user files (single and multipart), and the signed upload
URLs the server hands out for its local artifact folder."""

from __future__ import annotations

from flask import request
from werkzeug.wsgi import get_input_stream

from swan_server.api.common import services
from swan_server.api.swanlab.common import base_url, bp, json_body, reply, swanlab, user
from swan_server.errors import BAD_REQUEST, SwanError


@bp.post("/resources/presigned/put")
def presigned_put():
    return reply({"urls": swanlab().presign_put(user(), json_body(), base_url())})


@bp.post("/experiment/<cuid>/files/prepare")
def files_prepare(cuid):
    return reply({"urls": swanlab().files_prepare(user(), cuid, json_body(), base_url())})


@bp.post("/experiment/<cuid>/files/complete")
def files_complete(cuid):
    swanlab().files_complete(user(), cuid, json_body())
    return reply({}, 201)


@bp.post("/experiment/<cuid>/files/prepare-multipart")
def files_prepare_multipart(cuid):
    return reply({"files": swanlab().files_prepare_multipart(user(), cuid, json_body(), base_url())})


@bp.post("/experiment/<cuid>/files/complete-multipart")
def files_complete_multipart(cuid):
    swanlab().files_complete_multipart(user(), cuid, json_body())
    return reply({}, 201)


class _Body:
    """The PUT body streamed from the WSGI input; a body shorter than its Content-Length fails."""

    def __init__(self):
        self.expected = request.content_length
        if self.expected is None and not request.environ.get("wsgi.input_terminated"):
            raise SwanError("An upload needs a Content-Length or chunked transfer encoding", BAD_REQUEST)
        self._raw = get_input_stream(request.environ, safe_fallback=True, max_content_length=None)
        self.received = 0

    def read(self, size: int = -1) -> bytes:
        try:
            chunk = self._raw.read(size)
        except Exception as exc:
            raise SwanError(f"Upload interrupted: {type(exc).__name__}", BAD_REQUEST) from None
        self.received += len(chunk)
        if not chunk and self.expected is not None and self.received < self.expected:
            raise SwanError(f"Upload interrupted: received {self.received} of {self.expected} bytes", BAD_REQUEST)
        return chunk


@bp.put("/swan/upload/<token>")
def signed_upload(token):
    _, etag = services().swanlab.uploads.accept(token, _Body())
    resp = reply({})
    resp.headers["ETag"] = f'"{etag}"'
    return resp
