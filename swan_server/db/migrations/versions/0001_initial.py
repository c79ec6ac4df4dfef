"""Initial schema: workspaces, projects, runs, params, tags, metrics, datasets.

Revision ID: 0001
Revises:
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Double = sa.Double()


def upgrade():
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("name", name="uq_workspaces_name"),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("artifact_location", sa.String(1000), nullable=False),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
        sa.Column("deleted_time", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("name", name="uq_projects_name"),
    )
    op.create_table(
        "project_tags",
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("project_id", "key", name="pk_project_tags"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_uuid", sa.String(32), nullable=False),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(250), nullable=True),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=True),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False),
        sa.Column("artifact_uri", sa.String(1000), nullable=False),
        sa.Column("deleted_time", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("run_uuid", name="uq_runs_run_uuid"),
    )
    op.create_index("ix_runs_project_stage_start", "runs", ["project_id", "lifecycle_stage", "start_time"])
    for table in ("params", "run_tags"):
        op.create_table(
            table,
            sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", sa.Text, nullable=table == "run_tags"),
            sa.PrimaryKeyConstraint("run_id", "key", name=f"pk_{table}"),
        )
    op.create_table(
        "metric_series",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("last_step", sa.BigInteger, nullable=False),
        sa.Column("last_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_value", Double, nullable=False),
        sa.Column("last_is_nan", sa.Boolean, nullable=False),
        sa.Column("min_value", Double, nullable=True),
        sa.Column("max_value", Double, nullable=True),
        sa.Column("min_step", sa.BigInteger, nullable=False),
        sa.Column("max_step", sa.BigInteger, nullable=False),
        sa.Column("min_timestamp", sa.BigInteger, nullable=False),
        sa.Column("max_timestamp", sa.BigInteger, nullable=False),
        sa.Column("point_count", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("run_id", "key", name="uq_metric_series_run_id_key"),
    )
    op.create_table(
        "metric_points",
        sa.Column("series_id", sa.Integer, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("value", Double, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("series_id", "step", "timestamp", "value", "is_nan", name="pk_metric_points"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("schema", sa.Text, nullable=True),
        sa.Column("profile", sa.Text, nullable=True),
        sa.UniqueConstraint("project_id", "name", "digest", name="uq_datasets_project_id_name_digest"),
    )
    op.create_table(
        "run_inputs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.UniqueConstraint("run_id", "dataset_id", name="uq_run_inputs_run_id_dataset_id"),
    )
    op.create_table(
        "input_tags",
        sa.Column("input_id", sa.Integer, sa.ForeignKey("run_inputs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("input_id", "key", name="pk_input_tags"),
    )
    op.create_table(
        "applied_batches",
        sa.Column("batch_key", sa.String(64), primary_key=True),
        sa.Column("created_time", sa.BigInteger, nullable=False),
    )

    _seed_defaults()


def _seed_defaults():
    """The admin workspace and MLflow's "Default" experiment, whose id is always 0."""
    now = int(time.time() * 1000)
    bind = op.get_bind()
    # No explicit id: the first generated id is 1 on every dialect, and PostgreSQL's sequence
    # must have produced it itself or its next value would collide.
    bind.execute(sa.text("INSERT INTO workspaces (name, created_time) VALUES ('admin', :now)"), {"now": now})
    # MySQL turns an explicit 0 into the next auto-increment value, so insert and then renumber.
    bind.execute(
        sa.text(
            "INSERT INTO projects (id, workspace_id, name, artifact_location, lifecycle_stage,"
            " creation_time, last_update_time) VALUES (1, 1, 'Default', 'mlflow-artifacts:/0',"
            " 'active', :now, :now)"
        ),
        {"now": now},
    )
    bind.execute(sa.text("UPDATE projects SET id = 0 WHERE name = 'Default'"))


def downgrade():
    for table in (
        "applied_batches", "input_tags", "run_inputs", "datasets", "metric_points",
        "metric_series", "run_tags", "params", "runs", "project_tags", "projects", "workspaces",
    ):
        op.drop_table(table)
