"""The services one server process uses, built from its settings."""

from __future__ import annotations

from dataclasses import dataclass

from swan_server.artifacts import ArtifactStore, make_artifact_store
from swan_server.config import Settings
from swan_server.db.engine import make_engine, upgrade
from swan_server.services.artifacts import ArtifactService
from swan_server.services.experiments import ExperimentService
from swan_server.services.identity import IdentityService
from swan_server.services.runs import RunService
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

    @classmethod
    def build(cls, settings: Settings, migrate: bool = True) -> "Services":
        engine = make_engine(settings.backend_store_uri)
        if migrate:
            upgrade(engine)
        store = SqlTrackingStore(engine)
        artifact_store = make_artifact_store(settings.artifacts_destination)
        return cls(
            settings=settings,
            store=store,
            artifact_store=artifact_store,
            experiments=ExperimentService(store),
            runs=RunService(store),
            artifacts=ArtifactService(store, artifact_store),
            identity=IdentityService(store),
        )
