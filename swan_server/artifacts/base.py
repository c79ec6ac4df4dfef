from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import BinaryIO, Iterator


@dataclass
class FileInfo:
    path: str  # relative to the listed directory's root
    is_dir: bool
    file_size: int | None = None


class ArtifactStore(ABC):
    """Files addressed by relative POSIX paths under one root. Callers pass paths that went
    through `safe_relative_path`; implementations check confinement again."""

    def check(self) -> None:
        """Raise if the store is unusable (checked once when the server starts)."""

    @abstractmethod
    def write(self, path: str, stream: BinaryIO, chunk_size: int = 1 << 20) -> int:
        """Store the stream's bytes at `path` without holding them in memory; returns the size."""

    @abstractmethod
    def open_read(self, path: str) -> tuple[Iterator[bytes], int]:
        """(chunk iterator, size). RESOURCE_DOES_NOT_EXIST if there is no file at `path`."""

    @abstractmethod
    def list_dir(self, path: str) -> list[FileInfo]:
        """Direct children of the directory `path` (names relative to it); [] if it does not exist."""

    @abstractmethod
    def is_file(self, path: str) -> bool: ...

    @abstractmethod
    def delete(self, path: str) -> None:
        """Delete a file or a whole directory tree."""

    # -- direct uploads ----------------------------------------------------------------------------
    # Stores with URLs of their own (S3) return presigned URLs here; the default None means "no
    # such URLs", and the server hands out signed URLs to itself instead (`presign.DirectUploads`).
    def presign_put(self, path: str, expires_in: int) -> str | None:
        """A URL that accepts `PUT <bytes of path>` without credentials for `expires_in` s."""
        return None

    def presign_multipart(self, path: str, part_count: int, expires_in: int) -> tuple[str, list[str]] | None:
        """(upload id, one PUT URL per part, numbered from 1) for a multipart upload of `path`."""
        return None

    def complete_multipart(self, path: str, upload_id: str, parts: list[tuple[int, str]]) -> bool:
        """Assemble a multipart upload from (part number, ETag) pairs; False if this store did
        not start it (then `DirectUploads` assembles its own)."""
        return False
