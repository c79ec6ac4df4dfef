"""MLflow's wire conventions: query-string GETs, JSON bodies, proto3-JSON numbers, error JSON."""

from __future__ import annotations

import json
import math

from flask import Response, request
from werkzeug.datastructures import MultiDict

from swan_server.api.common import json_response, loads_lenient
from swan_server.errors import BAD_REQUEST, INVALID_PARAMETER_VALUE, SwanError, invalid

_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
INT64 = (-(2**63), 2**63 - 1)


def error_response(code: str, message: str, status: int) -> Response:
    return json_response({"error_code": code, "message": message}, status)


def swan_error_response(exc: SwanError) -> Response:
    return error_response(exc.error_code, exc.message, exc.http_status)


def float_out(value: float):
    """proto3 JSON: NaN and infinities travel as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def check_text(name: str, value: str) -> None:
    """Strings must be storable text: valid Unicode (JSON `\\ud800` escapes can smuggle in lone
    surrogates, which no database driver can encode) and no NUL characters (PostgreSQL rejects
    them)."""
    if "\x00" in value:
        raise invalid(f"Invalid value for parameter '{name}' supplied: NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(f"Invalid value for parameter '{name}' supplied: not valid Unicode text") from None


class RequestData:
    """Typed access to a request's fields, from the JSON body (POST/PATCH/DELETE) or the query
    string (GET), with MLflow's error messages."""

    def __init__(self, data, from_query: bool):
        self.data = data
        self.from_query = from_query

    @classmethod
    def current(cls) -> "RequestData":
        if request.method == "GET":
            return cls(request.args, True)
        raw = request.get_data(cache=True)
        if not raw.strip():
            # MLflow's GET-style calls sent as POST with a query string still work.
            return cls(request.args, True) if request.args else cls({}, False)
        try:
            data = loads_lenient(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SwanError(f"Malformed request body: {exc}", BAD_REQUEST) from None
        except RecursionError:
            raise SwanError("Malformed request body: JSON nested too deeply", BAD_REQUEST) from None
        if not isinstance(data, dict):
            raise SwanError("Malformed request body: a JSON object is required", BAD_REQUEST)
        return cls(data, False)

    def _raw(self, name: str, aliases=()):
        for key in (name, *aliases):
            if self.from_query:
                if key in self.data:
                    return self.data.get(key)
            elif self.data.get(key) is not None:
                return self.data[key]
        return None

    @staticmethod
    def _missing(name: str):
        return SwanError(f"Missing value for required parameter '{name}'.", INVALID_PARAMETER_VALUE)

    @staticmethod
    def _bad(name: str, value):
        return invalid(f"Invalid value {json.dumps(value) if not isinstance(value, str) else value} for parameter '{name}' supplied")

    def str(self, name: str, required: bool = False, aliases=()) -> str | None:
        value = self._raw(name, aliases)
        if value is None or value == "":
            if required:
                raise self._missing(name)
            return None if value is None else ""
        if not isinstance(value, str):
            raise self._bad(name, value)
        check_text(name, value)
        return value

    def int(self, name: str, required: bool = False, default=None) -> int | None:
        value = self._raw(name)
        if value is None or value == "":
            if required:
                raise self._missing(name)
            return default
        if isinstance(value, bool):
            raise self._bad(name, value)
        if isinstance(value, int):
            result = value
        elif isinstance(value, float) and value.is_integer():
            result = int(value)
        elif isinstance(value, str):
            try:
                result = int(value)
            except ValueError:
                raise self._bad(name, value) from None
        else:
            raise self._bad(name, value)
        if not INT64[0] <= result <= INT64[1]:
            raise self._bad(name, value)
        return result

    def bool(self, name: str, default: bool = False) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self._bad(name, value)

    def str_list(self, name: str) -> list[str]:
        if self.from_query:
            values = self.data.getlist(name) if isinstance(self.data, MultiDict) else [self.data[name]]
        else:
            values = self.data.get(name) or []
            if not isinstance(values, list):
                raise self._bad(name, values)
        for v in values:
            if not isinstance(v, str):
                raise self._bad(name, v)
            check_text(name, v)
        return values

    def obj(self, name: str, required: bool = False) -> "RequestData | None":
        value = self._raw(name)
        if value is None:
            if required:
                raise self._missing(name)
            return None
        if not isinstance(value, dict):
            raise self._bad(name, value)
        return RequestData(value, False)

    def obj_list(self, name: str) -> list["RequestData"]:
        values = self._raw(name) or []
        if not isinstance(values, list):
            raise self._bad(name, values)
        out = []
        for v in values:
            if not isinstance(v, dict):
                raise self._bad(name, v)
            out.append(RequestData(v, False))
        return out

    def number(self, name: str, required: bool = False) -> float | None:
        value = self._raw(name)
        if value is None:
            if required:
                raise self._missing(name)
            return None
        if isinstance(value, bool):
            raise self._bad(name, value)
        if isinstance(value, (int, float)):
            try:
                return float(value)
            except OverflowError:  # an integer literal beyond the double range
                raise self._bad(name, value) from None
        if isinstance(value, str):
            if value in _SPECIAL_FLOATS:
                return _SPECIAL_FLOATS[value]
            try:
                return float(value)
            except ValueError:
                pass
        raise self._bad(name, value)


def tag_pairs(items: list[RequestData]) -> list[tuple[str, str]]:
    """[{key, value}] → [(key, value)] with MLflow's required-field messages."""
    return [(item.str("key", required=True), item.str("value") or "") for item in items]
