"""Artifact rules: where a run's files live, and that no path leaves its root."""

from __future__ import annotations

from typing import BinaryIO, Iterator

from swan_server.artifacts import ArtifactStore, FileInfo, safe_relative_path
from swan_server.artifacts.paths import join
from swan_server.errors import invalid
from swan_server.services.access import AccessPolicy
from swan_server.store.abstract import TrackingStore

PROXY_SCHEME = "mlflow-artifacts:"


def proxy_uri_to_path(uri: str) -> str:
    """`mlflow-artifacts:/0/<run>/artifacts` → `0/<run>/artifacts` (relative to the destination)."""
    if not uri.startswith(PROXY_SCHEME):
        raise invalid(f"Artifact URI '{uri}' is not served by this server")
    return safe_relative_path(uri[len(PROXY_SCHEME):].lstrip("/"))


class ArtifactService:
    def __init__(self, store: TrackingStore, artifacts: ArtifactStore):
        self.store = store
        self.artifacts = artifacts
        self.access = AccessPolicy(store)

    # -- the proxied routes, addressed relative to the artifacts destination ------------------
    def put(self, path: str, stream: BinaryIO) -> int:
        clean = safe_relative_path(path, allow_empty=False)
        self.access.artifact_path(clean, write=True)
        return self.artifacts.write(clean, stream)

    def get(self, path: str) -> tuple[Iterator[bytes], int, str]:
        clean = safe_relative_path(path, allow_empty=False)
        self.access.artifact_path(clean)
        chunks, size = self.artifacts.open_read(clean)
        return chunks, size, clean

    def list(self, path: str | None) -> list[FileInfo]:
        clean = safe_relative_path(path)
        self.access.artifact_path(clean)
        return self.artifacts.list_dir(clean)

    def delete(self, path: str) -> None:
        clean = safe_relative_path(path, allow_empty=False)
        self.access.artifact_path(clean, write=True)
        self.artifacts.delete(clean)

    # -- run-relative access (tracking-service list, /get-artifact) ---------------------------
    def run_root(self, run_id: str, write: bool = False) -> str:
        self.access.run(run_id, write=write)
        run = self.store.get_run(run_id)
        return proxy_uri_to_path(run.info.artifact_uri)

    def list_run(self, run_id: str, path: str | None) -> tuple[str, list[FileInfo]]:
        root = self.run_root(run_id)
        rel = safe_relative_path(path)
        files = self.artifacts.list_dir(join(root, rel))
        return root, [FileInfo(join(rel, f.path), f.is_dir, f.file_size) for f in files]

    def get_run_file(self, run_id: str, path: str) -> tuple[Iterator[bytes], int, str]:
        root = self.run_root(run_id)
        rel = safe_relative_path(path, allow_empty=False)
        chunks, size = self.artifacts.open_read(join(root, rel))
        return chunks, size, rel
