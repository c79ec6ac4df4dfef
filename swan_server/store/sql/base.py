"""Shared plumbing of the SQL store: transactions, id lookups, value encoding."""

from __future__ import annotations

import functools
import inspect
import logging
import math
import random
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql import ColumnElement

from swan_server.db import schema as t
from swan_server.db.dialects import ChunkInserter, like, string_equals
from swan_server.errors import TEMPORARILY_UNAVAILABLE, SwanError, invalid, not_found

DBL_MAX = 1.7976931348623157e308

# Bound parameters per IN (...) list: SQLite allows 32,766 per statement.
IN_CHUNK = 5000


def now_ms() -> int:
    return int(time.time() * 1000)


def encode_value(value: float) -> tuple[float, bool]:
    """(stored value, is_nan). NaN is stored as 0 with the flag; infinities as ±DBL_MAX."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (DBL_MAX if value > 0 else -DBL_MAX), False
    return value, False


def decode_value(value: float, is_nan: bool) -> float:
    if not is_nan and -DBL_MAX < value < DBL_MAX:
        return value
    if is_nan:
        return math.nan
    if value >= DBL_MAX:
        return math.inf
    if value <= -DBL_MAX:
        return -math.inf
    return value


def fetch_tuples(conn: Connection, query, params: dict | None = None) -> list[tuple]:
    """Rows as the driver's plain tuples, skipping SQLAlchemy's per-row Row objects: for the
    bounded but large reads of the hot paths (metric points, the params, tags and latest metrics
    of a page of runs). Only for columns that need no result processing: numbers, booleans read
    by truthiness, and text."""
    return conn.execute(query, params).cursor.fetchall()


def chunks(seq: list, size: int = IN_CHUNK) -> Iterator[list]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def parse_experiment_id(experiment_id) -> int:
    try:
        value = int(str(experiment_id))
    except (TypeError, ValueError):
        value = None
    # Ids beyond 32 bits were never issued; treat them as unknown rather than letting SQL fail.
    if value is None or not -(2**31) <= value < 2**31:
        raise not_found(f"No Experiment with id={experiment_id} exists")
    return value


# Statements every request runs, built once (construction costs more than executing a cached one).
_RUN_BY_UUID = select(t.runs).where(t.runs.c.run_uuid == bindparam("run_uuid"))

TRANSIENT_ATTEMPTS = 5

log = logging.getLogger(__name__)
# Set while a store method runs under retry_transient, so that a store method calling another
# retries once as a whole instead of multiplying the attempts.
_retry_scope = threading.local()


def retry_transient(method):
    """Re-run a store method whose single transaction failed for a transient reason (a deadlock
    between concurrent writers on MySQL or PostgreSQL, a locked SQLite file, a dropped pooled
    connection). The failed transaction was rolled back, so running it again is safe; after the
    last attempt the client gets the 503 it retries."""
    if getattr(method, "_retries_transient", False):
        return method

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if getattr(_retry_scope, "active", False):
            return method(*args, **kwargs)
        _retry_scope.active = True
        try:
            for attempt in range(TRANSIENT_ATTEMPTS):
                try:
                    return method(*args, **kwargs)
                except SwanError as exc:
                    if exc.error_code != TEMPORARILY_UNAVAILABLE:
                        raise
                    log.warning("%s: attempt %d of %d failed: %s", method.__qualname__, attempt + 1,
                                TRANSIENT_ATTEMPTS, exc.message)
                    if attempt == TRANSIENT_ATTEMPTS - 1:
                        raise
                    time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
            raise AssertionError("unreachable")
        finally:
            _retry_scope.active = False

    wrapper._retries_transient = True
    return wrapper


# The transaction helpers themselves only open a connection: the operations that use them retry.
_NOT_OPERATIONS = frozenset({"read", "write"})


def retry_public_methods(cls):
    """Give every public method of a store class the transient-failure retry: each runs one
    transaction (or reads only), so re-running it after a rollback is safe."""
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if name.startswith("_") or name in _NOT_OPERATIONS or not inspect.isfunction(value):
                continue
            if getattr(getattr(cls, name), "_retries_transient", False):
                continue
            setattr(cls, name, retry_transient(getattr(cls, name)))
    return cls


class SqlStoreBase:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        self.points_inserter = ChunkInserter(self.dialect)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction; SQLite takes its write lock at BEGIN so writers queue instead of
        deadlocking."""
        try:
            with self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    conn = conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    def _compare(self, column, op: str, value) -> ColumnElement:
        """One filter comparison, with MLflow's case rules for strings."""
        if op == "LIKE":
            return like(column, value, self.dialect, case_sensitive=True)
        if op == "ILIKE":
            return like(column, value, self.dialect, case_sensitive=False)
        if op == "IN":
            return column.in_(list(value))
        if op == "NOT IN":
            return column.not_in(list(value))
        if isinstance(value, str) and op in ("=", "!="):
            return string_equals(column, value, self.dialect, negate=op == "!=")
        return {
            "=": column == value, "!=": column != value, ">": column > value,
            ">=": column >= value, "<": column < value, "<=": column <= value,
        }[op]

    # -- lookups --------------------------------------------------------------------------------
    def _run_row(self, conn: Connection, run_id: str) -> Row:
        if not isinstance(run_id, str) or not run_id:
            raise invalid(f"Invalid value {run_id!r} for parameter 'run_id' supplied")
        row = conn.execute(_RUN_BY_UUID, {"run_uuid": run_id}).first()
        if row is None:
            raise not_found(f"Run with id={run_id} not found")
        return row

    def _active_run_row(self, conn: Connection, run_id: str) -> Row:
        row = self._run_row(conn, run_id)
        if row.lifecycle_stage != "active":
            raise invalid(
                f"The run {run_id} must be in the 'active' state. "
                f"Current state is {row.lifecycle_stage}."
            )
        return row

    def _experiment_row(self, conn: Connection, experiment_id) -> Row:
        exp_id = parse_experiment_id(experiment_id)
        row = conn.execute(select(t.projects).where(t.projects.c.id == exp_id)).first()
        if row is None:
            raise not_found(f"No Experiment with id={experiment_id} exists")
        return row


def _unavailable(exc: DBAPIError) -> SwanError:
    # A locked or unreachable database is transient: clients retry a 503.
    return SwanError(f"Database temporarily unavailable: {exc.orig}", TEMPORARILY_UNAVAILABLE)
