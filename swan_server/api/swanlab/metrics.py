"""`POST /api/house/metrics` (scalar, media, log) and the resume summaries."""

from __future__ import annotations

from swan_server.api.swanlab.common import bp, json_body, reply, swanlab, user


@bp.post("/house/metrics")
def ingest():
    swanlab().ingest(user(), json_body())
    return reply({}, 201)


@bp.get("/house/metrics/summaries/<project_id>/<cuid>")
def summaries(project_id, cuid):
    return reply(swanlab().summaries(user(), project_id, cuid))
