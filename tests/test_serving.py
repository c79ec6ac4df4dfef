"""The HTTP layer under the faces: gunicorn with Swan's lingering thread worker
(swan_server.wsgi.LingeringThreadWorker), driven over raw sockets and keep-alive connections."""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from urllib.parse import urlparse

from tests.server import LiveServer

JSON = {"Content-Type": "application/json"}


def _responses(sock: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """Read `count` HTTP/1.1 responses (Content-Length bodies) from a socket."""
    buf, out = b"", []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} of {count} responses"
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(v) for k, v in (ln.split(":", 1) for ln in lines[1:]) if k.strip().lower() == "content-length")
        while len(buf) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed inside a response body"
            buf += chunk
        out.append((status, buf[:length]))
        buf = buf[length:]
    return out


def _post(path: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: swan\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def _connection(url: str) -> http.client.HTTPConnection:
    parsed = urlparse(url)
    return http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)


def _new_run(conn: http.client.HTTPConnection, name: str) -> str:
    conn.request("POST", "/api/2.0/mlflow/experiments/create", json.dumps({"name": name}), JSON)
    exp = json.loads(conn.getresponse().read())["experiment_id"]
    conn.request("POST", "/api/2.0/mlflow/runs/create", json.dumps({"experiment_id": exp}), JSON)
    return json.loads(conn.getresponse().read())["run"]["info"]["run_id"]


def test_pipelined_requests_are_all_answered(server, unique_name):
    """Requests sent back to back in one write (HTTP/1.1 pipelining) are answered in order. Their
    bytes reach the server with the first request, so the socket never turns readable again:
    gunicorn's stock gthread worker left the second one unanswered until its keep-alive timeout
    (30 s here), which the 10 s socket timeout below would turn into a failure."""
    conn = _connection(server.url)
    run_id = _new_run(conn, unique_name)
    conn.close()
    host = urlparse(server.url)
    with socket.create_connection((host.hostname, host.port), timeout=10) as sock:
        requests = [b"GET /health HTTP/1.1\r\nHost: swan\r\n\r\n"]
        requests += [_post("/api/2.0/mlflow/runs/log-metric",
                           {"run_id": run_id, "key": "piped", "value": step * 0.5, "timestamp": 1000 + step, "step": step})
                     for step in range(5)]
        requests.append(f"GET /api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=piped "
                        "HTTP/1.1\r\nHost: swan\r\n\r\n".encode())
        sock.sendall(b"".join(requests))
        answers = _responses(sock, len(requests))
    assert [status for status, _ in answers] == [200] * len(requests)
    assert answers[0][1] == b"OK"
    history = json.loads(answers[-1][1])["metrics"]
    assert [(m["step"], m["value"]) for m in history] == [(step, step * 0.5) for step in range(5)]


def test_pipelined_bodies_end_exactly_at_their_length(server, unique_name):
    """An upload, a log-batch and reads sent back to back in one write: each body is read from
    gunicorn's read-ahead buffer and then from the socket (Swan's direct body reader), and must
    stop exactly at its Content-Length, leaving the next request's bytes for the parser. Also
    sent in odd-sized pieces, so reads end in the middle of bodies and of request heads."""
    conn = _connection(server.url)
    run_id = _new_run(conn, unique_name)
    conn.request("GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}")
    info = json.loads(conn.getresponse().read())["run"]["info"]
    conn.close()
    upload_path = f"/api/2.0/mlflow-artifacts/artifacts/{info['experiment_id']}/{run_id}/artifacts"
    payloads = [os.urandom(n) for n in (3, 200_000, 1_500_001)]
    host = urlparse(server.url)
    for piece in (None, 65_537):
        requests, expected = [], []
        for i, payload in enumerate(payloads):
            requests.append((f"PUT {upload_path}/piped-{piece}/{i}.bin HTTP/1.1\r\nHost: swan\r\n"
                             f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload)
            metrics = [{"key": f"k{i}", "value": step * 0.25, "timestamp": 1000 + step, "step": step}
                       for step in range(1000)]
            requests.append(_post("/api/2.0/mlflow/runs/log-batch", {"run_id": run_id, "metrics": metrics}))
            expected += [b"{}", b"{}"]
        requests += [f"GET {upload_path}/piped-{piece}/{i}.bin HTTP/1.1\r\nHost: swan\r\n\r\n".encode()
                     for i in range(len(payloads))]
        expected += payloads
        data = b"".join(requests)
        with socket.create_connection((host.hostname, host.port), timeout=30) as sock:
            if piece is None:
                sock.sendall(data)
            else:
                for at in range(0, len(data), piece):
                    sock.sendall(data[at: at + piece])
                    time.sleep(0.002)
            answers = _responses(sock, len(requests))
        assert [status for status, _ in answers] == [200] * len(requests)
        assert [body for _, body in answers] == expected
    conn = _connection(server.url)
    for i in range(len(payloads)):
        conn.request("GET", f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=k{i}")
        history = json.loads(conn.getresponse().read())["metrics"]
        assert [(m["step"], m["value"]) for m in history] == [(step, step * 0.25) for step in range(1000)]
    conn.close()


def test_keepalive_connection_serves_a_long_mixed_sequence(server, unique_name):
    """Hundreds of requests on one keep-alive connection, as a training loop sends them (each
    one right after the previous answer, so a lingering thread serves most of them): every one
    is answered, nothing is lost, and an early error answer in between does not derail the
    connection's next request."""
    conn = _connection(server.url)
    run_id = _new_run(conn, unique_name)
    for step in range(300):
        if step % 50 == 25:  # an unknown run: an error answer in the middle of the sequence
            conn.request("POST", "/api/2.0/mlflow/runs/log-metric",
                         json.dumps({"run_id": "0" * 32, "key": "k", "value": 1, "timestamp": 1, "step": 1}), JSON)
            resp = conn.getresponse()
            assert resp.status == 404 and json.loads(resp.read())["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        body = {"run_id": run_id, "key": "loop", "value": float(step), "timestamp": 1000 + step, "step": step}
        conn.request("POST", "/api/2.0/mlflow/runs/log-metric", json.dumps(body), JSON)
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        resp.read()
        if step % 100 == 99:
            conn.request("GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}")
            resp = conn.getresponse()
            assert resp.status == 200
            metrics = json.loads(resp.read())["run"]["data"]["metrics"]
            assert [(m["key"], m["step"]) for m in metrics] == [("loop", step)]
    conn.request("GET", f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=loop")
    history = json.loads(conn.getresponse().read())["metrics"]
    conn.close()
    assert [m["step"] for m in history] == list(range(300))


def test_a_single_thread_worker_still_serves_every_connection(tmp_path):
    """With one thread per worker, the thread does not linger (no other thread could take a new
    connection meanwhile): clients on two connections, taking turns, are both served. A thread
    that held on to the first connection would leave the second one unanswered."""
    srv = LiveServer(tmp_path, extra_env={"SWAN_THREADS": "1"}).start()
    try:
        first, second = _connection(srv.url), _connection(srv.url)
        for i in range(50):
            for conn in (first, second):
                conn.request("GET", "/health")
                resp = conn.getresponse()
                assert (resp.status, resp.read()) == (200, b"OK"), i
        first.close()
        second.close()
    finally:
        srv.stop()
