"""The array literals the PostgreSQL hot path binds instead of Python lists (points, rollup blocks,
series summaries), read back by the machine's PostgreSQL: every value must come back exactly,
whatever Python type it was given as."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy import create_engine

from swan_server.db.dialects import pg_array_literal
from tests.databases import ADMIN_URIS


@pytest.fixture(scope="module")
def pg():
    engine = create_engine(ADMIN_URIS["postgresql"])
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def read_back(conn, literal: str, kind: str) -> list:
    return conn.exec_driver_sql(f"SELECT %s::{kind}[]", (literal,)).scalar()


@pytest.mark.parametrize("values", [
    [0.1, 1 / 3, -2.5e-300, 1.7976931348623157e308, -1.7976931348623157e308, 5e-324, 0.0, -0.0, 12345678901234.5],
    [1.0, None, 2.0, None],  # a block of only NaN keeps NULL min/max
    [np.float64(0.1), np.float32(0.25), None, 3],
    [True, 2.5, False],  # a bool in a numeric column is stored as the number Python gives it
    [],
])
def test_floats_read_back_exactly(pg, values):
    got = read_back(pg, pg_array_literal(values, float), "float8")
    want = [None if v is None else float(v) for v in values]
    assert got == want
    assert [math.copysign(1, g) for g in got if g == 0] == [math.copysign(1, w) for w in want if w == 0]


@pytest.mark.parametrize("values", [
    [0, 1, -1, 2**63 - 1, -(2**63), 1_700_000_000_000],
    [np.int64(7), np.int32(-3), 4],
])
def test_integers_read_back_exactly(pg, values):
    assert read_back(pg, pg_array_literal(values, int), "bigint") == [int(v) for v in values]


@pytest.mark.parametrize("values", [[True, False, True], [np.bool_(True), np.bool_(False)]])
def test_booleans_read_back(pg, values):
    assert read_back(pg, pg_array_literal(values, bool), "boolean") == [bool(v) for v in values]
