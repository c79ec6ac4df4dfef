"""The SQLAlchemy tracking store: one implementation for SQLite, PostgreSQL and MySQL."""

from swan_server.store.abstract import IdentityStore, TrackingStore
from swan_server.store.sql.experiments import ExperimentsMixin
from swan_server.store.sql.metrics import MetricsMixin
from swan_server.store.sql.search import RunSearchMixin
from swan_server.store.sql.users import UsersMixin


class SqlTrackingStore(ExperimentsMixin, RunSearchMixin, MetricsMixin, UsersMixin, TrackingStore, IdentityStore):
    pass


__all__ = ["SqlTrackingStore"]
