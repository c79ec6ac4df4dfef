"""Routes older SDKs call (protocol §2.10): project creation before 0.9 (409 = exists, with the
project as body), and per-experiment columns (0.8, and 0.9/0.10 on projects without views)."""

from __future__ import annotations

from swan_server.api.swanlab.common import bp, json_body, reply, swanlab, user


def _create(workspace):
    proj, created = swanlab().create_project(user(), workspace, json_body())
    return reply(proj.json(), 201 if created else 409)


@bp.post("/project")
def legacy_create_project():
    return _create(None)


@bp.post("/project/<workspace>")
def legacy_create_project_in(workspace):
    return _create(workspace)


@bp.post("/experiment/<cuid>/columns")
def legacy_columns(cuid):
    swanlab().put_legacy_columns(user(), cuid, json_body())
    return reply({}, 201)
