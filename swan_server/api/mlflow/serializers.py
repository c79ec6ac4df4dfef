"""Swan records → MLflow's JSON shapes (proto field names; unset fields and empty lists omitted)."""

from __future__ import annotations

from swan_server.api.mlflow.wire import float_out
from swan_server.entities import DatasetInput, Experiment, Metric, Run, RunInfo


def _prune(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None and v != []}


def tags_json(tags: dict[str, str]) -> list[dict]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def experiment_json(e: Experiment) -> dict:
    return _prune(
        {
            "experiment_id": e.experiment_id,
            "name": e.name,
            "artifact_location": e.artifact_location,
            "lifecycle_stage": e.lifecycle_stage,
            "last_update_time": e.last_update_time,
            "creation_time": e.creation_time,
            "tags": tags_json(e.tags),
        }
    )


def run_info_json(i: RunInfo) -> dict:
    # Written out rather than pruned: a search page serializes hundreds of these.
    out = {"run_id": i.run_id, "run_uuid": i.run_id}
    if i.run_name is not None:
        out["run_name"] = i.run_name
    out["experiment_id"] = i.experiment_id
    if i.user_id is not None:
        out["user_id"] = i.user_id
    out["status"] = i.status
    if i.start_time is not None:
        out["start_time"] = i.start_time
    if i.end_time is not None:
        out["end_time"] = i.end_time
    out["artifact_uri"] = i.artifact_uri
    out["lifecycle_stage"] = i.lifecycle_stage
    return out


def metric_json(m: Metric) -> dict:
    return {"key": m.key, "value": float_out(m.value), "timestamp": m.timestamp, "step": m.step}


def dataset_input_json(d: DatasetInput) -> dict:
    return _prune(
        {
            "tags": tags_json(d.tags),
            "dataset": _prune(
                {
                    "name": d.name,
                    "digest": d.digest,
                    "source_type": d.source_type,
                    "source": d.source,
                    "schema": d.schema,
                    "profile": d.profile,
                }
            ),
        }
    )


def run_json(r: Run) -> dict:
    data = {}
    if r.metrics:
        data["metrics"] = [metric_json(m) for m in r.metrics]
    if r.params:
        data["params"] = tags_json(r.params)
    if r.tags:
        data["tags"] = tags_json(r.tags)
    out = {"info": run_info_json(r.info), "data": data}
    inputs = [dataset_input_json(d) for d in r.inputs]
    out["inputs"] = {"dataset_inputs": inputs} if inputs else {}
    if r.model_inputs:
        out["inputs"]["model_inputs"] = [{"model_id": m} for m in r.model_inputs]
    if r.outputs:
        out["outputs"] = {"model_outputs": [{"model_id": o.model_id, "step": o.step} for o in r.outputs]}
    return out
