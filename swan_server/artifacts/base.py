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
