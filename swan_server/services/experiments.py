"""Experiment (project) rules, shared by every face."""

from __future__ import annotations

from urllib.parse import urlsplit

from swan_server.artifacts.paths import safe_relative_path
from swan_server.entities import Experiment, PagedList
from swan_server.errors import invalid, not_found
from swan_server.services.access import AccessPolicy
from swan_server.services import validation as v
from swan_server.store.abstract import VIEW_ACTIVE, VIEW_TYPES, TrackingStore
MAX_EXPERIMENTS_PER_PAGE = 50_000


def check_artifact_location(location: str | None) -> str | None:
    """Experiments may only place artifacts under the server's own destination: a client must
    not point the server at `file:///etc` or a foreign bucket."""
    if not location:
        return None
    if not isinstance(location, str):
        raise invalid(f"Invalid value {location!r} for parameter 'artifact_location' supplied")
    prefix = "mlflow-artifacts:"
    if not location.startswith(prefix):
        raise invalid(
            f"artifact_location '{location}' is not allowed: artifacts are stored by the server, "
            "so only 'mlflow-artifacts:/<path>' locations (or none) are accepted"
        )
    parts = urlsplit(location)
    if parts.netloc:
        # `mlflow-artifacts://host/...` would send clients to another server.
        raise invalid(f"artifact_location '{location}' must not name a host")
    if parts.query or parts.fragment or "?" in location or "#" in location:
        raise invalid(f"artifact_location '{location}' must be a plain path")
    clean = safe_relative_path(parts.path.lstrip("/"), allow_empty=False)
    if clean.split("/", 1)[0].isdigit():
        # `mlflow-artifacts:/<number>` is where the project with that id keeps its artifacts.
        raise invalid(f"artifact_location '{location}' is reserved: locations starting with a number belong "
                      "to the projects of that id")
    return f"{prefix}/{clean}"


def _known_id(experiment_id):
    """Ids are 64-bit integers in SQL: a larger one names no experiment (and must not reach the
    database, where it would overflow into a 500)."""
    try:
        value = int(str(experiment_id).strip())
    except ValueError:
        return experiment_id
    if not -(2**63) <= value < 2**63:
        raise not_found(f"No Experiment with id={experiment_id} exists")
    return experiment_id


class ExperimentService:
    def __init__(self, store: TrackingStore):
        self.store = store
        self.access = AccessPolicy(store)

    def create(self, name, artifact_location=None, tags=None) -> str:
        v.validate_experiment_name(name)
        tag_map = dict(v.validate_experiment_tag(k, val) for k, val in (tags or {}).items())
        location = check_artifact_location(artifact_location)
        workspace_id = self.access.workspace_for_new_project(name)
        if location is not None:
            # One project per artifact folder: a location inside (or around) another project's
            # would let its runs' files mix with that project's.
            other = self.store.artifact_location_overlaps(location)
            if other is not None:
                raise invalid(f"artifact_location '{artifact_location}' overlaps the artifact location of "
                              "another experiment")
        return self.store.create_experiment(name, location, tag_map, workspace_id=workspace_id)

    def get(self, experiment_id) -> Experiment:
        exp = self.store.get_experiment(_known_id(experiment_id))
        self.access.project(exp.experiment_id)
        return exp

    def get_by_name(self, name) -> Experiment:
        if not isinstance(name, str) or not name:
            raise invalid("Missing value for required parameter 'experiment_name'")
        exp = self.store.get_experiment_by_name(name)
        if exp is None:
            raise not_found(f"Could not find experiment with name '{name}'")
        self.access.project(exp.experiment_id)
        return exp

    def search(self, view_type=VIEW_ACTIVE, max_results=1000, filter_string=None, order_by=None,
               page_token=None) -> PagedList:
        view_type = view_type or VIEW_ACTIVE
        if view_type not in VIEW_TYPES:
            raise invalid(f"Invalid value {view_type!r} for parameter 'view_type' supplied")
        if max_results is None:
            max_results = 1000
        if not 1 <= max_results <= MAX_EXPERIMENTS_PER_PAGE:
            raise invalid(
                f"Invalid value {max_results} for parameter 'max_results' supplied. "
                f"max_results must be between 1 and {MAX_EXPERIMENTS_PER_PAGE}"
            )
        readable = self.access.readable_workspaces()
        if readable is None:
            return self.store.search_experiments(view_type, max_results, filter_string, order_by, page_token)
        return self.store.search_experiments(view_type, max_results, filter_string, order_by, page_token,
                                             workspace_ids=readable)

    def rename(self, experiment_id, new_name) -> None:
        v.validate_experiment_name(new_name)
        self.access.project(_known_id(experiment_id), write=True)
        if not self.access.is_admin():
            # A name says which workspace a project is in (`W/P`): renaming must not move it.
            target = self.access.workspace_for_new_project(new_name)
            current = self.store.workspaces_of_projects([str(experiment_id)]).get(str(experiment_id).strip())
            if current is not None and target != current:
                raise invalid(f"Cannot rename experiment {experiment_id} to '{new_name}': that name belongs to "
                              "another workspace")
        self.store.rename_experiment(_known_id(experiment_id), new_name)

    def delete(self, experiment_id) -> None:
        self.access.project(_known_id(experiment_id), write=True)
        self.store.delete_experiment(_known_id(experiment_id))

    def restore(self, experiment_id) -> None:
        self.access.project(_known_id(experiment_id), write=True)
        self.store.restore_experiment(_known_id(experiment_id))

    def set_tag(self, experiment_id, key, value) -> None:
        v.validate_experiment_tag(key, value)
        self.access.project(_known_id(experiment_id), write=True)
        self.store.set_experiment_tag(_known_id(experiment_id), key, value)

    def delete_tag(self, experiment_id, key) -> None:
        self.access.project(_known_id(experiment_id), write=True)
        self.store.delete_experiment_tag(_known_id(experiment_id), key)
