"""Helpers every face shares: access to the services, JSON responses."""

from __future__ import annotations

import json

from flask import Response, current_app

from swan_server.services.container import Services


def services() -> Services:
    return current_app.extensions["swan"]


def json_response(payload, status: int = 200) -> Response:
    # allow_nan=False: every float was made JSON-safe by the serializers; a slip fails loudly.
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    return Response(body, status=status, mimetype="application/json")
