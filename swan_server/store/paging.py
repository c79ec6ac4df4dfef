"""Opaque page tokens: base64 of {"offset": N}, as MLflow's SQL store writes them."""

from __future__ import annotations

import base64
import binascii
import json

from swan_server.errors import invalid


def encode_offset(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.b64decode(token, validate=False).decode())
        offset = int(data["offset"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise invalid("Invalid page token, could not base64-decode") from None
    if offset < 0:
        raise invalid("Invalid page token: offset must be non-negative")
    return offset
