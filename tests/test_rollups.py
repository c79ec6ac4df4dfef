"""Rollup blocks and bucketed reads, in-process against the store on SQLite, PostgreSQL and
MariaDB: every bucket equals a brute-force fold of the raw points; reads stay bounded."""

import math
import random

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import column, func, select, table

from swan_server.db import schema
from swan_server.db.engine import alembic_config, make_engine, upgrade
from swan_server.entities import Metric
from swan_server.store.sql import SqlTrackingStore
from swan_server.store.sql.point_chunks import decode
from swan_server.store.sql.rollups import decompose, fold_points
from tests.databases import fresh_store

# metric_points as revisions before 0007 had it (a row per point).
_OLD_POINTS = table("metric_points", column("series_id"), column("step"), column("timestamp"), column("value"),
                    column("is_nan"))


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def store(request, tmp_path):
    with fresh_store(request.param, tmp_path) as store:
        yield store


def _brute(points, lo, hi, width, axis, offset=0):
    ref = sorted(points, key=lambda p: (p[0], p[1], 0.0 if math.isnan(p[2]) else p[2]))
    out = {}
    for step, ts, v in ref:
        x = step if axis == "step" else ts - offset
        if not lo <= x <= hi:
            continue
        a = out.setdefault(x // width, [None, None, None])
        if not math.isnan(v):
            a[0] = v if a[0] is None else min(a[0], v)
            a[1] = v if a[1] is None else max(a[1], v)
        a[2] = None if math.isnan(v) else v
    return out


def _as_buckets(run, width):
    return {x // width: [mn, mx, last] for x, mn, mx, last in zip(run["x"], run["min"], run["max"], run["last"])}


def _log_random_series(store, n=20000, seed=1):
    exp = store.create_experiment(f"rollups-{random.random()}", None, {})
    run_id = store.create_run(exp, "u", 1000, {}, "r").info.run_id
    rnd = random.Random(seed)
    metrics, raw = [], []
    for i in range(n):
        step = i * 3 + rnd.randint(0, 2)
        v = math.sin(i / 100) + rnd.random() * 0.1
        if i % 997 == 0:
            v = float("nan")
        ts = 1_000_000 + step * 10 + rnd.randint(0, 5)
        metrics.append(Metric("loss", v, ts, step))
        raw.append((step, ts, v))
    rnd.shuffle(metrics)  # out of order, across batches
    for i in range(0, n, 1000):
        store.log_batch(run_id, metrics[i:i + 1000], {}, {})
    store.log_batch(run_id, metrics[:1000], {}, {})  # a resend changes nothing
    return run_id, raw


def test_step_buckets_equal_brute_force(store):
    run_id, raw = _log_random_series(store)
    for lo, hi, n in [(None, None, 100), (1234, 45678, 37), (5, 300, 1000), (0, 60000, 50), (100, 2000, 200),
                      (59000, 59990, 3)]:
        res = store.bucketed_series([run_id], "loss", "step", lo, hi, n)
        assert len(res["runs"][0]["x"]) <= n + 1  # buckets are aligned: a ragged range may add one
        got = _as_buckets(res["runs"][0], res["width"])
        assert got == {k: v for k, v in _brute(raw, res["lo"], res["hi"], res["width"], "step").items()}, (lo, hi, n)


def test_time_buckets_keep_every_extreme(store):
    run_id, raw = _log_random_series(store)
    for axis, lo, hi, n, off in [("time", None, None, 100, 0), ("time", 1_050_000, 1_400_000, 77, 0),
                                 ("relative", 999_000, 1_300_000, 60, 1000)]:
        res = store.bucketed_series([run_id], "loss", axis, lo, hi, n)
        run = res["runs"][0]
        inside = [v for s, ts, v in raw if res["lo"] <= ts - off <= res["hi"] and not math.isnan(v)]
        assert 0 < len(run["x"]) <= n + 1
        # Blocks land in the bucket of their last point: extremes are kept, within one bucket.
        assert min(m for m in run["min"] if m is not None) == min(inside)
        assert max(m for m in run["max"] if m is not None) == max(inside)
        assert all(res["lo"] - res["width"] <= x <= res["hi"] for x in run["x"])


def test_spike_survives_and_reads_are_bounded(store):
    exp = store.create_experiment(f"spike-{random.random()}", None, {})
    run_id = store.create_run(exp, "u", 0, {}, "r").info.run_id
    n_points = 200_000
    for start in range(0, n_points, 20000):
        store.log_batch(run_id, [Metric("m", 99.0 if s == 123_457 else 1.0, s, s)
                                 for s in range(start, start + 20000)], {}, {})
    res = store.bucketed_series([run_id], "m", "step", None, None, 500)
    run = res["runs"][0]
    assert max(run["max"]) == 99.0 and sorted(run["max"])[-2] == 1.0
    spike = run["max"].index(99.0)
    assert run["x"][spike] <= 123_457 < run["x"][spike] + res["width"]
    assert res["rows_read"] <= 8 * 500 + 200  # blocks, not points
    # zooming in reads finer blocks, still bounded
    zoom = store.bucketed_series([run_id], "m", "step", 123_000, 124_000, 500)
    assert zoom["width"] <= 4 and max(zoom["runs"][0]["max"]) == 99.0 and zoom["rows_read"] <= 2000


def test_runs_share_aligned_buckets(store):
    exp = store.create_experiment(f"align-{random.random()}", None, {})
    a = store.create_run(exp, "u", 0, {}, "a").info.run_id
    b = store.create_run(exp, "u", 0, {}, "b").info.run_id
    store.log_batch(a, [Metric("k", float(s), s, s) for s in range(0, 10000)], {}, {})
    store.log_batch(b, [Metric("k", float(-s), s, s) for s in range(5000, 30000, 7)], {}, {})
    res = store.bucketed_series([a, b], "k", "step", None, None, 100)
    xa, xb = set(res["runs"][0]["x"]), set(res["runs"][1]["x"])
    assert all(x % res["width"] == 0 for x in xa | xb)
    assert xa & xb  # overlapping steps share bucket starts


@pytest.mark.parametrize("page", [500, 3])
def test_rebuild_matches_ingestion(store, page, monkeypatch):
    """Rebuilt from the point chunks (a few per read, and written every 40 points, with page=3),
    the blocks are those ingestion kept."""
    import swan_server.store.sql.rollups as rollups

    monkeypatch.setattr(rollups, "_REBUILD_PAGE", page)
    run_id, _ = _log_random_series(store, n=5000)
    with store.read() as conn:
        before = sorted(conn.execute(select(schema.metric_rollups)).all())
    store.rebuild_rollups(batch=40 if page == 3 else 100_000)
    with store.read() as conn:
        after = sorted(conn.execute(select(schema.metric_rollups)).all())
    assert before == after and len(before) > 0


def test_unknown_run_and_bad_arguments(store):
    from swan_server.errors import SwanError

    with pytest.raises(SwanError) as e:
        store.bucketed_series(["f" * 32], "k")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(SwanError):
        store.bucketed_series(["f" * 32], "k", "sideways")


def test_migration_backfills_existing_points(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    script = ScriptDirectory.from_config(alembic_config())
    rev = next(r for r in script.walk_revisions() if r.revision == "0005")
    upgrade(engine, rev.down_revision)
    with engine.begin() as conn:
        conn.execute(schema.projects.insert().values(
            id=7, workspace_id=1, name="old", artifact_location="mlflow-artifacts:/7", lifecycle_stage="active",
            creation_time=1, last_update_time=1))
        run_pk = conn.execute(schema.runs.insert().values(
            run_uuid="b" * 32, project_id=7, name="r", status="FINISHED", start_time=0, lifecycle_stage="active",
            artifact_uri="x")).inserted_primary_key[0]
        sid = conn.execute(schema.metric_series.insert().values(
            run_id=run_pk, key="loss", last_step=9999, last_timestamp=9999, last_value=0.0, last_is_nan=False,
            min_value=-5.0, max_value=7.0, min_step=0, max_step=9999, min_timestamp=0, max_timestamp=9999,
            point_count=10000)).inserted_primary_key[0]
        conn.execute(_OLD_POINTS.insert(), [
            {"series_id": sid, "step": s, "timestamp": s, "value": (7.0 if s == 4321 else -5.0 if s == 8 else 0.0),
             "is_nan": False} for s in range(10000)])
    upgrade(engine)
    store = SqlTrackingStore(engine)
    res = store.bucketed_series(["b" * 32], "loss", "step", None, None, 50)
    assert max(res["runs"][0]["max"]) == 7.0 and min(res["runs"][0]["min"]) == -5.0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.metric_rollups)).scalar() > 150


def test_fold_and_decompose_units():
    agg = fold_points([(0, 5, 1.0, False), (3, 1, 0.0, True), (3, 2, -2.0, False), (70, 9, 4.0, False)])
    assert agg[(6, 0)] == [-2.0, 1.0, 3, 2, -2.0, False, 1, 5]
    assert agg[(9, 0)][:2] == [-2.0, 4.0] and agg[(9, 0)][2] == 70
    blocks, raws = decompose(10, 1000, 9)
    covered = sum(((last - first + 1) << lv) for lv, first, last in blocks) + sum(b - a + 1 for a, b in raws)
    assert covered == 991 and all(b - a < 64 for a, b in raws)


@pytest.mark.parametrize("seed", range(6))
def test_sliced_fold_equals_point_by_point_fold(seed):
    """The fast fold of dense ascending batches gives the same blocks as the point-by-point one,
    with NaN, repeated steps and all-NaN blocks mixed in."""
    from swan_server.store.sql.rollups import _fold_any, _fold_ascending

    rnd = random.Random(seed)
    steps = sorted(rnd.randrange(0, 2000) for _ in range(3000))
    points = []
    for s in steps:
        nan = rnd.random() < (0.9 if 640 <= s < 704 else 0.1)
        points.append((s, 1_700_000_000_000 + rnd.randrange(-50, 50) + s, 0.0 if nan else rnd.uniform(-5, 5), nan))
    # ties on (step, timestamp, value) would let the two pick different last points; keep them unique
    points = sorted(dict.fromkeys(points))
    fast, slow = dict(_fold_ascending(points, *zip(*points))), _fold_any(points)
    assert fast == slow
    # sorted by step only, the points of one step in any order: the last point of a block is still
    # the largest by (step, timestamp, value), not the one that came last
    rnd.shuffle(points)
    points.sort(key=lambda p: p[0])
    assert dict(_fold_ascending(points, *zip(*points))) == _fold_any(points) == slow
    assert fold_points(points) == fold_points(list(reversed(points)))  # unsorted input takes the other path


def test_group_columns_layouts_match_point_by_point_grouping():
    from swan_server.store.sql.batches import group_columns

    def naive(keys, steps, stamps, values):
        out = {}
        for k, s, ts, v in zip(keys, steps, stamps, values):
            nan = math.isnan(v)
            stored = 0.0 if nan else max(min(v, 1.7976931348623157e308), -1.7976931348623157e308)
            out.setdefault(k, []).append((s, ts, stored, nan))
        return out

    rnd = random.Random(7)
    n = 600
    layouts = {
        "one key": ["a"] * n,
        "interleaved": [f"k{i % 3}" for i in range(n)],
        "runs": [f"k{i // 200}" for i in range(n)],
        "shuffled": [rnd.choice("xyz") for _ in range(n)],
        "interleaved, ragged end": [f"k{i % 7}" for i in range(n - 2)] + ["k0", "k1"],
    }
    for name, keys in layouts.items():
        steps = list(range(len(keys)))
        stamps = [1000 + s for s in steps]
        for values in ([rnd.random() for _ in keys], [math.nan if i % 50 == 0 else math.inf if i % 77 == 0 else 1.0
                                                      for i in range(len(keys))]):
            got = group_columns(keys, steps, stamps, values)
            assert {k: list(v) for k, v in got.items()} == naive(keys, steps, stamps, values), name


def test_deferred_folds_of_one_series_merge_without_touching_the_callers_fold():
    """Between defer and flush, a series written twice in one transaction gets the blocks of all
    its points (the same as folding them at once), written in one call; the fold a caller passed
    in (and read for the series summary) is not merged into."""
    import copy

    from swan_server.store.sql.rollups import _FoldingInserter

    class Inner:  # a ChunkInserter that keeps what it is given
        dialect_name = "sqlite"

        def __init__(self):
            self.rows = []

        def insert(self, conn, rows):
            self.rows.extend(rows)

    class Conn:  # the inserter keys its pending folds weakly by connection
        pass

    rnd = random.Random(3)
    points = sorted({(s, 1000 + s + rnd.randrange(9), rnd.uniform(-1, 1), False) for s in range(0, 3000, 3)})
    other = [(s, 5, 1.0, False) for s in range(70)]
    written = []
    inner = Inner()
    inserter = _FoldingInserter(inner, lambda conn, folded, also=(): written.append(folded))
    conn = Conn()
    inserter.defer(conn)
    first_fold = fold_points(points[:400])
    untouched = copy.deepcopy(first_fold)
    seqs = inserter.insert_groups(conn, [(1, 0, points[:400]), (2, 0, other)], folds=[first_fold, fold_points(other)])
    # steps 0..1197 in 64-step blocks: 19 chunks; steps 0..69: 2 chunks
    assert seqs == [19, 2]
    inserter.insert_groups(conn, [(1, 19, points[400:700])])
    inserter.insert_groups(conn, [(1, 30, points[700:])])
    assert written == []
    inserter.flush(conn)
    assert written == [{1: fold_points(points), 2: fold_points(other)}]
    assert first_fold == untouched
    inserter.insert_groups(conn, [(3, 0, other)])  # not deferred: written at once
    assert written[1] == {3: fold_points(other)}
    # every point went into exactly one chunk of its block, numbered in order per series
    assert sorted(p for r in inner.rows if r[0] == 1 for p in decode(r[4])) == points
    assert all({p[0] >> 6 for p in decode(r[4])} == {r[1]} and len(decode(r[4])) == r[3] for r in inner.rows)
    assert [r[2] for r in inner.rows if r[0] == 1][:19] == list(range(19))
    # statements carried with the blocks reach the writer even when no blocks are pending
    carried = []
    carrier = _FoldingInserter(Inner(), lambda conn, folded, also=(): carried.append((folded, also)))
    carrier.defer(conn)
    carrier.flush(conn, also=("UPDATE t SET x = 1", ()))
    assert carried == [({}, [("UPDATE t SET x = 1", ())])]
