"""Engines, dialect quirks and schema upgrades. Dialect-specific SQL lives here and in
`dialects.py`, nowhere else."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Plain URIs, as MLflow users write them, mapped to the drivers Swan ships with.
_DRIVER_DEFAULTS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_uri(uri: str) -> str:
    url = make_url(uri)
    driver = _DRIVER_DEFAULTS.get(url.drivername)
    if driver:
        url = url.set(drivername=driver)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return url.render_as_string(hide_password=False)


def make_engine(uri: str) -> Engine:
    uri = normalize_uri(uri)
    url = make_url(uri)
    backend = url.get_backend_name()
    kwargs: dict = {"future": True}
    if backend == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        # No pre-ping: it would cost every request a round trip. A connection the database
        # dropped (a restart, a failover, a kill) fails on its first statement, before anything
        # was written; SQLAlchemy then discards the whole pool, and the store's transient-failure
        # retry runs the transaction again on a fresh connection (tests/test_db_reconnect.py).
        kwargs.update(pool_pre_ping=False, pool_size=10, max_overflow=20, pool_recycle=1800)
    if backend == "mysql":
        kwargs["isolation_level"] = "READ COMMITTED"
    engine = create_engine(uri, **kwargs)
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, and explicit BEGINs so that write transactions take the write lock up
    front (BEGIN IMMEDIATE) instead of failing with "database is locked" when they upgrade."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # MLflow's LIKE is case-sensitive on every backend.
        cur.execute("PRAGMA case_sensitive_like=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "BEGIN")
        conn.exec_driver_sql(mode)


def alembic_config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to `revision`. Servers that start together on one database
    take turns (a database-wide lock): the first upgrades, the others find the schema current."""
    with _schema_lock(engine):
        if engine.dialect.name in ("mysql", "mariadb"):
            _mysql_binary_collation(engine)
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)


# pg_advisory_lock key / MySQL GET_LOCK name of schema upgrades ("SWAN" in ASCII).
SCHEMA_LOCK_KEY = 0x5357414E
SCHEMA_LOCK_NAME = "swan_schema_upgrade"


@contextmanager
def _schema_lock(engine: Engine):
    dialect = engine.dialect.name
    if dialect not in ("postgresql", "mysql", "mariadb"):
        yield  # SQLite: one file, one writer at a time already
        return
    with engine.connect() as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({SCHEMA_LOCK_KEY})")
        else:
            conn.exec_driver_sql(f"SELECT GET_LOCK('{SCHEMA_LOCK_NAME}', 600)")
        conn.commit()
        try:
            yield
        finally:
            if dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({SCHEMA_LOCK_KEY})")
            else:
                conn.exec_driver_sql(f"SELECT RELEASE_LOCK('{SCHEMA_LOCK_NAME}')")
            conn.commit()


def _mysql_binary_collation(engine: Engine) -> None:
    """Names, keys and values compare and sort case-sensitively, as on SQLite and in MLflow:
    tables Swan creates inherit the database's utf8mb4_bin default. (MySQL's usual *_ci default
    would make "Run" and "run" the same experiment name.)"""
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)
