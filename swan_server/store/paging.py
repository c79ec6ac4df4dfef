"""Opaque page tokens: base64 of {"offset": N}, as MLflow's SQL store writes them."""

from __future__ import annotations

import base64
import binascii
import json

from swan_server.errors import invalid


def encode_offset(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


# Largest offset a page token may carry: far beyond any real result set, and small enough that
# offset + max_results stays a valid 64-bit SQL integer.
MAX_PAGE_OFFSET = 2**62


def decode_offset(token: str | None) -> int:
    """The offset in a page token, or 400 for a token this server could not have issued
    (including offsets too large for SQL, which would otherwise fail as a 500)."""
    if not token:
        return 0
    try:
        data = json.loads(base64.b64decode(token, validate=False).decode())
        offset = int(data["offset"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError, OverflowError):
        raise invalid("Invalid page token, could not base64-decode") from None
    if not 0 <= offset <= MAX_PAGE_OFFSET:
        raise invalid("Invalid page token: offset out of range")
    return offset
