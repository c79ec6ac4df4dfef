"""The SQLAlchemy tracking store: one implementation for SQLite, PostgreSQL and MySQL."""

from swan_server.store.abstract import (
    BatchStore, DashboardStore, IdentityStore, MaintenanceStore, ModelStore, RunDocumentStore, TrackingStore,
)
from swan_server.store.sql.access import AccessMixin
from swan_server.store.sql.base import retry_public_methods
from swan_server.store.sql.batches import BatchWritesMixin
from swan_server.store.sql.columns import ColumnsMixin
from swan_server.store.sql.dashboard import DashboardMixin
from swan_server.store.sql.experiments import ExperimentsMixin
from swan_server.store.sql.liveness import LivenessMixin
from swan_server.store.sql.logged_models import LoggedModelsMixin
from swan_server.store.sql.logs import LogsMixin
from swan_server.store.sql.media import MediaMixin
from swan_server.store.sql.metrics import MetricsMixin
from swan_server.store.sql.profiles import ProfilesMixin
from swan_server.store.sql.registry import RegistryMixin
from swan_server.store.sql.retention import RetentionMixin
from swan_server.store.sql.rollups import RollupsMixin
from swan_server.store.sql.run_extras import RunExtrasMixin
from swan_server.store.sql.search import RunSearchMixin
from swan_server.store.sql.secrets import SecretsMixin
from swan_server.store.sql.traces import TracesMixin
from swan_server.store.sql.transfer import TransferMixin
from swan_server.store.sql.users import UsersMixin


@retry_public_methods
class SqlTrackingStore(ExperimentsMixin, RunSearchMixin, MetricsMixin, UsersMixin,
                       MediaMixin, LogsMixin, ProfilesMixin, LivenessMixin, ColumnsMixin, RunExtrasMixin, SecretsMixin,
                       RegistryMixin, LoggedModelsMixin, TracesMixin, BatchWritesMixin,
                       RollupsMixin, RetentionMixin, TransferMixin, DashboardMixin, AccessMixin,
                       TrackingStore, IdentityStore, RunDocumentStore, ModelStore, BatchStore, DashboardStore,
                       MaintenanceStore):
    pass


__all__ = ["SqlTrackingStore"]
