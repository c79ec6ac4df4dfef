"""MLflow runs routes: lifecycle, logging and search."""

from __future__ import annotations

from operator import itemgetter

from flask import request

from swan_server.api.common import json_response, services
from swan_server.api.mlflow.routes import routes
from swan_server.api.mlflow.serializers import run_info_json, run_json
from swan_server.api.mlflow.wire import RequestData, tag_pairs
from swan_server.entities import DatasetInput, Metric
from swan_server.errors import invalid
from swan_server.store.sql.base import now_ms

MAX_LOG_BATCH_REQUEST_BYTES = 1_000_000
RUN_ID_ALIASES = ("run_uuid",)


def _run_id(req: RequestData) -> str:
    return req.str("run_id", required=True, aliases=RUN_ID_ALIASES)


def _metric_item(item) -> Metric:
    """One metric of a log-batch. The common shape (string key, numeric value, integer timestamp
    and step, nothing else) is read directly; anything else goes through the full typed parser,
    which gives MLflow's messages."""
    if type(item) is dict and len(item) <= 4:
        key, value, ts, step = item.get("key"), item.get("value"), item.get("timestamp"), item.get("step", 0)
        if type(key) is str and type(value) in (float, int) and type(ts) is int and type(step) is int:
            return Metric(key, value, ts, step)
    if not isinstance(item, dict):
        raise invalid(f"Invalid value {item!r} for parameter 'metrics' supplied")
    return _metric(RequestData(item, False))


_METRIC_FIELDS = itemgetter("key", "value", "timestamp", "step")


def _metric_columns(raw_metrics: list):
    """(keys, steps, timestamps, values) when every metric has exactly key, value, timestamp and
    step, of types str, float (or int), int and int: what MLflow's client sends. Type checks run
    over whole columns with builtins. None for anything else, which `_metric_item` parses point
    by point (optional fields, strings for numbers, model ids, errors)."""
    try:
        rows = list(map(_METRIC_FIELDS, raw_metrics))
    except (KeyError, TypeError):  # a field missing, or an item that is not an object
        return None
    if not rows or max(map(len, raw_metrics)) > 4:
        return None
    keys, values, timestamps, steps = zip(*rows)
    if set(map(type, keys)) != {str} or set(map(type, timestamps)) != {int} or set(map(type, steps)) != {int}:
        return None
    value_types = set(map(type, values))
    if value_types == {float}:
        return list(keys), list(steps), list(timestamps), list(values)
    if not value_types <= {float, int}:
        return None
    try:
        return list(keys), list(steps), list(timestamps), [float(x) for x in values]
    except OverflowError:
        return None


def _metric(req: RequestData) -> Metric:
    key = req.str("key", required=True)
    value = req.number("value", required=True)
    timestamp = req.int("timestamp")
    return Metric(key, value, now_ms() if timestamp is None else timestamp, req.int("step", default=0),
                  req.str("model_id"), req.str("dataset_name"), req.str("dataset_digest"))


def _model_metrics(run_id: str, metrics: list[Metric]) -> None:
    """MLflow 3: metrics logged with a model_id also update that logged model's metrics."""
    linked = [m for m in metrics if m.model_id]
    if linked:
        services().logged_models.record_metrics(run_id, linked)


@routes.post("/runs/create")
def create_run():
    req = RequestData.current()
    run = services().runs.create(
        experiment_id=req.str("experiment_id"),
        user_id=req.str("user_id"),
        start_time=req.int("start_time"),
        tags=dict(tag_pairs(req.obj_list("tags"))),
        run_name=req.str("run_name"),
    )
    return json_response({"run": run_json(run)})


@routes.get("/runs/get")
def get_run():
    run = services().runs.get(_run_id(RequestData.current()))
    return json_response({"run": run_json(run)})


@routes.post("/runs/update")
def update_run():
    req = RequestData.current()
    info = services().runs.update(
        _run_id(req), status=req.str("status"), end_time=req.int("end_time"), run_name=req.str("run_name")
    )
    return json_response({"run_info": run_info_json(info)})


@routes.post("/runs/delete")
def delete_run():
    services().runs.delete(_run_id(RequestData.current()))
    return json_response({})


@routes.post("/runs/restore")
def restore_run():
    services().runs.restore(_run_id(RequestData.current()))
    return json_response({})


@routes.post("/runs/log-metric")
def log_metric():
    req = RequestData.current()
    metric = _metric(req)
    services().runs.log_metric(_run_id(req), metric)
    _model_metrics(_run_id(req), [metric])
    return json_response({})


@routes.post("/runs/log-parameter")
def log_param():
    req = RequestData.current()
    services().runs.log_param(_run_id(req), req.str("key", required=True), req.str("value") or "")
    return json_response({})


@routes.post("/runs/set-tag")
def set_tag():
    req = RequestData.current()
    services().runs.set_tag(_run_id(req), req.str("key", required=True), req.str("value") or "")
    return json_response({})


@routes.post("/runs/delete-tag")
def delete_tag():
    req = RequestData.current()
    services().runs.delete_tag(_run_id(req), req.str("key", required=True))
    return json_response({})


@routes.post("/runs/log-batch")
def log_batch():
    # Content-Length first (no need to read a huge body), then the bytes really received: a
    # chunked request carries no Content-Length.
    size = request.content_length or 0
    if size <= MAX_LOG_BATCH_REQUEST_BYTES:
        size = len(request.get_data(cache=True))
    if size > MAX_LOG_BATCH_REQUEST_BYTES:
        raise invalid(
            f"Batched logging API requests must be at most {MAX_LOG_BATCH_REQUEST_BYTES} bytes, "
            f"got payload of size {size}."
        )
    req = RequestData.current()
    raw_metrics = req.data.get("metrics") or []
    if not isinstance(raw_metrics, list):
        raise invalid(f"Invalid value {raw_metrics!r} for parameter 'metrics' supplied")
    columns = _metric_columns(raw_metrics)
    metrics = None if columns is not None else [_metric_item(m) for m in raw_metrics]
    params, tags = tag_pairs(req.obj_list("params")), tag_pairs(req.obj_list("tags"))
    if columns is not None:
        services().runs.log_batch_columns(_run_id(req), *columns, params=params, tags=tags)
    else:
        services().runs.log_batch(_run_id(req), metrics=metrics, params=params, tags=tags)
        _model_metrics(_run_id(req), metrics)
    return json_response({})


@routes.post("/runs/log-inputs")
def log_inputs():
    req = RequestData.current()
    datasets = []
    for item in req.obj_list("datasets"):
        d = item.obj("dataset", required=True)
        datasets.append(
            DatasetInput(
                name=d.str("name", required=True),
                digest=d.str("digest", required=True),
                source_type=d.str("source_type", required=True),
                source=d.str("source", required=True),
                schema=d.str("schema"),
                profile=d.str("profile"),
                tags=dict(tag_pairs(item.obj_list("tags"))),
            )
        )
    models = [m.str("model_id", required=True) for m in req.obj_list("models")]
    services().runs.log_inputs(_run_id(req), datasets)
    if models:  # MLflow 3: logged models as run inputs
        services().logged_models.log_inputs(_run_id(req), models)
    return json_response({})


@routes.route("/runs/search", methods=("GET", "POST"))
def search_runs():
    req = RequestData.current()
    page = services().runs.search(
        experiment_ids=req.str_list("experiment_ids"),
        filter_string=req.str("filter"),
        view_type=req.str("run_view_type"),
        max_results=req.int("max_results", default=1000),
        order_by=req.str_list("order_by"),
        page_token=req.str("page_token"),
    )
    out = {}
    if page.items:
        out["runs"] = [run_json(r) for r in page.items]
    if page.token:
        out["next_page_token"] = page.token
    return json_response(out)
