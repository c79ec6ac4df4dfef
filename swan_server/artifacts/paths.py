"""Artifact path validation: nothing may leave the artifact root."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

from swan_server.errors import invalid

# C0 controls (NUL, CR, LF, ...) and DEL: never part of a legitimate artifact name, and CR/LF
# would otherwise reach response headers (Content-Disposition).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_relative_path(path: str | None, *, allow_empty: bool = True) -> str:
    """Normalise a client-supplied artifact path to a clean relative POSIX path, or raise 400.

    Refused: absolute paths, drive letters, backslashes, NUL and other control characters, and
    any `..` component, also when percent-encoded (the path is decoded repeatedly until it is
    stable before checking)."""
    if path is None:
        path = ""
    if not isinstance(path, str):
        raise invalid(f"Invalid artifact path {path!r}")
    decoded = path
    for _ in range(3):
        nxt = unquote(decoded)
        if nxt == decoded:
            break
        decoded = nxt
    for candidate in (path, decoded):
        if "\\" in candidate or _CONTROL.search(candidate):
            raise invalid(f"Invalid artifact path {path!r}: backslashes and control characters are not allowed")
        if candidate.startswith("/") or (len(candidate) > 1 and candidate[1] == ":"):
            raise invalid(f"Invalid artifact path '{path}': absolute paths are not allowed")
        if any(part == ".." for part in candidate.split("/")):
            raise invalid(f"Invalid artifact path '{path}': '..' is not allowed")
    clean = posixpath.normpath(path) if path else ""
    if clean in (".", ""):
        if not allow_empty:
            raise invalid("An artifact path is required")
        return ""
    return clean


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
