"""Projects: `GET /api/project/<ws>/<p>`, `POST /api/projects/<ws>` (and the column series)."""

from __future__ import annotations

from swan_server.api.swanlab.common import bp, json_body, reply, swanlab, user
from swan_server.api.swanlab.openapi import project_route


@project_route("/project/<workspace>/<project>", methods=["GET"])
def get_project(workspace, project):
    return reply(swanlab().reads.get_project(user(), workspace, project))


@bp.post("/projects/<workspace>")
def create_project(workspace):
    proj, created = swanlab().create_project(user(), workspace, json_body())
    return reply(proj.json(), 201 if created else 200)


@bp.post("/projects/<workspace>/<project>/series")
def put_series(workspace, project):
    swanlab().put_columns(user(), workspace, project, json_body())
    return reply({}, 201)
