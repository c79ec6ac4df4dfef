"""Plain records passed between the store, the services and the faces."""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIVE = "active"
DELETED = "deleted"

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
TERMINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")


@dataclass
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)
    workspace: str = "admin"


@dataclass(slots=True)  # a search page builds hundreds: slots make that cheaper
class Metric:
    key: str
    value: float
    timestamp: int
    step: int = 0
    # MLflow 3: a metric may be logged against a logged model (and an evaluation dataset).
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str | None
    user_id: str | None
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str


@dataclass(slots=True)
class DatasetInput:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Run:
    info: RunInfo
    metrics: list[Metric] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: list[DatasetInput] = field(default_factory=list)
    outputs: list = field(default_factory=list)  # entities_mlflow3.ModelOutput (logged models)
    model_inputs: list[str] = field(default_factory=list)  # ids of logged models the run consumed


@dataclass
class PagedList:
    items: list
    token: str | None = None


ROLES = ("admin", "member", "viewer")


@dataclass
class User:
    id: int
    name: str
    role: str
    disabled: bool
    workspace_id: int | None
    display_name: str | None = None
    created_time: int = 0
