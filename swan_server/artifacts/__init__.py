"""Artifact storage: one interface, with a local-folder and an S3 implementation."""

from swan_server.artifacts.base import ArtifactStore, FileInfo
from swan_server.artifacts.paths import safe_relative_path

__all__ = ["ArtifactStore", "FileInfo", "safe_relative_path", "make_artifact_store"]


def make_artifact_store(destination: str) -> ArtifactStore:
    if destination.startswith("s3://"):
        from swan_server.artifacts.s3 import S3ArtifactStore

        return S3ArtifactStore(destination)
    if "://" in destination and not destination.startswith("file://"):
        raise ValueError(f"Unsupported artifacts destination: {destination} (use a folder or s3://bucket/prefix)")
    from swan_server.artifacts.local import LocalArtifactStore

    return LocalArtifactStore(destination.removeprefix("file://"))
