"""Fresh databases on the machine's PostgreSQL and MariaDB servers, for running the suite on
every back end (`SWAN_TEST_BACKEND=postgresql|mysql`)."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

from sqlalchemy import create_engine, text

ADMIN_URIS = {
    "postgresql": os.environ.get("SWAN_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mysql": os.environ.get("SWAN_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}


class TempDatabase:
    """CREATE DATABASE on start, DROP DATABASE on stop; `uri` is what Swan is given (the plain
    `postgresql://` / `mysql://` forms MLflow users write)."""

    def __init__(self, backend: str):
        if backend not in ADMIN_URIS:
            raise ValueError(f"unknown test backend {backend!r}")
        self.backend = backend
        self.name = f"swan_test_{uuid.uuid4().hex[:12]}"
        self.admin = create_engine(ADMIN_URIS[backend], isolation_level="AUTOCOMMIT")
        base = ADMIN_URIS[backend].split("://", 1)[1].rsplit("/", 1)[0]
        self.uri = f"{'postgresql' if backend == 'postgresql' else 'mysql'}://{base}/{self.name}"

    def create(self) -> "TempDatabase":
        with self.admin.connect() as conn:
            if self.backend == "mysql":
                conn.execute(text(f"CREATE DATABASE {self.name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
            else:
                conn.execute(text(f"CREATE DATABASE {self.name}"))
        return self

    def drop(self) -> None:
        with self.admin.connect() as conn:
            if self.backend == "postgresql":
                conn.execute(text(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS {self.name}"))
        self.admin.dispose()


def selected_backend() -> str:
    return os.environ.get("SWAN_TEST_BACKEND", "sqlite")


@contextmanager
def fresh_store(kind: str, directory):
    """A SqlTrackingStore on a new, migrated database of this kind ("sqlite" in `directory`,
    "postgresql" or "mysql" on the local servers), dropped afterwards."""
    from swan_server.db.engine import make_engine, upgrade
    from swan_server.store.sql import SqlTrackingStore

    db = None if kind == "sqlite" else TempDatabase(kind).create()
    engine = make_engine(f"sqlite:///{directory / 'store.db'}" if db is None else db.uri)
    try:
        upgrade(engine)
        yield SqlTrackingStore(engine)
    finally:
        engine.dispose()
        if db is not None:
            db.drop()
