"""Object storage: presigned media PUTs, user files (single and multipart), and the signed upload
URLs the server hands out for its local artifact folder."""

from __future__ import annotations


from swan_server.api.common import UploadBody, services
from swan_server.api.swanlab.common import base_url, bp, json_body, reply, swanlab, user


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


@bp.put("/swan/upload/<token>")
def signed_upload(token):
    _, etag = services().swanlab.uploads.accept(token, UploadBody())
    resp = reply({})
    resp.headers["ETag"] = f'"{etag}"'
    return resp
