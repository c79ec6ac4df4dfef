"""JSON shapes of `/api/v1` resources (projects, runs), with their OpenAPI schemas."""

from __future__ import annotations

from swan_server.api.v1.wire import float_out
from swan_server.entities import Experiment, Run

_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_NUMBER_OR_SPECIAL = {"oneOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]}

SPEC = {
    "components": {
        "schemas": {
            "Project": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "description": "The MLflow experiment id"},
                    "name": {"type": "string"},
                    "lifecycle_stage": {"type": "string", "enum": ["active", "deleted"]},
                    "artifact_location": {"type": "string"},
                    "creation_time": {"type": "integer", "format": "int64"},
                    "last_update_time": {"type": "integer", "format": "int64"},
                    "tags": _STR_MAP,
                },
            },
            "LatestMetric": {
                "type": "object",
                "properties": {"step": {"type": "integer", "format": "int64"},
                               "timestamp": {"type": "integer", "format": "int64"},
                               "value": _NUMBER_OR_SPECIAL},
            },
            "Run": {
                "type": "object",
                "properties": {
                    "run_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                    "project_id": {"type": "string"},
                    "name": {"type": "string", "nullable": True},
                    "user": {"type": "string", "nullable": True},
                    "status": {"type": "string", "enum": ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]},
                    "start_time": {"type": "integer", "format": "int64", "nullable": True},
                    "end_time": {"type": "integer", "format": "int64", "nullable": True},
                    "lifecycle_stage": {"type": "string"},
                    "artifact_uri": {"type": "string"},
                    "params": _STR_MAP,
                    "tags": _STR_MAP,
                    "metrics": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/LatestMetric"},
                                "description": "The latest point of each metric key"},
                },
            },
        }
    }
}


def project_json(exp: Experiment) -> dict:
    return {
        "id": exp.experiment_id,
        "name": exp.name,
        "lifecycle_stage": exp.lifecycle_stage,
        "artifact_location": exp.artifact_location,
        "creation_time": exp.creation_time,
        "last_update_time": exp.last_update_time,
        "tags": exp.tags,
    }


def run_json(run: Run) -> dict:
    info = run.info
    return {
        "run_id": info.run_id,
        "project_id": info.experiment_id,
        "name": info.run_name,
        "user": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage,
        "artifact_uri": info.artifact_uri,
        "params": run.params,
        "tags": run.tags,
        "metrics": {m.key: {"step": m.step, "timestamp": m.timestamp, "value": float_out(m.value)} for m in run.metrics},
    }
