"""The Alembic history builds exactly the schema the store uses."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect, select

from swan_client.cli import main
from swan_server.db import schema
from swan_server.db.engine import current_revision, downgrade, head_revision, make_engine, upgrade


def _diff(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, schema.metadata)


def test_upgrade_from_empty_matches_schema(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert _diff(engine) == []
    with engine.connect() as conn:
        default = conn.execute(select(schema.projects).where(schema.projects.c.id == 0)).one()
        assert default.name == "Default"
        assert default.artifact_location == "mlflow-artifacts:/0"


def test_upgrade_is_idempotent_and_downgrade_clears(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    upgrade(engine)  # a second start changes nothing
    assert current_revision(engine) == head_revision()
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert _diff(engine) == []


def test_db_upgrade_command(tmp_path):
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(main, ["db", "upgrade", "--backend-store-uri", uri])
    assert result.exit_code == 0, result.output
    assert head_revision() in result.output
    assert current_revision(make_engine(uri)) == head_revision()


def test_sqlite_runs_in_wal_mode(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
