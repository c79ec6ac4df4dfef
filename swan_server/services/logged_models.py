"""Logged-model rules (MLflow 3): names, statuses, params and tags, metrics linked to models,
run outputs, and the model's artifact folder."""

from __future__ import annotations

from swan_server.artifacts import ArtifactStore, FileInfo
from swan_server.artifacts.paths import join, safe_relative_path
from swan_server.entities import Metric, PagedList
from swan_server.entities_mlflow3 import MODEL_FAILED, MODEL_READY, LoggedModel
from swan_server.errors import PERMISSION_DENIED, SwanError, invalid
from swan_server.services import validation as v
from swan_server.services.access import AccessPolicy
from swan_server.services.artifacts import proxy_uri_to_path
from swan_server.store.abstract import ModelStore

SEARCH_DEFAULT, SEARCH_MAX = 100, 1000
_BAD_NAME_CHARS = ("/", ":", ".", "%", '"', "'")
MAX_OUTPUTS_PER_REQUEST = 100


def validate_logged_model_name(name) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not name or any(c in name for c in _BAD_NAME_CHARS):
        raise invalid(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
            f"and cannot contain the following characters: {_BAD_NAME_CHARS}"
        )
    if len(name) > 500:
        raise invalid("Model name exceeds the maximum length of 500 characters")
    return name


class LoggedModelService:
    def __init__(self, store: ModelStore, artifacts: ArtifactStore):
        self.store = store
        self.artifacts = artifacts
        self.access = AccessPolicy(store)

    def _model(self, model_id, write: bool = False) -> LoggedModel:
        """The logged model, after checking the caller may read (or write) its project."""
        model = self.store.get_logged_model(model_id)
        self.access.project(model.experiment_id, write=write)
        return model

    def _models(self, model_ids, write: bool = False) -> None:
        if self.access.is_admin():
            return
        for model_id in dict.fromkeys(m for m in model_ids if m):
            try:
                self._model(model_id, write=write)
            except SwanError as exc:
                if exc.error_code == PERMISSION_DENIED:
                    raise

    def create(self, experiment_id, name=None, model_type=None, source_run_id=None, params=None,
               tags=None) -> LoggedModel:
        if not experiment_id:
            raise invalid("Missing value for required parameter 'experiment_id'.")
        validate_logged_model_name(name)
        param_map = v.unique_params([v.validate_param(k, val) for k, val in (params or [])])
        tag_map = dict(v.validate_tag(k, val) for k, val in (tags or []))
        if model_type is not None and len(model_type) > 500:
            raise invalid("model_type exceeds the maximum length of 500 characters")
        self.access.project(experiment_id, write=True)
        if source_run_id:
            self.access.run(source_run_id)
        return self.store.create_logged_model(experiment_id, name, model_type, source_run_id, param_map, tag_map)

    def get(self, model_id) -> LoggedModel:
        return self._model(model_id)

    def finalize(self, model_id, status) -> LoggedModel:
        if status not in (MODEL_READY, MODEL_FAILED):
            raise invalid(
                f"Invalid model status {status!r}: a model can only be finalized as "
                "LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED"
            )
        self._model(model_id, write=True)
        return self.store.finalize_logged_model(model_id, status)

    def delete(self, model_id) -> None:
        self._model(model_id, write=True)
        self.store.delete_logged_model(model_id)

    def set_tags(self, model_id, tags) -> LoggedModel:
        tag_map = dict(v.validate_tag(k, val) for k, val in tags)
        self._model(model_id, write=True)
        return self.store.set_logged_model_tags(model_id, tag_map)

    def delete_tag(self, model_id, key) -> None:
        self._model(model_id, write=True)
        self.store.delete_logged_model_tag(model_id, key)

    def log_params(self, model_id, params) -> None:
        v.validate_batch_limits(0, len(params), 0)
        param_map = v.unique_params([v.validate_param(k, val) for k, val in params])
        if param_map:
            self._model(model_id, write=True)
            self.store.log_logged_model_params(model_id, param_map)

    def record_metrics(self, run_id, metrics: list[Metric]) -> None:
        for m in metrics:
            if m.dataset_name is not None and len(m.dataset_name) > v.MAX_DATASET_NAME_LENGTH:
                raise invalid(f"Dataset name exceeds the maximum length of {v.MAX_DATASET_NAME_LENGTH}")
            if m.dataset_digest is not None and len(m.dataset_digest) > v.MAX_DATASET_DIGEST_LENGTH:
                raise invalid(f"Dataset digest exceeds the maximum length of {v.MAX_DATASET_DIGEST_LENGTH}")
        self.access.run(run_id, write=True)
        self._models([m.model_id for m in metrics], write=True)
        self.store.record_model_metrics(run_id, metrics)

    def log_outputs(self, run_id, outputs: list[tuple[str, int]]) -> None:
        if len(outputs) > MAX_OUTPUTS_PER_REQUEST:
            raise invalid(f"A request can contain at most {MAX_OUTPUTS_PER_REQUEST} model outputs. Got {len(outputs)}.")
        for model_id, _ in outputs:
            if not model_id:
                raise invalid("Missing value for required parameter 'model_id'.")
        self.access.run(run_id, write=True)
        self._models([m for m, _ in outputs])
        self.store.log_outputs(run_id, outputs)

    def log_inputs(self, run_id, model_ids: list[str]) -> None:
        if len(model_ids) > MAX_OUTPUTS_PER_REQUEST:
            raise invalid(f"A request can contain at most {MAX_OUTPUTS_PER_REQUEST} model inputs. Got {len(model_ids)}.")
        self.access.run(run_id, write=True)
        self._models(model_ids)
        self.store.log_model_inputs(run_id, list(dict.fromkeys(model_ids)))

    def search(self, experiment_ids, filter_string=None, datasets=None, max_results=None, order_by=None,
               page_token=None) -> PagedList:
        if not experiment_ids:
            raise invalid("At least one experiment ID must be specified: 'experiment_ids' is empty.")
        max_results = SEARCH_DEFAULT if max_results is None else max_results
        if not 1 <= max_results <= SEARCH_MAX:
            raise invalid(f"Invalid value {max_results} for parameter 'max_results' supplied. "
                          f"It must be between 1 and {SEARCH_MAX}")
        for name, _digest in datasets or []:
            if not name:
                raise invalid("`dataset_name` in the `datasets` clause must be specified.")
        for field_name, _asc, _dname, _ddigest in order_by or []:
            if not field_name:
                raise invalid("`field_name` in the `order_by` clause must be specified.")
        self.access.projects(experiment_ids)
        return self.store.search_logged_models(list(experiment_ids), filter_string, datasets, max_results,
                                               order_by, page_token)

    def list_artifacts(self, model_id, path=None) -> tuple[str, list[FileInfo]]:
        """(root URI, files under `path`, paths relative to the model's artifact root)."""
        model = self._model(model_id)
        root = proxy_uri_to_path(model.artifact_location)
        rel = safe_relative_path(path)
        files = self.artifacts.list_dir(join(root, rel))
        return model.artifact_location, [FileInfo(join(rel, f.path), f.is_dir, f.file_size) for f in files]
