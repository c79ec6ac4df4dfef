"""Experiments (Swan runs): create/resume, read, heartbeat, profile, state."""

from __future__ import annotations

from swan_server.api.swanlab.common import bp, json_body, reply, swanlab, user
from swan_server.api.swanlab.openapi import project_route


@bp.post("/project/<workspace>/<project>/experiment")
def create_experiment(workspace, project):
    data, created = swanlab().create_or_resume(user(), workspace, project, json_body())
    return reply(data, 201 if created else 200)


@project_route("/project/<workspace>/<project>/runs/<cuid>", methods=["GET"])
def get_experiment(workspace, project, cuid):
    """The training SDK (resume) and `swanlab.Api()` read an experiment here: `cuid` is its
    SwanLab id, or the run id of a run logged otherwise."""
    return reply(swanlab().reads.get_run(user(), workspace, project, cuid))


@bp.post("/house/experiments/<cuid>/heartbeat")
def heartbeat(cuid):
    swanlab().heartbeat(user(), cuid)
    return reply({}, 201)


@bp.put("/project/<workspace>/<project>/runs/<cuid>/profile")
def put_profile(workspace, project, cuid):
    swanlab().put_profile(user(), workspace, project, cuid, json_body())
    return reply({})


@bp.put("/project/<workspace>/<project>/runs/<cuid>/state")
def put_state(workspace, project, cuid):
    swanlab().set_state(user(), workspace, project, cuid, json_body())
    return reply({})
