"""Trace rules (MLflow 3 tracing): trace ids, states, tag limits, and the span data.

Span data lives where MLflow keeps it: `traces.json` (MLflow's TraceData dict, `{"spans": [...]}`)
in the trace's artifact folder (`<experiment location>/traces/<trace id>/artifacts`). Spans
exported over OTLP are merged into that file by span id while the trace's row is locked; a
trace whose spans the server holds is tagged `mlflow.trace.spansLocation = TRACKING_STORE`, so
clients read its spans through the trace APIs. A client may also upload `traces.json` itself
(MLflow does when StartTraceV3 answers before any span arrived): the file has the same format."""

from __future__ import annotations

import io
import json
import posixpath
import re

from swan_server.artifacts import ArtifactStore
from swan_server.entities import PagedList
from swan_server.entities_mlflow3 import TRACE_STATES, TraceInfo
from swan_server.errors import PERMISSION_DENIED, SwanError, invalid
from swan_server.services import validation as v
from swan_server.services.access import AccessPolicy
from swan_server.services.artifacts import proxy_uri_to_path
from swan_server.store.abstract import ModelStore

TRACE_ID_RE = re.compile(r"^tr-[0-9a-f]{32}$")
TRACE_DATA_FILE = "traces.json"
SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
SPANS_IN_TRACKING_STORE = "TRACKING_STORE"
TRACE_NAME_TAG = "mlflow.traceName"
REQUEST_ID_ATTRIBUTE = "mlflow.traceRequestId"
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 8000
MAX_PREVIEW_LENGTH = 1000
SEARCH_DEFAULT, SEARCH_MAX = 100, 50_000
MAX_BATCH_GET = 100
MAX_LINK_TRACES = 100


def check_trace_id(trace_id) -> str:
    if not isinstance(trace_id, str) or not trace_id:
        raise invalid("Missing value for required parameter 'trace_id'.")
    if not TRACE_ID_RE.match(trace_id):
        raise invalid(f"Invalid trace ID '{trace_id[:100]}': expected 'tr-' followed by 32 hex digits")
    return trace_id


def trace_id_from_otel(otel_trace_id_hex: str) -> str:
    return f"tr-{otel_trace_id_hex}"


def _preview(value) -> str | None:
    """A span attribute (JSON text) as a request/response preview."""
    if value is None:
        return None
    return value[:MAX_PREVIEW_LENGTH]


class TraceService:
    def __init__(self, store: ModelStore, artifacts: ArtifactStore):
        self.store = store
        self.artifacts = artifacts
        self.access = AccessPolicy(store)

    def _check(self, trace_id, write: bool = False) -> TraceInfo:
        info = self.store.get_trace_info(check_trace_id(trace_id))
        self.access.project(info.experiment_id, write=write)
        return info

    # -- span data -----------------------------------------------------------------------------------
    def _data_path(self, artifact_location: str) -> str:
        return posixpath.join(proxy_uri_to_path(artifact_location), TRACE_DATA_FILE)

    def _read_spans(self, artifact_location: str | None) -> list[dict]:
        if not artifact_location:
            return []
        path = self._data_path(artifact_location)
        if not self.artifacts.is_file(path):
            return []
        chunks, _size = self.artifacts.open_read(path)
        try:
            raw = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        try:
            data = json.loads(raw)
        except ValueError:
            return []
        spans = data.get("spans") if isinstance(data, dict) else None
        return [s for s in spans or [] if isinstance(s, dict)]

    def log_spans(self, experiment_id, spans: list[dict]) -> int:
        """Store MLflow span dicts (see `api.mlflow.otlp`), grouped by their trace; returns how
        many spans were stored."""
        if not experiment_id:
            raise invalid("Missing value for required header 'x-mlflow-experiment-id'")
        self.access.project(experiment_id, write=True)
        by_trace: dict[str, list[dict]] = {}
        for span in spans:
            by_trace.setdefault(check_trace_id(span["_mlflow_trace_id"]), []).append(span)
        for trace_id, items in by_trace.items():
            start_ms = min(s["start_time_unix_nano"] for s in items) // 1_000_000
            with self.store.trace_for_spans(trace_id, experiment_id, start_ms) as handle:
                merged = {s.get("span_id"): s for s in self._read_spans(handle.artifact_location)}
                for s in items:
                    s = {k: val for k, val in s.items() if not k.startswith("_mlflow")}
                    merged[s["span_id"]] = s
                ordered = sorted(merged.values(), key=lambda s: (s.get("start_time_unix_nano") or 0))
                body = json.dumps({"spans": ordered}, ensure_ascii=False).encode()
                self.artifacts.write(self._data_path(handle.artifact_location), io.BytesIO(body))
                tags = {SPANS_LOCATION_TAG: SPANS_IN_TRACKING_STORE}
                root = next((s for s in items if not s.get("parent_span_id")), None)
                if root is not None and not handle.info_finalized:
                    # Spans came without (or before) StartTraceV3: the root span tells the rest.
                    start, end = root["start_time_unix_nano"], root.get("end_time_unix_nano")
                    attrs = root.get("attributes") or {}
                    handle.updates.update(
                        request_time=start // 1_000_000,
                        execution_duration=(end - start) // 1_000_000 if end else None,
                        state="ERROR" if root["status"]["code"] == "STATUS_CODE_ERROR" else "OK",
                        request_preview=_preview(attrs.get("mlflow.spanInputs")),
                        response_preview=_preview(attrs.get("mlflow.spanOutputs")),
                    )
                    tags[TRACE_NAME_TAG] = root["name"]
                handle.updates["tags"] = tags
        return len(spans)

    # -- trace info ----------------------------------------------------------------------------------
    def start_trace(self, info: TraceInfo) -> TraceInfo:
        check_trace_id(info.trace_id)
        if not info.experiment_id:
            raise invalid("A trace location with an MLflow experiment ID is required.")
        if info.client_request_id is not None and len(info.client_request_id) > MAX_TAG_KEY_LENGTH:
            raise invalid(f"client_request_id exceeds the maximum length of {MAX_TAG_KEY_LENGTH} characters")
        if info.state not in TRACE_STATES:
            raise invalid(f"Invalid trace state {info.state!r}. Valid values are {list(TRACE_STATES)}")
        for key in list(info.tags) + list(info.metadata):
            if not isinstance(key, str) or not key or len(key) > MAX_TAG_KEY_LENGTH:
                raise invalid(f"Invalid trace tag or metadata key {str(key)[:50]!r}")
        self.access.project(info.experiment_id, write=True)
        info.tags = {k: (val or "")[:MAX_TAG_VALUE_LENGTH] for k, val in info.tags.items()}
        return self.store.start_trace(info)

    def get_info(self, trace_id) -> TraceInfo:
        return self._check(trace_id)

    def get(self, trace_id) -> tuple[TraceInfo, list[dict]]:
        info = self.get_info(trace_id)
        return info, self._read_spans(info.tags.get("mlflow.artifactLocation"))

    def batch_infos(self, trace_ids) -> list[TraceInfo]:
        if len(trace_ids) > MAX_BATCH_GET:
            raise invalid(f"At most {MAX_BATCH_GET} trace IDs can be requested at once, got {len(trace_ids)}")
        infos = self.store.batch_get_trace_infos([check_trace_id(t) for t in trace_ids])
        self.access.projects({i.experiment_id for i in infos})
        return infos

    def batch_get(self, trace_ids) -> list[tuple[TraceInfo, list[dict]]]:
        return [(i, self._read_spans(i.tags.get("mlflow.artifactLocation"))) for i in self.batch_infos(trace_ids)]

    def search(self, experiment_ids, filter_string=None, max_results=None, order_by=None, page_token=None) -> PagedList:
        if not experiment_ids:
            raise invalid("At least one trace location (an MLflow experiment) must be specified.")
        max_results = SEARCH_DEFAULT if max_results is None else max_results
        if not 1 <= max_results <= SEARCH_MAX:
            raise invalid(f"Invalid value {max_results} for parameter 'max_results' supplied. "
                          f"It must be between 1 and {SEARCH_MAX}")
        self.access.projects(experiment_ids)
        return self.store.search_traces(list(experiment_ids), filter_string, max_results, order_by, page_token)

    def delete(self, experiment_id, max_timestamp_millis=None, max_traces=None, trace_ids=None) -> int:
        if not experiment_id:
            raise invalid("Missing value for required parameter 'experiment_id'.")
        if max_timestamp_millis is None and not trace_ids:
            raise invalid("Either `max_timestamp_millis` or `request_ids` must be specified.")
        if max_timestamp_millis is not None and trace_ids:
            raise invalid("Only one of `max_timestamp_millis` and `request_ids` can be specified.")
        if trace_ids and max_traces is not None:
            raise invalid("`max_traces` can't be specified if `request_ids` is specified.")
        if max_traces is not None and max_traces <= 0:
            raise invalid(f"`max_traces` must be a positive integer, received {max_traces}.")
        self.access.project(experiment_id, write=True)
        locations = self.store.delete_traces(experiment_id, max_timestamp_millis, max_traces, trace_ids)
        for location in locations:
            self._delete_data(location)
        return len(locations)

    def _delete_data(self, location: str) -> None:
        try:
            path = proxy_uri_to_path(location)
        except SwanError:
            return
        # `<exp>/traces/<trace id>/artifacts`: remove the trace's whole folder.
        parent = posixpath.dirname(path)
        if path.endswith("/artifacts") and TRACE_ID_RE.match(posixpath.basename(parent)):
            path = parent
        try:
            self.artifacts.delete(path)
        except SwanError:
            pass  # already gone

    def set_tag(self, trace_id, key, value) -> None:
        v.validate_key("tag", key)
        if len(key) > MAX_TAG_KEY_LENGTH:
            raise invalid(f"Trace tag key '{key[:50]}...' had length {len(key)}, which exceeded length limit of {MAX_TAG_KEY_LENGTH}")
        if not isinstance(value, str):
            raise invalid(f"Invalid value {value!r} for parameter 'value' supplied")
        self._check(trace_id, write=True)
        self.store.set_trace_tag(check_trace_id(trace_id), key, value[:MAX_TAG_VALUE_LENGTH])

    def delete_tag(self, trace_id, key) -> None:
        if not key:
            raise invalid("Missing value for required parameter 'key'.")
        self._check(trace_id, write=True)
        self.store.delete_trace_tag(check_trace_id(trace_id), key)

    def link_to_run(self, trace_ids, run_id) -> None:
        if not run_id:
            raise invalid("Missing value for required parameter 'run_id'.")
        if len(trace_ids) > MAX_LINK_TRACES:
            raise invalid(f"Cannot link more than {MAX_LINK_TRACES} traces to a run in a single request. "
                          f"Provided {len(trace_ids)} traces.")
        self.access.run(run_id, write=True)
        if not self.access.is_admin():
            for t in dict.fromkeys(trace_ids):
                try:
                    self._check(t)
                except SwanError as exc:
                    if exc.error_code == PERMISSION_DENIED:
                        raise
        self.store.link_traces_to_run([check_trace_id(t) for t in trace_ids], run_id)
