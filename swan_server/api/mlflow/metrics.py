"""MLflow metric-history routes."""

from __future__ import annotations

from swan_server.api.common import json_response, services
from swan_server.api.mlflow.routes import routes
from swan_server.api.mlflow.serializers import metric_json
from swan_server.api.mlflow.wire import RequestData, float_out


@routes.get("/metrics/get-history")
def get_metric_history():
    req = RequestData.current()
    page = services().runs.metric_history(
        req.str("run_id", required=True, aliases=("run_uuid",)),
        req.str("metric_key", required=True),
        max_results=req.int("max_results"),
        page_token=req.str("page_token"),
    )
    out = {}
    if page.items:
        out["metrics"] = [metric_json(m) for m in page.items]
    if page.token:
        out["next_page_token"] = page.token
    return json_response(out)


@routes.get("/metrics/get-history-bulk-interval")
def get_metric_history_bulk_interval():
    req = RequestData.current()
    points = services().runs.metric_history_bulk_interval(
        req.str_list("run_ids"),
        req.str("metric_key", required=True),
        start_step=req.int("start_step"),
        end_step=req.int("end_step"),
        max_results=req.int("max_results"),
    )
    metrics = [
        {"key": m.key, "value": float_out(m.value), "timestamp": m.timestamp, "step": m.step, "run_id": run_id}
        for run_id, m in points
    ]
    return json_response({"metrics": metrics} if metrics else {})
