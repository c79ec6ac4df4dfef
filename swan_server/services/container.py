"""The services one server process uses, built from its settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from swan_server.artifacts import ArtifactStore, make_artifact_store
from swan_server.config import Settings
from swan_server.db.engine import make_engine, upgrade
from swan_server.services.access import AccessPolicy
from swan_server.services.admin import AdminService
from swan_server.services.artifacts import ArtifactService
from swan_server.services.dashboard import DashboardService
from swan_server.services.experiments import ExperimentService
from swan_server.services.identity import IdentityService
from swan_server.services.liveness import CrashDetector
from swan_server.services.logged_models import LoggedModelService
from swan_server.services.logs import LogService
from swan_server.services.media import MediaService
from swan_server.services.native import NativeService
from swan_server.services.registry import RegistryService
from swan_server.services.runs import RunService
from swan_server.services.swanlab import SwanLabService
from swan_server.services.traces import TraceService
from swan_server.store.abstract import TrackingStore
from swan_server.store.sql import SqlTrackingStore


@dataclass
class Services:
    settings: Settings
    store: TrackingStore
    artifact_store: ArtifactStore
    experiments: ExperimentService
    runs: RunService
    artifacts: ArtifactService
    identity: IdentityService
    media: MediaService | None = field(default=None)
    logs: LogService | None = field(default=None)
    swanlab: SwanLabService | None = field(default=None)
    crash_detector: CrashDetector | None = field(default=None)
    registry: RegistryService | None = field(default=None)
    logged_models: LoggedModelService | None = field(default=None)
    traces: TraceService | None = field(default=None)
    native: NativeService | None = field(default=None)
    dashboard: DashboardService | None = field(default=None)
    access: AccessPolicy | None = field(default=None)
    admin: "AdminService | None" = field(default=None)

    @classmethod
    def build(cls, settings: Settings, migrate: bool = True) -> "Services":
        engine = make_engine(settings.backend_store_uri)
        if migrate:
            upgrade(engine)
        store = SqlTrackingStore(engine)
        artifact_store = make_artifact_store(settings.artifacts_destination)
        from secrets import token_hex

        from swan_server.artifacts.presign import DirectUploads, UploadSigner

        runs = RunService(store)
        from swan_server.services.login_limit import LoginLimiter

        identity = IdentityService(store, LoginLimiter(store, settings.login_max_failures, settings.login_window))
        media = MediaService(store)
        logs = LogService(store, artifact_store)
        uploads = DirectUploads(artifact_store, UploadSigner(lambda: store.server_secret("upload-url-key", lambda: token_hex(32))))
        experiments = ExperimentService(store)
        artifacts = ArtifactService(store, artifact_store)
        return cls(
            settings=settings,
            store=store,
            artifact_store=artifact_store,
            experiments=experiments,
            runs=runs,
            artifacts=artifacts,
            identity=identity,
            media=media,
            logs=logs,
            swanlab=SwanLabService(store, runs, identity, media, logs, uploads, artifact_store),
            crash_detector=CrashDetector(store, settings.heartbeat_timeout),
            registry=RegistryService(store, store),
            logged_models=LoggedModelService(store, artifact_store),
            traces=TraceService(store, artifact_store),
            native=NativeService(store, experiments, runs, media, logs, artifacts),
            dashboard=DashboardService(store, artifact_store, artifacts),
            access=AccessPolicy(store),
            admin=AdminService(store, identity),
        )
