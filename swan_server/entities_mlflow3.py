"""Plain records of the MLflow 3 surface: model registry, logged models, traces."""

from __future__ import annotations

from dataclasses import dataclass, field

# -- model registry -----------------------------------------------------------------------------
STAGE_NONE = "None"
STAGES = ("None", "Staging", "Production", "Archived")
VERSION_READY = "READY"


@dataclass
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str
    source: str
    status: str
    storage_location: str
    description: str | None = None
    user_id: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    status_message: str | None = None
    model_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    user_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)  # alias → version
    latest_versions: list[ModelVersion] = field(default_factory=list)


# -- logged models -----------------------------------------------------------------------------
# Stored as MLflow's entity names; the wire uses the proto enum names (LOGGED_MODEL_READY, ...).
MODEL_PENDING = "PENDING"
MODEL_READY = "READY"
MODEL_FAILED = "FAILED"
MODEL_STATUSES = (MODEL_PENDING, MODEL_READY, MODEL_FAILED)


@dataclass
class ModelMetric:
    key: str
    value: float
    timestamp: int
    step: int
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    status: str
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[ModelMetric] = field(default_factory=list)
    registrations: list[tuple[str, str]] = field(default_factory=list)  # (name, version)


@dataclass
class ModelOutput:
    model_id: str
    step: int = 0


# -- traces ------------------------------------------------------------------------------------
TRACE_STATES = ("STATE_UNSPECIFIED", "OK", "ERROR", "IN_PROGRESS")


@dataclass
class TraceInfo:
    trace_id: str
    experiment_id: str
    request_time: int  # ms since the epoch
    state: str
    execution_duration: int | None = None  # ms
    client_request_id: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
