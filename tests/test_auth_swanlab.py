"""`swan server --auth` with the real swanlab SDK (0.10) and its wire: the SDK logs in with its API
key and works from its `sid` session; no credentials and wrong keys get 401, a viewer's writes and
another user's workspace 403, in SwanLab's `{code, message}` format; a member's run lands."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.auth_support import bearer, start_auth_server
from tests.no5xx import no_5xx  # noqa: F401
from tests.swanlab_support import SwanLabHttp, run_script, sdk_env


@pytest.fixture(scope="module")
def auth(tmp_path_factory):
    a = start_auth_server(tmp_path_factory.mktemp("auth-swanlab"))
    yield a
    a.stop()


def _sdk_run(auth, tmp_path, role, project, workspace=None, check=True):
    cuid = f"c{uuid.uuid4().hex[:10]}"
    ws = f", workspace={workspace!r}" if workspace else ""
    proc = run_script(tmp_path, f"""
        import swanlab
        swanlab.login(host={auth.url!r}, api_key={auth.keys[role]!r})
        swanlab.init(project={project!r}, id={cuid!r}, resume="allow"{ws}, config={{"lr": 0.1}})
        for i in range(3):
            swanlab.log({{"loss": 1.0 / (i + 1)}}, step=i)
        swanlab.finish()
    """, sdk_env(tmp_path), check=check, timeout=180)
    return cuid, proc


def _runs(auth, project_name):
    """The runs of an MLflow experiment, read as the admin."""
    r = auth.get("/api/2.0/mlflow/experiments/get-by-name", auth.keys["admin"],
                 params={"experiment_name": project_name})
    if r.status_code == 404:
        return []
    exp_id = r.json()["experiment"]["experiment_id"]
    r = auth.post("/api/2.0/mlflow/runs/search", auth.keys["admin"], json={"experiment_ids": [exp_id]})
    return r.json().get("runs", [])


def _is_swanlab_error(resp, status):
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert set(body) == {"code", "message"} and body["message"], body
    return body


def test_no_credentials_and_wrong_keys_are_401(auth, tmp_path):
    for method, path in (("GET", "/api/project/admin/x"), ("POST", "/api/projects/admin"),
                         ("POST", "/api/house/metrics"), ("POST", "/api/resources/presigned/put"),
                         ("POST", "/api/experiment/abc/files/prepare"), ("POST", "/api/house/experiments/a/heartbeat")):
        _is_swanlab_error(requests.request(method, auth.url + path, json={}, timeout=30), 401)
        _is_swanlab_error(requests.request(method, auth.url + path, json={}, cookies={"sid": "forged"}, timeout=30), 401)
        _is_swanlab_error(requests.request(method, auth.url + path, json={}, headers=bearer("swan_nope"), timeout=30),
                          401)
    login = requests.post(auth.url + "/api/login/api_key", headers={"authorization": "swan_not-a-key"}, timeout=30)
    _is_swanlab_error(login, 401)
    assert login.reason == "Unauthorized"
    assert requests.get(auth.url + "/api", timeout=30).text == "OK"  # the ping needs nothing
    proc = run_script(tmp_path, f"""
        import swanlab
        swanlab.login(host={auth.url!r}, api_key="swan_not-a-key")
    """, sdk_env(tmp_path), check=False)
    assert proc.returncode != 0 and "AuthenticationError" in proc.stderr


def test_member_logs_runs_with_the_sdk(auth, tmp_path):
    member = auth.names["member"]
    project = f"sdk-{uuid.uuid4().hex[:6]}"
    cuid, _ = _sdk_run(auth, tmp_path / "own", "member", project)  # its own workspace by default
    runs = _runs(auth, f"{member}/{project}")
    assert len(runs) == 1
    metrics = {m["key"]: m["value"] for m in runs[0]["data"]["metrics"]}
    assert metrics["loss"] == pytest.approx(1 / 3)
    # the shared workspace (plain MLflow names) is open to members
    shared = f"shared-{uuid.uuid4().hex[:6]}"
    _sdk_run(auth, tmp_path / "shared", "member", shared, workspace="admin")
    assert len(_runs(auth, shared)) == 1


def test_viewer_can_read_but_not_log(auth, tmp_path):
    project = f"view-{uuid.uuid4().hex[:6]}"
    _sdk_run(auth, tmp_path / "m", "member", project, workspace="admin")
    viewer = SwanLabHttp(auth.url, auth.keys["viewer"])
    assert viewer.get(f"/project/admin/{project}").status_code == 200
    _, proc = _sdk_run(auth, tmp_path / "v", "viewer", project, workspace="admin", check=False)
    assert proc.returncode != 0 and "PERMISSION_DENIED" in proc.stderr, proc.stderr[-3000:]
    assert len(_runs(auth, project)) == 1  # only the member's
    _is_swanlab_error(viewer.post("/projects/admin", json={"name": f"v-{uuid.uuid4().hex[:6]}"}), 403)
    _is_swanlab_error(viewer.post(f"/project/admin/{project}/experiment", json={"name": "x", "cuid": "vx1"}), 403)
    # nor in its own workspace: a viewer only reads
    _is_swanlab_error(viewer.post(f"/projects/{auth.names['viewer']}", json={"name": "mine"}), 403)


def test_other_users_workspace_is_403(auth, tmp_path):
    owner = auth.names["member"]
    project = f"priv-{uuid.uuid4().hex[:6]}"
    cuid, _ = _sdk_run(auth, tmp_path / "o", "member", project)
    other = SwanLabHttp(auth.url, auth.keys["other"])
    _is_swanlab_error(other.get(f"/project/{owner}/{project}"), 403)
    _is_swanlab_error(other.post(f"/projects/{owner}", json={"name": "squat"}), 403)
    _is_swanlab_error(other.post("/house/experiments/" + cuid + "/heartbeat", json={}), 403)
    _is_swanlab_error(other.post("/resources/presigned/put", json={"experimentId": cuid, "paths": ["x.png"]}), 403)
    _is_swanlab_error(other.post(f"/experiment/{cuid}/files/prepare", json={"files": [{"path": "a.txt"}]}), 403)
    _, proc = _sdk_run(auth, tmp_path / "x", "other", project, workspace=owner, check=False)
    assert proc.returncode != 0 and "PERMISSION_DENIED" in proc.stderr, proc.stderr[-3000:]
    assert len(_runs(auth, f"{owner}/{project}")) == 1


def test_swanlab_session_does_not_open_the_admin_routes(auth):
    for role in ("member", "viewer"):
        sid = requests.post(auth.url + "/api/login/api_key", headers={"authorization": auth.keys[role]},
                            timeout=30).json()["sid"]
        # the SwanLab cookie is for the SwanLab routes: elsewhere it is no credential at all
        r = requests.get(auth.url + "/api/v1/users", cookies={"sid": sid}, timeout=30)
        assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"
        r = requests.get(auth.url + "/api/v1/users", headers=bearer(auth.keys[role]), timeout=30)
        assert r.status_code == 403 and r.json()["error"]["code"] == "PERMISSION_DENIED"


def test_admin_only_swanlab_routes_are_403_to_members_and_viewers(auth):
    """The SwanLab routes that need the admin role (listing the instance's users, listing another
    user's workspaces) refuse a member and a viewer with 403 in SwanLab's format, from the SDK's
    `sid` session and from a bare API key alike, even with paging out of range (the role is
    checked first: a refused caller learns nothing from the validation); the admin gets the
    answer."""
    member, viewer = auth.names["member"], auth.names["viewer"]
    admin_only = ["/self_hosted/users", "/self_hosted/users?page=1&size=5", "/self_hosted/users?page=0",
                  f"/user/{viewer}/groups", "/user/admin/groups"]
    for role in ("member", "viewer"):
        lab = SwanLabHttp(auth.url, auth.keys[role])
        for path in admin_only:
            if path == f"/user/{auth.names[role]}/groups":
                continue  # (its own workspaces: tested below)
            body = _is_swanlab_error(lab.get(path), 403)
            assert body["code"] == "PERMISSION_DENIED", (role, path, body)
            keyed = requests.get(auth.url + "/api" + path, headers={"Authorization": auth.keys[role]}, timeout=30)
            _is_swanlab_error(keyed, 403)
        # what they may see of the instance: that they are not its root, and their own workspaces
        info = lab.get("/self_hosted/info")
        assert info.status_code == 200 and info.json()["root"] is False, info.text
        own = lab.get(f"/user/{auth.names[role]}/groups")
        assert own.status_code == 200, own.text
    admin = SwanLabHttp(auth.url, auth.keys["admin"])
    users = admin.get("/self_hosted/users?page=1&size=100")
    assert users.status_code == 200, users.text
    assert {member, viewer, "admin"} <= {u["username"] for u in users.json()["list"]}
    assert admin.get("/self_hosted/info").json()["root"] is True
    groups = admin.get(f"/user/{member}/groups")
    assert groups.status_code == 200 and isinstance(groups.json(), list), groups.text
    # an admin's bad paging is an ordinary 400, in SwanLab's format
    _is_swanlab_error(admin.get("/self_hosted/users?page=0"), 400)
