"""The few statements that differ between SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

from itertools import chain

import orjson
from sqlalchemy import BigInteger, Table, any_, bindparam, func, literal, select
from sqlalchemy import insert as generic_insert
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement


def insert_ignore(table: Table, dialect_name: str):
    """INSERT that silently skips rows whose primary/unique key already exists."""
    if dialect_name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect_name in ("mysql", "mariadb"):
        return mysql.insert(table).prefix_with("IGNORE")
    return generic_insert(table)


def claim_row(conn, table: Table, values: dict) -> bool:
    """Insert one row unless its key exists; True when this call inserted it. PostgreSQL
    reports no reliable rowcount for a skipped conflict here, so it is asked with RETURNING."""
    stmt = insert_ignore(table, conn.dialect.name).values(**values)
    if conn.dialect.name == "postgresql":
        return conn.execute(stmt.returning(*table.primary_key.columns)).first() is not None
    return conn.execute(stmt).rowcount == 1


def like(column: ColumnElement, pattern: str, dialect_name: str, case_sensitive: bool) -> ColumnElement:
    """MLflow's LIKE is case-sensitive on every backend and ILIKE is not."""
    if not case_sensitive:
        return func.lower(column).like(func.lower(literal(pattern)))
    if dialect_name in ("mysql", "mariadb"):
        # Default MySQL collations compare case-insensitively; BINARY makes LIKE exact.
        return column.op("LIKE BINARY")(literal(pattern))
    return column.like(pattern)  # SQLite runs with PRAGMA case_sensitive_like=ON


def string_equals(column: ColumnElement, value: str, dialect_name: str, negate: bool = False) -> ColumnElement:
    if dialect_name in ("mysql", "mariadb"):
        expr = column.op("= BINARY")(literal(value))
        return ~expr if negate else expr
    return column != value if negate else column == value


def in_id_list(column: ColumnElement, dialect_name: str, name: str = "ids") -> ColumnElement:
    """`column IN (ids)` with the whole list bound as ONE parameter (give it `id_list(ids,
    dialect_name)`): SQLite reads it from JSON text with json_each, PostgreSQL as an array
    (= ANY). An expanding IN costs SQLAlchemy a rendered placeholder per id on every execution,
    which was a sixth of a search over a page of a few hundred runs. MySQL/MariaDB keep the
    expanding IN."""
    if dialect_name == "sqlite":
        return column.in_(select(func.json_each(bindparam(name)).table_valued("value").c.value))
    if dialect_name == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(BigInteger)))
    return column.in_(bindparam(name, expanding=True))


def id_list(ids: list[int], dialect_name: str):
    """The bound value of an `in_id_list` condition."""
    if dialect_name == "sqlite":
        return "[" + ",".join(map(str, ids)) + "]"
    return list(ids)


class PointsInserter:
    """The hot-path INSERT of metric points, in each dialect's fastest form, skipping exact
    duplicates and returning how many rows were really inserted.

    SQLite takes multi-row INSERT ... SELECT FROM (VALUES ...) statements per series; MySQL one
    executemany (PyMySQL rewrites it into multi-row INSERTs); PostgreSQL a single INSERT ... SELECT
    FROM unnest(arrays), which also gives an exact rowcount where psycopg's executemany would not."""

    COLUMNS = ("series_id", "step", "timestamp", "value", "is_nan")

    def __init__(self, dialect_name: str, table: str = "metric_points"):
        cols = ", ".join(self.COLUMNS)
        self.dialect_name = dialect_name
        self.table = table
        self._rows_sql: dict[int, str] = {}  # SQLite multi-row statements by row count
        if dialect_name == "sqlite":
            self.sql = f"INSERT INTO {table} ({cols}) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        elif dialect_name == "postgresql":
            self.plain_sql = (
                f"INSERT INTO {table} ({cols}) SELECT * FROM unnest("
                "%s::integer[], %s::bigint[], %s::bigint[], %s::float8[], %s::boolean[])"
            )
            self.sql = self.plain_sql + " ON CONFLICT DO NOTHING"
        elif dialect_name in ("mysql", "mariadb"):
            self.sql = f"INSERT IGNORE INTO {table} ({cols}) VALUES (%s, %s, %s, %s, %s)"
        else:
            raise ValueError(f"Unsupported database dialect: {dialect_name}")

    def insert(self, conn, rows: list[tuple]) -> int:
        """rows: (series_id, step, timestamp, value, is_nan) tuples."""
        if not rows:
            return 0
        if self.dialect_name == "postgresql":
            return conn.exec_driver_sql(self.sql, _pg_array_literals(zip(*rows))).rowcount
        return conn.exec_driver_sql(self.sql, rows).rowcount

    def insert_series(self, conn, series_id: int, points: list[tuple]) -> int:
        """`insert` for the points of one series, given as (step, timestamp, value, is_nan)."""
        if not points:
            return 0
        if self.dialect_name == "sqlite":
            return self._sqlite_insert_series(conn, series_id, points)
        if self.dialect_name == "postgresql":
            return conn.exec_driver_sql(self.sql, _pg_group_literals([(series_id, points)])).rowcount
        # PyMySQL folds an executemany into multi-row INSERTs only when VALUES holds nothing but
        # placeholders, so the id goes into each row here.
        return self.insert(conn, [(series_id, *p) for p in points])

    def insert_groups(self, conn, groups: list[tuple[int, list[tuple]]], chunk: int = 5000,
                      beyond_stored: bool = False) -> list[int] | None:
        """Insert the points of several series, as [(series_id, [(step, timestamp, value, is_nan),
        ...]), ...]; returns how many points of each group were inserted, or None when PostgreSQL
        skipped some (it inserts the whole batch in one statement and reports one total: the
        caller recounts).

        `beyond_stored`: the caller knows every point lies past the steps its series holds (the
        usual append), so none can be a duplicate. PostgreSQL then takes a plain INSERT after a
        savepoint, a fifth cheaper than ON CONFLICT's speculative insertion of every row; should
        a duplicate exist after all (the same point twice in the batch, a summary behind its
        points), the transaction goes back to the savepoint and the skipping INSERT runs. The
        savepoint is not released: COMMIT releases it, and a RELEASE would cost a round trip."""
        if self.dialect_name != "postgresql":
            return [sum(self.insert_series(conn, sid, points[i : i + chunk]) for i in range(0, len(points), chunk))
                    for sid, points in groups]
        expected = sum(len(points) for _, points in groups)
        if not expected:
            return [0 for _ in groups]
        arrays = _pg_group_literals(groups)
        if beyond_stored:
            conn.exec_driver_sql("SAVEPOINT swan_points")
            try:
                conn.exec_driver_sql(self.plain_sql, arrays)
                return [len(points) for _, points in groups]
            except IntegrityError:
                conn.exec_driver_sql("ROLLBACK TO SAVEPOINT swan_points")
        inserted = conn.exec_driver_sql(self.sql, arrays).rowcount
        return [len(points) for _, points in groups] if inserted == expected else None

    def _sqlite_insert_series(self, conn, series_id: int, points: list[tuple]) -> int:
        """SQLite: multi-row statements, `INSERT ... SELECT ?, column1.. FROM (VALUES (?,?,?,?),
        ...)` with the series id bound once. A quarter cheaper per point than an executemany,
        which steps the statement once per row. Up to _SQLITE_ROWS rows per statement, and one
        statement for the rest: a client sends batches of the same shape, so the few texts it
        needs stay in the driver's statement cache."""
        inserted, start, total = 0, 0, len(points)
        while start < total:
            size = _statement_rows(total - start)
            params = [series_id]
            params.extend(chain.from_iterable(points[start : start + size]))
            inserted += conn.exec_driver_sql(self._sqlite_rows_sql(size), tuple(params)).rowcount
            start += size
        return inserted

    def _sqlite_rows_sql(self, rows: int) -> str:
        sql = self._rows_sql.get(rows)
        if sql is None:
            cols = ", ".join(self.COLUMNS)
            sql = (f"INSERT INTO {self.table} ({cols}) SELECT ?, column1, column2, column3, column4 FROM (VALUES "
                   + ", ".join(["(?, ?, ?, ?)"] * rows)
                   # "WHERE true" tells SQLite's parser that ON CONFLICT starts the upsert clause
                   + ") WHERE true ON CONFLICT DO NOTHING")
            self._rows_sql[rows] = sql
        return sql


# Rows per multi-row SQLite statement: 4 parameters each plus the series id stays under 999, the
# bound-parameter limit of SQLite builds before 3.32.
_SQLITE_ROWS = 200


def _statement_rows(remaining: int) -> int:
    """_SQLITE_ROWS while that many remain, then the rest in one statement."""
    return min(remaining, _SQLITE_ROWS)


def _pg_group_literals(groups: list[tuple[int, list[tuple]]]) -> tuple[str, ...]:
    """The columns of [(series_id, [(step, timestamp, value, is_nan), ...]), ...] as array literals."""
    ids, columns = [], [[], [], [], []]
    for sid, points in groups:
        if points:
            ids.append([int(sid)] * len(points))
            for column, values in zip(columns, zip(*points)):
                column.append(values)
    return _pg_array_literals([chain.from_iterable(ids)] + [chain.from_iterable(c) for c in columns])


def _pg_array_literals(columns) -> tuple[str, ...]:
    """(series_id, step, timestamp, value, is_nan) columns as PostgreSQL array literals. Values
    are finite here (NaN is stored as 0 plus a flag, infinities as ±DBL_MAX)."""
    ids, steps, stamps, values, nans = columns
    return (
        pg_array_literal(ids, int),
        pg_array_literal(steps, int),
        pg_array_literal(stamps, int),
        pg_array_literal(values, float),
        pg_array_literal(nans, bool),
    )


_NUMBERS = {int, float, type(None)}
# The Python types orjson may write as they are into an array of each kind.
_PLAIN_TYPES = {int: _NUMBERS, float: _NUMBERS, bool: {bool, type(None)}}


def pg_array_literal(column, kind=float) -> str:
    """An array literal ('{1,2,3}') of numbers, booleans and None (NULL) for an
    `unnest(%s::type[])` parameter of the hot path (points, rollup blocks, series summaries):
    text costs a fraction of psycopg adapting a Python list element by element. Plain Python
    values are written by orjson (for a float, the shortest text that reads back as the same
    double, as repr's, twenty times faster than joining reprs); anything else (numpy scalars, a
    bool in a numeric column) is converted with `kind` first, as a Python value would be stored.
    Values must be finite: orjson writes NaN and infinities as null (the stores keep NaN as 0
    plus a flag and clamp infinities before this)."""
    values = list(column)
    if set(map(type, values)) <= _PLAIN_TYPES[kind]:
        return "{" + orjson.dumps(values)[1:-1].decode() + "}"
    return "{" + ",".join("NULL" if v is None else repr(kind(v)) for v in values) + "}"


def pg_literal_kinds(pg_types) -> tuple:
    """The `kind` to give `pg_array_literal` for each of these PostgreSQL array element types."""
    return tuple({"float8": float, "boolean": bool}.get(name, int) for name in pg_types)