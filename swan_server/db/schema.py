"""The SQL schema, as SQLAlchemy Core tables.

The store reads and writes through these tables with Core statements (no ORM objects on the hot
path). Alembic migrations in `migrations/versions` create and evolve the same tables; a test
checks that a migrated database matches this metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double as DoublePrecision,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.mysql import MEDIUMTEXT

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# Double precision everywhere a metric value lives (MySQL's FLOAT would be single precision).
Double = DoublePrecision()

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_time", BigInteger, nullable=False),
)

projects = Table(
    "projects",
    metadata,
    # The MLflow experiment id, as an integer. "Default" is 0.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    # The MLflow experiment name: unique across the server ("P", or "W/P" outside the admin workspace).
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", String(1000), nullable=False),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
)

project_tags = Table(
    "project_tags",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=True),
    PrimaryKeyConstraint("project_id", "key"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_uuid", String(32), nullable=False, unique=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(250), nullable=True),
    Column("user_id", String(256), nullable=True),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger, nullable=True),
    Column("end_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("artifact_uri", String(1000), nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
    Index("ix_runs_project_stage_start", "project_id", "lifecycle_stage", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=True),
    PrimaryKeyConstraint("run_id", "key"),
)

# One row per (run, key): the summary that run lists and search read instead of the points.
metric_series = Table(
    "metric_series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    # "Latest" is the point with the largest (step, timestamp, value), as in MLflow.
    Column("last_step", BigInteger, nullable=False),
    Column("last_timestamp", BigInteger, nullable=False),
    Column("last_value", Double, nullable=False),
    Column("last_is_nan", Boolean, nullable=False),
    Column("min_value", Double, nullable=True),
    Column("max_value", Double, nullable=True),
    Column("min_step", BigInteger, nullable=False),
    Column("max_step", BigInteger, nullable=False),
    Column("min_timestamp", BigInteger, nullable=False),
    Column("max_timestamp", BigInteger, nullable=False),
    Column("point_count", BigInteger, nullable=False),
    # The seq of the series' next point chunk (metric_chunks).
    Column("chunk_seq", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("run_id", "key"),
)

# The points of a series as chunks (store/sql/point_chunks.py): a row holds the points one write
# added to one block of 64 steps (block = step >> 6), packed point after point. Points are unique
# per series as (step, timestamp, value, is_nan); the writer drops repeats before it writes.
metric_chunks = Table(
    "metric_chunks",
    metadata,
    Column("series_id", Integer, nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("point_count", Integer, nullable=False),
    Column("points", LargeBinary, nullable=False),
    PrimaryKeyConstraint("series_id", "block", "seq"),
)

# Precomputed blocks of each series for bounded bucketed reads (store/sql/rollups.py): at level L,
# block b covers the steps [b << L, (b + 1) << L) and holds the min and max of its non-NaN values
# (NULL when it has only NaN), its last point by (step, timestamp, value), and its time span.
metric_rollups = Table(
    "metric_rollups",
    metadata,
    Column("series_id", Integer, nullable=False),
    Column("level", Integer, nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("min_value", Double, nullable=True),
    Column("max_value", Double, nullable=True),
    Column("last_step", BigInteger, nullable=False),
    Column("last_timestamp", BigInteger, nullable=False),
    Column("last_value", Double, nullable=False),
    Column("last_is_nan", Boolean, nullable=False),
    Column("min_timestamp", BigInteger, nullable=False),
    Column("max_timestamp", BigInteger, nullable=False),
    PrimaryKeyConstraint("series_id", "level", "block"),
    sqlite_with_rowid=False,
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text, nullable=True),
    Column("profile", Text, nullable=True),
    UniqueConstraint("project_id", "name", "digest"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("run_id", "dataset_id"),
)

input_tags = Table(
    "input_tags",
    metadata,
    Column("input_id", Integer, ForeignKey("run_inputs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("input_id", "key"),
)

# Write batches already applied, by content hash or client idempotency key, so that a batch a
# client resends after a timeout changes nothing.
applied_batches = Table(
    "applied_batches",
    metadata,
    Column("batch_key", String(64), primary_key=True),
    Column("created_time", BigInteger, nullable=False),
)

# -- identity -----------------------------------------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("display_name", String(255), nullable=True),
    Column("role", String(16), nullable=False),  # admin | member | viewer
    Column("disabled", Boolean, nullable=False),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=True),
    Column("created_time", BigInteger, nullable=False),
)

# API keys are stored as SHA-256 digests (the keys are long random tokens, so a fast digest is
# enough); the plain key is shown once, when it is created.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(12), nullable=False),
    Column("description", String(255), nullable=True),
    Column("created_time", BigInteger, nullable=False),
    Column("revoked_time", BigInteger, nullable=True),
)

# Login sessions (SwanLab's `sid` cookie, the dashboard's cookie): shared by every worker.
sessions = Table(
    "sessions",
    metadata,
    Column("sid_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("expires_time", BigInteger, nullable=False),
    Index("ix_sessions_expires_time", "expires_time"),
)

# Members of a workspace beyond its owner (a user owns the workspace named after it), each with
# a role in that workspace: owner | member | viewer (migration 0006).
workspace_members = Table(
    "workspace_members",
    metadata,
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("workspace_id", "user_id"),
    Index("ix_workspace_members_user_id", "user_id"),
)

# Failed logins per scope (a SHA-256 of "ip:<address>" or "user:<name>") and time bucket (ms):
# the login rate limit, shared by every worker.
login_failures = Table(
    "login_failures",
    metadata,
    Column("scope", String(64), nullable=False),
    Column("bucket", BigInteger, nullable=False),
    Column("failures", Integer, nullable=False),
    PrimaryKeyConstraint("scope", "bucket"),
)

# -- media, console logs, run profiles, liveness, project columns (migration 0003) -------------

# One row per media item (image, audio, text, video, chart, ...) logged at a step. The bytes are
# an artifact of the run at `path` (relative to the run's artifact root); this row is the index
# the dashboard and the APIs read. A resent item (same run, key, step, seq) changes nothing.
media_items = Table(
    "media_items",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),  # position within the step (a list of images)
    Column("kind", String(32), nullable=False),  # image | audio | text | video | echarts | ...
    Column("path", String(1000), nullable=False),
    Column("caption", Text, nullable=True),
    Column("timestamp", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_id", "key", "step", "seq"),
)

# Console output, one row per terminal line, numbered from 1 per run.
log_lines = Table(
    "log_lines",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("line", BigInteger, nullable=False),
    Column("level", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_id", "line"),
)

# Descriptive documents of a run, one per kind: config (JSON), metadata (JSON), requirements
# (text), conda (text).
run_profiles = Table(
    "run_profiles",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("content", Text, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_id", "kind"),
)

# Last sign of life of a run whose client heartbeats; RUNNING runs that fall silent are crashed.
run_heartbeats = Table(
    "run_heartbeats",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("last_seen_time", BigInteger, nullable=False),
    Index("ix_run_heartbeats_last_seen_time", "last_seen_time"),
)

# Chart/column definitions of a project (SwanLab "series"), one per key.
project_columns = Table(
    "project_columns",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("type", String(32), nullable=False),  # FLOAT | IMAGE | ... | SYSTEM
    Column("section", String(250), nullable=True),
    Column("x_axis", String(250), nullable=True),
    Column("hidden", Boolean, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("project_id", "key"),
)

# Server-wide secrets every worker shares (e.g. the key that signs upload URLs).
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
    Column("created_time", BigInteger, nullable=False),
)

# -- MLflow 3: model registry, logged models, traces (migration 0004) ---------------------------

# Registry tag values and descriptions reach 100,000 characters: more than MySQL's TEXT holds.
LongText = Text().with_variant(MEDIUMTEXT(), "mysql", "mariadb")

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", LongText, nullable=True),
    Column("user_id", String(256), nullable=True),
    # The highest version number ever issued: numbers of deleted versions are never reused.
    Column("last_version", Integer, nullable=False),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", LongText, nullable=True),
    PrimaryKeyConstraint("model_id", "key"),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("model_id", "alias"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", LongText, nullable=True),
    Column("user_id", String(256), nullable=True),
    Column("current_stage", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("run_link", Text, nullable=True),
    Column("status", String(32), nullable=False),
    Column("status_message", Text, nullable=True),
    # The MLflow 3 logged model (`m-<hex>`) this version was registered from, if any.
    Column("logged_model_id", String(64), nullable=True),
    # Where the version's files are, resolved at registration (`mlflow-artifacts:/...`).
    Column("storage_location", Text, nullable=False),
    UniqueConstraint("model_id", "version"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("version_id", Integer, ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", LongText, nullable=True),
    PrimaryKeyConstraint("version_id", "key"),
)

logged_models = Table(
    "logged_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(64), nullable=False, unique=True),  # m-<32 hex>
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", String(1000), nullable=False),
    Column("status", String(32), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("model_type", String(500), nullable=True),
    Column("source_run_id", String(32), nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("lifecycle_stage", String(20), nullable=False),
    Index("ix_logged_models_project_creation", "project_id", "creation_time"),
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column("model_pk", Integer, ForeignKey("logged_models.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=True),
    PrimaryKeyConstraint("model_pk", "key"),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column("model_pk", Integer, ForeignKey("logged_models.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_pk", "key"),
)

# The latest value of each metric logged with a model_id, per (model, key, dataset): written
# beside the run's metric points only when a metric carries a model_id, read by model search.
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column("model_pk", Integer, ForeignKey("logged_models.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    # sha1 of (dataset name, digest), "" for none: keeps the key within MySQL's index limit.
    Column("dataset_key", String(40), nullable=False),
    Column("dataset_name", String(500), nullable=True),
    Column("dataset_digest", String(36), nullable=True),
    Column("value", Double, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("run_id", String(32), nullable=True),
    PrimaryKeyConstraint("model_pk", "key", "dataset_key"),
)

# LogOutputs: the logged models a run produced (`run.outputs.model_outputs`).
run_model_outputs = Table(
    "run_model_outputs",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("model_pk", Integer, ForeignKey("logged_models.id", ondelete="CASCADE"), nullable=False),
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_id", "model_pk"),
)

# LogInputs' models: the logged models a run consumed (`run.inputs.model_inputs`).
run_model_inputs = Table(
    "run_model_inputs",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("model_pk", Integer, ForeignKey("logged_models.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("run_id", "model_pk"),
)

traces = Table(
    "traces",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trace_id", String(64), nullable=False, unique=True),  # tr-<32 hex>
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("client_request_id", String(250), nullable=True),
    Column("request_time", BigInteger, nullable=False),
    Column("execution_duration", BigInteger, nullable=True),
    Column("state", String(32), nullable=False),
    Column("request_preview", Text, nullable=True),
    Column("response_preview", Text, nullable=True),
    # Set once StartTraceV3 has written the trace's info (spans may arrive before it).
    Column("info_finalized", Boolean, nullable=False),
    Index("ix_traces_project_request_time", "project_id", "request_time"),
)

trace_tags = Table(
    "trace_tags",
    metadata,
    Column("trace_pk", Integer, ForeignKey("traces.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=True),
    PrimaryKeyConstraint("trace_pk", "key"),
)

trace_metadata = Table(
    "trace_metadata",
    metadata,
    Column("trace_pk", Integer, ForeignKey("traces.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=True),
    PrimaryKeyConstraint("trace_pk", "key"),
)

trace_run_links = Table(
    "trace_run_links",
    metadata,
    Column("trace_pk", Integer, ForeignKey("traces.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", String(32), nullable=False),
    PrimaryKeyConstraint("trace_pk", "run_id"),
)
