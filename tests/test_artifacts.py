"""Proxied artifacts against a live server: the real MLflow client, raw wire checks, traversal
attempts, streaming (memory) and interrupted uploads.

Each test makes its own experiment and run (the `server` fixture is shared by the session) and,
where it matters, checks the bytes the server actually wrote under its artifact folder.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
import requests
import yaml

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
API = "/api/2.0/mlflow"
MiB = 1 << 20


# -- helpers ------------------------------------------------------------------------------------
class RunArtifacts:
    """A fresh run plus the places its artifacts live: the proxied path (relative to the server's
    artifact destination) and the folder on disk."""

    def __init__(self, client, server, name):
        exp_id = client.create_experiment(name)
        self.run = client.create_run(exp_id)
        self.run_id = self.run.info.run_id
        self.uri = self.run.info.artifact_uri
        assert self.uri.startswith("mlflow-artifacts:/"), self.uri
        self.rel = self.uri[len("mlflow-artifacts:"):].lstrip("/")
        self.root = Path(server.artifacts_destination)
        self.dir = self.root / self.rel

    def url(self, path: str = "") -> str:
        return f"{ARTIFACTS}/{self.rel}/{path}" if path else f"{ARTIFACTS}/{self.rel}"


@pytest.fixture()
def run(mlflow_client, server, unique_name):
    return RunArtifacts(mlflow_client, server, unique_name)


def raw_request(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """Send `path` exactly as given (no client-side normalisation of `..` or `//`); never follows
    redirects. Returns (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        hdrs = dict(headers or {})
        if body is not None:
            hdrs.setdefault("Content-Length", str(len(body)))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body is not None:
            conn.send(body)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def assert_error(status, body: bytes, expected_status: int, code: str):
    assert status == expected_status, (status, body[:500])
    payload = json.loads(body)
    assert payload["error_code"] == code, payload
    assert payload["message"] and b"Traceback" not in body
    return payload


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(folder: Path) -> dict[str, str]:
    """{relative posix path: sha256} of every file under `folder`."""
    return {
        p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()
    }


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class PatternStream:
    """`size` bytes generated on the fly (never held whole): 1 MiB random base blocks, each
    stamped with its index so reordered or repeated blocks change the hash. Usable as a
    generator (`chunks()`, sent chunked) or as a sized file-like object (`read`, sent with a
    Content-Length). `sha256` is complete once the stream has been consumed."""

    _base = os.urandom(MiB)

    def __init__(self, size: int):
        self.size = size
        self.pos = 0
        self._hash = hashlib.sha256()
        self._buf = b""

    def _block(self, index: int) -> bytes:
        block = index.to_bytes(8, "big") + self._base[8:]
        return block[: min(MiB, self.size - index * MiB)]

    def chunks(self):
        for index in range((self.size + MiB - 1) // MiB):
            block = self._block(index)
            self._hash.update(block)
            self.pos += len(block)
            yield block

    def __len__(self):
        return self.size

    def read(self, n: int = -1) -> bytes:
        if not self._buf:
            if self.pos >= self.size:
                return b""
            self._buf = self._block(self.pos // MiB)
            self._hash.update(self._buf)
            self.pos += len(self._buf)
        if n is None or n < 0:
            n = len(self._buf)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    @property
    def sha256(self) -> str:
        assert self.pos == self.size, "stream not fully consumed"
        return self._hash.hexdigest()


# -- the real client ------------------------------------------------------------------------------
def test_log_artifact_round_trip_is_byte_exact(mlflow_client, run, tmp_path):
    import mlflow

    payload = bytes(range(256)) * 64 + os.urandom(12345) + b"\r\n\x00\n\r" + "ünïcødé".encode()
    src = tmp_path / "blob.bin"
    src.write_bytes(payload)
    with mlflow.start_run(run_id=run.run_id):
        mlflow.log_artifact(str(src))
        mlflow.log_artifact(str(src), artifact_path="copies/deeper")
    assert (run.dir / "blob.bin").read_bytes() == payload
    assert (run.dir / "copies/deeper/blob.bin").read_bytes() == payload

    out = Path(mlflow_client.download_artifacts(run.run_id, "blob.bin", str(tmp_path / "dl1")))
    assert out.read_bytes() == payload
    out = Path(mlflow_client.download_artifacts(run.run_id, "copies/deeper/blob.bin", str(tmp_path / "dl2")))
    assert out.read_bytes() == payload


def test_log_artifacts_nested_folders_and_download_folder(mlflow_client, run, tmp_path):
    import mlflow

    src = tmp_path / "tree"
    files = {
        "top.txt": b"top\n",
        "a/one.bin": os.urandom(3000),
        "a/b/two.json": b'{"k": [1, 2, 3]}',
        "a/b/c/three.csv": b"x,y\n1,2\n",
        "a/b/c/empty.dat": b"",
        "z/spaced name.txt": b"spaces are fine",
    }
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    with mlflow.start_run(run_id=run.run_id):
        mlflow.log_artifacts(str(src), artifact_path="model")

    assert tree_digest(run.dir / "model") == tree_digest(src)

    # a folder through both download paths of the client
    out = Path(mlflow_client.download_artifacts(run.run_id, "model", str(tmp_path / "dl")))
    assert tree_digest(out) == tree_digest(src)
    out = Path(mlflow.artifacts.download_artifacts(run_id=run.run_id, artifact_path="model/a", dst_path=str(tmp_path / "dl2")))
    assert tree_digest(out) == {k[2:]: v for k, v in tree_digest(src).items() if k.startswith("a/")}
    out = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"runs:/{run.run_id}/model/a/b/two.json", dst_path=str(tmp_path / "dl3")))
    assert out.read_bytes() == files["a/b/two.json"]
    # and the whole run
    out = Path(mlflow.artifacts.download_artifacts(run_id=run.run_id, dst_path=str(tmp_path / "dl4")))
    assert tree_digest(out / "model") == tree_digest(src)


def test_list_artifacts_root_and_subdirectories(mlflow_client, run):
    import mlflow

    with mlflow.start_run(run_id=run.run_id):
        mlflow.log_text("hello", "notes.txt")
        mlflow.log_text("12345678", "sub/eight.txt")
        mlflow.log_text("x", "sub/deeper/x.txt")

    root = {f.path: f for f in mlflow_client.list_artifacts(run.run_id)}
    assert set(root) == {"notes.txt", "sub"}
    assert not root["notes.txt"].is_dir and root["notes.txt"].file_size == 5
    assert root["sub"].is_dir

    sub = {f.path: f for f in mlflow_client.list_artifacts(run.run_id, "sub")}
    assert set(sub) == {"sub/eight.txt", "sub/deeper"}
    assert sub["sub/eight.txt"].file_size == 8 and not sub["sub/eight.txt"].is_dir
    assert sub["sub/deeper"].is_dir
    assert [f.path for f in mlflow_client.list_artifacts(run.run_id, "sub/deeper")] == ["sub/deeper/x.txt"]
    # a missing folder lists as empty, not as an error
    assert mlflow_client.list_artifacts(run.run_id, "no/such/dir") == []


def test_log_text_and_log_dict(mlflow_client, run, tmp_path):
    import mlflow

    text = "line one\nłine twø ✓\n"
    data = {"lr": 0.01, "layers": [1, 2, 3], "name": "ünï"}
    with mlflow.start_run(run_id=run.run_id):
        mlflow.log_text(text, "docs/readme.md")
        mlflow.log_dict(data, "cfg/params.json")
        mlflow.log_dict(data, "cfg/params.yaml")

    assert (run.dir / "docs/readme.md").read_text(encoding="utf-8") == text
    assert mlflow.artifacts.load_text(f"runs:/{run.run_id}/docs/readme.md") == text
    assert mlflow.artifacts.load_dict(f"runs:/{run.run_id}/cfg/params.json") == data
    yaml_text = mlflow.artifacts.load_text(f"runs:/{run.run_id}/cfg/params.yaml")
    assert yaml.safe_load(yaml_text) == data
    assert json.loads((run.dir / "cfg/params.json").read_text()) == data


@pytest.mark.slow
def test_100mb_random_file_up_and_down(mlflow_client, run, tmp_path):
    import mlflow

    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(MiB))
    expected = sha256_file(src)

    t0 = time.perf_counter()
    with mlflow.start_run(run_id=run.run_id):
        mlflow.log_artifact(str(src), artifact_path="big")
    up = time.perf_counter() - t0
    assert sha256_file(run.dir / "big/big.bin") == expected

    t0 = time.perf_counter()
    out = Path(mlflow_client.download_artifacts(run.run_id, "big/big.bin", str(tmp_path / "dl")))
    down = time.perf_counter() - t0
    assert out.stat().st_size == 100 * MiB
    assert sha256_file(out) == expected
    print(f"\n100 MiB via mlflow client: upload {100 * MiB / up / 1e6:.0f} MB/s, download {100 * MiB / down / 1e6:.0f} MB/s")


# -- raw wire: uploads, downloads, headers, listing, delete ---------------------------------------
def test_upload_larger_than_the_request_body_limit(api, run):
    """Artifact bodies are exempt from the server's request-size limit (64 MiB by default)."""
    from swan_server.config import Settings

    body = PatternStream(Settings().max_request_bytes + MiB)
    resp = requests.put(api.base + run.url("over-limit.bin"), data=body, timeout=300)
    assert resp.status_code == 200, resp.text[:300]
    assert resp.request.headers.get("Content-Length") == str(body.size)
    assert (run.dir / "over-limit.bin").stat().st_size == body.size
    assert sha256_file(run.dir / "over-limit.bin") == body.sha256


def test_chunked_upload_without_content_length(api, run):
    body = PatternStream(5 * MiB + 123)
    resp = requests.put(api.base + run.url("chunked/data.bin"), data=body.chunks(), timeout=120)
    assert resp.status_code == 200, resp.text[:300]
    assert resp.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in resp.request.headers
    assert sha256_file(run.dir / "chunked/data.bin") == body.sha256

    got = requests.get(api.base + run.url("chunked/data.bin"), timeout=60)
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == body.sha256
    # an empty chunked body makes an empty file
    resp = requests.put(api.base + run.url("chunked/empty.bin"), data=iter([]), timeout=60)
    assert resp.status_code == 200 and (run.dir / "chunked/empty.bin").read_bytes() == b""


def test_put_get_round_trip_and_overwrite(api, run):
    first, second = os.urandom(4096), os.urandom(100)
    assert api.put(run.url("f.bin"), data=first).status_code == 200
    got = api.get(run.url("f.bin"))
    assert got.status_code == 200 and got.content == first
    assert api.put(run.url("f.bin"), data=second).status_code == 200
    assert api.get(run.url("f.bin")).content == second
    assert (run.dir / "f.bin").read_bytes() == second
    # no temporary upload files are left next to it
    assert [p.name for p in run.dir.iterdir()] == ["f.bin"]


def test_download_headers(api, run, server):
    html = b"<html><script>alert(1)</script></html>"
    for name in ("page.html", "icon.svg", "code.js", "data.xml"):
        assert api.put(run.url(f"web/{name}"), data=html).status_code == 200
    assert api.put(run.url("web/table.csv"), data=b"a,b\n1,2\n").status_code == 200
    assert api.put(run.url("web/blob.bin"), data=b"\x00\x01").status_code == 200

    def check(resp, name, size):
        assert resp.status_code == 200, resp.text[:300]
        assert resp.headers["Content-Disposition"].startswith("attachment")
        assert f'filename="{name}"' in resp.headers["Content-Disposition"]
        assert resp.headers["Content-Length"] == str(size)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        return resp.headers["Content-Type"].split(";")[0].strip()

    for name in ("page.html", "icon.svg", "code.js", "data.xml"):
        proxied = api.get(run.url(f"web/{name}"))
        assert check(proxied, name, len(html)) == "text/plain", name
        assert proxied.content == html
        for prefix in ("", "/ajax-api/2.0/mlflow"):
            ui = api.get(f"{prefix}/get-artifact", params={"run_id": run.run_id, "path": f"web/{name}"})
            assert check(ui, name, len(html)) == "text/plain", (prefix, name)
            assert ui.content == html
    assert check(api.get(run.url("web/table.csv")), "table.csv", 8) == "text/csv"
    assert check(api.get(run.url("web/blob.bin")), "blob.bin", 2) == "application/octet-stream"

    # Content-Length is also right on the raw wire (not chunked)
    status, headers, body = raw_request(server, "GET", run.url("web/page.html"))
    assert status == 200 and body == html
    assert headers.get("Content-Length") == str(len(html)) and "Transfer-Encoding" not in headers


def test_download_header_for_unusual_file_names(api, run):
    """Names that cannot go into a header as-is still download (ASCII fallback + RFC 5987)."""
    for name in ("日本語.txt", 'quo"te.txt', "semi;colon.txt", "pct%41.txt"):
        data = name.encode()
        resp = api.put(run.url(quote(name, safe="")), data=data)
        assert resp.status_code == 200, (name, resp.text)
        got = api.get(run.url(quote(name, safe="")))
        assert got.status_code == 200 and got.content == data, name
        cd = got.headers["Content-Disposition"]
        assert cd.startswith("attachment; filename=")
        fallback = cd.split('filename="', 1)[1].split('"', 1)[0]
        assert fallback.isascii() and '"' not in fallback
        if not name.isascii() or '"' in name:
            assert cd.split("filename*=UTF-8''", 1)[1] == quote(name, safe="")
        assert (run.dir / name).read_bytes() == data


def test_list_proxied_and_tracking_routes(api, run):
    for rel, data in {"a.txt": b"aa", "d/b.txt": b"bbb", "d/e/c.txt": b"c"}.items():
        assert api.put(run.url(rel), data=data).status_code == 200

    resp = api.get(ARTIFACTS, params={"path": run.rel})
    assert resp.status_code == 200
    assert resp.json()["files"] == [
        {"path": "a.txt", "is_dir": False, "file_size": 2},
        {"path": "d", "is_dir": True},
    ]
    # the proxied list gives basenames relative to the listed folder
    resp = api.get(ARTIFACTS, params={"path": f"{run.rel}/d"})
    assert resp.json()["files"] == [
        {"path": "b.txt", "is_dir": False, "file_size": 3},
        {"path": "e", "is_dir": True},
    ]
    # the tracking-service list gives paths relative to the run root, plus the root URI
    for prefix in (API, "/ajax-api/2.0/mlflow"):
        resp = api.get(f"{prefix}/artifacts/list", params={"run_id": run.run_id, "path": "d"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["root_uri"] == run.uri
        assert body["files"] == [
            {"path": "d/b.txt", "is_dir": False, "file_size": 3},
            {"path": "d/e", "is_dir": True},
        ]
    body = api.get(f"{API}/artifacts/list", params={"run_id": run.run_id}).json()
    assert [f["path"] for f in body["files"]] == ["a.txt", "d"]


def test_list_empty_and_missing_directories(api, run):
    # a run with no artifacts yet
    body = api.get(f"{API}/artifacts/list", params={"run_id": run.run_id}).json()
    assert body == {"root_uri": run.uri}
    for path in (f"{run.rel}/missing", f"{run.rel}/missing/deeper", "no-such-experiment-dir"):
        resp = api.get(ARTIFACTS, params={"path": path})
        assert resp.status_code == 200, resp.text
        assert resp.json().get("files", []) == []
    # an existing empty folder
    (run.dir / "empty").mkdir(parents=True)
    assert api.get(ARTIFACTS, params={"path": f"{run.rel}/empty"}).json().get("files", []) == []
    body = api.get(f"{API}/artifacts/list", params={"run_id": run.run_id}).json()
    assert body["files"] == [{"path": "empty", "is_dir": True}]
    body = api.get(f"{API}/artifacts/list", params={"run_id": run.run_id, "path": "empty"}).json()
    assert body.get("files", []) == []
    # listing a file (not a folder) is empty too
    assert api.put(run.url("f.txt"), data=b"x").status_code == 200
    assert api.get(ARTIFACTS, params={"path": f"{run.rel}/f.txt"}).json().get("files", []) == []


def test_missing_file_is_404(api, run, server):
    assert api.put(run.url("dir/present.txt"), data=b"x").status_code == 200
    for path in ("absent.txt", "dir/absent.txt", "no/such/dir/file", "dir"):
        resp = api.get(run.url(path))
        assert_error(resp.status_code, resp.content, 404, "RESOURCE_DOES_NOT_EXIST")
        resp = api.get("/get-artifact", params={"run_id": run.run_id, "path": path})
        assert_error(resp.status_code, resp.content, 404, "RESOURCE_DOES_NOT_EXIST")
    resp = api.get("/get-artifact", params={"run_id": uuid.uuid4().hex, "path": "x"})
    assert_error(resp.status_code, resp.content, 404, "RESOURCE_DOES_NOT_EXIST")
    resp = api.get(f"{API}/artifacts/list", params={"run_id": uuid.uuid4().hex})
    assert_error(resp.status_code, resp.content, 404, "RESOURCE_DOES_NOT_EXIST")


def test_delete_file_and_folder(api, run, mlflow_client):
    for rel in ("keep.txt", "gone.txt", "folder/a.txt", "folder/sub/b.txt"):
        assert api.put(run.url(rel), data=rel.encode()).status_code == 200

    assert api.delete(run.url("gone.txt")).status_code == 200
    assert not (run.dir / "gone.txt").exists()
    resp = api.get(run.url("gone.txt"))
    assert_error(resp.status_code, resp.content, 404, "RESOURCE_DOES_NOT_EXIST")

    assert api.delete(run.url("folder")).status_code == 200
    assert not (run.dir / "folder").exists()
    assert [f.path for f in mlflow_client.list_artifacts(run.run_id)] == ["keep.txt"]
    assert (run.dir / "keep.txt").read_bytes() == b"keep.txt"

    resp = api.delete(run.url("never-existed.txt"))
    assert_error(resp.status_code, resp.content, 404, "RESOURCE_DOES_NOT_EXIST")


def test_bad_targets_are_client_errors(api, run):
    """Paths that cannot name a file are 400s, not 500s."""
    assert api.put(run.url("file"), data=b"x").status_code == 200
    assert api.put(run.url("folder/inner.txt"), data=b"x").status_code == 200
    cases = [
        ("PUT", run.url("file/child.txt")),  # a file where a folder is needed
        ("PUT", run.url("folder")),  # a folder where the file would go
        ("PUT", run.url("a" * 300)),  # a name longer than the filesystem allows
        ("GET", run.url("a" * 300)),
        ("DELETE", run.url("a" * 300)),
        ("PUT", run.url("tab%09name")),  # control characters
        ("PUT", run.url("cr%0Dname")),
    ]
    for method, url in cases:
        resp = requests.request(method, api.base + url, data=b"data", timeout=60)
        assert_error(resp.status_code, resp.content, 400, "INVALID_PARAMETER_VALUE")
    resp = api.get(ARTIFACTS, params={"path": f"{run.rel}/{'a' * 300}"})
    assert_error(resp.status_code, resp.content, 400, "INVALID_PARAMETER_VALUE")
    assert (run.dir / "file").read_bytes() == b"x"


def test_concurrent_uploads_to_one_path_never_mix(api, run):
    """Writes are atomic: the file ends up as exactly one of the uploads, never a mixture."""
    bodies = [bytes([i]) * (3 * MiB) for i in range(6)]
    errors = []

    def put(body):
        try:
            r = requests.put(api.base + run.url("same.bin"), data=body, timeout=120)
            if r.status_code != 200:
                errors.append(r.text)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=put, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert (run.dir / "same.bin").read_bytes() in bodies
    assert [p.name for p in run.dir.iterdir()] == ["same.bin"]


def test_artifact_files_get_normal_permissions(api, run):
    assert api.put(run.url("perm.txt"), data=b"x").status_code == 200
    umask = os.umask(0)
    os.umask(umask)
    assert (run.dir / "perm.txt").stat().st_mode & 0o777 == 0o666 & ~umask


# -- traversal ------------------------------------------------------------------------------------
@pytest.fixture()
def bait(server, tmp_path):
    """A secret next to the artifact root (in the server home) and a name that must never be
    written anywhere outside the root."""
    home = Path(server.home)
    token = uuid.uuid4().hex[:10]
    secret = home / f"secret-{token}.txt"
    secret.write_text(f"TOP-SECRET-{token}")

    class Bait:
        name = f"pwned-{token}"
        secret_name = secret.name
        secret_text = f"TOP-SECRET-{token}".encode()
        outside = tmp_path

        def assert_untouched(self):
            assert secret.read_text() == f"TOP-SECRET-{token}"
            for d in (home, home.parent, tmp_path, Path("/tmp"), Path("/")):
                assert not (d / self.name).exists(), d / self.name
            assert not list(tmp_path.rglob(f"*{token}*"))

    yield Bait()
    secret.unlink()


def _traversal_paths(rel: str, b) -> list[str]:
    """Raw URL paths under the proxied route that try to leave the artifact root. `rel` is a
    run's folder (3 levels below the root); targets are the bait names one level above it."""
    up = "../" * 4  # from <root>/<exp>/<run>/artifacts to the server home
    enc = "%2e%2e%2f" * 4
    enc_upper = "%2E%2E%2F" * 4
    dbl = "%252e%252e%252f" * 4
    return [
        f"{rel}/{up}{b}",
        f"{up}{b}",
        f"../{b}",
        "..",
        f"{rel}/..",
        f"{rel}/{enc}{b}",
        f"{rel}/{enc_upper}{b}",
        f"{enc}{b}",
        f"{rel}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/{b}",
        f"{rel}/{dbl}{b}",
        f"%252e%252e/{b}",
        f"{rel}\\..\\..\\..\\..\\{b}",
        f"{rel}/..%5c..%5c..%5c..%5c{b}",
        f"{rel}%5c..%5c{b}",
        f"{rel}/x%00/../../../../{b}",
        f"{rel}/{b}%00.txt",
        f"C:/{b}",
        f"C:%5c{b}",
        f"{rel}/.%2e/.%2e/.%2e/.%2e/{b}",
    ]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_traversal_in_proxied_path_is_400(server, run, bait, method):
    assert raw_request(server, "PUT", run.url("inside.txt"), b"inside")[0] == 200
    target = bait.secret_name if method == "GET" else bait.name
    for path in _traversal_paths(run.rel, target):
        status, _, body = raw_request(server, method, f"{ARTIFACTS}/{path}", b"PWNED" if method == "PUT" else None)
        assert status == 400, (path, status, body[:300])
        assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE", (path, body)
        assert bait.secret_text not in body
    bait.assert_untouched()
    assert (run.dir / "inside.txt").read_bytes() == b"inside"
    assert raw_request(server, "GET", "/health")[0] == 200


def test_traversal_in_query_parameters_is_400(server, run, bait, api):
    assert api.put(run.url("inside.txt"), data=b"inside").status_code == 200
    # relative escapes: refused on their own and below a real folder
    relative = [
        "../" * 4 + bait.secret_name,
        "..",
        "../..",
        "a/../../x",
        "%2e%2e",
        "%2e%2e%2f%2e%2e%2f" + bait.secret_name,
        "%252e%252e%252f" + bait.secret_name,
        "..\\..\\" + bait.secret_name,
        "a\\b",
        "x\x00y",
    ]
    absolute = ["/etc/passwd", str(Path(server.home) / bait.secret_name), "//etc", "C:/Windows", "C:\\Windows"]
    cases = []
    for path in relative + absolute:
        cases += [
            (ARTIFACTS, {"path": path}),
            (f"{API}/artifacts/list", {"run_id": run.run_id, "path": path}),
            ("/ajax-api/2.0/mlflow/artifacts/list", {"run_id": run.run_id, "path": path}),
            ("/get-artifact", {"run_id": run.run_id, "path": path}),
            ("/ajax-api/2.0/mlflow/get-artifact", {"run_id": run.run_id, "path": path}),
        ]
    for path in relative:
        cases += [
            (ARTIFACTS, {"path": f"{run.rel}/{path}"}),
            (f"{API}/artifacts/list", {"run_id": run.run_id, "path": f"inside/{path}"}),
            ("/get-artifact", {"run_id": run.run_id, "path": f"x/{path}"}),
        ]
    for url, params in cases:
        resp = api.get(url, params=params)
        assert resp.status_code == 400, (url, params, resp.status_code, resp.text[:300])
        assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert bait.secret_text not in resp.content
    bait.assert_untouched()


def test_absolute_path_in_url_never_leaves_the_root(server, run, bait):
    """`//abs/path` (or `%2F` that decodes to it): whatever the answer, no 200/500 and nothing
    read or written outside the root."""
    outside = bait.outside / bait.name
    for raw in (f"/{outside}", f"%2F{quote(str(outside)[1:], safe='')}", f"//{outside}"):
        for method in ("PUT", "GET", "DELETE"):
            status, headers, body = raw_request(server, method, f"{ARTIFACTS}/{raw}", b"PWNED" if method == "PUT" else None)
            assert status not in (200, 500), (method, raw, status, body[:200])
            if status in (301, 302, 303, 307, 308):
                # a redirect may only point back inside the artifact routes
                location = headers.get("Location", "")
                assert f"{ARTIFACTS}/" in location and "/../" not in unquote(location), location
    status, _, body = raw_request(server, "GET", f"{ARTIFACTS}//{Path(server.home) / bait.secret_name}")
    assert bait.secret_text not in body
    bait.assert_untouched()


def test_absolute_path_in_url_is_400(server, bait):
    status, _, body = raw_request(server, "PUT", f"{ARTIFACTS}/{bait.outside / bait.name}", b"PWNED")
    assert status == 400, (status, body[:200])


# -- symlinks planted inside the artifact folder ---------------------------------------------------
def test_symlink_pointing_outside_is_refused(server, run, api, mlflow_client, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("OUTSIDE-SECRET")
    assert api.put(run.url("real.txt"), data=b"real").status_code == 200
    (run.dir / "sub").mkdir()
    (run.dir / "link").symlink_to(outside, target_is_directory=True)
    (run.dir / "sub" / "flink").symlink_to(outside / "secret.txt")
    (run.dir / "dangling").symlink_to(outside / "does-not-exist.txt")
    before = tree_digest(outside)

    reads = [
        ("GET", run.url("link/secret.txt")),
        ("GET", run.url("sub/flink")),
        ("GET", run.url("dangling")),
        ("GET", f"/get-artifact?run_id={run.run_id}&path=link/secret.txt"),
        ("GET", f"/ajax-api/2.0/mlflow/get-artifact?run_id={run.run_id}&path=sub/flink"),
        ("GET", f"{ARTIFACTS}?path={run.rel}/link"),
        ("GET", f"{API}/artifacts/list?run_id={run.run_id}&path=link"),
    ]
    writes = [
        ("PUT", run.url("link/new.txt")),
        ("PUT", run.url("link/deeper/new.txt")),
        ("PUT", run.url("link/secret.txt")),
        ("PUT", run.url("sub/flink")),
        ("PUT", run.url("dangling")),
        ("DELETE", run.url("link/secret.txt")),
        ("DELETE", run.url("link")),
        ("DELETE", run.url("sub/flink")),
    ]
    for method, url in reads + writes:
        status, _, body = raw_request(server, method, url, b"HACKED" if method == "PUT" else None)
        assert status == 400, (method, url, status, body[:300])
        assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
        assert b"OUTSIDE-SECRET" not in body

    assert tree_digest(outside) == before
    assert (outside / "secret.txt").read_text() == "OUTSIDE-SECRET"
    assert not (outside / "does-not-exist.txt").exists()
    assert (run.dir / "sub" / "flink").is_symlink() and (run.dir / "link").is_symlink()

    # listings do not expose or follow the links; a whole-run download pulls nothing from outside
    listed = {f.path for f in mlflow_client.list_artifacts(run.run_id)}
    assert "real.txt" in listed and "secret.txt" not in listed
    out = Path(mlflow_client.download_artifacts(run.run_id, "", str(tmp_path / "dl")))
    assert "secret.txt" not in {p.name for p in out.rglob("*")}
    assert all(b"OUTSIDE-SECRET" not in p.read_bytes() for p in out.rglob("*") if p.is_file())

    # deleting the folder that holds the links removes the links, never what they point at
    assert api.delete(run.url("sub")).status_code == 200
    assert not (run.dir / "sub").exists()
    assert tree_digest(outside) == before


# -- interrupted uploads ---------------------------------------------------------------------------
def _start_partial_upload(server, path: str, chunked: bool) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    if chunked:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        sock.sendall(b"300000\r\n" + b"p" * 0x300000 + b"\r\n" + b"100000\r\n" + b"q" * 1000)
    else:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {20 * MiB}\r\n\r\n".encode())
        sock.sendall(b"p" * (3 * MiB))
    return sock


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".upload-*")] if folder.exists() else []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_interrupted_upload_leaves_no_truncated_artifact(server, run, api, chunked):
    assert api.put(run.url("old/version.bin"), data=b"previous version").status_code == 200
    for name in ("old/version.bin", "fresh/new.bin"):
        sock = _start_partial_upload(server, run.url(name), chunked)
        # the server has started writing (a temporary file exists) before the client goes away
        assert wait_until(lambda: _temp_files(run.dir)), "the upload never started"
        sock.close()
        assert wait_until(lambda: not _temp_files(run.dir)), _temp_files(run.dir)

    assert (run.dir / "old/version.bin").read_bytes() == b"previous version"
    assert not (run.dir / "fresh/new.bin").exists()
    resp = api.get(run.url("fresh/new.bin"))
    assert_error(resp.status_code, resp.content, 404, "RESOURCE_DOES_NOT_EXIST")
    listed = api.get(ARTIFACTS, params={"path": f"{run.rel}/fresh"}).json().get("files", [])
    assert listed == []
    # the server is fine afterwards
    assert api.put(run.url("fresh/new.bin"), data=b"complete").status_code == 200
    assert api.get(run.url("fresh/new.bin")).content == b"complete"


def test_short_body_with_half_closed_socket_is_rejected(server, run, api):
    """A client that sends fewer bytes than its Content-Length and then shuts down its side gets
    a 400 (not a silently truncated artifact)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        sock.sendall(f"PUT {run.url('short.bin')} HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n".encode())
        sock.sendall(b"x" * 600)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    finally:
        sock.close()
    assert reply.startswith(b"HTTP/1.1 400"), reply[:300]
    assert b"INVALID_PARAMETER_VALUE" in reply or b"BAD_REQUEST" in reply
    assert not (run.dir / "short.bin").exists()
    assert not _temp_files(run.dir)


# -- streaming: memory stays flat for 1 GB ----------------------------------------------------------
class RssSampler(threading.Thread):
    """Samples the summed RSS growth of the server's processes (against a baseline)."""

    def __init__(self, pids: list[int], interval: float = 0.05):
        super().__init__(daemon=True)
        import psutil

        self.procs = [psutil.Process(p) for p in pids]
        self.baseline = {p.pid: p.memory_info().rss for p in self.procs}
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self):
        import psutil

        while not self._stop_event.is_set():
            growth = 0
            for p in self.procs:
                try:
                    growth += p.memory_info().rss - self.baseline[p.pid]
                except psutil.NoSuchProcess:
                    pass
            self.peak = max(self.peak, growth)
            self.samples += 1
            time.sleep(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join(10)


@pytest.mark.slow
def test_1gb_streams_without_buffering(tmp_path):
    from tests.server import LiveServer

    size = 1024 * MiB
    srv = LiveServer(tmp_path / "home").start()
    try:
        base = srv.url + ARTIFACTS + "/stream"
        # warm up every code path once so imports and pools are not counted as growth
        assert requests.put(base + "/warm.bin", data=os.urandom(2 * MiB), timeout=60).status_code == 200
        assert len(requests.get(base + "/warm.bin", timeout=60).content) == 2 * MiB
        assert requests.put(base + "/warm2.bin", data=iter([b"x" * MiB] * 3), timeout=60).status_code == 200
        time.sleep(0.5)
        pids = srv.server_pids()
        assert len(pids) >= 2, pids  # master and at least one worker
        sampler = RssSampler(pids)
        sampler.start()
        figures = {}
        try:
            # 1) chunked (generator) upload, then download
            body = PatternStream(size)
            t0 = time.perf_counter()
            resp = requests.put(base + "/chunked.bin", data=body.chunks(), timeout=600)
            figures["upload chunked"] = size / (time.perf_counter() - t0) / 1e6
            assert resp.status_code == 200, resp.text[:300]
            assert resp.request.headers.get("Transfer-Encoding") == "chunked"
            expected = body.sha256

            def download(url):
                h, n = hashlib.sha256(), 0
                t0 = time.perf_counter()
                with requests.get(url, stream=True, timeout=600) as r:
                    assert r.status_code == 200
                    assert r.headers["Content-Length"] == str(size)
                    for chunk in r.iter_content(MiB):
                        h.update(chunk)
                        n += len(chunk)
                return h.hexdigest(), n, size / (time.perf_counter() - t0) / 1e6

            digest, n, figures["download"] = download(base + "/chunked.bin")
            assert (n, digest) == (size, expected)

            # 2) the same size with a Content-Length, through a lazy file-like body
            body = PatternStream(size)
            t0 = time.perf_counter()
            resp = requests.put(base + "/sized.bin", data=body, timeout=600)
            figures["upload content-length"] = size / (time.perf_counter() - t0) / 1e6
            assert resp.status_code == 200, resp.text[:300]
            assert resp.request.headers.get("Content-Length") == str(size)
            digest, n, figures["download 2"] = download(base + "/sized.bin")
            assert (n, digest) == (size, body.sha256)
        finally:
            sampler.stop()
        art = Path(srv.artifacts_destination) / "stream"
        assert (art / "chunked.bin").stat().st_size == size and (art / "sized.bin").stat().st_size == size
        print(
            "\n1 GiB streaming: "
            + ", ".join(f"{k} {v:.0f} MB/s" for k, v in figures.items())
            + f"; peak server RSS growth {sampler.peak / MiB:.1f} MiB over {sampler.samples} samples"
        )
        assert sampler.samples > 20
        assert sampler.peak < 100 * MiB, f"server RSS grew by {sampler.peak / MiB:.0f} MiB"
    finally:
        srv.stop()
        for f in (Path(srv.artifacts_destination) / "stream").glob("*.bin"):
            f.unlink()


def test_uploads_on_one_keep_alive_connection(server, run):
    """Several uploads and a download on one connection, each body arriving partly with its
    headers and partly later (read from the server's buffer, then from the socket): every body
    ends exactly at its Content-Length and the next request on the connection is read right."""
    bodies = [os.urandom(n) for n in (1, 70_000, 3 * MiB + 17)]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for i, body in enumerate(bodies):
            conn.putrequest("PUT", run.url(f"keepalive/{i}.bin"))
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body[: len(body) // 3])  # sent with the headers
            time.sleep(0.05)
            conn.send(body[len(body) // 3 :])
            resp = conn.getresponse()
            assert resp.status == 200, resp.read()
            resp.read()
        for i, body in enumerate(bodies):
            conn.request("GET", run.url(f"keepalive/{i}.bin"))
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read() == body
    finally:
        conn.close()
    assert [(run.dir / f"keepalive/{i}.bin").read_bytes() for i in range(3)] == bodies
