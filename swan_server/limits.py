"""The request-body limit for chunked bodies.

Werkzeug applies MAX_CONTENT_LENGTH to a chunked body (one without Content-Length) by cutting it
off at the limit, silently: a JSON reader would then see a truncated document and answer 400, or
worse, parse a valid prefix. `SwanRequest` reads one byte past the limit instead, and a body that
has one is a 413, as a body announced too large by its Content-Length is. (Uploads read the raw
WSGI input themselves and have no limit.)"""

from __future__ import annotations

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from swan_server.wsgi import GunicornLengthBody


class _StrictMaxStream(LimitedStream):
    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._stream.read(1):
            raise RequestEntityTooLarge()
        return data


class SwanRequest(Request):
    @cached_property
    def stream(self):
        environ = self.environ
        limit = self.max_content_length
        length = self.content_length
        if (limit is not None and length is None and "wsgi.input_terminated" in environ):
            return _StrictMaxStream(environ["wsgi.input"], limit, is_max=True)
        # Under gunicorn a Content-Length body is read through its length reader directly
        # (see GunicornLengthBody): the same bytes and limits, without 1 kB steps.
        direct = GunicornLengthBody.of(environ) if length is not None else None
        if direct is not None:
            if limit is not None and length > limit:
                raise RequestEntityTooLarge()
            return LimitedStream(direct, length)
        return get_input_stream(environ, max_content_length=limit)
