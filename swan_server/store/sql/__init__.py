"""The SQLAlchemy tracking store: one implementation for SQLite, PostgreSQL and MySQL."""

from swan_server.store.abstract import TrackingStore
from swan_server.store.sql.experiments import ExperimentsMixin
from swan_server.store.sql.metrics import MetricsMixin
from swan_server.store.sql.search import RunSearchMixin


class SqlTrackingStore(ExperimentsMixin, RunSearchMixin, MetricsMixin, TrackingStore):
    pass


__all__ = ["SqlTrackingStore"]
