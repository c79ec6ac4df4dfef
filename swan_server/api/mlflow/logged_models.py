"""MLflow 3 logged models, and LogOutputs (`runs/outputs`).

MLflow 3 clients search a run's logged-model outputs on every `list_artifacts` and
`download_artifacts`, and `log_model` creates, reads and finalizes a logged model."""

from __future__ import annotations

from swan_server.api.common import json_response, services
from swan_server.api.mlflow.artifacts import file_response
from swan_server.api.mlflow.routes import routes
from swan_server.api.mlflow.serializers import tags_json
from swan_server.api.mlflow.wire import RequestData, float_out, tag_pairs
from swan_server.artifacts.paths import join, safe_relative_path
from swan_server.entities_mlflow3 import MODEL_FAILED, MODEL_PENDING, MODEL_READY, LoggedModel
from swan_server.errors import invalid
from swan_server.services.artifacts import proxy_uri_to_path

# proto enum LoggedModelStatus: wire name / number ↔ stored name
_STATUS_WIRE = {
    MODEL_PENDING: "LOGGED_MODEL_PENDING",
    MODEL_READY: "LOGGED_MODEL_READY",
    MODEL_FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
}
_STATUS_IN = {
    "LOGGED_MODEL_PENDING": MODEL_PENDING, "LOGGED_MODEL_READY": MODEL_READY,
    "LOGGED_MODEL_UPLOAD_FAILED": MODEL_FAILED, 1: MODEL_PENDING, 2: MODEL_READY, 3: MODEL_FAILED,
}


def _prune(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None and v != []}


def logged_model_json(m: LoggedModel) -> dict:
    info = _prune(
        {
            "model_id": m.model_id,
            "experiment_id": m.experiment_id,
            "name": m.name,
            "creation_timestamp_ms": m.creation_timestamp,
            "last_updated_timestamp_ms": m.last_updated_timestamp,
            "artifact_uri": m.artifact_location,
            "status": _STATUS_WIRE.get(m.status, "LOGGED_MODEL_STATUS_UNSPECIFIED"),
            "model_type": m.model_type,
            "source_run_id": m.source_run_id,
            "status_message": m.status_message,
            "tags": tags_json(m.tags),
            "registrations": [{"name": n, "version": v} for n, v in m.registrations],
        }
    )
    metrics = [
        _prune(
            {
                "key": x.key, "value": float_out(x.value), "timestamp": x.timestamp, "step": x.step,
                "dataset_name": x.dataset_name, "dataset_digest": x.dataset_digest, "model_id": m.model_id,
                "run_id": x.run_id,
            }
        )
        for x in m.metrics
    ]
    return {"info": info, "data": _prune({"params": tags_json(m.params), "metrics": metrics})}


def _status(req: RequestData) -> str:
    raw = req._raw("status")
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if raw is None:
        raise invalid("Missing value for required parameter 'status'.")
    # A list or an object is not hashable: refused before the lookup, which would raise.
    if isinstance(raw, (bool, list, dict)) or raw not in _STATUS_IN:
        raise invalid(f"Invalid value {raw} for parameter 'status' supplied")
    return _STATUS_IN[raw]


@routes.post("/logged-models")
def create_logged_model():
    req = RequestData.current()
    model = services().logged_models.create(
        req.str("experiment_id", required=True),
        name=req.str("name"),
        model_type=req.str("model_type"),
        source_run_id=req.str("source_run_id"),
        params=tag_pairs(req.obj_list("params")),
        tags=tag_pairs(req.obj_list("tags")),
    )
    return json_response({"model": logged_model_json(model)})


@routes.get("/logged-models/<model_id>")
def get_logged_model(model_id):
    return json_response({"model": logged_model_json(services().logged_models.get(model_id))})


@routes.route("/logged-models/<model_id>", methods=("PATCH",))
def finalize_logged_model(model_id):
    model = services().logged_models.finalize(model_id, _status(RequestData.current()))
    return json_response({"model": logged_model_json(model)})


@routes.route("/logged-models/<model_id>", methods=("DELETE",))
def delete_logged_model(model_id):
    services().logged_models.delete(model_id)
    return json_response({})


@routes.route("/logged-models/<model_id>/tags", methods=("PATCH",))
def set_logged_model_tags(model_id):
    req = RequestData.current()
    model = services().logged_models.set_tags(model_id, tag_pairs(req.obj_list("tags")))
    return json_response({"model": logged_model_json(model)})


@routes.route("/logged-models/<model_id>/tags/<path:tag_key>", methods=("DELETE",))
def delete_logged_model_tag(model_id, tag_key):
    services().logged_models.delete_tag(model_id, tag_key)
    return json_response({})


@routes.post("/logged-models/<model_id>/params")
def log_logged_model_params(model_id):
    req = RequestData.current()
    services().logged_models.log_params(model_id, tag_pairs(req.obj_list("params")))
    return json_response({})


@routes.post("/logged-models/search")
def search_logged_models():
    req = RequestData.current()
    datasets = [(d.str("dataset_name"), d.str("dataset_digest")) for d in req.obj_list("datasets")]
    order_by = [
        (o.str("field_name"), o.bool("ascending", default=True), o.str("dataset_name"), o.str("dataset_digest"))
        for o in req.obj_list("order_by")
    ]
    page = services().logged_models.search(
        req.str_list("experiment_ids"),
        filter_string=req.str("filter"),
        datasets=datasets,
        max_results=req.int("max_results"),
        order_by=order_by,
        page_token=req.str("page_token"),
    )
    out = {}
    if page.items:
        out["models"] = [logged_model_json(m) for m in page.items]
    if page.token:
        out["next_page_token"] = page.token
    return json_response(out)


@routes.get("/logged-models/<model_id>/artifacts/directories")
def list_logged_model_artifacts(model_id):
    req = RequestData.current()
    root, files = services().logged_models.list_artifacts(model_id, req.str("artifact_directory_path"))
    out = {"root_uri": root}
    if files:
        out["files"] = [
            {"path": f.path, "is_dir": f.is_dir, **({"file_size": f.file_size} if not f.is_dir and f.file_size is not None else {})}
            for f in files
        ]
    return json_response(out)


@routes.route("/logged-models/<model_id>/artifacts/files", methods=("GET",), prefixes=("/ajax-api/2.0/mlflow",))
def get_logged_model_artifact(model_id):
    req = RequestData.current()
    model = services().logged_models.get(model_id)
    rel = safe_relative_path(req.str("artifact_file_path", required=True), allow_empty=False)
    chunks, size, _ = services().artifacts.get(join(proxy_uri_to_path(model.artifact_location), rel))
    return file_response(chunks, size, rel)


@routes.post("/runs/outputs")
def log_outputs():
    req = RequestData.current()
    outputs = [(m.str("model_id", required=True), m.int("step", default=0)) for m in req.obj_list("models")]
    services().logged_models.log_outputs(req.str("run_id", required=True), outputs)
    return json_response({})
