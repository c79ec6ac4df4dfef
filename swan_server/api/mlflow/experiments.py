"""MLflow experiments routes."""

from __future__ import annotations

from swan_server.api.common import json_response, services
from swan_server.api.mlflow.routes import routes
from swan_server.api.mlflow.serializers import experiment_json
from swan_server.api.mlflow.wire import RequestData, tag_pairs


@routes.post("/experiments/create")
def create_experiment():
    req = RequestData.current()
    exp_id = services().experiments.create(
        req.str("name", required=True),
        req.str("artifact_location"),
        dict(tag_pairs(req.obj_list("tags"))),
    )
    return json_response({"experiment_id": exp_id})


@routes.get("/experiments/get")
def get_experiment():
    req = RequestData.current()
    exp = services().experiments.get(req.str("experiment_id", required=True))
    return json_response({"experiment": experiment_json(exp)})


@routes.get("/experiments/get-by-name")
def get_experiment_by_name():
    req = RequestData.current()
    exp = services().experiments.get_by_name(req.str("experiment_name", required=True))
    return json_response({"experiment": experiment_json(exp)})


# proto3 JSON accepts an enum by name or by number.
_VIEW_TYPE_NUMBERS = {1: "ACTIVE_ONLY", 2: "DELETED_ONLY", 3: "ALL"}


def _view_type(req: RequestData) -> str | None:
    raw = req._raw("view_type")
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and raw in _VIEW_TYPE_NUMBERS:
        return _VIEW_TYPE_NUMBERS[raw]
    return req.str("view_type")


@routes.route("/experiments/search", methods=("GET", "POST"))
def search_experiments():
    req = RequestData.current()
    order_by = req.str_list("order_by")
    page = services().experiments.search(
        view_type=_view_type(req),
        max_results=req.int("max_results", default=1000),
        filter_string=req.str("filter"),
        order_by=order_by,
        page_token=req.str("page_token"),
    )
    out = {}
    if page.items:
        out["experiments"] = [experiment_json(e) for e in page.items]
    if page.token:
        out["next_page_token"] = page.token
    return json_response(out)


@routes.post("/experiments/update")
def update_experiment():
    req = RequestData.current()
    exp_id = req.str("experiment_id", required=True)
    new_name = req.str("new_name")
    if new_name is not None:
        services().experiments.rename(exp_id, new_name)
    else:
        services().experiments.get(exp_id)
    return json_response({})


@routes.post("/experiments/delete")
def delete_experiment():
    services().experiments.delete(RequestData.current().str("experiment_id", required=True))
    return json_response({})


@routes.post("/experiments/restore")
def restore_experiment():
    services().experiments.restore(RequestData.current().str("experiment_id", required=True))
    return json_response({})


@routes.post("/experiments/set-experiment-tag")
def set_experiment_tag():
    req = RequestData.current()
    services().experiments.set_tag(
        req.str("experiment_id", required=True), req.str("key", required=True), req.str("value") or ""
    )
    return json_response({})


@routes.post("/experiments/delete-experiment-tag")
def delete_experiment_tag():
    req = RequestData.current()
    services().experiments.delete_tag(req.str("experiment_id", required=True), req.str("key", required=True))
    return json_response({})
