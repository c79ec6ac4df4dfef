"""The Alembic history builds exactly the schema the store uses, on SQLite, PostgreSQL and
MariaDB, from an empty database and from the previous revision."""

import math

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import column, inspect, select, table

from swan_client.cli import main
from swan_server.db import schema
from swan_server.db.engine import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)
from swan_server.entities import Metric
from swan_server.store.sql import SqlTrackingStore
from tests.databases import TempDatabase

DIALECTS = ["sqlite", "postgresql", "mysql"]

# metric_points as revisions before 0007 had it (a row per point).
_OLD_POINTS = table("metric_points", column("series_id"), column("step"), column("timestamp"), column("value"),
                    column("is_nan"))


@pytest.fixture(params=DIALECTS)
def empty_db(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    db = TempDatabase(request.param).create()
    yield db.uri
    db.drop()


def _diff(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, schema.metadata)


def test_upgrade_from_empty_matches_schema(empty_db):
    engine = make_engine(empty_db)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert _diff(engine) == []
    with engine.connect() as conn:
        default = conn.execute(select(schema.projects).where(schema.projects.c.id == 0)).one()
        assert default.name == "Default"
        assert default.artifact_location == "mlflow-artifacts:/0"
        admin_ws = conn.execute(select(schema.workspaces.c.id).where(schema.workspaces.c.name == "admin")).scalar()
        assert admin_ws == 1
    # ids generated after the seeded rows do not collide with them (PostgreSQL sequences)
    store = SqlTrackingStore(engine)
    assert store.create_experiment("after-seed", None, {}) not in ("0",)
    assert store.create_user("someone", "member").workspace_id != 1
    engine.dispose()


def test_upgrade_from_previous_revision_keeps_data(empty_db):
    engine = make_engine(empty_db)
    script = ScriptDirectory.from_config(alembic_config())
    previous = script.get_revision(head_revision()).down_revision
    upgrade(engine, previous)
    # Rows written by the previous release (plain SQL: today's store expects today's schema).
    with engine.begin() as conn:
        exp = conn.execute(schema.projects.insert().values(
            workspace_id=1, name="kept", artifact_location="mlflow-artifacts:/x", lifecycle_stage="active",
            creation_time=1, last_update_time=1)).inserted_primary_key[0]
        run_pk = conn.execute(schema.runs.insert().values(
            run_uuid="a" * 32, project_id=exp, name="r", user_id="u", status="FINISHED", start_time=1000,
            lifecycle_stage="active", artifact_uri="mlflow-artifacts:/x/r/artifacts")).inserted_primary_key[0]
        conn.execute(schema.params.insert().values(run_id=run_pk, key="lr", value="0.1"))
        # A series of 150 points as rows of the old points table (step 7 twice, a NaN at step 3),
        # under a summary that lags its points (as an import could leave it before 0007).
        sid = conn.execute(schema.metric_series.insert().values(
            run_id=run_pk, key="acc", last_step=50, last_timestamp=50, last_value=0.0, last_is_nan=False,
            min_value=0.0, max_value=0.0, min_step=0, max_step=50, min_timestamp=0, max_timestamp=50,
            point_count=51)).inserted_primary_key[0]
        old_points = [(s, 10 * s, s / 4, False) for s in range(149)] + [(7, 71, -1.0, False)]
        old_points[3] = (3, 30, 0.0, True)
        conn.execute(_OLD_POINTS.insert(), [{"series_id": sid, "step": s, "timestamp": ts, "value": v, "is_nan": nan}
                                            for s, ts, v, nan in old_points])
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert _diff(engine) == []
    store = SqlTrackingStore(engine)
    store.log_batch("a" * 32, [Metric("loss", 0.5, 1000, 1), Metric("loss", 0.25, 1001, 2)], {}, {})
    got = store.get_run("a" * 32)
    assert got.params == {"lr": "0.1"} and got.info.status == "FINISHED"
    assert {m.key: m.value for m in got.metrics} == {"loss": 0.25, "acc": 148 / 4}
    history = store.get_metric_history("a" * 32, "acc", None, None).items
    expected = sorted(old_points)
    assert [(m[0], m[1]) for m in history] == [(s, ts) for s, ts, _, _ in expected]
    assert math.isnan(history[3][2]) and [m[2] for m in history[:3]] == [0.0, 0.25, 0.5]
    with engine.connect() as conn:
        summary = conn.execute(select(schema.metric_series).where(schema.metric_series.c.id == sid)).one()
    assert (summary.point_count, summary.max_step, summary.last_timestamp, summary.min_value, summary.max_value) == \
        (150, 148, 1480, -1.0, 37.0)
    # a resend of stored points adds nothing (the recomputed summary tells it from an append)
    store.log_batch("a" * 32, [Metric("acc", 0.25, 10, 1), Metric("acc", 37.0, 1480, 148)], {}, {})
    assert len(store.get_metric_history("a" * 32, "acc", None, None).items) == 150
    # and the way back restores the rows
    downgrade(engine, previous)
    with engine.connect() as conn:
        rows = conn.execute(select(_OLD_POINTS.c.step, _OLD_POINTS.c.timestamp).where(_OLD_POINTS.c.series_id == sid)
                            .order_by(_OLD_POINTS.c.step, _OLD_POINTS.c.timestamp)).all()
    assert [tuple(r) for r in rows] == [(s, ts) for s, ts, _, _ in expected]
    engine.dispose()


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


def test_mysql_compares_names_case_sensitively():
    db = TempDatabase("mysql").create()
    try:
        engine = make_engine(db.uri)
        upgrade(engine)
        store = SqlTrackingStore(engine)
        store.create_experiment("Case", None, {})
        store.create_experiment("case", None, {})  # a different name, as on SQLite and PostgreSQL
        assert store.get_experiment_by_name("CASE") is None
        engine.dispose()
    finally:
        db.drop()
