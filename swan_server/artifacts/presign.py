"""Direct uploads and downloads: URLs a client PUTs bytes to, or GETs bytes from, without
credentials.

A store with URLs of its own (S3) presigns them itself (`ArtifactStore.presign_put`). For the
local folder the server hands out URLs to itself, `<base>/api/swan/upload/<token>`, where the
token names the target path and an expiry and is HMAC-signed with a secret every worker shares
(kept in the database). A token can only write the path it was issued for, and paths are
confined to the artifact root by `safe_relative_path` and by the store.

Downloads work the same way: S3 presigns a GET (`presign_get`); for the local folder the server
hands out `<base>/api/swan/media/<token>`, a token of its own kind (claim `g`), so an upload
token cannot read and a download token cannot write. The caller decides which paths deserve a
URL (the SwanLab face: only the media of a run the user may read).

Multipart uploads to the local folder are staged as one file per part under `.swan-multipart/`
and concatenated when the client completes them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import BinaryIO, Callable, Iterator

from swan_server.artifacts.base import ArtifactStore
from swan_server.artifacts.paths import join, safe_relative_path
from swan_server.errors import PERMISSION_DENIED, SwanError, invalid

UPLOAD_ROUTE = "/api/swan/upload/"
DOWNLOAD_ROUTE = "/api/swan/media/"
PUT_EXPIRES = 15 * 60
GET_EXPIRES = 15 * 60
MULTIPART_EXPIRES = 6 * 3600
STAGING = ".swan-multipart"
MAX_PARTS = 10_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UploadSigner:
    """Signs and checks small JSON claims: `<payload>.<hmac>`, both base64url."""

    def __init__(self, secret: Callable[[], str] | str):
        self._secret_source = secret
        self._key: bytes | None = None

    def _k(self) -> bytes:
        if self._key is None:
            src = self._secret_source
            self._key = (src() if callable(src) else src).encode()
        return self._key

    def sign(self, claims: dict, expires_in: int) -> str:
        body = _b64(json.dumps({**claims, "exp": int(time.time()) + int(expires_in)}, separators=(",", ":")).encode())
        mac = _b64(hmac.new(self._k(), body.encode(), hashlib.sha256).digest())
        return f"{body}.{mac}"

    def verify(self, token: str) -> dict:
        denied = SwanError("Invalid or expired upload URL", PERMISSION_DENIED)
        if not isinstance(token, str) or token.count(".") != 1:
            raise denied
        body, mac = token.split(".")
        expected = _b64(hmac.new(self._k(), body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, mac):
            raise denied
        try:
            claims = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            raise denied from None
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            raise denied
        return claims


class _Md5Reader:
    """Passes a stream through while computing its MD5 (the ETag of a part)."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.md5 = hashlib.md5()

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.md5.update(chunk)
        return chunk


class _Concat:
    """One readable stream over several chunk iterators, consumed in order."""

    def __init__(self, sources: list[Iterator[bytes]]):
        self._sources = iter(sources)
        self._current: Iterator[bytes] | None = None
        self._buf = b""

    def read(self, size: int = -1) -> bytes:
        while not self._buf:
            if self._current is None:
                nxt = next(self._sources, None)
                if nxt is None:
                    return b""
                self._current = iter(nxt)
            chunk = next(self._current, None)
            if chunk is None:
                self._current = None
                continue
            self._buf = chunk
        if size is None or size < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out


class DirectUploads:
    """Hands out upload URLs for paths under the artifact root and accepts the PUTs sent to the
    server's own URLs. Faces call this and never care which store is behind it."""

    def __init__(self, store: ArtifactStore, signer: UploadSigner):
        self.store = store
        self.signer = signer

    # -- single PUT ---------------------------------------------------------------------------
    def put_url(self, path: str, base_url: str, expires_in: int = PUT_EXPIRES) -> str:
        path = safe_relative_path(path, allow_empty=False)
        native = self.store.presign_put(path, expires_in)
        if native:
            return native
        return base_url.rstrip("/") + UPLOAD_ROUTE + self.signer.sign({"p": path}, expires_in)

    def accept(self, token: str, stream: BinaryIO) -> tuple[int, str]:
        """Store the body of a PUT to one of our URLs; returns (size, ETag)."""
        claims = self.signer.verify(token)
        path = claims.get("p")
        if not isinstance(path, str):
            raise SwanError("Invalid or expired upload URL", PERMISSION_DENIED)
        path = safe_relative_path(path, allow_empty=False)
        reader = _Md5Reader(stream)
        size = self.store.write(path, reader)
        return size, reader.md5.hexdigest()

    # -- single GET ---------------------------------------------------------------------------
    def get_url(self, path: str, base_url: str, expires_in: int = GET_EXPIRES) -> str:
        """A URL that answers `GET` with the bytes of `path` for `expires_in` s, no credentials."""
        path = safe_relative_path(path, allow_empty=False)
        presign_get = getattr(self.store, "presign_get", None)
        native = presign_get(path, expires_in) if presign_get is not None else None
        if native:
            return native
        return base_url.rstrip("/") + DOWNLOAD_ROUTE + self.signer.sign({"g": path}, expires_in)

    def open_signed(self, token: str) -> tuple[Iterator[bytes], int, str]:
        """(chunks, size, path) of the file a download token of ours names; 403 if the token is
        not one (forged, tampered, expired, or an upload token)."""
        denied = SwanError("Invalid or expired download URL", PERMISSION_DENIED)
        try:
            claims = self.signer.verify(token)
        except SwanError:
            raise denied from None
        path = claims.get("g")
        if not isinstance(path, str) or not path:
            raise denied
        path = safe_relative_path(path, allow_empty=False)
        chunks, size = self.store.open_read(path)
        return chunks, size, path

    # -- multipart ----------------------------------------------------------------------------
    def start_multipart(self, path: str, part_count: int, base_url: str,
                        expires_in: int = MULTIPART_EXPIRES) -> tuple[str, list[dict]]:
        path = safe_relative_path(path, allow_empty=False)
        if isinstance(part_count, bool) or not isinstance(part_count, int) or not 1 <= part_count <= MAX_PARTS:
            raise invalid(f"Invalid part count {part_count!r} for '{path}': it must be between 1 and {MAX_PARTS}")
        native = self.store.presign_multipart(path, part_count, expires_in)
        if native:
            upload_id, urls = native
            return upload_id, [{"partNumber": i + 1, "url": u} for i, u in enumerate(urls)]
        upload_id = self.signer.sign({"m": path, "n": secrets.token_hex(8)}, expires_in)
        staging = self._staging_dir(upload_id)
        parts = [
            {"partNumber": n, "url": base_url.rstrip("/") + UPLOAD_ROUTE + self.signer.sign({"p": join(staging, str(n))}, expires_in)}
            for n in range(1, part_count + 1)
        ]
        return upload_id, parts

    @staticmethod
    def _staging_dir(upload_id: str) -> str:
        return join(STAGING, hashlib.sha256(upload_id.encode()).hexdigest()[:32])

    def complete_multipart(self, path: str, upload_id: str, parts: list[tuple[int, str]]) -> int | None:
        """Assemble the parts (numbers 1..N, in order) into `path`; returns the size, or None
        when the store assembled it itself."""
        path = safe_relative_path(path, allow_empty=False)
        numbers = sorted(n for n, _ in parts)
        if not numbers or numbers != list(range(1, len(numbers) + 1)):
            raise invalid(f"Parts of '{path}' must be numbered 1..N without gaps")
        if self.store.complete_multipart(path, upload_id, parts):
            return None
        try:
            claims = self.signer.verify(upload_id)
        except SwanError:
            raise invalid(f"Unknown or expired upload id for '{path}'") from None
        if claims.get("m") != path:
            raise invalid(f"The upload id was not issued for '{path}'")
        staging = self._staging_dir(upload_id)
        for n in numbers:
            if not self.store.is_file(join(staging, str(n))):
                raise invalid(f"Part {n} of '{path}' was not uploaded")
        sources = []
        for n in numbers:
            chunks, _ = self.store.open_read(join(staging, str(n)))
            sources.append(chunks)
        size = self.store.write(path, _Concat(sources))
        self.store.delete(staging)
        return size
