"""Store behaviour that depends on the SQL dialect, checked on SQLite, PostgreSQL and MariaDB."""

import math

import pytest
from sqlalchemy import select

from swan_server.db import schema
from swan_server.db.engine import make_engine, upgrade
from swan_server.entities import Metric
from swan_server.store.sql import SqlTrackingStore
from tests.databases import TempDatabase


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def store(request, tmp_path):
    db = None
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 's.db'}"
    else:
        db = TempDatabase(request.param).create()
        uri = db.uri
    engine = make_engine(uri)
    upgrade(engine)
    yield SqlTrackingStore(engine)
    engine.dispose()
    if db:
        db.drop()


def _series(store, run_id, key):
    with store.engine.connect() as conn:
        run_pk = conn.execute(select(schema.runs.c.id).where(schema.runs.c.run_uuid == run_id)).scalar_one()
        return conn.execute(
            select(schema.metric_series).where(schema.metric_series.c.run_id == run_pk, schema.metric_series.c.key == key)
        ).one()


def test_batch_key_applies_a_batch_once(store):
    run = store.create_run("0", "u", None, {}, "r").info.run_id
    store.log_batch(run, [Metric("a", 1.0, 1, 1)], {}, {}, batch_key="batch-1")
    store.log_batch(run, [Metric("a", 2.0, 2, 2)], {}, {}, batch_key="batch-1")  # same key: skipped
    store.log_batch(run, [Metric("a", 3.0, 3, 3)], {}, {}, batch_key="batch-2")
    assert [p[2] for p in store.get_metric_history(run, "a", None, None).items] == [1.0, 3.0]


def test_exact_duplicates_collapse_and_counts_stay_exact(store):
    run = store.create_run("0", "u", None, {}, "r").info.run_id
    points = [Metric("k", float(i), 1000 + i, i) for i in range(500)]
    store.log_batch(run, points, {}, {})
    store.log_batch(run, points[:250] + [Metric("k", 7.5, 5000, 9999)], {}, {})  # a resend, plus one new point
    summary = _series(store, run, "k")
    assert summary.point_count == 501
    assert (summary.min_value, summary.max_value, summary.last_step, summary.last_value) == (0.0, 499.0, 9999, 7.5)
    assert len(store.get_metric_history(run, "k", None, None).items) == 501


def test_nan_and_infinities_round_trip(store):
    run = store.create_run("0", "u", None, {}, "r").info.run_id
    store.log_batch(run, [Metric("n", math.nan, 1, 0), Metric("n", math.inf, 2, 1), Metric("n", -math.inf, 3, 2)], {}, {})
    values = [p[2] for p in store.get_metric_history(run, "n", None, None).items]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]


def test_like_is_case_sensitive_and_ilike_is_not(store):
    exp = store.create_experiment("dialect-like", None, {})
    upper = store.create_run(exp, "u", 1, {}, "Alpha").info.run_id
    lower = store.create_run(exp, "u", 2, {}, "alpha").info.run_id
    like = store.search_runs([exp], "attributes.run_name LIKE 'Al%'", "ACTIVE_ONLY", 10, None, None)
    ilike = store.search_runs([exp], "attributes.run_name ILIKE 'al%'", "ACTIVE_ONLY", 10, None, None)
    equal = store.search_runs([exp], "attributes.run_name = 'alpha'", "ACTIVE_ONLY", 10, None, None)
    assert [r.info.run_id for r in like.items] == [upper]
    assert {r.info.run_id for r in ilike.items} == {upper, lower}
    assert [r.info.run_id for r in equal.items] == [lower]
