"""The few statements that differ between SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

import orjson
from sqlalchemy import BigInteger, Table, any_, bindparam, func, literal, select
from sqlalchemy import insert as generic_insert
from sqlalchemy.dialects import mysql, postgresql, sqlite
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


class ChunkInserter:
    """The hot-path INSERT of point chunks (store/sql/point_chunks.py), as (series_id, block,
    seq, point_count, payload) rows. Keys are new by construction (the writer numbers a
    series' chunks while its summary row is locked), so no dialect needs a conflict clause.

    SQLite and MySQL take one executemany (PyMySQL folds it into multi-row INSERTs); PostgreSQL
    one INSERT ... SELECT FROM unnest(arrays), which `statement` also gives as SQL and parameters
    so that the writer can send it in the same round trip as the rest of its transaction."""

    COLUMNS = ("series_id", "block", "seq", "point_count", "points")

    def __init__(self, dialect_name: str, table: str = "metric_chunks"):
        cols = ", ".join(self.COLUMNS)
        self.dialect_name = dialect_name
        if dialect_name == "sqlite":
            self.sql = f"INSERT INTO {table} ({cols}) VALUES (?, ?, ?, ?, ?)"
        elif dialect_name == "postgresql":
            self.sql = (f"INSERT INTO {table} ({cols}) SELECT * FROM unnest("
                        "%s::integer[], %s::bigint[], %s::bigint[], %s::integer[], %s::bytea[])")
        elif dialect_name in ("mysql", "mariadb"):
            self.sql = f"INSERT INTO {table} ({cols}) VALUES (%s, %s, %s, %s, %s)"
        else:
            raise ValueError(f"Unsupported database dialect: {dialect_name}")

    def statement(self, rows: list[tuple]) -> tuple[str, tuple]:
        """(SQL, parameters) inserting these rows in one statement (PostgreSQL only)."""
        ids, blocks, seqs, counts, payloads = zip(*rows)
        return self.sql, (pg_array_literal(ids, int), pg_array_literal(blocks, int), pg_array_literal(seqs, int),
                          pg_array_literal(counts, int), list(payloads))

    def insert(self, conn, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.dialect_name == "postgresql":
            conn.exec_driver_sql(*self.statement(rows))
        else:
            conn.exec_driver_sql(self.sql, rows)


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