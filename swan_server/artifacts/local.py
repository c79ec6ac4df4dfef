"""Artifacts in a local folder."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from swan_server.artifacts.base import ArtifactStore, FileInfo
from swan_server.errors import invalid, not_found

READ_CHUNK = 1 << 20
# mkstemp creates 0600 files; artifacts get the usual permissions (0666 less the umask).
_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
TMP_PREFIX = ".upload-"

# Errors that mean "this path cannot name a file here" (a file where a directory is needed, a
# component longer than the filesystem allows, a symlink loop): the client's fault, so 400.
_PATH_ERRNOS = {errno.ENAMETOOLONG, errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.ELOOP}


@contextmanager
def _path_errors(path: str):
    try:
        yield
    except OSError as exc:
        if exc.errno in _PATH_ERRNOS:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise invalid(f"Invalid artifact path '{path}': {reason}") from None
        raise


class FileChunks:
    """A stored file, iterated in fixed-size chunks (never by line). It is opened lazily (callers
    may hold many of these at once); `open()` opens it now and returns the size of the file
    actually opened, and `read`/`fileno` let a WSGI server's file wrapper `sendfile` it."""

    def __init__(self, target: Path, path: str, size: int, chunk_size: int = READ_CHUNK):
        self._target = target
        self._path = path
        self.size = size
        self.chunk_size = chunk_size
        self._f: BinaryIO | None = None

    def open(self) -> int:
        if self._f is None:
            try:
                f = open(self._target, "rb")
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise not_found(f"Artifact '{self._path}' not found") from None
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                f.close()
                raise not_found(f"Artifact '{self._path}' not found")
            self._f, self.size = f, st.st_size
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        self.open()
        try:
            while True:
                chunk = self._f.read(self.chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            self.close()

    def read(self, size: int = -1) -> bytes:
        self.open()
        return self._f.read(size)

    def fileno(self) -> int:
        self.open()
        return self._f.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        self.open()
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        self.open()
        return self._f.tell()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


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
        with _path_errors(path):
            target = self._resolve(path)
            if target.is_dir():
                raise invalid(f"Cannot write artifact '{path}': a directory exists at that path")
            target.parent.mkdir(parents=True, exist_ok=True)
            # Parents may have been swapped for symlinks meanwhile: check again now that they
            # exist.
            if self._resolve(path) != target:
                raise invalid(f"Invalid artifact path '{path}': it changed while being written")
            return self._write_atomically(target, stream, chunk_size)

    @staticmethod
    def _write_atomically(target: Path, stream: BinaryIO, chunk_size: int) -> int:
        """Stream into a temporary file next to `target`, then rename it into place: a broken
        upload never leaves a truncated artifact, nor clobbers the previous version."""
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TMP_PREFIX)
        size = 0
        try:
            os.fchmod(fd, FILE_MODE)
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
        with _path_errors(path):
            target = self._resolve(path)
            if not target.is_file():  # follows in-root symlinks; FIFOs and devices are not files
                raise not_found(f"Artifact '{path}' not found")
            size = target.stat().st_size
            return FileChunks(target, path, size), size

    def list_dir(self, path):
        with _path_errors(path):
            target = self._resolve(path)
            if not target.is_dir():
                return []
            out = []
            with os.scandir(target) as it:
                entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            if entry.name.startswith(TMP_PREFIX):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    out.append(FileInfo(entry.name, True, None))
                elif entry.is_file(follow_symlinks=False):
                    out.append(FileInfo(entry.name, False, entry.stat(follow_symlinks=False).st_size))
            except FileNotFoundError:
                continue  # deleted while listing
        return out

    def is_file(self, path):
        with _path_errors(path):
            return self._resolve(path).is_file()

    def is_dir(self, path: str) -> bool:
        with _path_errors(path):
            return self._resolve(path).is_dir()

    def delete(self, path):
        with _path_errors(path):
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
        with _path_errors(path):
            return open(self._resolve(path), "rb")
