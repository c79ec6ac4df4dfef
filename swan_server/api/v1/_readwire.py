"""Helpers of the dashboard's read routes: compressed JSON replies and repeated query args."""

from __future__ import annotations

import gzip

import orjson
from flask import Response, request

from swan_server.errors import invalid

GZIP_MIN_BYTES = 4096


def reply_json(payload, status: int = 200, cache: str | None = None) -> Response:
    """JSON, gzip-compressed (level 1: cheap) when the client accepts it and it is worth it."""
    body = orjson.dumps(payload)
    resp = Response(body, status=status, mimetype="application/json")
    if len(body) >= GZIP_MIN_BYTES and "gzip" in request.headers.get("Accept-Encoding", ""):
        resp.set_data(gzip.compress(body, compresslevel=1))
        resp.headers["Content-Encoding"] = "gzip"
        resp.headers["Vary"] = "Accept-Encoding"
    if cache:
        resp.headers["Cache-Control"] = cache
    return resp


def arg_list(name: str, limit: int = 1000, split: bool = True) -> list[str]:
    """A repeated query parameter; with `split`, a comma-separated value counts as several."""
    out: list[str] = []
    for raw in request.args.getlist(name):
        out.extend(v for v in (raw.split(",") if split else [raw]) if v != "")
    if len(out) > limit:
        raise invalid(f"At most {limit} values for '{name}'")
    for v in out:
        if "\x00" in v:
            raise invalid(f"Query parameter '{name}' contains a NUL character")
    return out
