"""Experiment (project) rules, shared by every face."""

from __future__ import annotations

from swan_server.artifacts.paths import safe_relative_path
from swan_server.entities import Experiment, PagedList
from swan_server.errors import invalid, not_found
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
    rest = location[len(prefix):].lstrip("/")
    if rest.startswith("/") or "://" in location[len(prefix):]:
        raise invalid(f"artifact_location '{location}' must not name a host")
    clean = safe_relative_path(rest, allow_empty=False)
    return f"{prefix}/{clean}"


class ExperimentService:
    def __init__(self, store: TrackingStore):
        self.store = store

    def create(self, name, artifact_location=None, tags=None) -> str:
        v.validate_experiment_name(name)
        tag_map = dict(v.validate_experiment_tag(k, val) for k, val in (tags or {}).items())
        return self.store.create_experiment(name, check_artifact_location(artifact_location), tag_map)

    def get(self, experiment_id) -> Experiment:
        return self.store.get_experiment(experiment_id)

    def get_by_name(self, name) -> Experiment:
        if not isinstance(name, str) or not name:
            raise invalid("Missing value for required parameter 'experiment_name'")
        exp = self.store.get_experiment_by_name(name)
        if exp is None:
            raise not_found(f"Could not find experiment with name '{name}'")
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
                f"Invalid value {max_results} for parameter 'max_results' supplied. It must be at most "
                f"{MAX_EXPERIMENTS_PER_PAGE}"
            )
        return self.store.search_experiments(view_type, max_results, filter_string, order_by, page_token)

    def rename(self, experiment_id, new_name) -> None:
        v.validate_experiment_name(new_name)
        self.store.rename_experiment(experiment_id, new_name)

    def delete(self, experiment_id) -> None:
        self.store.delete_experiment(experiment_id)

    def restore(self, experiment_id) -> None:
        self.store.restore_experiment(experiment_id)

    def set_tag(self, experiment_id, key, value) -> None:
        v.validate_experiment_tag(key, value)
        self.store.set_experiment_tag(experiment_id, key, value)

    def delete_tag(self, experiment_id, key) -> None:
        self.store.delete_experiment_tag(experiment_id, key)
