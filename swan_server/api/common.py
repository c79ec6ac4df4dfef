"""Helpers every face shares: access to the services, JSON responses."""

from __future__ import annotations

import orjson
from flask import Response, current_app

from swan_server.services.container import Services


def services() -> Services:
    return current_app.extensions["swan"]


def json_response(payload, status: int = 200) -> Response:
    # Serializers turn NaN and infinities into the protocol's strings before this point (orjson
    # itself would write them as null).
    body = orjson.dumps(payload)
    return Response(body, status=status, mimetype="application/json")
