"""OTLP spans ↔ MLflow's span dicts.

* `parse_export_request`: an OTLP/HTTP `ExportTraceServiceRequest` (protobuf, or JSON with hex
  ids as the OTLP spec writes them) → MLflow span dicts, the format of `traces.json`
  (`mlflow.entities.Span.to_dict`: base64 ids, attribute values as JSON text, status code names).
* `span_to_otel_json`: a stored span dict → the proto3 JSON of an OpenTelemetry `Span`, which is
  what MLflow's trace APIs (`traces/get`, `traces/batchGet`) carry.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib

from google.protobuf.json_format import ParseDict
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from swan_server.errors import BAD_REQUEST, SwanError

REQUEST_ID_ATTRIBUTE = "mlflow.traceRequestId"
_STATUS_NAMES = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}
_HEX_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _bad(message: str) -> SwanError:
    return SwanError(f"Invalid OpenTelemetry request: {message}", BAD_REQUEST)


MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    d = zlib.decompressobj(wbits)
    out = d.decompress(body, limit + 1)
    if len(out) > limit:
        raise SwanError(f"The decompressed request body exceeds {limit} bytes", "PAYLOAD_TOO_LARGE")
    if not d.eof:
        raise zlib.error("truncated stream")
    return out


def decompress(body: bytes, encoding: str | None, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """The body, decompressed (gzip or deflate) up to `limit` bytes: no decompression bombs."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    try:
        if encoding == "gzip":
            return _inflate(body, 16 + zlib.MAX_WBITS, limit)
        if encoding == "deflate":
            try:
                return _inflate(body, zlib.MAX_WBITS, limit)
            except zlib.error:
                return _inflate(body, -zlib.MAX_WBITS, limit)
    except zlib.error:
        raise _bad(f"the body could not be decompressed as {encoding}") from None
    raise _bad(f"unsupported Content-Encoding '{encoding}'")


def _hex_ids_to_base64(obj):
    """OTLP JSON writes trace and span ids as hex; protobuf's JSON mapping wants base64."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in _HEX_ID_FIELDS and isinstance(v, str) and v:
                try:
                    v = base64.b64encode(bytes.fromhex(v)).decode()
                except ValueError:
                    pass  # already base64
            out[k] = _hex_ids_to_base64(v)
        return out
    if isinstance(obj, list):
        return [_hex_ids_to_base64(v) for v in obj]
    return obj


def _any_value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    return getattr(v, kind)


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    if isinstance(value, list):
        return [_json_safe(x) for x in value]
    if isinstance(value, dict):
        return {k: _json_safe(x) for k, x in value.items()}
    return value


def _dump(value) -> str:
    return json.dumps(_json_safe(value), ensure_ascii=False)


def parse_export_request(body: bytes, content_type: str | None) -> list[dict]:
    """MLflow span dicts of every span in the request, each with `_mlflow_trace_id` (the MLflow
    trace id derived from the OTel trace id, never taken from the client)."""
    media = (content_type or "").split(";")[0].strip().lower()
    request = ExportTraceServiceRequest()
    if media == "application/x-protobuf":
        try:
            request.ParseFromString(body)
        except (DecodeError, ValueError) as exc:
            raise _bad(f"the protobuf body could not be parsed ({exc})") from None
    elif media == "application/json":
        try:
            ParseDict(_hex_ids_to_base64(json.loads(body)), request, ignore_unknown_fields=True)
        except Exception as exc:  # json or protobuf JSON errors
            raise _bad(f"the JSON body could not be parsed ({type(exc).__name__})") from None
    else:
        raise _bad(f"Content-Type '{content_type}' is not supported; use application/x-protobuf or application/json")
    spans = []
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                if len(s.trace_id) != 16 or len(s.span_id) != 8:
                    raise _bad("every span needs a 16-byte trace_id and an 8-byte span_id")
                if s.parent_span_id and len(s.parent_span_id) != 8:
                    raise _bad("parent_span_id must be 8 bytes")
                trace_id = f"tr-{s.trace_id.hex()}"
                attributes = {a.key: _dump(_any_value(a.value)) for a in s.attributes}
                attributes[REQUEST_ID_ATTRIBUTE] = _dump(trace_id)
                spans.append({
                    "_mlflow_trace_id": trace_id,
                    "trace_id": base64.b64encode(s.trace_id).decode(),
                    "span_id": base64.b64encode(s.span_id).decode(),
                    "parent_span_id": base64.b64encode(s.parent_span_id).decode() if s.parent_span_id else None,
                    "name": s.name,
                    "start_time_unix_nano": s.start_time_unix_nano,
                    "end_time_unix_nano": s.end_time_unix_nano or None,
                    "events": [
                        {
                            "name": e.name,
                            "time_unix_nano": e.time_unix_nano,
                            "attributes": {a.key: _json_safe(_any_value(a.value)) for a in e.attributes},
                        }
                        for e in s.events
                    ],
                    "status": {"code": _STATUS_NAMES.get(s.status.code, "STATUS_CODE_UNSET"), "message": s.status.message},
                    "attributes": attributes,
                    "links": [],
                })
    if not spans:
        raise _bad("no spans found")
    return spans


# -- stored span dict → OpenTelemetry Span (proto3 JSON) ---------------------------------------------
def _any_value_json(value) -> dict:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, int):
        return {"int_value": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"double_value": "NaN"}
        if math.isinf(value):
            return {"double_value": "Infinity" if value > 0 else "-Infinity"}
        return {"double_value": value}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, (list, tuple)):
        return {"array_value": {"values": [_any_value_json(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlist_value": {"values": [{"key": str(k), "value": _any_value_json(v)} for k, v in value.items()]}}
    return {"string_value": str(value)}


def _loads(text):
    """A stored attribute value: JSON text (as MLflow writes it), or a plain value."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _b64_id(value, size: int) -> str | None:
    """Ids as base64 of their bytes (MLflow ≥ 3.0 writes them so; 3.5 wrote hex)."""
    if not value:
        return None
    if isinstance(value, str) and len(value) == size * 2:
        try:
            return base64.b64encode(bytes.fromhex(value)).decode()
        except ValueError:
            pass
    try:
        if len(base64.b64decode(value, validate=True)) == size:
            return value
    except (binascii.Error, ValueError, TypeError):
        pass
    return None


def span_to_otel_json(span: dict) -> dict | None:
    """None for a span that cannot be expressed (e.g. a malformed uploaded file)."""
    trace_id = _b64_id(str(span.get("trace_id", "")).removeprefix("tr-"), 16)
    span_id = _b64_id(span.get("span_id"), 8)
    if trace_id is None or span_id is None:
        return None
    out = {
        "trace_id": trace_id,
        "span_id": span_id,
        "name": span.get("name") or "",
        "start_time_unix_nano": str(int(span.get("start_time_unix_nano") or 0)),
        "attributes": [
            {"key": k, "value": _any_value_json(_loads(v))} for k, v in (span.get("attributes") or {}).items()
        ],
        "events": [
            {
                "name": e.get("name") or "",
                "time_unix_nano": str(int(e.get("time_unix_nano") or 0)),
                "attributes": [
                    {"key": k, "value": _any_value_json(v)} for k, v in (e.get("attributes") or {}).items()
                ],
            }
            for e in span.get("events") or []
        ],
    }
    parent = _b64_id(span.get("parent_span_id"), 8)
    if parent:
        out["parent_span_id"] = parent
    if span.get("end_time_unix_nano"):
        out["end_time_unix_nano"] = str(int(span["end_time_unix_nano"]))
    status = span.get("status") or {}
    code = status.get("code") or "STATUS_CODE_UNSET"
    if code in ("OK", "ERROR", "UNSET"):
        code = f"STATUS_CODE_{code}"
    out["status"] = {"code": code if code in _STATUS_NAMES.values() else "STATUS_CODE_UNSET"}
    if status.get("message"):
        out["status"]["message"] = status["message"]
    return out
