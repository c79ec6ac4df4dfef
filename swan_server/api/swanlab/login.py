"""`GET /api` (ping) and `POST /api/login/api_key`."""

from __future__ import annotations

from flask import Response, request

from swan_server.api.swanlab.common import bp, reply, swanlab
from swan_server.services.swanlab import iso_ms


@bp.get("")
def ping():
    return Response("OK", mimetype="text/plain")


@bp.post("/login/api_key")
def login():
    sid, expires, user = swanlab().login(request.headers.get("authorization"))
    return reply({
        "sid": sid,
        "expiredAt": iso_ms(expires),
        "userInfo": {"username": user.name, "name": user.display_name or user.name},
    })
