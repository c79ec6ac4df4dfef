"""Routes of SwanLab's query client `swanlab.Api()` (protocol §2.11) for users, workspaces,
projects and experiments. The SDK builds some paths from a project's `path` field, which is
`/<workspace>/<project>` (as SwanLab's own server answers), so those routes also accept the
doubled slash that gives (`/project//<workspace>/<project>/...`)."""

from __future__ import annotations

from flask import request

from swan_server.api.swanlab.common import bp, json_body, reply, swanlab, user
from swan_server.errors import invalid


def int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid(f"Invalid {name} {raw!r}: an integer is required") from None


def project_route(rule: str, **options):
    """Register `/project/...` and its doubled-slash twin `/project//...`."""
    def deco(view):
        bp.route(rule, **options)(view)
        bp.route(rule.replace("/project/", "/project//", 1), endpoint=view.__name__ + "_slash", **options)(view)
        return view
    return deco


@bp.get("/user/profile")
def user_profile():
    return reply(swanlab().reads.user_profile(user()))


@bp.get("/group/<name>")
def workspace(name):
    return reply(swanlab().reads.workspace(user(), name))


@bp.get("/user/<username>/groups")
def workspaces(username):
    return reply(swanlab().reads.workspaces(user(), username))


@bp.get("/project/<workspace>")
def list_projects(workspace):
    return reply(swanlab().reads.list_projects(user(), workspace, int_arg("page", 1), int_arg("size", 20),
                                               request.args.get("search"), request.args.get("sort")))


@project_route("/project/<workspace>/<project>/runs", methods=["GET"])
def list_runs(workspace, project):
    return reply(swanlab().reads.list_runs(user(), workspace, project, int_arg("page", 1), int_arg("size", 20)))


@project_route("/project/<workspace>/<project>/runs/shows", methods=["POST"])
def show_runs(workspace, project):
    return reply(swanlab().reads.show_runs(user(), workspace, project, json_body()))


@bp.get("/self_hosted/info")
def self_hosted_info():
    return reply(swanlab().reads.self_hosted_info(user()))


@bp.get("/self_hosted/users")
def self_hosted_users():
    return reply(swanlab().reads.self_hosted_users(user(), int_arg("page", 1), int_arg("size", 20)))
