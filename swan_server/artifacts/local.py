"""Artifacts in a local folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from swan_server.artifacts.base import ArtifactStore, FileInfo
from swan_server.errors import invalid, not_found

READ_CHUNK = 1 << 20


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: str):
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _resolve(self, path: str) -> Path:
        """The absolute location of `path`, refusing anything (symlinks included) that would
        leave the root."""
        target = (self.root / path) if path else self.root
        real = Path(os.path.realpath(target))
        if real != self.root and self.root not in real.parents:
            raise invalid(f"Invalid artifact path '{path}': it resolves outside the artifact root")
        return real

    def write(self, path, stream, chunk_size=1 << 20):
        target = self._resolve(path)
        if target.is_dir():
            raise invalid(f"Cannot write artifact '{path}': a directory exists at that path")
        target.parent.mkdir(parents=True, exist_ok=True)
        self._resolve(path)  # parents may have been symlinks created meanwhile
        size = 0
        # Write to a temporary file first so a broken upload never leaves a truncated artifact.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(chunk_size)
                    if not chunk:
                        break
                    out.write(chunk)
                    size += len(chunk)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        return size

    def open_read(self, path):
        target = self._resolve(path)
        if not target.is_file():
            raise not_found(f"Artifact '{path}' not found")
        size = target.stat().st_size

        def chunks() -> Iterator[bytes]:
            with open(target, "rb") as f:
                while True:
                    chunk = f.read(READ_CHUNK)
                    if not chunk:
                        return
                    yield chunk

        return chunks(), size

    def list_dir(self, path):
        target = self._resolve(path)
        if not target.is_dir():
            return []
        out = []
        for entry in sorted(os.scandir(target), key=lambda e: e.name):
            if entry.name.startswith(".upload-"):
                continue
            if entry.is_dir(follow_symlinks=False):
                out.append(FileInfo(entry.name, True, None))
            elif entry.is_file(follow_symlinks=False):
                out.append(FileInfo(entry.name, False, entry.stat().st_size))
        return out

    def is_file(self, path):
        return self._resolve(path).is_file()

    def is_dir(self, path: str) -> bool:
        return self._resolve(path).is_dir()

    def delete(self, path):
        target = self._resolve(path)
        if target == self.root:
            raise invalid("Refusing to delete the artifact root")
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        else:
            raise not_found(f"Artifact '{path}' not found")

    def open_binary(self, path: str) -> BinaryIO:
        return open(self._resolve(path), "rb")
