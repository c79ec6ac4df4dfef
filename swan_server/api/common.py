"""Helpers every face shares: access to the services, JSON responses."""

from __future__ import annotations

import json

import orjson
from flask import Response, current_app, request
from werkzeug.wsgi import get_input_stream

from swan_server.errors import BAD_REQUEST, SwanError
from swan_server.services.container import Services
from swan_server.wsgi import GunicornLengthBody

# Set in the WSGI environ once a handler has read the whole request body itself.
BODY_CONSUMED = "swan.body_consumed"


def services() -> Services:
    return current_app.extensions["swan"]


# Every digit read as "0", so that bytes.find can look for 19-digit runs: a regex over a 70 kB
# body costs a millisecond, this 75 µs.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN = b"0" * 19
_FRACTION_OR_EXPONENT = (b".", b"e", b"E")


def _has_long_integer(raw: bytes) -> bool:
    """Whether the body holds an integer of 19 digits or more, which may lie outside int64 (orjson
    reads those beyond 64 bits as floats). Runs of digits after a decimal point or in an exponent
    are not integers: a float's repr often has 19 digits after "0.00", and taking those for
    integers sent most log-batch bodies to the stdlib parser, three times slower."""
    digits = raw.translate(_DIGITS_AS_ZERO)
    start = digits.find(_NINETEEN)
    while start != -1:
        end = start + 19
        while digits[end : end + 1] == b"0":
            end += 1
        if digits[start - 1 : start] not in _FRACTION_OR_EXPONENT and digits[end : end + 1] not in _FRACTION_OR_EXPONENT:
            return True
        start = digits.find(_NINETEEN, end)
    return False


def loads_lenient(raw: bytes):
    """A JSON body, parsed by orjson; what orjson refuses but Python's json reads (bare NaN and
    Infinity, as `json.dumps` writes them; lone surrogate escapes) is read by the stdlib, and so
    is a body with integers of 19 digits or more (orjson reads those beyond int64 as floats, which
    would let an out-of-range step pass as a rounded one). The faces keep the stdlib's behaviour
    and error messages."""
    if not _has_long_integer(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)


def json_response(payload, status: int = 200) -> Response:
    # Serializers turn NaN and infinities into the protocol's strings before this point (orjson
    # itself would write them as null).
    body = orjson.dumps(payload)
    return Response(body, status=status, mimetype="application/json")


class UploadBody:
    """The body of an upload (artifact PUT, signed upload URL), read straight from the WSGI input
    and never buffered whole.

    The server may report a client that disconnected mid-body as a clean end of stream, so a
    body shorter than its Content-Length is an error here; any failure while reading (a
    truncated chunked body, a reset connection) becomes a 400 and the caller discards the upload."""

    def __init__(self):
        environ = request.environ
        self.expected = request.content_length
        if self.expected is None and not environ.get("wsgi.input_terminated"):
            raise SwanError("An upload needs a Content-Length or chunked transfer encoding", BAD_REQUEST)
        # max_content_length=None: uploads have no application-wide size limit. (Setting
        # `request.max_content_length = None` is not enough: Flask then falls back to the
        # MAX_CONTENT_LENGTH config.)
        self._raw = GunicornLengthBody.of(environ) or get_input_stream(environ, safe_fallback=True, max_content_length=None)
        self._environ = environ
        self.received = 0

    def read(self, size: int = -1) -> bytes:
        try:
            chunk = self._raw.read(size)
        except SwanError:
            raise
        except Exception as exc:
            raise SwanError(
                f"Upload interrupted after {self.received} bytes: {type(exc).__name__}", BAD_REQUEST
            ) from None
        if chunk:
            self.received += len(chunk)
        elif self.expected is not None and self.received < self.expected:
            raise SwanError(
                f"Upload interrupted: received {self.received} of {self.expected} bytes", BAD_REQUEST
            )
        else:
            self._environ[BODY_CONSUMED] = True
        return chunk
