"""Store behaviour that depends on the SQL dialect, checked on SQLite, PostgreSQL and MariaDB."""

import math

import pytest
from sqlalchemy import select

from swan_server.db import schema
from swan_server.db.engine import make_engine, upgrade
from swan_server.entities import Metric
from swan_server.store.sql import SqlTrackingStore
from swan_server.store.sql.base import DBL_MAX
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


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_a_deadlock_in_any_write_is_retried_not_answered(tmp_path, backend):
    """Every store write (not only the metrics hot path) re-runs its transaction once the database
    reports a deadlock, so the client sees a success and nothing is written twice."""
    from sqlalchemy import text

    db = TempDatabase(backend).create()
    engine = make_engine(db.uri)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            if backend == "postgresql":
                conn.execute(text("CREATE SEQUENCE deadlock_once_seq"))
                conn.execute(text(
                    "CREATE FUNCTION deadlock_once_fn() RETURNS trigger AS $$ BEGIN "
                    "IF nextval('deadlock_once_seq') = 1 THEN "
                    "RAISE EXCEPTION 'deadlock detected (injected)' USING ERRCODE = '40P01'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"))
                conn.execute(text("CREATE TRIGGER deadlock_once_tr BEFORE INSERT ON model_versions "
                                  "FOR EACH ROW EXECUTE FUNCTION deadlock_once_fn()"))
            else:
                # AUTO_INCREMENT values are not given back on rollback either: the first insert
                # ever (id 1) is refused.
                conn.execute(text("CREATE TABLE deadlock_once (id INTEGER AUTO_INCREMENT PRIMARY KEY)"))
                conn.execute(text(
                    "CREATE TRIGGER deadlock_once_tr BEFORE INSERT ON model_versions FOR EACH ROW BEGIN "
                    "INSERT INTO deadlock_once () VALUES (); "
                    "IF LAST_INSERT_ID() = 1 THEN "
                    "SIGNAL SQLSTATE '40001' SET MESSAGE_TEXT = 'Deadlock found (injected)', MYSQL_ERRNO = 1213; "
                    "END IF; END"))
        store = SqlTrackingStore(engine)
        store.create_registered_model("m", {}, None)
        version = store.create_model_version("m", "s3://bucket/model", None, {"k": "v"}, None, None, None,
                                             "s3://bucket/model", "READY")
        assert version.version == 1  # the refused attempt was rolled back, its number not used up
        with engine.connect() as conn:
            fired = conn.execute(text(
                "SELECT last_value FROM deadlock_once_seq" if backend == "postgresql"
                else "SELECT MAX(id) FROM deadlock_once")).scalar_one()
        assert fired >= 2  # the injected deadlock really happened, then the retry went through
        assert [v.version for v in store.search_model_versions("name = 'm'", 10, None, None).items] == [1]
    finally:
        engine.dispose()
        db.drop()


def test_point_counts_stay_exact_when_a_batch_repeats_stored_points(store):
    """A resent batch that overlaps stored points: only the new ones count (PostgreSQL inserts a
    batch in one statement and recounts the series when some points were there already)."""
    run = store.create_run("0", "u", None, {}, "r").info.run_id
    first = [Metric(k, float(s), 1000 + s, s) for s in range(10) for k in ("a", "b")]
    store.log_batch(run, first, {}, {})
    overlap = [Metric(k, float(s), 1000 + s, s) for s in range(5, 15) for k in ("a", "b")] + [Metric("c", 1.0, 5, 0)]
    store.log_batch(run, overlap, {}, {})
    assert _series(store, run, "a").point_count == 15
    assert _series(store, run, "b").point_count == 15
    assert _series(store, run, "c").point_count == 1
    assert [p[1] for p in store.get_metric_history(run, "a", None, None).items] == [1000 + s for s in range(15)]


def test_series_summaries_match_the_stored_points(store):
    """The summary row of each series (what run lists, search and the latest metric read) equals
    what its stored points give, after batches in any order, with repeated steps, NaN and
    infinities, a key absent from some batches, resends and batches spanning several coarse rollup
    blocks: min and max of the non-NaN values, the last point by (step, timestamp, value), the step
    and time spans, and the point count."""
    import random

    rnd = random.Random(7)
    run = store.create_run("0", "u", None, {}, "r").info.run_id
    sent = []
    for batch_no in range(12):
        batch = []
        for key in ("a", "b", "c")[: 1 + batch_no % 3]:
            bases = rnd.choice([[0], [10 * batch_no], [3_000_000], [0, 3_000_000]])
            for _ in range(rnd.choice([1, 5, 80, 300])):
                step = rnd.choice(bases) + rnd.randrange(0, 400)
                value = rnd.choice([rnd.uniform(-5, 5), rnd.uniform(-5, 5), math.nan, math.inf, -math.inf, 0.0])
                batch.append(Metric(key, value, 1000 + rnd.randrange(-20, 20) + step, step))
        if batch_no % 2:
            batch.sort(key=lambda m: m.step)
        if batch_no == 7:
            batch += sent[:50]  # a partial resend
        store.log_batch(run, batch, {}, {})
        sent += batch
    for key in ("a", "b", "c"):
        history = store.get_metric_history(run, key, None, None).items  # (step, timestamp, value, is_nan)
        stored = [(s, ts, 0.0 if nan else max(-DBL_MAX, min(DBL_MAX, v)), bool(nan)) for s, ts, v, nan in history]
        real = [v for _, _, v, nan in stored if not nan]
        last = max(stored, key=lambda p: p[:3])
        summary = _series(store, run, key)
        assert summary.point_count == len(stored)
        assert (summary.min_value, summary.max_value) == ((min(real), max(real)) if real else (None, None))
        assert (summary.last_step, summary.last_timestamp, summary.last_value) == last[:3]
        assert bool(summary.last_is_nan) == last[3]
        assert (summary.min_step, summary.max_step) == (min(p[0] for p in stored), max(p[0] for p in stored))
        assert (summary.min_timestamp, summary.max_timestamp) == (min(p[1] for p in stored), max(p[1] for p in stored))

