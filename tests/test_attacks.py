"""Hostile input against every face of a live `swan server --auth`, as a logged-in member (the
realistic attacker): path traversal through every route that takes a path (in the URL, the query
string and JSON bodies, plain and URL-encoded), hostile `artifact_location` values, model-version
sources, 64 MiB bodies, schemathesis against `/api/v1/openapi.json`, and hypothesis-generated
bodies for the MLflow and SwanLab routes.

The result must be: no 5xx, each face's own error format, nothing read or written outside the
artifact root (a canary file next to it is never served, the tree outside it never changes), and
the server healthy afterwards (no unhandled error in its log)."""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.auth_support import bearer, start_auth_server
from tests.no5xx import no_5xx  # noqa: F401

CANARY = "CANARY-" + uuid.uuid4().hex
LIMIT = 64 * 1024 * 1024  # the server's default request-body limit


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The server, a member's project, run (with an artifact), logged model, SwanLab experiment,
    and canary files outside the artifact root."""
    home = tmp_path_factory.mktemp("attacks")
    outside = home / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(CANARY)
    # a sibling whose name starts like the artifact root's: a prefix check would let it through
    (home / "artifacts-evil").mkdir()
    (home / "artifacts-evil" / "secret.txt").write_text(CANARY)
    auth = start_auth_server(home)
    key = auth.keys["member"]
    H = bearer(key)
    exp_id = requests.post(auth.url + "/api/2.0/mlflow/experiments/create", headers=H,
                           json={"name": f"attack-{uuid.uuid4().hex[:6]}"}, timeout=30).json()["experiment_id"]
    run = requests.post(auth.url + "/api/2.0/mlflow/runs/create", headers=H, json={"experiment_id": exp_id},
                        timeout=30).json()["run"]
    rid = run["info"]["run_id"]
    root = run["info"]["artifact_uri"].split("mlflow-artifacts:", 1)[1].lstrip("/")
    r = requests.put(auth.url + f"/api/2.0/mlflow-artifacts/artifacts/{root}/ok.txt", headers=H, data=b"fine",
                     timeout=30)
    assert r.status_code == 200, r.text
    model = requests.post(auth.url + "/api/2.0/mlflow/logged-models", headers=H,
                          json={"experiment_id": exp_id, "name": "m"}, timeout=30).json()["model"]["info"]
    sid = requests.post(auth.url + "/api/login/api_key", headers={"authorization": key}, timeout=30).json()["sid"]
    lab = requests.Session()
    lab.cookies.set("sid", sid)
    project = f"lab-{uuid.uuid4().hex[:6]}"
    created = lab.post(auth.url + "/api/projects/admin", json={"name": project}, timeout=30)
    assert created.status_code == 201, created.text
    project_id = created.json()["cuid"]
    cuid = f"c{uuid.uuid4().hex[:10]}"
    assert lab.post(auth.url + f"/api/project/admin/{project}/experiment", json={"name": "x", "cuid": cuid},
                    timeout=30).status_code == 201
    tokens = _swanlab_run_with_data(auth.url, lab, project_id, cuid)
    ctx = {"auth": auth, "H": H, "key": key, "exp_id": exp_id, "rid": rid, "root": root, "home": home,
           "model_id": model["model_id"], "lab": lab, "cuid": cuid, "project": project, "project_id": project_id,
           "tokens": tokens, "artifacts": Path(auth.server.artifacts_destination)}
    ctx["before"] = _outside_snapshot(ctx)
    yield ctx
    auth.stop()


def _swanlab_run_with_data(url: str, lab: requests.Session, project_id: str, cuid: str) -> dict:
    """Give the SwanLab experiment a scalar, an uploaded image and a console line, so the read
    routes the fuzzers hit run their real code paths; returns a valid token of each signed route
    (upload, media download, CSV export)."""
    when = "2026-01-01T00:00:00.000Z"

    def ingest(kind, metrics):
        r = lab.post(url + "/api/house/metrics", timeout=30,
                     json={"projectId": project_id, "experimentId": cuid, "type": kind, "metrics": metrics})
        assert r.status_code == 201, r.text

    ingest("scalar", [{"key": "loss", "index": i, "data": 1.0 / (i + 1), "create_time": when} for i in range(3)])
    put = lab.post(url + "/api/resources/presigned/put", json={"experimentId": cuid, "paths": ["media/img.png"]},
                   timeout=30).json()["urls"][0]
    assert requests.put(put, data=b"\x89PNG fuzz", timeout=30).status_code == 200
    ingest("media", [{"key": "img", "index": 0, "data": ["media/img.png"], "create_time": when}])
    ingest("log", [{"epoch": 1, "level": "INFO", "message": "hello", "create_time": when}])
    upload = lab.post(url + "/api/resources/presigned/put", json={"experimentId": cuid, "paths": ["media/fz.png"]},
                      timeout=30).json()["urls"][0]
    media = lab.post(url + "/api/resources/presigned/get", timeout=30,
                     json={"prefix": f"{project_id}/{cuid}", "paths": ["media/img.png"]})
    assert media.status_code == 200, media.text
    export = lab.post(url + "/api/house/metrics/scalar/export", timeout=30,
                      json={"projectId": project_id, "columns": [{"experimentId": cuid, "key": "loss"}]})
    assert export.status_code == 200, export.text
    return {"upload": upload.rsplit("/", 1)[1], "media": media.json()["urls"][0].rsplit("/", 1)[1],
            "export": export.json()["cosKey"].split("/", 1)[1]}


def _outside_snapshot(ctx) -> dict:
    """Every file under the server's home outside the artifact root (the database and logs, which
    the server writes itself, excepted), with its content hash."""
    import hashlib

    home, artifacts = ctx["home"], ctx["artifacts"]
    out = {}
    for p in sorted(home.rglob("*")):
        if not p.is_file() or artifacts in p.parents or p.name.startswith(("swan.db", "server-")):
            continue
        out[str(p.relative_to(home))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _raw(ctx, method: str, target: str, body: bytes | None = None, headers: dict | None = None):
    """One request with the target sent byte for byte (no client-side normalisation of `..`)."""
    port = ctx["auth"].server.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in {**ctx["H"], **(headers or {})}.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body or b"")
        resp = conn.getresponse()
        return resp.status, resp.read(), dict(resp.getheaders())
    finally:
        conn.close()


# -- traversal -----------------------------------------------------------------------------------------------------
BASE_PAYLOADS = [
    "..", "../", "./../x", "a/../../b", "/etc/passwd", "//etc/passwd", "/../../etc/passwd", "..\\..\\etc\\passwd",
    "C:\\Windows\\win.ini", "c:/windows/win.ini", "a/\x00/b", "a\x00.txt", "a/\r\nX-Injected: 1", "....//....//etc/passwd",
    "\u2025/\u2025/etc/passwd", "~/.ssh/id_rsa", "%2e%2e/%2e%2e/etc/passwd", "..%2f..%2fetc%2fpasswd",
    "%252e%252e%252f%252e%252e%252fetc", "..%5c..%5cetc", "%c0%ae%c0%ae/etc/passwd", "a/%2e%2e/%2e%2e/b",
] + [("../" * depth) + "outside/secret.txt" for depth in range(1, 8)] + [
    ("../" * depth) + "artifacts-evil/secret.txt" for depth in range(1, 7)]
# every payload plain, and percent-encoded once more (the server decodes the URL once)
PAYLOADS = [(p, "plain") for p in BASE_PAYLOADS] + [(quote(p, safe=""), "encoded") for p in BASE_PAYLOADS]


def _check_refused(status, body: bytes, what):
    assert 400 <= status < 500, (what, status, body[:300])
    assert CANARY.encode() not in body and b"root:x:" not in body, what


def _mlflow_error(body: bytes, what):
    data = json.loads(body)
    assert set(data) >= {"error_code", "message"}, (what, data)


def _url_targets(ctx, p: str):
    """(method, target, error format) of every route with a path in its URL or query string."""
    root, rid, mid = ctx["root"], ctx["rid"], ctx["model_id"]
    q = quote(p, safe="")  # a query value is always encoded on the wire; `p` may already be
    return [
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts/{p}", "mlflow"),
        ("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{p}", "mlflow"),
        ("DELETE", f"/api/2.0/mlflow-artifacts/artifacts/{p}", "mlflow"),
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts/{root}/{p}", "mlflow"),
        ("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{root}/{p}", "mlflow"),
        ("DELETE", f"/api/2.0/mlflow-artifacts/artifacts/{root}/{p}", "mlflow"),
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts?path={q}", "mlflow"),
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts?path={quote(root, safe='')}%2F{q}", "mlflow"),
        ("GET", f"/api/2.0/mlflow/artifacts/list?run_id={rid}&path={q}", "mlflow"),
        ("GET", f"/ajax-api/2.0/mlflow/artifacts/list?run_id={rid}&path={q}", "mlflow"),
        ("GET", f"/get-artifact?run_id={rid}&path={q}", "mlflow"),
        ("GET", f"/ajax-api/2.0/mlflow/get-artifact?run_id={rid}&path={q}", "mlflow"),
        ("GET", f"/api/2.0/mlflow/logged-models/{mid}/artifacts/directories?artifact_directory_path={q}", "mlflow"),
        ("GET", f"/ajax-api/2.0/mlflow/logged-models/{mid}/artifacts/files?artifact_file_path={q}", "mlflow"),
        ("GET", f"/api/v1/runs/{rid}/artifacts/{p}", "v1"),
        ("PUT", f"/api/v1/runs/{rid}/artifacts/{p}", "v1"),
        ("GET", f"/api/v1/runs/{rid}/artifacts?path={q}", "v1"),
        ("GET", f"/api/v1/runs/{rid}/artifact-preview?path={q}", "v1"),
    ]


def _as_target(path: str) -> str | None:
    """What can go on a request line: no raw spaces, controls or non-ASCII (those are sent
    encoded, as a client must)."""
    out = []
    for ch in path:
        if ch <= " " or ch == "\x7f" or ord(ch) > 126 or ch in "#":
            out.append(quote(ch, safe=""))
        else:
            out.append(ch)
    return "".join(out)


def _stays_inside(target: str) -> bool:
    """A target under a run's own root whose path, decoded as often as it takes, has no `..`,
    backslash or control character: a name inside the run, however odd."""
    from urllib.parse import unquote

    path = target
    for _ in range(4):
        path = unquote(path)
    parts = path.replace("?", "/").replace("=", "/").replace("&", "/").split("/")
    return ".." not in parts and "\\" not in path and not any(ord(c) < 32 for c in path)


@pytest.mark.parametrize("payload,form", PAYLOADS, ids=[f"{f}-{i}" for i, (_, f) in enumerate(PAYLOADS)])
def test_traversal_in_urls_is_refused(env, payload, form):
    for method, target, face in _url_targets(env, payload):
        target = _as_target(target)
        status, body, _ = _raw(env, method, target, b"pwned" if method == "PUT" else None)
        what = (method, target)
        if 200 <= status < 300 and _stays_inside(target):
            # e.g. `<run root>//etc/passwd` is the run's own `etc/passwd`: allowed, and served
            # from inside the root only (the snapshot test at the end checks the rest)
            assert CANARY.encode() not in body and b"root:x:" not in body, what
            continue
        _check_refused(status, body, what)
        if face == "mlflow":
            _mlflow_error(body, what)
        else:
            assert "error" in json.loads(body), what


def test_traversal_in_bodies_is_refused(env):
    H, lab, cuid, rid, project_id = env["H"], env["lab"], env["cuid"], env["rid"], env["project_id"]
    url = env["auth"].url
    # a real multipart upload (one part sent), so completing it under a hostile path is refused
    # for the path, not for an unknown upload id
    started = lab.post(url + f"/api/experiment/{cuid}/files/prepare-multipart", timeout=30,
                       json={"files": [{"path": "multi.bin", "count": 1}]})
    assert started.status_code == 200, started.text
    upload_id = started.json()["files"][0]["uploadId"]
    part = requests.put(started.json()["files"][0]["parts"][0]["url"], data=b"part", timeout=30)
    assert part.status_code == 200, part.text
    part_etag = part.headers["ETag"].strip('"')
    for p in BASE_PAYLOADS + [quote(p, safe="") for p in BASE_PAYLOADS]:
        calls = [
            (lab.post(url + "/api/resources/presigned/put", json={"experimentId": cuid, "paths": [p]}, timeout=30),
             "swanlab"),
            (lab.post(url + f"/api/experiment/{cuid}/files/prepare", json={"files": [{"path": p}]}, timeout=30),
             "swanlab"),
            (lab.post(url + f"/api/experiment/{cuid}/files/prepare-multipart",
                      json={"files": [{"path": p, "count": 1}]}, timeout=30), "swanlab"),
            (lab.post(url + f"/api/experiment/{cuid}/files/complete", json={"files": [{"path": p}]}, timeout=30),
             "swanlab"),
            (lab.post(url + f"/api/experiment/{cuid}/files/complete-multipart", timeout=30, json={"files": [
                {"path": p, "uploadId": upload_id, "parts": [{"partNumber": 1, "etag": part_etag}]}]}), "swanlab"),
            (lab.post(url + "/api/house/metrics", timeout=30, json={
                "projectId": project_id, "experimentId": cuid, "type": "media", "metrics": [
                    {"key": "trav", "index": 0, "data": [p], "create_time": "2026-01-01T00:00:00Z"}]}), "swanlab"),
            (lab.post(url + "/api/resources/presigned/get", json={"prefix": f"{project_id}/{cuid}", "paths": [p]},
                      timeout=30), "swanlab"),
            (lab.post(url + "/api/resources/presigned/get", json={"prefix": p, "paths": ["media/img.png"]},
                      timeout=30), "swanlab"),
            (requests.post(url + f"/api/v1/runs/{rid}/batches", headers=H, timeout=30, json={
                "idempotency_key": uuid.uuid4().hex,
                "media": [{"key": "img", "step": 0, "kind": "image", "path": p}]}), "v1"),
            (requests.post(url + "/api/2.0/mlflow/model-versions/create", headers=H, timeout=30,
                           json={"name": "m-" + uuid.uuid4().hex[:6], "source": f"runs:/{rid}/{p}", "run_id": rid}),
             "mlflow"),
            (requests.post(url + "/api/2.0/mlflow/model-versions/create", headers=H, timeout=30,
                           json={"name": "m", "source": f"mlflow-artifacts:/{env['root']}/{p}", "run_id": rid}),
             "mlflow"),
        ]
        for resp, face in calls:
            what = (resp.request.method, resp.request.url, p)
            if resp.status_code in (200, 201):
                # accepted only when it names something inside the run: a signed URL for a clean path
                text = resp.text
                assert ".." not in json.loads(text).__repr__().replace("%2e", "."), what
                continue
            _check_refused(resp.status_code, resp.content, what)
            body = resp.json()
            if face == "swanlab":
                assert set(body) == {"code", "message"}, what
            elif face == "mlflow":
                assert "error_code" in body, what
            else:
                assert "error" in body, what


def test_swanlab_media_paths_that_were_accepted_stay_inside_the_run(env):
    """Whatever media `data` path `/api/house/metrics` accepted above (a name like `//etc/passwd`
    is the run's own `etc/passwd`) is stored as a clean relative path, and its download URL from
    `/api/resources/presigned/get` serves from inside the artifact root only."""
    url, lab, cuid, project_id = env["auth"].url, env["lab"], env["cuid"], env["project_id"]
    accepted = 0
    for step, p in enumerate(BASE_PAYLOADS):  # one step each: a later item never hides an earlier one
        r = lab.post(url + "/api/house/metrics", timeout=30, json={
            "projectId": project_id, "experimentId": cuid, "type": "media",
            "metrics": [{"key": "trav-kept", "index": step, "data": [p], "create_time": "2026-01-01T00:00:00Z"}]})
        accepted += r.status_code == 201
    r = lab.post(url + "/api/house/metrics/f_media", timeout=30,
                 json={"projectId": project_id, "columns": [{"experimentId": cuid, "key": "trav-kept"}]})
    assert r.status_code == 200, r.text
    stored = [path for column in r.json() for entry in column["metrics"] for path in entry["data"]]
    assert accepted and len(stored) == accepted, r.text  # some names are harmless and accepted: walk them
    for path in stored:
        assert not path.startswith(("/", "\\")) and ".." not in path.split("/") and "\\" not in path, path
        assert not any(ord(c) < 32 for c in path), path
        got = lab.post(url + "/api/resources/presigned/get", timeout=30,
                       json={"prefix": f"{project_id}/{cuid}", "paths": [path]})
        assert got.status_code == 200, (path, got.text)
        download = requests.get(got.json()["urls"][0], timeout=30)
        # the file was never uploaded: a 404 in SwanLab's format, and never a file from elsewhere
        assert download.status_code == 404 and set(download.json()) == {"code", "message"}, (path, download.text)


def test_signed_upload_urls_cannot_be_forged(env):
    url = env["auth"].url
    good = env["lab"].post(url + "/api/resources/presigned/put",
                           json={"experimentId": env["cuid"], "paths": ["media/a.png"]}, timeout=30).json()["urls"][0]
    token = good.rsplit("/", 1)[1]
    body, mac = token.split(".")
    import base64

    forged_claims = base64.urlsafe_b64encode(json.dumps({"p": "../outside/pwned.txt", "exp": 2**40}).encode())
    for bad in (f"{forged_claims.decode().rstrip('=')}.{mac}", body + "." + mac[:-2] + "xx", "nodot", "a.b.c",
                quote("../../x", safe=""), token + "x"):
        r = requests.put(url + "/api/swan/upload/" + bad, data=b"pwned", timeout=30)
        assert 400 <= r.status_code < 500 and set(r.json()) == {"code", "message"}, (bad, r.text)
    assert requests.put(good, data=b"png", timeout=30).status_code == 200


def test_hostile_artifact_locations_are_400(env):
    url, H = env["auth"].url, env["H"]
    locations = [
        "file:///etc", "file:/etc", "/etc", "../escape", "s3://other-bucket/x", "gs://b/x", "http://evil.example/x",
        "https://169.254.169.254/latest", "mlflow-artifacts:/../../etc", "mlflow-artifacts:/a/../../etc",
        "mlflow-artifacts:/a/%2e%2e/%2e%2e/etc", "mlflow-artifacts:/..%2f..%2fetc", "mlflow-artifacts://evil.example/x",
        "mlflow-artifacts:", "mlflow-artifacts:/", "mlflow-artifacts:/a\\..\\..\\etc", "mlflow-artifacts:/a?x=1",
        "mlflow-artifacts:/a#f", "mlflow-artifacts:/a/\x00", "MLFLOW-ARTIFACTS:/x", "file:///" + str(env["home"]),
        # another project's folder, around it or inside it, and the numbered folders of future projects
        f"mlflow-artifacts:/{env['exp_id']}", f"mlflow-artifacts:/{env['root']}", "mlflow-artifacts:/99999/x",
        5, ["mlflow-artifacts:/x"], {"a": 1},
    ]
    for loc in locations:
        r = requests.post(url + "/api/2.0/mlflow/experiments/create", headers=H, timeout=30,
                          json={"name": f"hostile-{uuid.uuid4().hex[:8]}", "artifact_location": loc})
        assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", (loc, r.text)
    ok = f"mlflow-artifacts:/team/{uuid.uuid4().hex}"
    r = requests.post(url + "/api/2.0/mlflow/experiments/create", headers=H, timeout=30,
                      json={"name": f"fine-{uuid.uuid4().hex[:8]}", "artifact_location": ok})
    assert r.status_code == 200, r.text
    r = requests.post(url + "/api/2.0/mlflow/experiments/create", headers=H, timeout=30,
                      json={"name": f"nested-{uuid.uuid4().hex[:8]}", "artifact_location": ok + "/inner"})
    assert r.status_code == 400


def test_model_version_sources_never_fetch(env):
    url, H, rid = env["auth"].url, env["H"], env["rid"]
    name = "src-" + uuid.uuid4().hex[:6]
    requests.post(url + "/api/2.0/mlflow/registered-models/create", headers=H, json={"name": name}, timeout=30)
    for source in ("http://127.0.0.1:1/x", "https://169.254.169.254/latest/meta-data", "file:///etc/passwd",
                   "s3://other-bucket/model", "gs://b/m", "hdfs://nn/x", "ftp://x/y", "/etc/passwd", "../x",
                   "runs://evil.example/x", "models://host/m/1", "mlflow-artifacts://evil.example/x",
                   f"runs:/{rid}/a?x=1", "dbfs:/x", "ssh://x", "\x00", ""):
        r = requests.post(url + "/api/2.0/mlflow/model-versions/create", headers=H, timeout=30,
                          json={"name": name, "source": source, "run_id": rid})
        assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", (source, r.text)


# -- oversized bodies ------------------------------------------------------------------------------------------------
class _Zeros:
    """`n` bytes produced on the fly (never held in memory)."""

    def __init__(self, n: int):
        self.n = n

    def __iter__(self):
        chunk = b"0" * (1 << 20)
        left = self.n
        while left > 0:
            yield chunk[: min(left, len(chunk))]
            left -= min(left, len(chunk))


def _send_big(env, method, path, size, chunked=False, headers=None):
    """Send `size` bytes; the server may answer (and close) before it has read them all."""
    port = env["auth"].server.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.putrequest(method, path)
    for k, v in {**env["H"], "Content-Type": "application/json", **(headers or {})}.items():
        conn.putheader(k, v)
    if chunked:
        conn.putheader("Transfer-Encoding", "chunked")
    else:
        conn.putheader("Content-Length", str(size))
    conn.endheaders()
    try:
        for piece in _Zeros(size):
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the answer was already on its way
    try:
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


BIG_ROUTES = [
    ("POST", "/api/2.0/mlflow/experiments/create", "mlflow"),
    # (log-batch has MLflow's own 1 MB limit, answered as MLflow does: 400 INVALID_PARAMETER_VALUE)
    ("POST", "/api/2.0/mlflow/runs/log-batch", "mlflow"),
    ("POST", "/v1/traces", "mlflow"),
    ("POST", "/api/house/metrics", "swanlab"),
    ("POST", "/api/projects/admin", "swanlab"),
    ("POST", "/api/v1/projects", "v1"),
    ("POST", "/api/v1/runs/{rid}/batches", "v1"),
    ("POST", "/api/v1/auth/login", "v1"),
]


@pytest.mark.parametrize("method,path,face", BIG_ROUTES)
def test_bodies_over_64_mib_are_413_in_the_face_format(env, method, path, face):
    path = path.format(rid=env["rid"])
    headers = {"Cookie": f"sid={env['lab'].cookies['sid']}"} if face == "swanlab" else None
    for chunked in (False, True):
        status, body = _send_big(env, method, path, LIMIT + 1, chunked=chunked, headers=headers)
        data = json.loads(body)
        if path.endswith("/log-batch") and status == 400:
            assert "at most 1000000 bytes" in data["message"], (chunked, body[:300])
            continue
        assert status == 413, (path, chunked, status, body[:300])
        if face == "mlflow":
            assert data["error_code"] == "PAYLOAD_TOO_LARGE"
        elif face == "swanlab":
            assert set(data) == {"code", "message"} and data["code"] == "PAYLOAD_TOO_LARGE"
        else:
            assert data["error"]["code"] == "PAYLOAD_TOO_LARGE"
    # 64 MB (decimal) of junk: under the limit, read, and refused as malformed, not a 5xx
    status, body = _send_big(env, method, path, 64_000_000, headers=headers)
    assert 400 <= status < 500, (path, status, body[:300])
    assert requests.get(env["auth"].url + "/health", timeout=30).text == "OK"


def test_oversized_body_unauthenticated_is_refused_without_reading_it(env):
    status, body = _send_big({**env, "H": {}}, "POST", "/api/2.0/mlflow/runs/log-batch", LIMIT + 1)
    assert status in (401, 413) and json.loads(body)["error_code"] in ("UNAUTHENTICATED", "PAYLOAD_TOO_LARGE")


# -- fuzzing ------------------------------------------------------------------------------------------------------------
def test_schemathesis_against_the_openapi_document(env):
    """Every operation of `/api/v1/openapi.json`, with schema-valid and schema-violating data, as
    a member and as the admin: never a 5xx, errors always in the v1 format."""
    import schemathesis
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    auth = env["auth"]
    failures = []
    calls = 0
    for role in ("member", "admin"):
        headers = bearer(auth.keys[role])
        schema = schemathesis.openapi.from_url(auth.url + "/api/v1/openapi.json", headers=headers)
        for result in schema.get_all_operations():
            op = result.ok()
            if (op.method.upper(), op.path) in {("PATCH", "/users/{name}"), ("DELETE", "/keys/{prefix}")} \
                    and role == "admin":
                continue  # (would disable or revoke this test's own users at random)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = op.as_strategy(generation_mode=mode)

                @settings(max_examples=12, deadline=None, database=None, derandomize=True,
                          suppress_health_check=list(HealthCheck))
                @given(case=strategy)
                def run(case):
                    nonlocal calls
                    resp = case.call(base_url=auth.url + "/api/v1", headers=headers, timeout=60)
                    calls += 1
                    if resp.status_code >= 500:
                        failures.append((case.method, case.formatted_path, resp.status_code, resp.text[:300]))
                    elif resp.status_code >= 400:
                        try:
                            body = resp.json()
                        except ValueError:
                            body = None
                        if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):
                            failures.append((case.method, case.formatted_path, resp.status_code, resp.text[:300]))

                try:
                    run()
                except Unsatisfiable:  # nothing schema-violating to send (an operation without inputs)
                    assert mode == GenerationMode.NEGATIVE, (op.method, op.path)
    assert calls > 500
    assert not failures, failures[:10]


_JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False),
    st.text(max_size=40), st.sampled_from(["NaN", "Infinity", "-Infinity", "../../etc/passwd", "\x00", "\ud800",
                                           "a" * 5000, "0", "-1", "9" * 30, "RUNNING", "FINISHED"]),
)
_JSON = st.recursive(_JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)

MLFLOW_FIELDS = ["run_id", "run_uuid", "experiment_id", "experiment_ids", "name", "new_name", "key", "value", "values",
                 "metrics", "params", "tags", "timestamp", "step", "filter", "max_results", "page_token", "order_by",
                 "artifact_location", "source", "version", "alias", "stage", "trace_ids", "model_id", "datasets",
                 "status", "end_time", "start_time", "run_name", "user_id", "view_type", "run_view_type",
                 "description", "trace", "trace_info", "models", "path", "metric_key", "start_step", "end_step"]
SWANLAB_FIELDS = ["name", "username", "visibility", "cuid", "type", "projectId", "experimentId", "metrics", "key",
                  "index", "data", "create_time", "epoch", "level", "message", "state", "finishedAt", "config",
                  "metadata", "requirements", "conda", "paths", "files", "path", "count", "uploadId", "parts",
                  "series", "columns", "flagId", "description", "tags", "group", "job_type", "resume",
                  # the read client's (`swanlab.Api()`) bodies and query strings
                  "experiments", "keys", "prefix", "step", "range", "filters", "sorts", "groups", "cursor",
                  "xKey", "experimentName", "page", "size", "search", "sort", "class", "kind", "order"]


def _bodies(fields, known):
    value = st.one_of(_JSON, st.sampled_from(known))
    return st.one_of(
        st.dictionaries(st.sampled_from(fields), value, max_size=6),
        _JSON,
        st.binary(max_size=200),
    )


def _mlflow_routes():
    from swan_server.api import mlflow  # noqa: F401  (registers every route)
    from swan_server.api.mlflow.routes import routes

    out = []
    for path, methods, _fn, prefixes in routes.routes:
        for method in methods:
            out.append((method, prefixes[0] + path))
    return out


def _fill(path: str, env) -> str:
    return (path.replace("<model_id>", env["model_id"]).replace("<trace_id>", "tr-" + "0" * 32)
            .replace("<path:tag_key>", "k").replace("<anypath:artifact_path>", env["root"] + "/fuzz.txt"))


def test_hypothesis_bodies_on_every_mlflow_route(env):
    auth, H = env["auth"], env["H"]
    routes = _mlflow_routes()
    assert len(routes) > 60
    known = [env["rid"], env["exp_id"], env["model_id"], [env["exp_id"]], [env["rid"]], "m"]
    session = requests.Session()
    failures = []

    @settings(max_examples=400, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(route=st.sampled_from(routes), body=_bodies(MLFLOW_FIELDS, known))
    def run(route, body):
        method, path = route
        url = auth.url + _fill(path, env)
        if method == "GET":
            params = body if isinstance(body, dict) else {}
            params = {k: json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in params.items()}
            resp = session.get(url + "?" + urlencode(params, doseq=True), headers=H, timeout=60)
        else:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            resp = session.request(method, url, data=data, headers={**H, "Content-Type": "application/json"},
                                   timeout=60)
        if resp.status_code >= 500:
            failures.append((method, path, body, resp.status_code, resp.text[:300]))
        elif resp.status_code >= 400 and path != "/v1/traces":
            try:
                ok = "error_code" in resp.json()
            except ValueError:
                ok = False
            if not ok:
                failures.append((method, path, body, resp.status_code, resp.text[:300]))

    run()
    assert not failures, failures[:10]


# Path variables as they go on the wire (already percent-encoded: `..` with its dots encoded, or
# the client would resolve it away before sending).
HOSTILE_SEGMENTS = ["%2E%2E", "%252e%252e", "..%2F..%2Foutside", "%2E%2E%5C%2E%2E", "a" * 3000, "%00", "%0D%0AX: 1",
                    "%27%3B%20DROP%20TABLE%20runs%3B--", "%3Cscript%3E", "%E2%80%AE", "%FF%FE", "-1", "9" * 30,
                    "null", "%20", "~", "%2A", "%25"]


def _swanlab_rules():
    """(method, rule) of every route of the SwanLab blueprints, read from the app's url_map."""
    from tests.auth_support import app_rules

    out = []
    for rule in app_rules():
        if rule.endpoint.split(".")[0] in ("swanlab", "swanlab_web"):
            out += [(m, rule.rule) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return out


def _swanlab_valid_values(env) -> dict:
    """Values of each path variable that name the fixture's real objects."""
    tokens = env["tokens"]
    return {"workspace": ["admin"], "project": [env["project"]], "cuid": [env["cuid"]],
            "project_id": [env["project_id"]], "kind": ["scalar", "media"], "name": ["admin"],
            "username": [env["auth"].names["member"], "admin"],
            "token": [tokens["upload"], tokens["media"], tokens["export"]]}


def _fill_rule(rule: str, values: dict, hostile: str | None) -> str:
    """`rule` with each `<variable>` replaced by a valid value, or by `hostile` for every variable."""
    import re

    def one(match):
        name = match.group(1).split(":")[-1]
        if hostile is not None:
            return hostile
        assert name in values, f"no valid value for <{name}> in {rule}: add one to _swanlab_valid_values"
        return quote(values[name][0], safe="")
    return re.sub(r"<([^>]+)>", one, rule)


def _swanlab_targets(env) -> list[tuple[str, str, str]]:
    """(method, rule, URL path) for every SwanLab route: with valid path variables (each valid
    value of each variable in turn), and with every hostile segment in all of them."""
    import re

    values = _swanlab_valid_values(env)
    out = []
    for method, rule in _swanlab_rules():
        names = [v.split(":")[-1] for v in re.findall(r"<([^>]+)>", rule)]
        out.append((method, rule, _fill_rule(rule, values, None)))
        for name in dict.fromkeys(names):
            for alt in values.get(name, [])[1:]:
                out.append((method, rule, _fill_rule(rule, {**values, name: [alt]}, None)))
        if names:
            out += [(method, rule, _fill_rule(rule, values, h)) for h in HOSTILE_SEGMENTS]
    return out


def _swanlab_failure(method, rule, path, body, resp) -> tuple | None:
    """Why `resp` breaks the rules (a 5xx, or an error not in SwanLab's `{code, message}`), or None."""
    if resp.status_code >= 500:
        return (method, path, body, resp.status_code, resp.text[:300])
    if resp.status_code < 400:
        return None
    if rule.startswith("/@"):
        # The SDK's printed web links are dashboard pages, not API calls: a refusal (the `sid`
        # cookie is a credential on /api only) or an unknown project is answered as the
        # dashboard's pages are, not in SwanLab's API format. Only the status is checked.
        return None
    try:
        reply = resp.json()
        ok = isinstance(reply, dict) and set(reply) == {"code", "message"}
        if resp.status_code == 409 and rule in ("/api/project", "/api/project/<workspace>"):
            # the legacy create route answers "exists" with the project itself (protocol §2.10)
            ok = ok or (isinstance(reply, dict) and {"cuid", "name"} <= set(reply))
    except ValueError:
        ok = False
    return None if ok else (method, path, body, resp.status_code, resp.text[:300])


def _swanlab_send(env, session, method, path, body):
    url = env["auth"].url + path
    if method == "GET":
        params = body if isinstance(body, dict) else {}
        params = {k: json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in params.items()}
        # (a lone surrogate goes out as its UTF-8-style bytes: junk the server must refuse, not crash on)
        query = urlencode(params, doseq=True, errors="surrogatepass")
        return session.get(url + ("?" + query if query else ""), timeout=60, allow_redirects=False)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return session.request(method, url, data=data, headers={"Content-Type": "application/json"}, timeout=60,
                           allow_redirects=False)


def test_swanlab_route_list_comes_from_the_url_map(env):
    """The fuzzers below reach every SwanLab route, including the read client's and the signed
    ones; this fails if the url_map walk ever stops finding them."""
    rules = {rule for _, rule in _swanlab_rules()}
    for expected in ("/api/house/metrics/summaries", "/api/house/metrics/<kind>/keys",
                     "/api/house/metrics/<kind>/availability", "/api/house/metrics/scalar",
                     "/api/house/metrics/scalar/value", "/api/house/metrics/scalar/export",
                     "/api/house/metrics/media", "/api/house/metrics/f_media", "/api/files/presigned/get",
                     "/api/resources/presigned/get", "/api/experiment/<cuid>/column", "/api/house/metrics/log",
                     "/api/user/profile", "/api/group/<name>", "/api/user/<username>/groups",
                     "/api/project/<workspace>", "/api/self_hosted/info", "/api/self_hosted/users",
                     "/api/swan/export/<token>", "/api/swan/media/<token>", "/api/swan/upload/<token>",
                     "/api/house/metrics", "/api/login/api_key", "/@<workspace>/<project>"):
        assert expected in rules, expected
    assert len(rules) >= 45


def test_every_swanlab_route_with_valid_and_hostile_path_variables(env):
    """Each SwanLab route once per path-variable filling (valid, and each hostile segment), with
    an empty body, a body of junk bytes and a body of the wrong JSON type: never a 5xx, errors in
    SwanLab's format, and no canary served."""
    session = env["lab"]
    failures = []
    calls = 0
    for method, rule, path in _swanlab_targets(env):
        for body in ({}, b"\xff\x00{not json", [1, "x"]):
            if method == "PUT" and rule == "/api/swan/upload/<token>" and body == {}:
                body = b"{}"  # (a valid token stores what it is sent: keep it JSON-free junk)
            resp = _swanlab_send(env, session, method, path, body)
            calls += 1
            assert CANARY.encode() not in resp.content, (method, path)
            failure = _swanlab_failure(method, rule, path, body, resp)
            if failure:
                failures.append(failure)
    assert calls > 500
    assert not failures, failures[:10]


def test_hypothesis_bodies_on_every_swanlab_route(env):
    """Hypothesis-generated bodies (and query strings, on GET routes) on every SwanLab route of
    the url_map, path variables valid or hostile."""
    targets = _swanlab_targets(env)
    valid = [t for t in targets if "<" not in t[1] or not any(h in t[2] for h in HOSTILE_SEGMENTS)]
    cuid, project_id = env["cuid"], env["project_id"]
    known = [cuid, env["project"], project_id, f"{project_id}/{cuid}", "admin", "scalar", "media", "log",
             "FINISHED", [cuid], "2026-01-01T00:00:00Z", "loss", "img", "media/img.png", ["media/img.png"],
             "swan-export/" + env["tokens"]["export"], [{"experimentId": cuid, "key": "loss"}],
             [{"experimentId": cuid, "projectId": project_id}]]
    failures = []

    @settings(max_examples=600, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    # valid path variables most of the time: a body only reaches the service past the route's checks
    @given(target=st.one_of(st.sampled_from(valid), st.sampled_from(valid), st.sampled_from(targets)),
           body=_bodies(SWANLAB_FIELDS, known))
    def run(target, body):
        method, rule, path = target
        if method == "PUT" and rule == "/api/swan/upload/<token>":
            return  # (stores any bytes under a valid token: covered by the walk above)
        resp = _swanlab_send(env, env["lab"], method, path, body)
        assert CANARY.encode() not in resp.content, (method, path)
        failure = _swanlab_failure(method, rule, path, body, resp)
        if failure:
            failures.append(failure)

    run()
    assert not failures, failures[:10]


# -- afterwards ---------------------------------------------------------------------------------------------------------
def test_nothing_outside_the_artifact_root_changed_and_the_server_is_healthy(env):
    """(Runs last in this module.)"""
    assert _outside_snapshot(env) == env["before"]
    assert (env["home"] / "outside" / "secret.txt").read_text() == CANARY
    assert sorted(p.name for p in (env["home"] / "outside").iterdir()) == ["secret.txt"]
    assert sorted(p.name for p in (env["home"] / "artifacts-evil").iterdir()) == ["secret.txt"]
    # nothing escaped into the destination's root either (only project folders live there)
    for p in env["artifacts"].iterdir():
        assert p.is_dir(), p
    url, H = env["auth"].url, env["H"]
    assert requests.get(url + "/health", timeout=30).text == "OK"
    exp_id = requests.post(url + "/api/2.0/mlflow/experiments/create", headers=H, timeout=30,
                           json={"name": f"after-{uuid.uuid4().hex[:6]}"}).json()["experiment_id"]
    rid = requests.post(url + "/api/2.0/mlflow/runs/create", headers=H, json={"experiment_id": exp_id},
                        timeout=30).json()["run"]["info"]["run_id"]
    r = requests.post(url + "/api/2.0/mlflow/runs/log-metric", headers=H, timeout=30,
                      json={"run_id": rid, "key": "after", "value": 1.0, "timestamp": 0})
    assert r.status_code == 200, r.text
    log = env["auth"].server.log_path.read_text(errors="replace")
    assert "Unhandled error" not in log and "Traceback" not in log, log[-3000:]
