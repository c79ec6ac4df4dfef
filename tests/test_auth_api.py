"""`swan server --auth` on the native API (`swan_client.api.Client` and raw HTTP), the admin routes,
the `swan users` / `swan keys` commands, workspace members, the dashboard's session cookie and
CSRF token, the failed-login rate limit (shared by the workers), keys never logged, the server
with authentication off, and the warning for a non-loopback bind without it."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import requests

from swan_client.api import Client, SwanApiError
from tests.auth_support import basic, bearer, create_user, start_auth_server
from tests.no5xx import no_5xx  # noqa: F401
from tests.server import free_port


@pytest.fixture(scope="module")
def auth(tmp_path_factory):
    a = start_auth_server(tmp_path_factory.mktemp("auth-api"),
                          extra_env={"SWAN_ACCESS_LOG": "1", "SWAN_LOG_FORMAT": "json"})
    yield a
    a.stop()


def _client(auth, role) -> Client:
    return Client(auth.url, api_key=auth.keys[role], retries=0)


def _name(prefix="p"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _v1_error(resp, status, code):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.json()["error"]["code"] == code, resp.text


def _refused(call, status, code):
    with pytest.raises(SwanApiError) as err:
        call()
    assert (err.value.status, err.value.code) == (status, code), err.value


# -- /api/v1 ---------------------------------------------------------------------------------------------
def test_v1_without_or_with_wrong_credentials_is_401(auth):
    for method, path in (("GET", "/api/v1/me"), ("GET", "/api/v1/projects"), ("POST", "/api/v1/projects"),
                         ("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/projects/overview"),
                         ("GET", f"/api/v1/runs/{'a' * 32}"), ("POST", f"/api/v1/runs/{'a' * 32}/batches"),
                         ("PUT", f"/api/v1/runs/{'a' * 32}/artifacts/x.txt"), ("GET", "/api/v1/users")):
        for headers in ({}, bearer("swan_wrong"), basic(auth.names["member"], "swan_wrong"),
                        {"Authorization": "Basic abc"}):
            r = requests.request(method, auth.url + path, headers=headers, timeout=30,
                                 json={} if method == "POST" else None, data=b"x" if method == "PUT" else None)
            _v1_error(r, 401, "UNAUTHENTICATED")
    _refused(lambda: Client(auth.url, api_key="swan_wrong", retries=0).me(), 401, "UNAUTHENTICATED")
    _refused(lambda: Client(auth.url, api_key=auth.keys["member"][:-1], retries=0).create_project(_name()), 401,
             "UNAUTHENTICATED")
    assert _client(auth, "member").me()["user"]["name"] == auth.names["member"]


def test_v1_member_writes_viewer_reads(auth, tmp_path):
    member, viewer = _client(auth, "member"), _client(auth, "viewer")
    shared = member.create_project(_name("shared"))
    run = member.create_run(project_id=shared["id"], name="r")
    rid = run["run_id"]
    member.write_batch(rid, metrics={"key": ["loss"] * 3, "step": [0, 1, 2], "value": [3.0, 2.0, 1.0]},
                       params={"lr": "0.1"})
    member.upload_bytes(rid, "notes/a.txt", b"hello")
    assert viewer.get_run(rid)["run_id"] == rid
    assert viewer.get_history(rid, "loss")["step"] == [0, 1, 2]
    assert viewer.download_artifact(rid, "notes/a.txt") == b"hello"
    assert shared["id"] in [p["id"] for p in viewer.list_projects()]
    _refused(lambda: viewer.create_project(_name("viewer")), 403, "PERMISSION_DENIED")
    _refused(lambda: viewer.create_run(project_id=shared["id"]), 403, "PERMISSION_DENIED")
    _refused(lambda: viewer.write_batch(rid, metrics={"key": ["loss"], "value": [9.0], "step": [9]}), 403,
             "PERMISSION_DENIED")
    _refused(lambda: viewer.upload_bytes(rid, "notes/b.txt", b"no"), 403, "PERMISSION_DENIED")
    _refused(lambda: viewer.update_run(rid, status="FINISHED"), 403, "PERMISSION_DENIED")
    _refused(lambda: viewer.delete_run(rid), 403, "PERMISSION_DENIED")
    assert [f["path"] for f in member.list_artifacts(rid, "notes")] == ["notes/a.txt"]
    assert member.get_run(rid)["status"] == "RUNNING"


def test_v1_other_workspace_is_closed_and_lists_are_filtered(auth):
    member, other = _client(auth, "member"), _client(auth, "other")
    private = member.create_project(f"{auth.names['member']}/{_name('priv')}")
    rid = member.create_run(project_id=private["id"])["run_id"]
    member.write_batch(rid, metrics={"key": ["secret"], "value": [42.0], "step": [0]})
    member.upload_bytes(rid, "s.txt", b"secret")
    assert private["id"] not in [p["id"] for p in other.list_projects()]
    H = bearer(auth.keys["other"])
    overview = requests.get(auth.url + "/api/v1/projects/overview", headers=H, timeout=30).json()
    assert private["id"] not in [p["id"] for p in overview["projects"]]
    for path in (f"/api/v1/projects/{private['id']}", f"/api/v1/projects/{private['id']}/keys",
                 f"/api/v1/projects/{private['id']}/run-table", f"/api/v1/runs?project_id={private['id']}",
                 f"/api/v1/projects?name={private['name']}",
                 f"/api/v1/runs/{rid}", f"/api/v1/runs/{rid}/overview", f"/api/v1/runs/{rid}/metrics/history?key=secret",
                 f"/api/v1/runs/{rid}/media", f"/api/v1/runs/{rid}/console", f"/api/v1/runs/{rid}/media-index",
                 f"/api/v1/runs/{rid}/console/search", f"/api/v1/runs/{rid}/artifacts",
                 f"/api/v1/runs/{rid}/artifacts/s.txt", f"/api/v1/runs/{rid}/artifact-preview?path=s.txt",
                 f"/api/v1/metric-keys?run_id={rid}", f"/api/v1/series/buckets?run_id={rid}&key=secret"):
        _v1_error(requests.get(auth.url + path, headers=H, timeout=30), 403, "PERMISSION_DENIED")
    for method, path, body in (("PATCH", f"/api/v1/runs/{rid}", {"name": "x"}),
                               ("DELETE", f"/api/v1/runs/{rid}", None),
                               ("POST", f"/api/v1/runs/{rid}/batches", {"idempotency_key": "k"}),
                               ("POST", "/api/v1/runs", {"project_id": private["id"]}),
                               ("POST", "/api/v1/runs", {"project": private["name"]}),
                               ("POST", "/api/v1/projects", {"name": f"{auth.names['member']}/squat"})):
        _v1_error(requests.request(method, auth.url + path, headers=H, json=body, timeout=30), 403,
                  "PERMISSION_DENIED")
    _v1_error(requests.put(auth.url + f"/api/v1/runs/{rid}/artifacts/t.txt", headers=H, data=b"x", timeout=30), 403,
              "PERMISSION_DENIED")
    assert [f["path"] for f in member.list_artifacts(rid)] == ["s.txt"]


# -- admin routes, workspaces ---------------------------------------------------------------------------
def test_admin_manages_users_and_keys(auth):
    admin = bearer(auth.keys["admin"])
    name = f"u{uuid.uuid4().hex[:6]}"
    r = requests.post(auth.url + "/api/v1/users", headers=admin, json={"name": name, "role": "viewer"}, timeout=30)
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]
    assert Client(auth.url, api_key=key, retries=0).me()["user"] == {"name": name, "role": "viewer",
                                                                     "display_name": None}
    r = requests.post(auth.url + f"/api/v1/users/{name}/keys", headers=admin, json={"description": "ci"}, timeout=30)
    second = r.json()["api_key"]
    keys = requests.get(auth.url + f"/api/v1/users/{name}/keys", headers=admin, timeout=30).json()["keys"]
    assert len(keys) == 2 and all(set(k) == {"prefix", "description", "created_time", "revoked_time"} for k in keys)
    assert key not in json.dumps(keys) and second not in json.dumps(keys)
    assert requests.delete(auth.url + f"/api/v1/keys/{second[:11]}", headers=admin, timeout=30).json()["revoked"] == 1
    _refused(lambda: Client(auth.url, api_key=second, retries=0).me(), 401, "UNAUTHENTICATED")
    r = requests.patch(auth.url + f"/api/v1/users/{name}", headers=admin, json={"role": "member"}, timeout=30)
    assert r.json()["user"]["role"] == "member"
    Client(auth.url, api_key=key, retries=0).create_project(_name("promoted"))
    requests.patch(auth.url + f"/api/v1/users/{name}", headers=admin, json={"disabled": True}, timeout=30)
    _refused(lambda: Client(auth.url, api_key=key, retries=0).me(), 401, "UNAUTHENTICATED")
    for bad in ({"name": "../x"}, {"name": name}, {"name": "ok", "role": "god"}, {"name": 5}):
        r = requests.post(auth.url + "/api/v1/users", headers=admin, json=bad, timeout=30)
        assert r.status_code == 400, (bad, r.text)


def test_workspace_members(auth):
    admin, member, other = bearer(auth.keys["admin"]), _client(auth, "member"), _client(auth, "other")
    owner = auth.names["member"]
    private = member.create_project(f"{owner}/{_name('team')}")
    rid = member.create_run(project_id=private["id"])["run_id"]
    _refused(lambda: other.get_run(rid), 403, "PERMISSION_DENIED")
    # the owner lets `other` read its workspace
    r = requests.put(auth.url + f"/api/v1/workspaces/{owner}/members/{auth.names['other']}",
                     headers=bearer(auth.keys["member"]), json={"role": "viewer"}, timeout=30)
    assert r.status_code == 200, r.text
    assert other.get_run(rid)["run_id"] == rid
    _refused(lambda: other.write_batch(rid, metrics={"key": ["x"], "value": [1.0]}), 403, "PERMISSION_DENIED")
    # ... then write it
    requests.put(auth.url + f"/api/v1/workspaces/{owner}/members/{auth.names['other']}", headers=admin,
                 json={"role": "member"}, timeout=30)
    other.write_batch(rid, metrics={"key": ["x"], "value": [1.0]})
    members = requests.get(auth.url + f"/api/v1/workspaces/{owner}/members", headers=bearer(auth.keys["other"]),
                           timeout=30).json()["members"]
    assert {(m["user"], m["role"]) for m in members} == {(owner, "owner"), (auth.names["other"], "member")}
    # a member that is not the owner cannot hand out access; nor can a viewer
    r = requests.put(auth.url + f"/api/v1/workspaces/{owner}/members/{auth.names['viewer']}",
                     headers=bearer(auth.keys["other"]), json={"role": "member"}, timeout=30)
    _v1_error(r, 403, "PERMISSION_DENIED")
    requests.delete(auth.url + f"/api/v1/workspaces/{owner}/members/{auth.names['other']}",
                    headers=bearer(auth.keys["member"]), timeout=30)
    _refused(lambda: other.get_run(rid), 403, "PERMISSION_DENIED")
    # a team workspace made by the admin: its projects are `team/...`
    team = f"team{uuid.uuid4().hex[:6]}"
    assert requests.post(auth.url + "/api/v1/workspaces", headers=admin, json={"name": team},
                         timeout=30).status_code == 201
    _refused(lambda: member.create_project(f"{team}/p"), 403, "PERMISSION_DENIED")
    requests.put(auth.url + f"/api/v1/workspaces/{team}/members/{auth.names['member']}", headers=admin,
                 json={"role": "member"}, timeout=30)
    member.create_project(f"{team}/p")
    assert team in [w["name"] for w in requests.get(auth.url + "/api/v1/workspaces", headers=bearer(
        auth.keys["member"]), timeout=30).json()["workspaces"]]
    assert team not in [w["name"] for w in requests.get(auth.url + "/api/v1/workspaces", headers=bearer(
        auth.keys["other"]), timeout=30).json()["workspaces"]]


def test_cli_users_and_keys(auth):
    uri = auth.server.backend_store_uri

    def swan(*args, check=True):
        return subprocess.run([sys.executable, "-m", "swan_client.cli", *args, "--backend-store-uri", uri],
                              capture_output=True, text=True, check=check)

    name = f"cli{uuid.uuid4().hex[:6]}"
    key = create_user(auth.server, name, "member")
    assert Client(auth.url, api_key=key, retries=0).me()["user"]["role"] == "member"
    listing = swan("users", "list").stdout
    assert f"{name}\tmember\tactive" in listing and f"{auth.names['viewer']}\tviewer\tactive" in listing
    assert key not in listing
    out = swan("keys", "create", name).stdout
    second = out.strip().splitlines()[-1]
    assert Client(auth.url, api_key=second, retries=0).me()["user"]["name"] == name
    swan("keys", "revoke", second[:11])
    _refused(lambda: Client(auth.url, api_key=second, retries=0).me(), 401, "UNAUTHENTICATED")
    assert Client(auth.url, api_key=key, retries=0).me()["user"]["name"] == name
    swan("users", "disable", name)
    _refused(lambda: Client(auth.url, api_key=key, retries=0).me(), 401, "UNAUTHENTICATED")
    assert swan("users", "create", "bad name!", check=False).returncode != 0
    assert swan("users", "create", "x", "--role", "god", check=False).returncode != 0


# -- the dashboard's session ---------------------------------------------------------------------------------
def test_dashboard_session_cookie_and_csrf(auth):
    s = requests.Session()
    r = s.post(auth.url + "/api/v1/auth/login", json={"api_key": "swan_wrong"}, timeout=30)
    _v1_error(r, 401, "UNAUTHENTICATED")
    r = s.post(auth.url + "/api/v1/auth/login", json={"api_key": auth.keys["member"]}, timeout=30)
    assert r.status_code == 200, r.text
    cookies = {c.split("=", 1)[0]: c for c in r.raw.headers.getlist("Set-Cookie")}
    assert "HttpOnly" in cookies["swan_session"] and "SameSite=Lax" in cookies["swan_session"]
    assert "Secure" not in cookies["swan_session"]  # plain http here
    assert "HttpOnly" not in cookies["swan_csrf"]
    token = r.json()["csrf_token"]
    assert s.cookies["swan_csrf"] == token
    assert s.get(auth.url + "/api/v1/me", timeout=30).json()["user"]["name"] == auth.names["member"]
    # a state-changing call on the cookie alone (what a cross-site form could send) is refused
    name = _name("cookie")
    _v1_error(s.post(auth.url + "/api/v1/projects", json={"name": name}, timeout=30), 403, "PERMISSION_DENIED")
    _v1_error(s.post(auth.url + "/api/v1/projects", json={"name": name}, headers={"X-CSRF-Token": "f" * 64},
                     timeout=30), 403, "PERMISSION_DENIED")
    r = s.post(auth.url + "/api/v1/projects", json={"name": name}, headers={"X-CSRF-Token": token}, timeout=30)
    assert r.status_code == 201, r.text
    # the cookie works on the MLflow routes too (same rules)
    r = s.post(auth.url + "/api/2.0/mlflow/experiments/create", json={"name": _name()}, timeout=30)
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"
    assert s.get(auth.url + "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name},
                 timeout=30).status_code == 200
    # logout ends the session for good
    old = s.cookies["swan_session"]
    s.post(auth.url + "/api/v1/auth/logout", headers={"X-CSRF-Token": token}, timeout=30)
    assert "swan_session" not in s.cookies
    r = requests.get(auth.url + "/api/v1/me", cookies={"swan_session": old}, timeout=30)
    _v1_error(r, 401, "UNAUTHENTICATED")
    # the page itself and its assets need no login (it shows the login form)
    assert requests.get(auth.url + "/", timeout=30).status_code in (200, 503)


def test_keys_never_reach_the_logs(auth):
    key, sid = auth.keys["member"], None
    requests.get(auth.url + "/api/v1/me", headers=bearer(key), timeout=30)
    requests.get(auth.url + "/api/2.0/mlflow/experiments/search", headers=basic(auth.names["member"], key), timeout=30)
    requests.get(auth.url + "/api/v1/me", headers=bearer(key + "wrong"), timeout=30)
    sid = requests.post(auth.url + "/api/login/api_key", headers={"authorization": key}, timeout=30).json()["sid"]
    requests.get(auth.url + "/api/project/admin/none", cookies={"sid": sid}, timeout=30)
    session = requests.post(auth.url + "/api/v1/auth/login", json={"api_key": key}, timeout=30).cookies["swan_session"]
    requests.get(auth.url + "/api/v1/me", cookies={"swan_session": session}, timeout=30)
    time.sleep(0.5)  # let the access-log lines reach the file
    log = auth.server.log_path.read_text(errors="replace")
    assert '"route": "/api/v1/me"' in log  # the access log is on
    import base64

    # (the admin key generated at first start is printed once, on purpose: not a request's key)
    for secret in (key, key + "wrong", sid, session, base64.b64encode(f"{auth.names['member']}:{key}".encode()).decode()):
        assert secret not in log
    assert "Authorization" not in log and "Cookie" not in log


# -- the failed-login rate limit --------------------------------------------------------------------------------------
def _get_from(source_ip: str, port: int, path: str, headers: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source_ip, 0))
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, dict(resp.getheaders())
    finally:
        conn.close()


def test_failed_logins_are_rate_limited_across_workers(tmp_path):
    limited = start_auth_server(tmp_path / "rl", extra_env={"SWAN_LOGIN_MAX_FAILURES": "5"}, workers=2)
    try:
        url, port = limited.url, limited.server.port
        good = limited.keys["member"]
        for _ in range(5):
            r = requests.get(url + "/api/v1/me", headers=bearer("swan_wrong"), timeout=30)
            _v1_error(r, 401, "UNAUTHENTICATED")
        r = requests.get(url + "/api/v1/me", headers=bearer("swan_wrong"), timeout=30)
        _v1_error(r, 429, "REQUEST_LIMIT_EXCEEDED")
        assert int(r.headers["Retry-After"]) >= 1
        # while locked out, the address learns nothing: a right key is refused too, on every face
        _v1_error(requests.get(url + "/api/v1/me", headers=bearer(good), timeout=30), 429, "REQUEST_LIMIT_EXCEEDED")
        r = requests.get(url + "/api/2.0/mlflow/experiments/search", headers=bearer(good), timeout=30)
        assert r.status_code == 429 and r.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        r = requests.post(url + "/api/login/api_key", headers={"authorization": good}, timeout=30)
        assert r.status_code == 429 and set(r.json()) == {"code", "message"} and "Retry-After" in r.headers
        r = requests.post(url + "/api/v1/auth/login", json={"api_key": good}, timeout=30)
        _v1_error(r, 429, "REQUEST_LIMIT_EXCEEDED")
        # another address is not locked out ...
        assert _get_from("127.0.0.2", port, "/api/v1/me", bearer(good))[0] == 200
        # ... but a user name guessed from many addresses is (Basic auth names the user)
        name = limited.names["viewer"]
        statuses = [_get_from(f"127.0.0.{i}", port, "/api/v1/me", basic(name, "swan_wrong"))[0] for i in range(3, 8)]
        assert statuses == [401] * 5
        status, headers = _get_from("127.0.0.9", port, "/api/v1/me", basic(name, limited.keys["viewer"]))
        assert status == 429 and int(headers["Retry-After"]) >= 1
        assert _get_from("127.0.0.9", port, "/api/v1/me", bearer(limited.keys["viewer"]))[0] == 200
    finally:
        limited.stop()


# -- authentication off --------------------------------------------------------------------------------------------
def test_without_auth_anonymous_is_admin_but_presented_keys_count(server, unique_name):
    url = server.url
    assert requests.post(url + "/api/2.0/mlflow/experiments/create", json={"name": unique_name},
                         timeout=30).status_code == 200
    for headers in (bearer("swan_wrong"), basic("admin", "swan_wrong")):
        r = requests.get(url + "/api/2.0/mlflow/experiments/search", headers=headers, timeout=30)
        assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED"
    viewer = create_user(server, f"v{uuid.uuid4().hex[:6]}", "viewer")
    r = requests.post(url + "/api/2.0/mlflow/experiments/create", json={"name": unique_name + "-v"},
                      headers=bearer(viewer), timeout=30)
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"
    assert requests.get(url + "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": unique_name},
                        headers=bearer(viewer), timeout=30).status_code == 200
    # a stale dashboard cookie is ignored rather than refused
    assert requests.get(url + "/api/v1/projects", cookies={"swan_session": "old"}, timeout=30).status_code == 200


def _server_output(tmp_path, *extra) -> tuple[str, str]:
    """Start `swan server` with these options until it is healthy, stop it; (stdout, stderr)."""
    import signal

    tmp_path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "SWAN_HOME": str(tmp_path)}
    out_path, err_path = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "swan_client.cli", "server", "--port", str(port), *extra],
                                env=env, stdout=out, stderr=err, start_new_session=True)
        healthy = False
        try:
            deadline = time.time() + 120
            while time.time() < deadline and proc.poll() is None and not healthy:
                try:
                    healthy = requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
                except requests.RequestException:
                    pass
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
    assert healthy, err_path.read_text()[-3000:]
    return out_path.read_text(), err_path.read_text()


def test_non_loopback_bind_without_auth_warns(tmp_path):
    out, err = _server_output(tmp_path / "open", "--host", "0.0.0.0")
    assert "WARNING" in err and "without authentication" in err and "--auth" in err
    assert "authentication: off" in out
    out, err = _server_output(tmp_path / "closed", "--host", "0.0.0.0", "--auth")
    assert "WARNING" not in err and "authentication: on" in out
    out, err = _server_output(tmp_path / "local", "--host", "127.0.0.1")
    assert "WARNING" not in err



def test_browser_links_lead_to_the_login_page(tmp_path):
    """A page outside the APIs (such as the run links the SwanLab SDK prints) sends a browser
    without a session to the dashboard's login, which brings it back afterwards."""
    from swan_server.app import create_app
    from swan_server.config import Settings

    app = create_app(Settings(backend_store_uri=f"sqlite:///{tmp_path / 'x.db'}",
                              artifacts_destination=str(tmp_path / "a"), auth=True))
    app.add_url_rule("/@<ws>/<project>", "page_probe", lambda ws, project: "the page")
    client = app.test_client()
    r = client.get("/@alice/mnist?x=1", headers={"Accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 302 and r.headers["Location"] == "/?next=/%40alice/mnist%3Fx%3D1"
    assert client.get("/@alice/mnist").status_code == 401  # not a browser: the API answer
    r = client.get("/api/v1/me", headers={"Accept": "text/html"})
    assert r.status_code == 401 and r.json["error"]["code"] == "UNAUTHENTICATED"


def test_trusted_proxies_decide_whose_address_is_rate_limited(tmp_path):
    """Behind a proxy (--trusted-proxies 1) the limit follows the X-Forwarded-For address, so one
    client guessing keys does not lock out everyone behind the same proxy; without the setting
    the header is ignored, so a client cannot escape the limit by naming another address."""
    for trusted in (1, 0):
        srv = start_auth_server(tmp_path / f"proxy{trusted}",
                                extra_env={"SWAN_LOGIN_MAX_FAILURES": "3", "SWAN_TRUSTED_PROXIES": str(trusted)})
        try:
            me = srv.url + "/api/v1/me"
            for _ in range(3):
                r = requests.get(me, headers={**bearer("swan_wrong"), "X-Forwarded-For": "10.9.0.1"}, timeout=30)
                _v1_error(r, 401, "UNAUTHENTICATED")
            r = requests.get(me, headers={**bearer("swan_wrong"), "X-Forwarded-For": "10.9.0.1"}, timeout=30)
            _v1_error(r, 429, "REQUEST_LIMIT_EXCEEDED")
            other = requests.get(me, headers={**bearer(srv.keys["member"]), "X-Forwarded-For": "10.9.0.2"}, timeout=30)
            if trusted:
                assert other.status_code == 200, other.text
            else:
                _v1_error(other, 429, "REQUEST_LIMIT_EXCEEDED")
        finally:
            srv.stop()


# -- every route ---------------------------------------------------------------------------------------
# The endpoints anyone may call, each with the reason. The test below fails when an endpoint joins
# or leaves swan_server.auth.hook.PUBLIC_ENDPOINTS without this list changing with it.
PUBLIC_BY_DESIGN = {
    "health": "load balancers and container health checks carry no key",
    "swanlab.ping": "the SwanLab SDK's `GET /api` reachability check comes before its login",
    "swanlab.login": "the SDK's login: it checks the key it is sent",
    "v1.auth_login": "the dashboard's login: it checks the key it is sent",
    "v1.auth_logout": "ends the session its cookie names, if any; nothing to protect",
    "swanlab.signed_upload": "a URL the server signed: the signature is the credential",
    "swanlab.signed_download": "a URL the server signed: the signature is the credential",
    "ui_index": "the dashboard's shell, which shows the login form",
    "ui_asset": "the shell's scripts and styles, needed to show the login form",
    "static": "Flask's static files (the dashboard's, when built in)",
}


def _fill_path_variables(rule: str) -> str:
    """A plausible value for each `<variable>` of a rule: a refusal must come from the missing
    credentials, not from a URL that matches nothing."""
    import re

    samples = {"run_id": "a" * 32, "model_id": "m-" + "0" * 32, "trace_id": "tr-" + "0" * 32,
               "artifact_path": "0/x.txt", "path": "x.txt", "tag_key": "k", "kind": "scalar", "cuid": "c0123456789",
               "token": "eyJ4Ijo.x", "prefix": "swan_AbCdEf"}
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: samples.get(m.group(1), "admin"), rule)


def _error_format(endpoint: str) -> str:
    if endpoint.startswith("v1."):
        return "v1"
    if endpoint.startswith("swanlab."):
        return "swanlab"
    return "mlflow"  # the MLflow routes and the rest (/metrics, /version, the SDK's web links)


def test_public_endpoints_are_exactly_the_allow_list():
    from swan_server.auth.hook import PUBLIC_ENDPOINTS

    assert set(PUBLIC_ENDPOINTS) == set(PUBLIC_BY_DESIGN)


def test_every_route_but_the_public_ones_is_401_without_credentials(auth):
    """Walk the app's url_map: every method of every endpoint outside the allow-list answers 401
    in its face's error format to a request without credentials and to one with a wrong key,
    whatever the (filled-in) path variables."""
    from tests.auth_support import app_rules

    checked = set()
    failures = []
    for rule in app_rules():
        if rule.endpoint in PUBLIC_BY_DESIGN:
            continue
        path = _fill_path_variables(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for headers in ({}, bearer("swan_wrong"), {"Cookie": "sid=forged; swan_session=forged"}):
                r = requests.request(method, auth.url + path, headers=headers, timeout=30, allow_redirects=False,
                                     data=b"{}" if method in ("POST", "PUT", "PATCH") else None)
                face = _error_format(rule.endpoint)
                try:
                    body = r.json()
                    shaped = {"v1": lambda b: b["error"]["code"] == "UNAUTHENTICATED",
                              "swanlab": lambda b: set(b) == {"code", "message"} and b["code"] == "UNAUTHENTICATED",
                              "mlflow": lambda b: b["error_code"] == "UNAUTHENTICATED"}[face](body)
                except (ValueError, KeyError, TypeError):
                    shaped = False
                if r.status_code != 401 or not shaped:
                    failures.append((method, path, rule.endpoint, headers, r.status_code, r.text[:200]))
            checked.add(rule.endpoint)
    assert not failures, failures[:10]
    # the walk reached every face (and the signed export download, which is not a signed URL of
    # the public kind: it needs the caller's own credentials)
    assert {"metrics", "mlflow:/version:GET", "swanlab.export_download", "swanlab.self_hosted_users",
            "v1.list_users", "swanlab_web.run_page", "mlflow:/get-artifact:GET"} <= checked
    assert len(checked) > 200
    # the public ones answer without credentials
    assert requests.get(auth.url + "/health", timeout=30).text == "OK"
    assert requests.get(auth.url + "/api", timeout=30).text == "OK"
