"""Points stored as chunks (store/sql/point_chunks.py, store/sql/points.py): whatever order and
size the writes come in (appends, resends, out-of-order steps, single points that merge into a
block's last chunk, many points at one step), every read returns each distinct point once, in
(step, timestamp, value) order, on SQLite, PostgreSQL and MariaDB. The expected answers are
computed here from the points written, and the stored rows are decoded by tests/stored_points.py,
not by the store."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from swan_server.db import schema
from swan_server.entities import Metric
from swan_server.store.sql.point_chunks import MAX_CHUNK_POINTS, decode, encode, split
from tests.databases import fresh_store
from tests.stored_points import stored_points

T0 = 1_700_000_000_000


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def store(request, tmp_path):
    with fresh_store(request.param, tmp_path) as store:
        yield store


def _new_run(store) -> str:
    exp = store.create_experiment(f"e{random.random()}", None, {})
    return store.create_run(exp, "u", T0, {}, "r").info.run_id


def _writes(rnd: random.Random) -> list[list[tuple[int, int, float]]]:
    """Batches of (step, timestamp, value): appends of mixed sizes, single points, a resend of
    an earlier batch, a shuffled batch reaching back into stored blocks, and a pile at step 0."""
    batches, step = [], 0
    for _ in range(30):
        n = rnd.choice([1, 1, 2, 7, 50, 130])
        batches.append([(s, T0 + s, round(rnd.uniform(-1, 1), 3)) for s in range(step, step + n)])
        step += n
    batches.append(list(batches[5]))  # a resend
    back = [(s, T0 + s, 9.5) for s in rnd.sample(range(step), 40)] + [p for p in batches[3]]
    rnd.shuffle(back)
    batches.append(back)
    batches.append([(0, T0 + 10_000 + i, float(i)) for i in range(300)])  # many points at one step
    batches += [[(s, T0 + s, 1.0)] for s in range(step + 1000, step + 1040)]  # sparse singles
    return batches


@pytest.mark.parametrize("seed", [1, 2])
def test_every_read_sees_each_point_once_in_order(store, seed):
    rnd = random.Random(seed)
    run_id = _new_run(store)
    expected: set = set()
    for batch in _writes(rnd):
        store.log_batch(run_id, [Metric("m", v, ts, s) for s, ts, v in batch], {}, {})
        expected.update(batch)
    ordered = sorted(expected)

    # the stored rows, decoded independently: each point once, each chunk within one 64-step block
    with store.read() as conn:
        sid = conn.execute(select(schema.metric_series.c.id)).scalar_one()
        count = conn.execute(select(schema.metric_series.c.point_count)).scalar_one()
        rows = conn.execute(select(schema.metric_chunks.c.block, schema.metric_chunks.c.points)).all()
        held = stored_points(conn, [sid])[sid]
    assert [(s, ts, v) for s, ts, v, _ in held] == ordered and count == len(ordered)
    assert all({p[0] >> 6 for p in decode(bytes(payload))} == {block} for block, payload in rows)

    # the whole history, and page by page
    whole = store.get_metric_history(run_id, "m", None, None).items
    assert [(s, ts, v) for s, ts, v, _ in whole] == ordered
    for size in (1, 7, 64, 333):
        got, token = [], None
        while True:
            page = store.get_metric_history(run_id, "m", size, token)
            got += page.items
            token = page.token
            if not token:
                break
            assert len(page.items) == size
        assert [(s, ts, v) for s, ts, v, _ in got] == ordered, size

    # keyset pages from a step (SwanLab's export)
    for min_step in (0, 1, 63, 64, 65, 200, ordered[-1][0], ordered[-1][0] + 1):
        assert store.metric_points_from(run_id, "m", min_step, 50) == [p for p in ordered if p[0] >= min_step][:50]

    # sampled reads over a step range
    lo, hi = 10, 300
    inside = [p for p in ordered if lo <= p[0] <= hi]
    sampled = store.get_metric_history_bulk_interval([run_id], "m", lo, hi, len(inside) + 5)
    assert [(m.step, m.timestamp, m.value) for _, m in sampled] == inside

    # bucketed reads: per bucket, the min and max of the points in it
    out = store.bucketed_series([run_id], "m", "step", 0, 399, 400)
    res, width = out["runs"][0], out["width"]
    assert width == 1
    assert res["x"] == sorted({s for s, _, _ in ordered if s <= 399})
    for x, low, high in zip(res["x"], res["min"], res["max"]):
        values = [v for s, _, v in ordered if s == x]
        assert (low, high) == (min(values), max(values)), x


def test_points_logged_one_by_one_share_their_blocks_chunks(store):
    """A series logged a point per call (mlflow.log_metric in a loop) is not left with a row per
    point: each small write goes into its block's last chunk, up to MERGE_LIMIT points."""
    from swan_server.store.sql.points import MERGE_LIMIT

    run_id = _new_run(store)
    for s in range(100):
        store.log_batch(run_id, [Metric("one", s / 2, T0 + s, s)], {}, {})
    for i in range(MERGE_LIMIT + 10):  # at one step: a chunk fills up, and the next one starts
        store.log_batch(run_id, [Metric("flat", float(i), T0 + i, 0)], {}, {})
    with store.read() as conn:
        ids = dict(conn.execute(select(schema.metric_series.c.key, schema.metric_series.c.id)).all())
        counts = {key: sorted(conn.execute(
            select(schema.metric_chunks.c.block, schema.metric_chunks.c.point_count)
            .where(schema.metric_chunks.c.series_id == sid)).all()) for key, sid in ids.items()}
        held = stored_points(conn, ids.values())
    assert counts["one"] == [(0, 64), (1, 36)]
    assert counts["flat"] == [(0, 10), (0, MERGE_LIMIT)]
    assert [p[:3] for p in held[ids["one"]]] == [(s, T0 + s, s / 2) for s in range(100)]
    assert [m[2] for m in store.get_metric_history(run_id, "flat", None, None).items] == \
        [float(i) for i in range(MERGE_LIMIT + 10)]


def test_codec_and_split_units():
    points = [(s, T0 - s, s / 3, s % 5 == 0) for s in range(-70, 5000)]
    assert decode(encode(points)) == points
    groups = split(points)
    assert [p for _, part in groups for p in part] == points
    assert all({p[0] >> 6 for p in part} == {block} and len(part) <= MAX_CHUNK_POINTS for block, part in groups)
    crowded = [(7, i, 0.0, False) for i in range(MAX_CHUNK_POINTS * 2 + 1)]
    assert [len(part) for _, part in split(crowded)] == [MAX_CHUNK_POINTS, MAX_CHUNK_POINTS, 1]
    shuffled = points[:]
    random.Random(4).shuffle(shuffled)
    regrouped = split(shuffled)
    assert sorted(p for _, part in regrouped for p in part) == points
    assert all({p[0] >> 6 for p in part} == {block} for block, part in regrouped)
