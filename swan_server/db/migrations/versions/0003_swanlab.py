"""Media index, console log lines, run profiles, run heartbeats, project columns, server secrets.

Generic Swan tables; the SwanLab face is their first writer.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "media_items",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("caption", sa.Text, nullable=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key", "step", "seq", name="pk_media_items"),
    )
    op.create_table(
        "log_lines",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("line", sa.BigInteger, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "line", name="pk_log_lines"),
    )
    op.create_table(
        "run_profiles",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "kind", name="pk_run_profiles"),
    )
    op.create_table(
        "run_heartbeats",
        sa.Column(
            "run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
        ),
        sa.Column("last_seen_time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_run_heartbeats_last_seen_time", "run_heartbeats", ["last_seen_time"])
    op.create_table(
        "project_columns",
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("section", sa.String(250), nullable=True),
        sa.Column("x_axis", sa.String(250), nullable=True),
        sa.Column("hidden", sa.Boolean, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("project_id", "key", name="pk_project_columns"),
    )
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
    )


def downgrade():
    op.drop_table("server_secrets")
    op.drop_table("project_columns")
    op.drop_index("ix_run_heartbeats_last_seen_time", table_name="run_heartbeats")
    op.drop_table("run_heartbeats")
    op.drop_table("run_profiles")
    op.drop_table("log_lines")
    op.drop_table("media_items")
