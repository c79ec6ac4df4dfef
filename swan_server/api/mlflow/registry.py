"""MLflow model registry routes: registered models, versions, tags, aliases (and the prompt
registry, which MLflow keeps in the same tables)."""

from __future__ import annotations

from swan_server.api.common import json_response, services
from swan_server.api.mlflow.routes import routes
from swan_server.api.mlflow.serializers import tags_json
from swan_server.api.mlflow.wire import RequestData, tag_pairs
from swan_server.entities_mlflow3 import ModelVersion, RegisteredModel


def _prune(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None and v != []}


def model_version_json(mv: ModelVersion) -> dict:
    return _prune(
        {
            "name": mv.name,
            "version": str(mv.version),
            "creation_timestamp": mv.creation_timestamp,
            "last_updated_timestamp": mv.last_updated_timestamp,
            "user_id": mv.user_id,
            "current_stage": mv.current_stage,
            "description": mv.description,
            "source": mv.source,
            "run_id": mv.run_id,
            "status": mv.status,
            "status_message": mv.status_message,
            "tags": tags_json(mv.tags),
            "run_link": mv.run_link,
            "aliases": list(mv.aliases),
            "model_id": mv.model_id,
        }
    )


def registered_model_json(rm: RegisteredModel) -> dict:
    return _prune(
        {
            "name": rm.name,
            "creation_timestamp": rm.creation_timestamp,
            "last_updated_timestamp": rm.last_updated_timestamp,
            "user_id": rm.user_id,
            "description": rm.description,
            "latest_versions": [model_version_json(v) for v in rm.latest_versions],
            "tags": tags_json(rm.tags),
            "aliases": [{"alias": a, "version": str(v)} for a, v in rm.aliases.items()],
        }
    )


def _name(req: RequestData) -> str:
    return req.str("name", required=True)


def _version(req: RequestData) -> str:
    # proto3 JSON: the version is a string, but a number is accepted too.
    raw = req._raw("version")
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return req.str("version", required=True)


def _page(items_key: str, page, to_json) -> dict:
    out = {}
    if page.items:
        out[items_key] = [to_json(x) for x in page.items]
    if page.token:
        out["next_page_token"] = page.token
    return out


# -- registered models ------------------------------------------------------------------------------
@routes.post("/registered-models/create")
def create_registered_model():
    req = RequestData.current()
    rm = services().registry.create_model(_name(req), dict(tag_pairs(req.obj_list("tags"))), req.str("description"))
    return json_response({"registered_model": registered_model_json(rm)})


@routes.get("/registered-models/get")
def get_registered_model():
    rm = services().registry.get_model(_name(RequestData.current()))
    return json_response({"registered_model": registered_model_json(rm)})


@routes.post("/registered-models/rename")
def rename_registered_model():
    req = RequestData.current()
    rm = services().registry.rename_model(_name(req), req.str("new_name", required=True))
    return json_response({"registered_model": registered_model_json(rm)})


@routes.route("/registered-models/update", methods=("PATCH",))
def update_registered_model():
    req = RequestData.current()
    rm = services().registry.update_model(_name(req), req.str("description"))
    return json_response({"registered_model": registered_model_json(rm)})


@routes.route("/registered-models/delete", methods=("DELETE",))
def delete_registered_model():
    services().registry.delete_model(_name(RequestData.current()))
    return json_response({})


@routes.route("/registered-models/search", methods=("GET", "POST"))
def search_registered_models():
    req = RequestData.current()
    page = services().registry.search_models(
        req.str("filter"), req.int("max_results"), req.str_list("order_by"), req.str("page_token")
    )
    return json_response(_page("registered_models", page, registered_model_json))


@routes.route("/registered-models/get-latest-versions", methods=("GET", "POST"))
def get_latest_versions():
    req = RequestData.current()
    versions = services().registry.latest_versions(_name(req), req.str_list("stages"))
    return json_response({"model_versions": [model_version_json(v) for v in versions]} if versions else {})


@routes.post("/registered-models/set-tag")
def set_registered_model_tag():
    req = RequestData.current()
    services().registry.set_model_tag(_name(req), req.str("key", required=True), req.str("value") or "")
    return json_response({})


@routes.route("/registered-models/delete-tag", methods=("DELETE",))
def delete_registered_model_tag():
    req = RequestData.current()
    services().registry.delete_model_tag(_name(req), req.str("key", required=True))
    return json_response({})


@routes.post("/registered-models/alias")
def set_registered_model_alias():
    req = RequestData.current()
    services().registry.set_alias(_name(req), req.str("alias", required=True), _version(req))
    return json_response({})


@routes.route("/registered-models/alias", methods=("DELETE",))
def delete_registered_model_alias():
    req = RequestData.current()
    services().registry.delete_alias(_name(req), req.str("alias", required=True))
    return json_response({})


@routes.get("/registered-models/alias")
def get_model_version_by_alias():
    req = RequestData.current()
    mv = services().registry.version_by_alias(_name(req), req.str("alias", required=True))
    return json_response({"model_version": model_version_json(mv)})


# -- model versions -------------------------------------------------------------------------------------
@routes.post("/model-versions/create")
def create_model_version():
    req = RequestData.current()
    mv = services().registry.create_version(
        _name(req),
        req.str("source", required=True),
        run_id=req.str("run_id"),
        tags=dict(tag_pairs(req.obj_list("tags"))),
        run_link=req.str("run_link"),
        description=req.str("description"),
        model_id=req.str("model_id"),
    )
    return json_response({"model_version": model_version_json(mv)})


@routes.get("/model-versions/get")
def get_model_version():
    req = RequestData.current()
    mv = services().registry.get_version(_name(req), _version(req))
    return json_response({"model_version": model_version_json(mv)})


@routes.route("/model-versions/update", methods=("PATCH",))
def update_model_version():
    req = RequestData.current()
    mv = services().registry.update_version(_name(req), _version(req), req.str("description"))
    return json_response({"model_version": model_version_json(mv)})


@routes.route("/model-versions/delete", methods=("DELETE",))
def delete_model_version():
    req = RequestData.current()
    services().registry.delete_version(_name(req), _version(req))
    return json_response({})


@routes.post("/model-versions/transition-stage")
def transition_model_version_stage():
    req = RequestData.current()
    mv = services().registry.transition_stage(
        _name(req), _version(req), req.str("stage", required=True), req.bool("archive_existing_versions")
    )
    return json_response({"model_version": model_version_json(mv)})


@routes.route("/model-versions/search", methods=("GET", "POST"))
def search_model_versions():
    req = RequestData.current()
    page = services().registry.search_versions(
        req.str("filter"), req.int("max_results"), req.str_list("order_by"), req.str("page_token")
    )
    return json_response(_page("model_versions", page, model_version_json))


@routes.get("/model-versions/get-download-uri")
def get_model_version_download_uri():
    req = RequestData.current()
    return json_response({"artifact_uri": services().registry.download_uri(_name(req), _version(req))})


@routes.post("/model-versions/set-tag")
def set_model_version_tag():
    req = RequestData.current()
    services().registry.set_version_tag(_name(req), _version(req), req.str("key", required=True), req.str("value") or "")
    return json_response({})


@routes.route("/model-versions/delete-tag", methods=("DELETE",))
def delete_model_version_tag():
    req = RequestData.current()
    services().registry.delete_version_tag(_name(req), _version(req), req.str("key", required=True))
    return json_response({})
