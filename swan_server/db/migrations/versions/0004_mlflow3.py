"""MLflow 3 tables (model registry, logged models, traces).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import MEDIUMTEXT

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Double = sa.Double()
LongText = sa.Text().with_variant(MEDIUMTEXT(), "mysql", "mariadb")


def _fk(target: str):
    return sa.ForeignKey(target, ondelete="CASCADE")


def upgrade():
    op.create_table(
        "registered_models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("description", LongText, nullable=True),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("last_version", sa.Integer, nullable=False),
        sa.UniqueConstraint("name", name="uq_registered_models_name"),
    )
    op.create_table(
        "registered_model_tags",
        sa.Column("model_id", sa.Integer, _fk("registered_models.id"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", LongText, nullable=True),
        sa.PrimaryKeyConstraint("model_id", "key", name="pk_registered_model_tags"),
    )
    op.create_table(
        "registered_model_aliases",
        sa.Column("model_id", sa.Integer, _fk("registered_models.id"), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "alias", name="pk_registered_model_aliases"),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, _fk("registered_models.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("description", LongText, nullable=True),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("current_stage", sa.String(20), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("run_link", sa.Text, nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("logged_model_id", sa.String(64), nullable=True),
        sa.Column("storage_location", sa.Text, nullable=False),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_id_version"),
    )
    op.create_table(
        "model_version_tags",
        sa.Column("version_id", sa.Integer, _fk("model_versions.id"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", LongText, nullable=True),
        sa.PrimaryKeyConstraint("version_id", "key", name="pk_model_version_tags"),
    )
    op.create_table(
        "logged_models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("artifact_location", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("model_type", sa.String(500), nullable=True),
        sa.Column("source_run_id", sa.String(32), nullable=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False),
        sa.UniqueConstraint("model_id", name="uq_logged_models_model_id"),
    )
    op.create_index("ix_logged_models_project_creation", "logged_models", ["project_id", "creation_time"])
    for table, nullable in (("logged_model_tags", True), ("logged_model_params", False)):
        op.create_table(
            table,
            sa.Column("model_pk", sa.Integer, _fk("logged_models.id"), nullable=False),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", sa.Text, nullable=nullable),
            sa.PrimaryKeyConstraint("model_pk", "key", name=f"pk_{table}"),
        )
    op.create_table(
        "logged_model_metrics",
        sa.Column("model_pk", sa.Integer, _fk("logged_models.id"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("dataset_key", sa.String(40), nullable=False),
        sa.Column("dataset_name", sa.String(500), nullable=True),
        sa.Column("dataset_digest", sa.String(36), nullable=True),
        sa.Column("value", Double, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("model_pk", "key", "dataset_key", name="pk_logged_model_metrics"),
    )
    op.create_table(
        "run_model_outputs",
        sa.Column("run_id", sa.Integer, _fk("runs.id"), nullable=False),
        sa.Column("model_pk", sa.Integer, _fk("logged_models.id"), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "model_pk", name="pk_run_model_outputs"),
    )
    op.create_table(
        "run_model_inputs",
        sa.Column("run_id", sa.Integer, _fk("runs.id"), nullable=False),
        sa.Column("model_pk", sa.Integer, _fk("logged_models.id"), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "model_pk", name="pk_run_model_inputs"),
    )
    op.create_table(
        "traces",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trace_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("client_request_id", sa.String(250), nullable=True),
        sa.Column("request_time", sa.BigInteger, nullable=False),
        sa.Column("execution_duration", sa.BigInteger, nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("request_preview", sa.Text, nullable=True),
        sa.Column("response_preview", sa.Text, nullable=True),
        sa.Column("info_finalized", sa.Boolean, nullable=False),
        sa.UniqueConstraint("trace_id", name="uq_traces_trace_id"),
    )
    op.create_index("ix_traces_project_request_time", "traces", ["project_id", "request_time"])
    for table in ("trace_tags", "trace_metadata"):
        op.create_table(
            table,
            sa.Column("trace_pk", sa.Integer, _fk("traces.id"), nullable=False),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", sa.Text, nullable=True),
            sa.PrimaryKeyConstraint("trace_pk", "key", name=f"pk_{table}"),
        )
    op.create_table(
        "trace_run_links",
        sa.Column("trace_pk", sa.Integer, _fk("traces.id"), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("trace_pk", "run_id", name="pk_trace_run_links"),
    )


def downgrade():
    for table in (
        "trace_run_links", "trace_metadata", "trace_tags", "traces",
        "run_model_inputs", "run_model_outputs", "logged_model_metrics", "logged_model_params", "logged_model_tags",
    ):
        op.drop_table(table)
    op.drop_index("ix_logged_models_project_creation", table_name="logged_models")
    op.drop_table("logged_models")
    for table in ("model_version_tags", "model_versions", "registered_model_aliases",
                  "registered_model_tags", "registered_models"):
        op.drop_table(table)
