"""Run rules: lifecycle, status transitions, params immutability, batch limits."""

from __future__ import annotations

from swan_server.entities import RUN_STATUSES, DatasetInput, Metric, PagedList, Run, RunInfo
from swan_server.errors import invalid
from swan_server.services import validation as v
from swan_server.services.access import AccessPolicy
from swan_server.store.abstract import VIEW_ACTIVE, VIEW_TYPES, TrackingStore

MAX_HISTORY_PAGE = 25_000
MAX_BULK_RUNS = 100
MAX_BULK_INTERVAL_RESULTS = 2500


def check_status(status) -> str | None:
    if status is None:
        return None
    if status not in RUN_STATUSES:
        raise invalid(f"Invalid value {status!r} for parameter 'status' supplied")
    return status


def check_run_id(run_id) -> str:
    if not isinstance(run_id, str) or len(run_id) != 32 or any(c not in "0123456789abcdef" for c in run_id):
        raise invalid(f"Invalid run id {str(run_id)[:60]!r}: 32 lowercase hexadecimal digits are required")
    return run_id


class RunService:
    def __init__(self, store: TrackingStore):
        self.store = store
        self.access = AccessPolicy(store)

    def create(self, experiment_id, user_id=None, start_time=None, tags=None, run_name=None, run_id=None) -> Run:
        """`run_id` (32 lowercase hex digits) lets a client choose the id: RESOURCE_ALREADY_EXISTS
        if it is taken."""
        experiment_id = "0" if experiment_id in (None, "") else experiment_id
        tag_map = dict(v.validate_tag(k, val) for k, val in (tags or {}).items())
        if run_id is not None:
            check_run_id(run_id)
        self.access.project(experiment_id, write=True)
        return self.store.create_run(experiment_id, user_id, start_time, tag_map, v.validate_run_name(run_name),
                                     run_id=run_id)

    def get(self, run_id) -> Run:
        self.access.run(run_id)
        return self.store.get_run(run_id)

    def update(self, run_id, status=None, end_time=None, run_name=None) -> RunInfo:
        self.access.run(run_id, write=True)
        return self.store.update_run_info(run_id, check_status(status), end_time, v.validate_run_name(run_name))

    def delete(self, run_id) -> None:
        self.access.run(run_id, write=True)
        self.store.delete_run(run_id)

    def restore(self, run_id) -> None:
        self.access.run(run_id, write=True)
        self.store.restore_run(run_id)

    def log_batch(self, run_id, metrics: list[Metric], params: list[tuple[str, str]], tags: list[tuple[str, str]],
                  batch_key: str | None = None, enforce_limits: bool = True) -> None:
        if enforce_limits:
            v.validate_batch_limits(len(metrics), len(params), len(tags))
        for m in metrics:
            v.validate_metric(m)
        param_map = v.unique_params([v.validate_param(k, val) for k, val in params])
        tag_map = dict(v.validate_tag(k, val) for k, val in tags)
        self.access.run(run_id, write=True)
        self.store.log_batch(run_id, metrics, param_map, tag_map, batch_key)

    def log_batch_columns(self, run_id, keys: list[str], steps: list[int], timestamps: list[int],
                          values: list[float], params: list[tuple[str, str]], tags: list[tuple[str, str]]) -> None:
        """`log_batch` for metrics given as well-typed columns (what nearly every client sends),
        checked over whole columns and written without an object per point. A batch with any
        invalid point takes `log_batch`'s point-by-point path, whose error names that point."""
        if not v.metric_columns_valid(keys, steps, timestamps, values):
            metrics = [Metric(k, val, ts, step) for k, val, ts, step in zip(keys, values, timestamps, steps)]
            return self.log_batch(run_id, metrics, params, tags)
        v.validate_batch_limits(len(values), len(params), len(tags))
        param_map = v.unique_params([v.validate_param(k, val) for k, val in params])
        tag_map = dict(v.validate_tag(k, val) for k, val in tags)
        self.access.run(run_id, write=True)
        self.store.write_run_batch(run_id, None, keys, steps, timestamps, values, param_map, tag_map, [], [])

    def log_metric(self, run_id, metric: Metric) -> None:
        self.log_batch(run_id, [metric], [], [])

    def log_param(self, run_id, key, value) -> None:
        self.log_batch(run_id, [], [(key, value)], [])

    def set_tag(self, run_id, key, value) -> None:
        self.log_batch(run_id, [], [], [(key, value)])

    def delete_tag(self, run_id, key) -> None:
        self.access.run(run_id, write=True)
        self.store.delete_tag(run_id, key)

    def log_inputs(self, run_id, datasets: list[DatasetInput]) -> None:
        if len(datasets) > v.MAX_DATASETS_PER_REQUEST:
            raise invalid(f"A request can contain at most {v.MAX_DATASETS_PER_REQUEST} datasets. Got {len(datasets)}.")
        for ds in datasets:
            for field, limit in (
                ("name", v.MAX_DATASET_NAME_LENGTH), ("digest", v.MAX_DATASET_DIGEST_LENGTH),
                ("source", v.MAX_DATASET_SOURCE_LENGTH), ("schema", v.MAX_DATASET_SCHEMA_LENGTH),
                ("profile", v.MAX_DATASET_PROFILE_LENGTH),
            ):
                value = getattr(ds, field)
                if value is not None and len(value) > limit:
                    raise invalid(f"Dataset {field} exceeds the maximum length of {limit}")
            for k, val in ds.tags.items():
                if len(k) > v.MAX_INPUT_TAG_KEY_LENGTH or len(val) > v.MAX_INPUT_TAG_VALUE_LENGTH:
                    raise invalid(f"Input tag '{k[:50]}' exceeds the maximum key or value length")
        self.access.run(run_id, write=True)
        self.store.log_inputs(run_id, datasets)

    def search(self, experiment_ids, filter_string=None, view_type=VIEW_ACTIVE, max_results=1000,
               order_by=None, page_token=None) -> PagedList:
        view_type = view_type or VIEW_ACTIVE
        if view_type not in VIEW_TYPES:
            raise invalid(f"Invalid value {view_type!r} for parameter 'run_view_type' supplied")
        self.access.projects(experiment_ids or [])
        return self.store.search_runs(list(experiment_ids or []), filter_string, view_type, max_results,
                                      order_by, page_token)

    def metric_history(self, run_id, key, max_results=None, page_token=None) -> PagedList:
        if not key:
            raise invalid("Missing value for required parameter 'metric_key'")
        if max_results is not None:
            if max_results <= 0:
                raise invalid(
                    f"Invalid value {max_results} for parameter 'max_results' supplied. It must be a positive integer."
                )
            # MLflow accepts any positive page size; larger pages are served in 25,000-point
            # pages and the caller follows next_page_token.
            max_results = min(max_results, MAX_HISTORY_PAGE)
        self.access.run(run_id)
        return self.store.get_metric_history(run_id, key, max_results, page_token)

    def metric_history_bulk_interval(self, run_ids, key, start_step=None, end_step=None,
                                     max_results=None) -> list[tuple[str, Metric]]:
        if not run_ids:
            raise invalid("GetMetricHistoryBulkInterval request must specify at least one run_id.")
        if len(run_ids) > MAX_BULK_RUNS:
            raise invalid(
                f"GetMetricHistoryBulkInterval request must specify at most {MAX_BULK_RUNS} run_ids. Received {len(run_ids)} run_ids."
            )
        if not key:
            raise invalid("Missing value for required parameter 'metric_key'")
        if max_results is None:
            max_results = MAX_BULK_INTERVAL_RESULTS
        if not 1 <= max_results <= MAX_BULK_INTERVAL_RESULTS:
            raise invalid(
                f"max_results must be between 1 and {MAX_BULK_INTERVAL_RESULTS}."
            )
        if (start_step is None) != (end_step is None):
            raise invalid("If either start step or end step are specified, both must be specified.")
        if start_step is not None and start_step > end_step:
            raise invalid("end_step must be greater than start_step. ")
        self.access.runs(run_ids)
        return self.store.get_metric_history_bulk_interval(run_ids, key, start_step, end_step, max_results)
