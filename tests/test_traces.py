"""MLflow 3 tracing against a live server: `@mlflow.trace` and `mlflow.start_span` export (OTLP
spans + StartTraceV3), get/search with every span intact, filters, ordering, paging, tags,
run links, deletion by id and by age, raw OTLP (protobuf and JSON), and errors."""

from __future__ import annotations

import json
import os
import time
import uuid

import mlflow
import pytest
import requests
from mlflow.entities import SpanStatusCode
from mlflow.exceptions import MlflowException

from tests.no5xx import no_5xx  # noqa: F401  (every test here fails on any 5xx answer)

API2 = "/api/2.0/mlflow"
API3 = "/api/3.0/mlflow"


def assert_error(resp, status: int, code: str | None = None, contains: str | None = None):
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    if code is not None:
        body = resp.json()
        assert body["error_code"] == code, body
        if contains is not None:
            assert contains in body["message"], body["message"]


@pytest.fixture()
def experiment(mlflow_client, unique_name):
    exp_id = mlflow_client.create_experiment(unique_name)
    mlflow.set_experiment(experiment_id=exp_id)
    yield exp_id


def flush():
    mlflow.flush_trace_async_logging()


# -- the client's own export path ----------------------------------------------------------------------
@mlflow.trace(span_type="CHAIN")
def pipeline(question: str, k: int = 2):
    docs = retrieve(question, k)
    with mlflow.start_span(name="generate", span_type="LLM") as span:
        span.set_inputs({"question": question, "docs": docs})
        answer = f"{question} -> {'|'.join(docs)}"
        span.set_outputs({"answer": answer})
        span.set_attribute("model", "tiny")
        span.set_attribute("temperature", 0.25)
        span.add_event(mlflow.entities.SpanEvent("token", attributes={"n": 3}))
    return answer


@mlflow.trace(name="retrieve", span_type="RETRIEVER")
def retrieve(question: str, k: int):
    return [f"doc{i}" for i in range(k)]


@mlflow.trace
def explode(x):
    raise ValueError(f"boom {x}")


def test_traced_function_round_trips_every_span(mlflow_client, experiment, api):
    answer = pipeline("why?", k=3)
    flush()
    traces = mlflow_client.search_traces(locations=[experiment])
    assert len(traces) == 1
    trace = traces[0]
    info = trace.info
    assert info.trace_id.startswith("tr-") and info.state.value == "OK"
    assert info.experiment_id == experiment
    assert info.execution_duration is not None and info.execution_duration >= 0
    assert info.request_time > 0
    assert json.loads(info.request_preview) == {"question": "why?", "k": 3}
    assert json.loads(info.response_preview) == answer

    for t in (trace, mlflow_client.get_trace(info.trace_id)):
        spans = {s.name: s for s in t.data.spans}
        assert set(spans) == {"pipeline", "retrieve", "generate"}
        root = spans["pipeline"]
        assert root.parent_id is None
        assert root.inputs == {"question": "why?", "k": 3} and root.outputs == answer
        assert root.span_type == "CHAIN"
        assert spans["retrieve"].parent_id == root.span_id
        assert spans["retrieve"].inputs == {"question": "why?", "k": 3}
        assert spans["retrieve"].outputs == ["doc0", "doc1", "doc2"]
        assert spans["retrieve"].span_type == "RETRIEVER"
        gen = spans["generate"]
        assert gen.parent_id == root.span_id and gen.span_type == "LLM"
        assert gen.inputs == {"question": "why?", "docs": ["doc0", "doc1", "doc2"]}
        assert gen.outputs == {"answer": answer}
        assert gen.get_attribute("model") == "tiny" and gen.get_attribute("temperature") == 0.25
        assert [(e.name, e.attributes) for e in gen.events] == [("token", {"n": 3})]
        assert all(s.trace_id == info.trace_id for s in t.data.spans)
        assert all(s.start_time_ns <= s.end_time_ns for s in t.data.spans)
        assert all(s.status.status_code == SpanStatusCode.OK for s in t.data.spans)

    # Span data lives as MLflow keeps it: traces.json in the trace's artifact folder.
    location = info.tags["mlflow.artifactLocation"]
    assert location == f"mlflow-artifacts:/{experiment}/traces/{info.trace_id}/artifacts"
    data = api.get(f"/api/2.0/mlflow-artifacts/artifacts/{experiment}/traces/{info.trace_id}/artifacts/traces.json")
    assert data.status_code == 200
    assert {s["name"] for s in data.json()["spans"]} == {"pipeline", "retrieve", "generate"}


def _otlp_exports(api) -> float:
    """How many OTLP span exports the server has answered with 200 (its Prometheus counter)."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(api.get("/metrics").text)
        for sample in family.samples
        if sample.name == "swan_http_requests_total"
        and sample.labels.get("route") == "/v1/traces" and sample.labels.get("status") == "200"
    )


def test_version_keeps_the_client_on_the_otlp_span_path(mlflow_client, experiment, api):
    """MLflow 3.x's client exports spans over OTLP only to a server whose `/version` is 3.4 or
    later; below that it falls back to uploading traces.json, and every other trace test would
    still pass. So check the version, then that a traced call really arrived at `/v1/traces`."""
    from packaging.version import Version

    version = api.get("/version")
    assert version.status_code == 200 and version.headers["Content-Type"].startswith("text/plain")
    assert Version(version.text) >= Version("3.4"), version.text
    before = _otlp_exports(api)
    pipeline("over otlp?", k=1)
    flush()
    assert _otlp_exports(api) > before
    (trace,) = mlflow_client.search_traces(locations=[experiment])
    assert {s.name for s in trace.data.spans} == {"pipeline", "retrieve", "generate"}


def test_start_span_and_error_traces(mlflow_client, experiment):
    with mlflow.start_span(name="outer") as outer:
        outer.set_inputs({"q": "hi"})
        with mlflow.start_span(name="inner") as inner:
            inner.set_inputs([1, 2, 3])
            inner.set_outputs({"nested": {"deep": [True, None, 1.5]}})
        outer.set_outputs("done")
    time.sleep(0.01)  # distinct request times: the search below orders by them
    with pytest.raises(ValueError):
        explode(7)
    flush()
    traces = mlflow_client.search_traces(locations=[experiment], order_by=["timestamp_ms ASC"])
    assert len(traces) == 2
    ok, err = traces
    spans = {s.name: s for s in ok.data.spans}
    assert spans["outer"].inputs == {"q": "hi"} and spans["outer"].outputs == "done"
    assert spans["inner"].inputs == [1, 2, 3]
    assert spans["inner"].outputs == {"nested": {"deep": [True, None, 1.5]}}
    assert err.info.state.value == "ERROR"
    (span,) = err.data.spans
    assert span.status.status_code == SpanStatusCode.ERROR
    assert span.inputs == {"x": 7}
    assert any(e.name == "exception" and "boom 7" in e.attributes.get("exception.message", "") for e in span.events)
    by_state = mlflow_client.search_traces(locations=[experiment], filter_string="trace.status = 'ERROR'")
    assert [t.info.trace_id for t in by_state] == [err.info.trace_id]


def test_search_filters_order_and_pages(mlflow_client, experiment, api):
    ids = []
    for i in range(7):
        with mlflow.start_span(name=f"step-{i % 2}") as span:
            span.set_inputs({"i": i})
            mlflow.update_current_trace(tags={"parity": "even" if i % 2 == 0 else "odd", "i": str(i)},
                                        metadata={"batch": "b1" if i < 4 else "b2"})
        ids.append(mlflow.get_last_active_trace_id())
        time.sleep(0.01)
    flush()

    def search(**kw):
        return [t.info.trace_id for t in mlflow_client.search_traces(locations=[experiment], **kw)]

    assert search() == ids[::-1]  # newest first
    assert search(order_by=["timestamp_ms ASC"]) == ids
    assert search(filter_string="tags.parity = 'odd'", order_by=["timestamp ASC"]) == ids[1::2]
    assert search(filter_string="metadata.batch = 'b2'", order_by=["timestamp ASC"]) == ids[4:]
    assert search(filter_string="trace.name = 'step-1'", order_by=["timestamp ASC"]) == ids[1::2]
    assert search(filter_string="tags.parity = 'even' AND metadata.batch = 'b1'", order_by=["timestamp ASC"]) \
        == [ids[0], ids[2]]
    assert search(filter_string=f"trace.request_id = '{ids[3]}'") == [ids[3]]
    assert search(filter_string="tags.missing IS NULL", order_by=["timestamp ASC"]) == ids
    assert search(filter_string="tags.i LIKE '%'", order_by=["timestamp ASC"]) == ids
    infos = {t.info.trace_id: t.info for t in mlflow_client.search_traces(locations=[experiment])}
    cutoff = infos[ids[3]].request_time
    assert set(search(filter_string=f"trace.timestamp_ms < {cutoff}")) == set(ids[:3])
    assert search(filter_string="trace.execution_time_ms >= 0", order_by=["timestamp ASC"]) == ids

    # Paging through the raw API: a token only while more remain, every trace once.
    seen, token = [], None
    while True:
        body = {"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment}}],
                "max_results": 3, "order_by": ["timestamp_ms ASC"]}
        if token:
            body["page_token"] = token
        resp = api.post(f"{API3}/traces/search", json=body)
        assert resp.status_code == 200, resp.text
        seen += [t["trace_id"] for t in resp.json().get("traces", [])]
        token = resp.json().get("next_page_token")
        if not token:
            break
    assert seen == ids
    # The client pages too.
    assert [t.info.trace_id for t in mlflow_client.search_traces(locations=[experiment], max_results=5)] == ids[::-1][:5]

    for bad in ("tags.a = 'x' OR tags.b = 'y'", "bogus.a = 'x'", "trace.nope = 'x'", "trace.timestamp_ms > 'x'"):
        body = {"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment}}],
                "filter": bad}
        assert_error(api.post(f"{API3}/traces/search", json=body), 400, "INVALID_PARAMETER_VALUE")


def test_tags_batch_get_and_links_to_runs(mlflow_client, experiment, api):
    with mlflow.start_run() as run:
        with mlflow.start_span(name="in-run"):
            pass
    in_run = mlflow.get_last_active_trace_id()
    with mlflow.start_span(name="outside"):
        pass
    outside = mlflow.get_last_active_trace_id()
    flush()
    assert [t.info.trace_id for t in mlflow_client.search_traces(locations=[experiment], run_id=run.info.run_id)] \
        == [in_run]

    mlflow_client.set_trace_tag(outside, "reviewed", "yes")
    assert mlflow_client.get_trace(outside).info.tags["reviewed"] == "yes"
    mlflow_client.delete_trace_tag(outside, "reviewed")
    assert "reviewed" not in mlflow_client.get_trace(outside).info.tags
    long_value = "v" * 9000
    mlflow_client.set_trace_tag(outside, "long", long_value)
    assert mlflow_client.get_trace(outside).info.tags["long"] == "v" * 8000  # truncated as MLflow does
    assert_error(api.patch(f"{API2}/traces/{outside}/tags", json={"key": "k" * 251, "value": "v"})
                 if hasattr(api, "patch") else
                 requests.patch(f"{api.base}{API2}/traces/{outside}/tags", json={"key": "k" * 251, "value": "v"}, timeout=30),
                 400, "INVALID_PARAMETER_VALUE")

    # link-to-run: the other trace now belongs to the run too.
    resp = api.post(f"{API2}/traces/link-to-run", json={"trace_ids": [outside], "run_id": run.info.run_id})
    assert resp.status_code == 200, resp.text
    linked = mlflow_client.search_traces(locations=[experiment], run_id=run.info.run_id)
    assert {t.info.trace_id for t in linked} == {in_run, outside}

    resp = api.get(f"{API3}/traces/batchGet", params={"trace_ids": [in_run, outside]})
    assert resp.status_code == 200
    traces = resp.json()["traces"]
    assert [t["trace_info"]["trace_id"] for t in traces] == [in_run, outside]
    assert [s["name"] for s in traces[0]["spans"]] == ["in-run"]
    resp = api.post(f"{API3}/traces/batchGetInfos", json={"trace_ids": [outside]})
    assert [t["trace_id"] for t in resp.json()["trace_infos"]] == [outside]
    info = api.get(f"{API3}/traces/{in_run}").json()["trace"]["trace_info"]
    assert info["trace_metadata"]["mlflow.sourceRun"] == run.info.run_id
    assert info["request_time"].endswith("Z") and info["execution_duration"].endswith("s")


def test_delete_traces_by_id_and_by_age(mlflow_client, experiment, api, server):
    ids = []
    for i in range(5):
        with mlflow.start_span(name=f"t{i}"):
            pass
        ids.append(mlflow.get_last_active_trace_id())
        time.sleep(0.02)
    flush()
    infos = {t.info.trace_id: t.info for t in mlflow_client.search_traces(locations=[experiment])}
    folder = os.path.join(server.artifacts_destination, experiment, "traces", ids[0])
    assert os.path.isfile(os.path.join(folder, "artifacts", "traces.json"))

    assert mlflow_client.delete_traces(experiment, trace_ids=[ids[0]]) == 1
    assert not os.path.exists(folder)  # the span data goes with the trace
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_trace(ids[0])
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    # By age: everything at or before trace 2's start, at most 1 at a time (oldest first).
    cutoff = infos[ids[2]].request_time
    assert mlflow_client.delete_traces(experiment, max_timestamp_millis=cutoff, max_traces=1) == 1
    remaining = {t.info.trace_id for t in mlflow_client.search_traces(locations=[experiment])}
    assert remaining == set(ids[2:])
    assert mlflow_client.delete_traces(experiment, max_timestamp_millis=cutoff) == 1
    assert {t.info.trace_id for t in mlflow_client.search_traces(locations=[experiment])} == set(ids[3:])
    # The v3 alias of the same call.
    resp = api.post(f"{API3}/traces/delete-traces", json={"experiment_id": experiment, "request_ids": ids[3:]})
    assert resp.json() == {"traces_deleted": 2}
    assert mlflow_client.search_traces(locations=[experiment]) == []

    for body in ({"experiment_id": experiment}, {"experiment_id": experiment, "max_timestamp_millis": 1,
                                                  "request_ids": [ids[0]]},
                 {"experiment_id": experiment, "max_timestamp_millis": 1, "max_traces": 0}):
        assert_error(api.post(f"{API2}/traces/delete-traces", json=body), 400, "INVALID_PARAMETER_VALUE")


# -- raw OTLP ----------------------------------------------------------------------------------------------
def _otlp_protobuf(trace_hex: str, spans: list[tuple[str, str, str | None, dict, int]]) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    req = ExportTraceServiceRequest()
    scope = req.resource_spans.add().scope_spans.add()
    for name, span_hex, parent_hex, attrs, code in spans:
        s = scope.spans.add()
        s.trace_id = bytes.fromhex(trace_hex)
        s.span_id = bytes.fromhex(span_hex)
        if parent_hex:
            s.parent_span_id = bytes.fromhex(parent_hex)
        s.name = name
        s.start_time_unix_nano = 1_700_000_000_000_000_000
        s.end_time_unix_nano = 1_700_000_000_250_000_000
        s.status.code = code
        for k, v in attrs.items():
            a = s.attributes.add()
            a.key = k
            if isinstance(v, str):
                a.value.string_value = v
            elif isinstance(v, bool):
                a.value.bool_value = v
            elif isinstance(v, int):
                a.value.int_value = v
            else:
                a.value.double_value = v
    return req.SerializeToString()


def test_otlp_protobuf_export_without_start_trace(mlflow_client, experiment, api):
    trace_hex = uuid.uuid4().hex
    body = _otlp_protobuf(trace_hex, [
        ("child", "00000000000000b2", "00000000000000a1", {"k": "v", "n": 3}, 1),
        ("root", "00000000000000a1", None, {"mlflow.spanInputs": '{"q": 1}', "flag": True, "x": 0.5}, 2),
    ])
    resp = requests.post(f"{api.base}/v1/traces", data=body, timeout=30,
                         headers={"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/x-protobuf")
    trace = mlflow_client.get_trace(f"tr-{trace_hex}")
    assert trace.info.state.value == "ERROR"  # from the root span's status
    assert trace.info.request_time == 1_700_000_000_000
    assert trace.info.execution_duration == 250
    spans = {s.name: s for s in trace.data.spans}
    assert spans["child"].parent_id == spans["root"].span_id == "00000000000000a1"
    assert spans["child"].get_attribute("k") == "v" and spans["child"].get_attribute("n") == 3
    assert spans["root"].inputs == '{"q": 1}'  # a string attribute stays a string, as in MLflow
    assert spans["root"].get_attribute("flag") is True and spans["root"].get_attribute("x") == 0.5
    assert [t.info.trace_id for t in mlflow_client.search_traces(locations=[experiment])] == [f"tr-{trace_hex}"]

    # A later batch for the same trace merges by span id.
    more = _otlp_protobuf(trace_hex, [("late", "00000000000000c3", "00000000000000a1", {}, 1)])
    requests.post(f"{api.base}/v1/traces", data=more, timeout=30,
                  headers={"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment})
    assert {s.name for s in mlflow_client.get_trace(f"tr-{trace_hex}").data.spans} == {"root", "child", "late"}


def test_otlp_json_export_with_hex_ids(mlflow_client, experiment, api):
    trace_hex = uuid.uuid4().hex
    payload = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                                  "scopeSpans": [{"spans": [{
                                      "traceId": trace_hex, "spanId": "1111111111111111", "name": "json-root",
                                      "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000100000000",
                                      "attributes": [{"key": "answer", "value": {"intValue": "42"}}],
                                      "status": {"code": 1}}]}]}]}
    resp = requests.post(f"{api.base}/v1/traces", data=json.dumps(payload), timeout=30,
                         headers={"Content-Type": "application/json", "x-mlflow-experiment-id": experiment})
    assert resp.status_code == 200, resp.text
    trace = mlflow_client.get_trace(f"tr-{trace_hex}")
    (span,) = trace.data.spans
    assert span.name == "json-root" and span.get_attribute("answer") == 42
    assert span.span_id == "1111111111111111"
    assert trace.info.state.value == "OK"


def test_trace_errors(mlflow_client, experiment, api):
    missing = f"tr-{uuid.uuid4().hex}"
    assert_error(api.get(f"{API3}/traces/{missing}"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.get(f"{API3}/traces/get", params={"trace_id": missing}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.get(f"{API3}/traces/not-a-trace-id"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.get(f"{API3}/traces/get", params={"trace_id": "tr-../../etc"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post(f"{API3}/traces/search", json={}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post(f"{API3}/traces", json={"trace": {"trace_info": {
        "trace_id": "tr-x/../../y", "trace_location": {"mlflow_experiment": {"experiment_id": experiment}}}}}),
        400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post(f"{API3}/traces", json={"trace": {"trace_info": {
        "trace_id": missing, "trace_location": {"mlflow_experiment": {"experiment_id": "987654321"}}}}}),
        404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.post(f"{API3}/traces", json={"trace": {"trace_info": {
        "trace_id": missing, "request_time": "yesterday",
        "trace_location": {"mlflow_experiment": {"experiment_id": experiment}}}}}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post(f"{API3}/traces", json={"trace": {"trace_info": {
        "trace_id": missing, "client_request_id": "c" * 251,
        "trace_location": {"mlflow_experiment": {"experiment_id": experiment}}}}}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post(f"{API2}/traces/link-to-run", json={"trace_ids": [missing], "run_id": "0" * 32}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.get(f"{API3}/traces/batchGet", params={"trace_ids": [missing] * 101}), 400, "INVALID_PARAMETER_VALUE")

    headers = {"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment}
    otlp = f"{api.base}/v1/traces"
    assert requests.post(otlp, data=b"\xff\xfe garbage", headers=headers, timeout=30).status_code == 400
    assert requests.post(otlp, data=b"", headers=headers, timeout=30).status_code == 400  # no spans
    good = _otlp_protobuf(uuid.uuid4().hex, [("r", "00000000000000a1", None, {}, 1)])
    assert requests.post(otlp, data=good, headers={"Content-Type": "application/x-protobuf"}, timeout=30).status_code == 400
    assert requests.post(otlp, data=good, headers={**headers, "Content-Type": "text/plain"}, timeout=30).status_code == 400
    assert requests.post(otlp, data=good, headers={**headers, "x-mlflow-experiment-id": "987654321"},
                         timeout=30).status_code == 404
    import gzip

    ok = requests.post(otlp, data=gzip.compress(good), headers={**headers, "Content-Encoding": "gzip"}, timeout=30)
    assert ok.status_code == 200, ok.text
    assert requests.post(otlp, data=b"not gzip", headers={**headers, "Content-Encoding": "gzip"},
                         timeout=30).status_code == 400
    # A decompression bomb (a few hundred KiB that inflate past 256 MiB) is refused, not inflated.
    import zlib

    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(z.compress(chunk) for _ in range(260)) + z.flush()
    assert len(bomb) < 1 << 20
    resp = requests.post(otlp, data=bomb, headers={**headers, "Content-Encoding": "gzip"}, timeout=60)
    assert resp.status_code == 413, resp.text


def test_malformed_mlflow3_requests_are_4xx(mlflow_client, experiment, api):
    """Wrong types, out-of-range numbers and odd shapes on every MLflow 3 route: 4xx, never 5xx."""
    tid = f"tr-{uuid.uuid4().hex}"
    loc = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment}}
    cases = [
        ("POST", f"{API3}/traces", {"trace": "x"}),
        ("POST", f"{API3}/traces", {"trace": {"trace_info": {"trace_id": 5}}}),
        ("POST", f"{API3}/traces", {"trace": {"trace_info": {"trace_id": tid, "trace_location": loc["mlflow_experiment"] and {"mlflow_experiment": {"experiment_id": experiment}}, "request_time": 1e30}}}),
        ("POST", f"{API3}/traces", {"trace": {"trace_info": {"trace_id": tid, "trace_location": {"mlflow_experiment": {"experiment_id": experiment}}, "tags": "x"}}}),
        ("POST", f"{API3}/traces", {"trace": {"trace_info": {"trace_id": tid, "trace_location": {"mlflow_experiment": {"experiment_id": experiment}}, "state": "SUPER"}}}),
        ("POST", f"{API3}/traces", {"trace": {"trace_info": {"trace_id": tid, "trace_location": {"mlflow_experiment": {"experiment_id": "1" * 30}}}}}),
        ("POST", f"{API3}/traces/search", {"locations": [loc], "max_results": 10**20}),
        ("POST", f"{API3}/traces/search", {"locations": [{"type": "INFERENCE_TABLE"}]}),
        ("POST", f"{API3}/traces/search", {"locations": [loc], "order_by": ["bogus DESC"]}),
        ("POST", f"{API2}/traces/delete-traces", {"experiment_id": experiment, "max_timestamp_millis": "soon"}),
        ("POST", f"{API2}/traces/delete-traces", {"experiment_id": "x", "request_ids": [tid]}),
        ("POST", f"{API3}/traces/batchGetInfos", {"trace_ids": "tr-1"}),
        ("POST", f"{API2}/logged-models", {"experiment_id": experiment, "params": [{"key": "a"}], "tags": {"a": 1}}),
        ("POST", f"{API2}/logged-models/search", {"experiment_ids": [experiment], "datasets": [{"dataset_name": 5}]}),
        ("POST", f"{API2}/logged-models/search", {"experiment_ids": [experiment], "order_by": ["name"]}),
        ("POST", f"{API2}/logged-models/search", {"experiment_ids": ["9" * 40]}),
        ("PATCH", f"{API2}/logged-models/m-{'0' * 32}", {"status": 99}),
        ("POST", f"{API2}/runs/outputs", {"run_id": "x", "models": "m"}),
        ("POST", f"{API2}/registered-models/create", {"name": ["a"]}),
        ("POST", f"{API2}/registered-models/create", {"name": "x" * 300}),
        ("POST", f"{API2}/registered-models/alias", {"name": "n", "alias": "a", "version": 1.5}),
        ("GET", f"{API2}/registered-models/search", {"max_results": "lots"}),
        ("GET", f"{API2}/model-versions/search", {"filter": "version_number > 'x'"}),
        ("GET", f"{API2}/model-versions/search", {"filter": "run_id LIKE 'a%'"}),
        ("GET", f"{API2}/model-versions/get", {"name": "n", "version": "99999999999999999999"}),
        ("POST", f"{API2}/model-versions/create", {"name": "n", "source": 5}),
        ("POST", f"{API2}/model-versions/transition-stage", {"name": "n", "version": "1", "stage": None}),
    ]
    for method, path, payload in cases:
        kw = {"params": payload} if method == "GET" else {"json": payload}
        resp = requests.request(method, api.base + path, timeout=30, **kw)
        assert 400 <= resp.status_code < 500, (method, path, payload, resp.status_code, resp.text[:300])
    # Numbers past the double range are clamped, not errors: these answer normally.
    for path, payload in (
        (f"{API3}/traces/search", {"locations": [loc], "filter": "trace.timestamp_ms > 1e400"}),
        (f"{API2}/logged-models/search", {"experiment_ids": [experiment], "filter": "metrics.a > -1e999"}),
    ):
        resp = requests.post(api.base + path, json=payload, timeout=30)
        assert resp.status_code == 200 and resp.json() == {}, resp.text[:300]
    resp = requests.get(api.base + f"{API2}/model-versions/search", params={"filter": "version_number > 1e400"}, timeout=30)
    assert resp.status_code == 200, resp.text[:300]
    body = b"{not json"
    resp = requests.post(api.base + f"{API3}/traces/search", data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 400
