"""SwanLab's web links: the SDK prints `<web host>/@<workspace>/<project>` and
`.../@<workspace>/<project>/runs/<slug>` ("View run at", the web host being the API host unless
SWANLAB_WEB_HOST says otherwise). They redirect to the dashboard's project and run pages; an
unknown project or run is an ordinary 404 (the dashboard's not-found page in a browser)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect

from swan_server.api.swanlab.common import swanlab

web = Blueprint("swanlab_web", __name__)


@web.get("/@<workspace>/<project>", strict_slashes=False)
def project_page(workspace, project):
    return _to(swanlab().web_path(workspace, project))


@web.get("/@<workspace>/<project>/runs/<cuid>", strict_slashes=False)
def run_page(workspace, project, cuid):
    return _to(swanlab().web_path(workspace, project, cuid))


def _to(path):
    if path is None:
        abort(404)
    return redirect(path, code=302)
