"""The tracking store contract. The docstrings are the contract; `sql.SqlTrackingStore` is the
implementation every face uses. A columnar points store, or a REST client, would be another."""

from __future__ import annotations

from abc import ABC, abstractmethod

from swan_server.entities import DatasetInput, Experiment, Metric, PagedList, Run, RunInfo, User

VIEW_ACTIVE, VIEW_DELETED, VIEW_ALL = "ACTIVE_ONLY", "DELETED_ONLY", "ALL"
VIEW_TYPES = (VIEW_ACTIVE, VIEW_DELETED, VIEW_ALL)


class TrackingStore(ABC):
    # -- experiments (Swan projects) -------------------------------------------------------
    @abstractmethod
    def create_experiment(self, name: str, artifact_location: str | None, tags: dict[str, str]) -> str:
        """Create an experiment and return its id. RESOURCE_ALREADY_EXISTS if the name is taken,
        also by a deleted experiment."""

    @abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment:
        """RESOURCE_DOES_NOT_EXIST if there is no such experiment (active or deleted)."""

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """None when no experiment has this name."""

    @abstractmethod
    def search_experiments(self, view_type: str, max_results: int, filter_string: str | None,
                           order_by: list[str] | None, page_token: str | None,
                           workspace_ids: list[int] | None = None) -> PagedList:
        """Experiments matching the filter; a token is returned only when more exist."""

    @abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    @abstractmethod
    def delete_experiment(self, experiment_id: str) -> None:
        """Soft delete: the experiment and its active runs become deleted."""

    @abstractmethod
    def restore_experiment(self, experiment_id: str) -> None: ...

    @abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    @abstractmethod
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...

    # -- runs --------------------------------------------------------------------------------
    @abstractmethod
    def create_run(self, experiment_id: str, user_id: str | None, start_time: int | None,
                   tags: dict[str, str], run_name: str | None, run_id: str | None = None) -> Run:
        """Create a run in an active experiment. `run_name` and the `mlflow.runName` tag agree."""

    @abstractmethod
    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params, tags and dataset inputs."""

    @abstractmethod
    def update_run_info(self, run_id: str, status: str | None, end_time: int | None,
                        run_name: str | None) -> RunInfo: ...

    @abstractmethod
    def delete_run(self, run_id: str) -> None: ...

    @abstractmethod
    def restore_run(self, run_id: str) -> None: ...

    @abstractmethod
    def log_batch(self, run_id: str, metrics: list[Metric], params: dict[str, str],
                  tags: dict[str, str], batch_key: str | None = None) -> None:
        """Write everything in one transaction: it lands whole or not at all.

        Exact duplicate points collapse into one. When `batch_key` is given and a batch with that
        key was already applied, nothing is written. A param that already has a different value
        fails the whole batch with INVALID_PARAMETER_VALUE."""

    @abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None: ...

    @abstractmethod
    def log_inputs(self, run_id: str, datasets: list[DatasetInput]) -> None: ...

    @abstractmethod
    def search_runs(self, experiment_ids: list[str], filter_string: str | None, view_type: str,
                    max_results: int, order_by: list[str] | None, page_token: str | None) -> PagedList:
        """Runs matching MLflow's filter grammar, ordered (missing values last, then
        start_time DESC, then run id), one page at a time."""

    # -- metric reads ----------------------------------------------------------------------------
    @abstractmethod
    def get_metric_history(self, run_id: str, key: str, max_results: int | None,
                           page_token: str | None) -> PagedList:
        """Every point of one series, ordered by step and timestamp, paged. Items are
        (step, timestamp, value, is_nan) tuples with NaN and infinities already decoded: this is
        the largest read the server does, so it skips building an object per point."""

    @abstractmethod
    def get_metric_history_bulk_interval(self, run_ids: list[str], key: str, start_step: int | None,
                                         end_step: int | None, max_results: int) -> list[tuple[str, Metric]]:
        """At most about `max_results` points per run across the step range, keeping the first and
        last points; the cost is bounded by `max_results`, not by the length of the series."""


class IdentityStore(ABC):
    """Users, hashed API keys and login sessions."""

    @abstractmethod
    def create_user(self, name: str, role: str, display_name: str | None = None) -> User:
        """Create a user and its own workspace; RESOURCE_ALREADY_EXISTS if the name is taken."""

    @abstractmethod
    def get_user(self, name: str) -> User | None: ...

    @abstractmethod
    def list_users(self) -> list[User]: ...

    @abstractmethod
    def set_user_disabled(self, name: str, disabled: bool) -> None:
        """Disabling a user also ends its sessions."""

    @abstractmethod
    def add_api_key(self, user_id: int, key_hash: str, prefix: str, description: str | None = None) -> int: ...

    @abstractmethod
    def revoke_api_key(self, prefix: str) -> int:
        """Revoke the active keys with this prefix; returns how many."""

    @abstractmethod
    def user_by_key_hash(self, key_hash: str) -> User | None:
        """The owner of an active (not revoked) key."""

    @abstractmethod
    def create_session(self, sid_hash: str, user_id: int, expires_time: int) -> None: ...

    @abstractmethod
    def user_by_session(self, sid_hash: str) -> User | None:
        """The user of an unexpired session."""

    @abstractmethod
    def delete_session(self, sid_hash: str) -> None: ...


class RunDocumentStore(ABC):
    """Per-run documents added with migration 0003: the media index, console log lines, run
    profiles, liveness (heartbeats), project columns; plus the lookups and step-idempotent
    ingestion that faces addressing runs by id alone (SwanLab) need."""

    # -- media -------------------------------------------------------------------------------------
    @abstractmethod
    def add_media_items(self, run_id: str, items: list) -> int:
        """Index media items (`records.MediaItem`) in one transaction; an item whose (key, step,
        seq) is already indexed is left as it is. Returns how many rows were added."""

    @abstractmethod
    def list_media_items(self, run_id: str, key: str | None = None) -> list:
        """The run's media items, ordered by key, step and seq."""

    @abstractmethod
    def media_last_steps(self, run_id: str) -> dict[str, int]:
        """The largest step per media key."""

    # -- console logs ------------------------------------------------------------------------------
    @abstractmethod
    def add_log_lines(self, run_id: str, lines: list) -> int:
        """Store `records.LogLine`s in one transaction; a line number already stored is kept."""

    @abstractmethod
    def get_log_lines(self, run_id: str, start_line: int | None = None, max_lines: int | None = None) -> list:
        """Lines ordered by line number, from `start_line` on."""

    @abstractmethod
    def last_log_line(self, run_id: str) -> int:
        """The largest line number stored (0 when none)."""

    # -- profiles ----------------------------------------------------------------------------------
    @abstractmethod
    def put_run_profile(self, run_id: str, kind: str, update, params: dict[str, str] | None = None) -> str:
        """In one transaction: replace the run's `kind` document by `update(old content or None)`
        and add `params` whose keys the run does not have yet (existing params keep their value).
        Returns the stored content."""

    @abstractmethod
    def get_run_profiles(self, run_id: str) -> dict[str, str]:
        """{kind: content} of the run's documents."""

    # -- liveness ----------------------------------------------------------------------------------
    @abstractmethod
    def touch_heartbeat(self, run_id: str) -> None:
        """Record that the run's client is alive now."""

    @abstractmethod
    def reopen_run(self, run_id: str) -> None:
        """Status RUNNING, no end time, heartbeat now (a resumed run)."""

    @abstractmethod
    def end_run(self, run_id: str, status: str, end_time: int) -> None:
        """Set a terminal status and end time; the run stops being watched for heartbeats."""

    @abstractmethod
    def crash_silent_runs(self, silent_since: int, status: str = "FAILED") -> int:
        """One UPDATE: active RUNNING runs whose last heartbeat is older than `silent_since` (ms)
        get `status` and end at their last heartbeat. Returns how many."""

    # -- project columns ---------------------------------------------------------------------------
    @abstractmethod
    def upsert_project_columns(self, experiment_id: str, columns: list) -> None:
        """Insert or replace `records.ProjectColumn`s by (project, key)."""

    @abstractmethod
    def list_project_columns(self, experiment_id: str) -> list: ...

    # -- lookups and ingestion ---------------------------------------------------------------------
    @abstractmethod
    def run_context(self, run_id: str):
        """`records.RunContext` of a run (with its project and workspace), or None."""

    @abstractmethod
    def workspace_of_experiment(self, experiment_id: str) -> str: ...

    @abstractmethod
    def workspace_id_by_name(self, name: str) -> int | None: ...

    @abstractmethod
    def count_runs(self, experiment_id: str) -> int:
        """Active runs of an experiment."""

    @abstractmethod
    def log_metrics_once(self, run_id: str, keys: list[str], steps: list[int], timestamps: list[int],
                         values: list[float]) -> int:
        """Insert, in one transaction, the points (given as columns) whose (key, step) the run
        does not have yet; the rest is ignored. Returns how many points were inserted."""

    @abstractmethod
    def series_last_steps(self, run_id: str) -> dict[str, int]:
        """The largest step per metric key."""

    @abstractmethod
    def server_secret(self, name: str, generate) -> str:
        """A server-wide secret shared by every worker, created with `generate()` the first time."""


class BatchStore(ABC):
    """Whole write batches of the native API (`/api/v1`)."""

    @abstractmethod
    def write_run_batch(self, run_id: str, batch_key: str | None, keys: list[str], steps: list[int],
                        timestamps: list[int], values: list[float], params: dict[str, str],
                        tags: dict[str, str], media: list, log_lines: list) -> dict | None:
        """Write metric points (parallel columns), params, tags, media index rows
        (`records.MediaItem`) and console lines (`records.LogLine`) of an active run in ONE
        transaction: all of it lands or none. When `batch_key` was applied before, nothing is
        written and None is returned; otherwise {"metrics", "media", "console"}: rows inserted
        (exact duplicate points, media items already indexed at (key, step, seq) and line
        numbers already stored are skipped). A param that already has another value fails the
        whole batch with INVALID_PARAMETER_VALUE."""


class DashboardStore(ABC):
    """Bounded reads for the dashboard and `/api/v1`'s read routes (store/sql/rollups.py,
    store/sql/dashboard.py)."""

    @abstractmethod
    def bucketed_series(self, run_ids: list[str], key: str, x_axis: str = "step", lo: int | None = None,
                        hi: int | None = None, n: int = 1000) -> dict:
        """About `n` buckets of one metric key for each run (at most 100) over [lo, hi] of the x
        axis (`step`, `time`: epoch ms, `relative`: ms since the run's start; the union of the
        runs' series when not given). Every run uses the same aligned buckets, so their x values
        line up: {"key", "x_axis", "lo", "hi", "width", "level", "n", "rows_read", "runs": [{"run_id",
        "x": bucket starts, "min", "max", "last": values (None for NaN), "last_x": x of each
        bucket's last point}]}. Empty buckets are left out. The cost is bounded by `n` (rollup
        blocks plus raw points at the range's ends), never by the length of the series.
        RESOURCE_DOES_NOT_EXIST for an unknown run."""

    @abstractmethod
    def rebuild_rollups(self, series_ids: list[int] | None = None) -> int:
        """Recompute the rollup blocks of these series (all when None) from their points."""

    @abstractmethod
    def project_overview(self, name_contains: str | None = None, limit: int = 500,
                         workspace_ids: list[int] | None = None) -> list[dict]:
        """Active projects with their active run count, running runs and last activity (ms),
        most recently active first."""

    @abstractmethod
    def project_keys(self, experiment_id: str) -> dict[str, list[str]]:
        """{"params", "metrics", "tags"}: the keys the project's active runs use (at most 2,000 each)."""

    @abstractmethod
    def run_table(self, experiment_ids: list[str], filter_string: str | None, order_by: list[str] | None,
                  offset: int, limit: int, param_keys: list[str], metric_keys: list[str],
                  view_type: str = "ACTIVE_ONLY") -> dict:
        """One page of runs matching MLflow's filter grammar, ordered as search_runs, with the
        chosen params and latest metric values and the user tags: {"total", "offset", "runs"}."""

    @abstractmethod
    def metric_summaries(self, run_ids: list[str]) -> dict[str, list[dict]]:
        """Per run (at most 100), the summary of each metric key (last, min, max, count, spans)."""

    @abstractmethod
    def run_project(self, run_id: str) -> dict:
        """The run's project (id, name) and how many media items and console lines it has."""

    @abstractmethod
    def media_index(self, run_id: str) -> list[dict]:
        """Per media key: its kind and the steps that have items (with item counts)."""

    @abstractmethod
    def media_at(self, run_id: str, key: str, step: int) -> list[dict]:
        """The media items of a key at one step, in order."""

    @abstractmethod
    def search_log_lines(self, run_id: str, query: str | None = None, level: str | None = None,
                         start_line: int | None = None, limit: int = 500) -> dict:
        """Console lines containing `query` (case-insensitive) at `level`, from `start_line` on:
        {"total" (matches), "last_line", "next_line" (None at the end), "lines"}."""


class ModelStore(ABC):
    """The MLflow 3 surface: model registry, logged models and traces (migration 0004).
    Registry names and versions, logged-model ids and trace ids that do not exist raise
    RESOURCE_DOES_NOT_EXIST; filter strings follow `search.registry_filter`."""

    # -- registered models ---------------------------------------------------------------------
    @abstractmethod
    def create_registered_model(self, name: str, tags: dict[str, str], description: str | None,
                                user_id: str | None = None):
        """RESOURCE_ALREADY_EXISTS if the name is taken."""

    @abstractmethod
    def get_registered_model(self, name: str): ...

    @abstractmethod
    def rename_registered_model(self, name: str, new_name: str):
        """Versions, tags and aliases follow the model to its new name."""

    @abstractmethod
    def update_registered_model(self, name: str, description: str | None): ...

    @abstractmethod
    def delete_registered_model(self, name: str) -> None:
        """Deletes the model with its versions, tags and aliases."""

    @abstractmethod
    def search_registered_models(self, filter_string: str | None, max_results: int,
                                 order_by: list[str] | None, page_token: str | None) -> PagedList: ...

    @abstractmethod
    def get_latest_versions(self, name: str, stages: list[str] | None) -> list:
        """The latest version in each stage (of `stages`, when given)."""

    @abstractmethod
    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...

    @abstractmethod
    def delete_registered_model_tag(self, name: str, key: str) -> None: ...

    @abstractmethod
    def set_registered_model_alias(self, name: str, alias: str, version) -> None: ...

    @abstractmethod
    def delete_registered_model_alias(self, name: str, alias: str) -> None: ...

    @abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str):
        """INVALID_PARAMETER_VALUE for an unknown alias, as MLflow; `latest` is the newest version."""

    # -- model versions --------------------------------------------------------------------------
    @abstractmethod
    def create_model_version(self, name: str, source: str, run_id: str | None, tags: dict[str, str],
                             run_link: str | None, description: str | None, model_id: str | None,
                             storage_location: str, status: str, user_id: str | None = None):
        """The next version number (numbers of deleted versions are never reused)."""

    @abstractmethod
    def get_model_version(self, name: str, version): ...

    @abstractmethod
    def update_model_version(self, name: str, version, description: str | None): ...

    @abstractmethod
    def transition_model_version_stage(self, name: str, version, stage: str, archive_existing_versions: bool): ...

    @abstractmethod
    def delete_model_version(self, name: str, version) -> None:
        """Also removes the aliases pointing at the version."""

    @abstractmethod
    def get_model_version_download_uri(self, name: str, version) -> str: ...

    @abstractmethod
    def set_model_version_tag(self, name: str, version, key: str, value: str) -> None: ...

    @abstractmethod
    def delete_model_version_tag(self, name: str, version, key: str) -> None: ...

    @abstractmethod
    def search_model_versions(self, filter_string: str | None, max_results: int,
                              order_by: list[str] | None, page_token: str | None) -> PagedList: ...

    # -- logged models ---------------------------------------------------------------------------
    @abstractmethod
    def create_logged_model(self, experiment_id: str, name: str | None, model_type: str | None,
                            source_run_id: str | None, params: dict[str, str], tags: dict[str, str]):
        """A PENDING model `m-<32 hex>` with artifacts at `<experiment location>/models/<id>/artifacts`."""

    @abstractmethod
    def get_logged_model(self, model_id: str, allow_deleted: bool = False): ...

    @abstractmethod
    def finalize_logged_model(self, model_id: str, status: str): ...

    @abstractmethod
    def delete_logged_model(self, model_id: str) -> None: ...

    @abstractmethod
    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]): ...

    @abstractmethod
    def delete_logged_model_tag(self, model_id: str, key: str) -> None: ...

    @abstractmethod
    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        """Params are immutable, as a run's."""

    @abstractmethod
    def record_model_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        """Keep the latest value per (model, key, dataset) of metrics logged with a model_id."""

    @abstractmethod
    def log_outputs(self, run_id: str, outputs: list[tuple[str, int]]) -> None:
        """Attach logged models (model_id, step) to a run as its outputs."""

    @abstractmethod
    def log_model_inputs(self, run_id: str, model_ids: list[str]) -> None:
        """Attach logged models to a run as its inputs (LogInputs' `models`)."""

    @abstractmethod
    def search_logged_models(self, experiment_ids: list[str], filter_string: str | None,
                             datasets: list[tuple[str, str | None]] | None, max_results: int,
                             order_by: list[tuple[str, bool, str | None, str | None]] | None,
                             page_token: str | None) -> PagedList: ...

    # -- traces ----------------------------------------------------------------------------------
    @abstractmethod
    def start_trace(self, info):
        """Create the trace, or complete the one its spans created first; tags and metadata merge."""

    @abstractmethod
    def trace_for_spans(self, trace_id: str, experiment_id: str, request_time: int):
        """Context manager: the trace locked (created IN_PROGRESS if new) while its span data is
        rewritten; yields a `SpanWrite` whose `updates` are applied before the lock is released."""

    @abstractmethod
    def get_trace_info(self, trace_id: str): ...

    @abstractmethod
    def batch_get_trace_infos(self, trace_ids: list[str]) -> list: ...

    @abstractmethod
    def search_traces(self, experiment_ids: list[str], filter_string: str | None, max_results: int,
                      order_by: list[str] | None, page_token: str | None) -> PagedList: ...

    @abstractmethod
    def delete_traces(self, experiment_id: str, max_timestamp_millis: int | None, max_traces: int | None,
                      trace_ids: list[str] | None) -> list[str]:
        """Delete by ids, or the oldest up to `max_traces` at or before `max_timestamp_millis`;
        returns the deleted traces' artifact locations."""

    @abstractmethod
    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None: ...

    @abstractmethod
    def delete_trace_tag(self, trace_id: str, key: str) -> None: ...

    @abstractmethod
    def link_traces_to_run(self, trace_ids: list[str], run_id: str) -> None: ...


class MaintenanceStore(ABC):
    """Operations: retention (`swan gc`), moving a project between servers (`swan export` /
    `swan import swan`), and the stored totals `/metrics` reports. A points store of its own (a
    columnar engine) would implement the points half: `export_points`, `import_points` and the
    points of `purge_run`."""

    @abstractmethod
    def gc_candidates(self, deleted_before: int, run_ids: list[str] | None = None,
                      experiment_ids: list[str] | None = None) -> tuple[list, list]:
        """(projects, runs) to purge: deleted at or before `deleted_before` (ms), or exactly the
        given deleted runs / projects (INVALID_PARAMETER_VALUE for one that is not deleted)."""

    @abstractmethod
    def purge_run(self, run_id: str) -> int:
        """Delete a run and every row under it in one transaction; returns the points removed."""

    @abstractmethod
    def purge_project(self, project_id: int) -> None:
        """Delete a project with its remaining runs, logged models, traces, datasets, tags, columns."""

    @abstractmethod
    def purge_housekeeping(self, batch_keys_before: int, now: int) -> tuple[int, int]:
        """Forget old batch idempotency keys and expired sessions; returns (keys, sessions)."""

    @abstractmethod
    def server_totals(self) -> dict:
        """{"projects": {stage: n}, "runs": {(stage, status): n}, "series": n, "points": n}."""

    @abstractmethod
    def find_project(self, name_or_id: str):
        """The project named so, else numbered so; RESOURCE_DOES_NOT_EXIST."""

    @abstractmethod
    def export_rows(self, project_pk: int):
        """(table name, rows) pieces of every table of a project, parents first, with natural keys
        (run ids, dataset/model/trace ids, registry names) in place of the server's own ids."""

    @abstractmethod
    def export_points(self, project_pk: int):
        """(run id, key, [(step, timestamp, stored value, is_nan), ...]) pieces, each series in order."""

    @abstractmethod
    def import_project(self, row: dict, ctx) -> tuple[int, bool]:
        """Find by name or create the project of an export; returns (its id, created)."""

    @abstractmethod
    def import_rows(self, name: str, rows: list[dict], ctx) -> None:
        """Insert-or-skip a piece of an exported table in one transaction, extending `ctx`'s key maps."""

    @abstractmethod
    def import_points(self, run_id: str, key: str, points: list[tuple], ctx) -> int:
        """Insert-or-skip points of one series; returns how many were new."""
