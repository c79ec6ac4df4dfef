"""MLflow 3 tracing: the v3 trace APIs, their v2 aliases, and OTLP span export (`/v1/traces`).

Trace infos travel as MLflow's `TraceInfoV3` in proto3 JSON: `request_time` is an RFC 3339
timestamp, `execution_duration` a duration such as "0.250s", and tags and metadata are maps."""

from __future__ import annotations

from flask import Response, request
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from swan_server.api.common import json_response, services
from swan_server.api.mlflow.otlp import decompress, parse_export_request, span_to_otel_json
from swan_server.api.mlflow.routes import routes
from swan_server.api.mlflow.wire import RequestData
from swan_server.entities_mlflow3 import TRACE_STATES, TraceInfo
from swan_server.errors import invalid
from swan_server.store.sql.base import now_ms

V3 = ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow")
V2 = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
EXPERIMENT_HEADER = "x-mlflow-experiment-id"
RUN_HEADER = "x-mlflow-run-id"


# -- wire conversions -------------------------------------------------------------------------------------
def _timestamp_in(value) -> int:
    if value is None or value == "":
        return now_ms()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not -(2**63) <= value < 2**63:
            raise invalid(f"Invalid value {value} for parameter 'request_time' supplied")
        return int(value)
    ts = Timestamp()
    try:
        ts.FromJsonString(str(value))
    except ValueError:
        raise invalid(f"Invalid value {value} for parameter 'request_time' supplied") from None
    return ts.ToMilliseconds()


def _duration_in(value) -> int | None:
    if value is None or value == "":
        return None
    d = Duration()
    try:
        d.FromJsonString(str(value))
    except ValueError:
        raise invalid(f"Invalid value {value} for parameter 'execution_duration' supplied") from None
    return d.ToMilliseconds()


def _str_map(req: RequestData, name: str) -> dict[str, str]:
    raw = req._raw(name)
    if raw is None:
        return {}
    if isinstance(raw, list):  # [{key, value}] from older senders
        return {str(i.get("key")): "" if i.get("value") is None else str(i.get("value")) for i in raw if isinstance(i, dict)}
    if not isinstance(raw, dict):
        raise invalid(f"Invalid value for parameter '{name}' supplied: a map is required")
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def trace_info_in(req: RequestData) -> TraceInfo:
    location = req.obj("trace_location") or RequestData({}, False)
    experiment = location.obj("mlflow_experiment") or RequestData({}, False)
    state = req._raw("state") or "STATE_UNSPECIFIED"
    if isinstance(state, int) and not isinstance(state, bool) and 0 <= state < len(TRACE_STATES):
        state = TRACE_STATES[state]
    return TraceInfo(
        trace_id=req.str("trace_id", required=True),
        experiment_id=experiment.str("experiment_id"),
        request_time=_timestamp_in(req._raw("request_time")),
        state=state,
        execution_duration=_duration_in(req._raw("execution_duration")),
        client_request_id=req.str("client_request_id"),
        request_preview=req.str("request_preview"),
        response_preview=req.str("response_preview"),
        tags=_str_map(req, "tags"),
        metadata=_str_map(req, "trace_metadata"),
    )


def trace_info_json(info: TraceInfo) -> dict:
    ts = Timestamp()
    ts.FromMilliseconds(info.request_time)
    out = {
        "trace_id": info.trace_id,
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": info.experiment_id}},
        "request_time": ts.ToJsonString(),
        "state": info.state,
        "trace_metadata": dict(info.metadata),
        "tags": dict(info.tags),
    }
    if info.execution_duration is not None:
        d = Duration()
        d.FromMilliseconds(info.execution_duration)
        out["execution_duration"] = d.ToJsonString()
    for key in ("client_request_id", "request_preview", "response_preview"):
        if getattr(info, key) is not None:
            out[key] = getattr(info, key)
    return out


def trace_json(info: TraceInfo, spans: list[dict] | None = None) -> dict:
    out = {"trace_info": trace_info_json(info)}
    if spans:
        out["spans"] = [s for s in (span_to_otel_json(x) for x in spans) if s is not None]
    return out


def _experiment_ids(req: RequestData) -> list[str]:
    ids = list(req.str_list("experiment_ids"))
    for loc in req.obj_list("locations"):
        exp = loc.obj("mlflow_experiment")
        if exp is None:
            raise invalid("Only MLflow experiment trace locations are supported")
        ids.append(exp.str("experiment_id", required=True))
    return ids


# -- v3 trace APIs ----------------------------------------------------------------------------------------------
@routes.route("/traces", methods=("POST",), prefixes=V3)
def start_trace_v3():
    req = RequestData.current()
    trace = req.obj("trace", required=True)
    info = services().traces.start_trace(trace_info_in(trace.obj("trace_info", required=True)))
    return json_response({"trace": trace_json(info)})


@routes.route("/traces/get", methods=("GET",), prefixes=V3)
def get_trace():
    info, spans = services().traces.get(RequestData.current().str("trace_id", required=True))
    return json_response({"trace": trace_json(info, spans)})


@routes.route("/traces/batchGet", methods=("GET",), prefixes=V3)
def batch_get_traces():
    traces = services().traces.batch_get(RequestData.current().str_list("trace_ids"))
    return json_response({"traces": [trace_json(i, s) for i, s in traces]} if traces else {})


@routes.route("/traces/batchGetInfos", methods=("POST", "GET"), prefixes=V3)
def batch_get_trace_infos():
    infos = services().traces.batch_infos(RequestData.current().str_list("trace_ids"))
    return json_response({"trace_infos": [trace_info_json(i) for i in infos]} if infos else {})


@routes.route("/traces/search", methods=("POST",), prefixes=V3)
def search_traces_v3():
    req = RequestData.current()
    page = services().traces.search(
        _experiment_ids(req), req.str("filter"), req.int("max_results"), req.str_list("order_by"), req.str("page_token")
    )
    out = {}
    if page.items:
        out["traces"] = [trace_info_json(i) for i in page.items]
    if page.token:
        out["next_page_token"] = page.token
    return json_response(out)


@routes.route("/traces/<trace_id>", methods=("GET",), prefixes=V3)
def get_trace_info_v3(trace_id):
    return json_response({"trace": trace_json(services().traces.get_info(trace_id))})


@routes.route("/traces/delete-traces", methods=("POST",), prefixes=V3 + V2)
def delete_traces():
    req = RequestData.current()
    deleted = services().traces.delete(
        req.str("experiment_id", required=True),
        max_timestamp_millis=req.int("max_timestamp_millis"),
        max_traces=req.int("max_traces"),
        trace_ids=req.str_list("request_ids") or req.str_list("trace_ids"),
    )
    return json_response({"traces_deleted": deleted})


@routes.route("/traces/<trace_id>/tags", methods=("PATCH",), prefixes=V3 + V2)
def set_trace_tag(trace_id):
    req = RequestData.current()
    services().traces.set_tag(trace_id, req.str("key", required=True), req.str("value") or "")
    return json_response({})


@routes.route("/traces/<trace_id>/tags", methods=("DELETE",), prefixes=V3 + V2)
def delete_trace_tag(trace_id):
    req = RequestData.current()
    services().traces.delete_tag(trace_id, req.str("key", required=True))
    return json_response({})


@routes.route("/traces/link-to-run", methods=("POST",), prefixes=V2)
def link_traces_to_run():
    req = RequestData.current()
    services().traces.link_to_run(req.str_list("trace_ids"), req.str("run_id", required=True))
    return json_response({})


# -- OTLP/HTTP span export ----------------------------------------------------------------------------------------
@routes.route("/v1/traces", methods=("POST",), prefixes=("",))
def otlp_export_traces():
    body = decompress(request.get_data(cache=False), request.headers.get("Content-Encoding"))
    spans = parse_export_request(body, request.headers.get("Content-Type"))
    svc = services().traces
    svc.log_spans(request.headers.get(EXPERIMENT_HEADER), spans)
    run_id = request.headers.get(RUN_HEADER)
    if run_id:
        roots = sorted({s["_mlflow_trace_id"] for s in spans if not s["parent_span_id"]})
        if roots:
            svc.link_to_run(roots, run_id)
    if (request.headers.get("Content-Type") or "").startswith("application/json"):
        return json_response({})
    return Response(ExportTraceServiceResponse().SerializeToString(), mimetype="application/x-protobuf")
