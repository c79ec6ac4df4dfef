"""Artifact storage: one interface, a local-folder implementation (S3 comes with deployment)."""

from swan_server.artifacts.base import ArtifactStore, FileInfo
from swan_server.artifacts.paths import safe_relative_path

__all__ = ["ArtifactStore", "FileInfo", "safe_relative_path", "make_artifact_store"]


def make_artifact_store(destination: str) -> ArtifactStore:
    from swan_server.artifacts.local import LocalArtifactStore

    if "://" in destination and not destination.startswith("file://"):
        raise ValueError(f"Unsupported artifacts destination: {destination}")
    return LocalArtifactStore(destination.removeprefix("file://"))
