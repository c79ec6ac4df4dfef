"""The SwanLab wire protocol at HTTP level: auth, projects, experiments, error discipline (4xx with
`{code, message}`, never a 500), idempotency, presigned uploads, legacy routes, crash detection."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests

from swan_server.artifacts.presign import UploadSigner
from swan_server.errors import SwanError
from tests.auth_support import create_user
from tests.server import LiveServer
from tests.swanlab_support import SwanLabHttp, admin_key, all_artifacts, mlflow_run


@pytest.fixture()
def sl(server):
    return SwanLabHttp(server.url, admin_key(server))


def _name(prefix="p"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _is_error(resp, status):
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert set(body) == {"code", "message"} and body["message"], body
    return body


def _scalar(project_id, cuid, points, key="loss"):
    return {"type": "scalar", "projectId": project_id, "experimentId": cuid,
            "metrics": [{"key": key, "index": i, "data": v, "create_time": "2026-11-28T23:19:29.461424Z"}
                        for i, v in points]}


def test_ping_and_login(server, api):
    ping = api.get("/api")
    assert ping.status_code == 200 and ping.text == "OK"
    login = api.post("/api/login/api_key", headers={"authorization": admin_key(server)})
    assert login.status_code == 200
    body = login.json()
    expires = datetime.strptime(body["expiredAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert (expires - datetime.now(timezone.utc)).days >= 7
    assert body["userInfo"]["username"] == "admin" and body["sid"]
    _is_error(api.post("/api/login/api_key"), 401)


def test_session_cookie_is_required(server, api, sl):
    project = _name()
    for resp in (api.get(f"/api/project/admin/{project}"), api.post("/api/house/metrics", json={}),
                 api.post("/api/projects/admin", json={"name": project}, cookies={"sid": "forged"})):
        _is_error(resp, 401)
    assert sl.get(f"/project/admin/{project}").status_code == 404


def test_project_get_or_create(sl, mlflow_client):
    name = _name()
    missing = sl.get(f"/project/admin/{name}")
    assert missing.status_code == 404 and missing.reason == "Not Found"
    assert sl.post("/projects/admin", json={"name": name, "visibility": "PUBLIC"}).status_code == 201
    assert sl.post("/projects/admin", json={"name": name, "visibility": "PUBLIC"}).status_code == 200
    proj = sl.get(f"/project/admin/{name}").json()
    assert proj["version"] == 1 and proj["group"]["username"] == "admin" and proj["path"] == f"/admin/{name}"
    assert proj["_count"]["experiments"] == 0 and proj["visibility"] == "PUBLIC"
    assert mlflow_client.get_experiment_by_name(name).experiment_id == proj["cuid"]
    assert sl.experiment(name, _name("c")).status_code == 201
    assert sl.get(f"/project/admin/{name}").json()["_count"]["experiments"] == 1
    _is_error(sl.post("/projects/admin", json={"name": "a/b"}), 400)
    _is_error(sl.post("/projects/admin", json={}), 400)


def test_experiment_create_resume_and_state(sl, mlflow_client):
    project, cuid = _name(), _name("c")
    pid = sl.project(project)["cuid"]
    created = sl.experiment(project, cuid, name="first", description="d", labels=[{"name": "x"}],
                            createdAt="2026-11-28T23:19:26.602232Z")
    assert created.status_code == 201 and created.json()["name"] == "first" and created.json()["cuid"] == cuid
    run = mlflow_run(mlflow_client, cuid)
    created_ms = int(datetime(2026, 11, 28, 23, 19, 26, 602232, tzinfo=timezone.utc).timestamp() * 1000)
    assert run.info.start_time == created_ms and run.info.status == "RUNNING"
    assert sl.put(f"/project/admin/{project}/runs/{cuid}/state",
                  json={"state": "CRASHED", "finishedAt": "2026-11-28T23:20:00.000000Z", "from": "sdk"}).ok
    assert mlflow_run(mlflow_client, cuid).info.status == "FAILED"
    assert sl.get(f"/project/admin/{project}/runs/{cuid}").json()["state"] == "CRASHED"
    again = sl.experiment(project, cuid, name="renamed")
    assert again.status_code == 200 and again.json()["name"] == "first"
    assert again.json()["createdAt"] == "2026-11-28T23:19:26.602Z"
    assert mlflow_run(mlflow_client, cuid).info.status == "RUNNING"  # resume flips it back
    assert sl.put(f"/project/admin/{project}/runs/{cuid}/state", json={"state": "ABORTED"}).ok
    assert mlflow_run(mlflow_client, cuid).info.status == "KILLED"
    _is_error(sl.put(f"/project/admin/{project}/runs/{cuid}/state", json={"state": "DONE"}), 400)
    assert sl.post(f"/house/experiments/{cuid}/heartbeat", json={"flagId": "123456"}).status_code == 201
    assert pid


def test_cuid_of_another_project_is_refused(sl):
    a, b, cuid = _name(), _name(), _name("c")
    pid_a, pid_b = sl.project(a)["cuid"], sl.project(b)["cuid"]
    assert sl.experiment(a, cuid).status_code == 201
    _is_error(sl.experiment(b, cuid), 409)
    _is_error(sl.post("/house/metrics", json=_scalar(pid_b, cuid, [(0, 1.0)])), 409)
    _is_error(sl.get(f"/project/admin/{b}/runs/{cuid}"), 409)
    _is_error(sl.get(f"/house/metrics/summaries/{pid_b}/{cuid}"), 409)
    assert sl.post("/house/metrics", json=_scalar(pid_a, cuid, [(0, 1.0)])).status_code == 201


def test_web_links_the_sdk_prints_redirect_to_the_dashboard(server, sl, mlflow_client):
    """`View project at <host>/@<workspace>/<project>`, `View run at .../runs/<slug>`: a browser
    (no session) lands on the dashboard's pages."""
    project, other, cuid = _name(), _name(), _name("c")
    pid = sl.project(project)["cuid"]
    sl.project(other)
    assert sl.experiment(project, cuid).status_code == 201
    run_id = mlflow_run(mlflow_client, cuid).info.run_id
    for path, page in ((f"/@admin/{project}", f"/projects/{pid}"), (f"/@admin/{project}/", f"/projects/{pid}"),
                       (f"/@admin/{project}/runs/{cuid}", f"/runs/{run_id}")):
        resp = requests.get(server.url + path, allow_redirects=False, timeout=60)
        assert resp.status_code == 302 and resp.headers["Location"] == page, (path, resp.status_code, resp.text[:200])
    for path in (f"/@admin/{_name()}", f"/@admin/{_name()}/runs/{cuid}", f"/@admin/{other}/runs/{cuid}",
                 f"/@admin/{project}/runs/nope", f"/@nobody/{project}"):
        assert requests.get(server.url + path, allow_redirects=False, timeout=60).status_code == 404, path


def test_web_links_follow_the_access_policy(tmp_path):
    """With --auth a link needs credentials, and a user who may not read the workspace gets a 404
    (not even the project's id)."""
    srv = LiveServer(tmp_path / "home", extra_env={"SWAN_AUTH": "true"}).start()
    try:
        keys = {name: create_user(srv, name, "member") for name in ("owner", "outsider")}
        sl = SwanLabHttp(srv.url, keys["owner"])
        project, cuid = _name(), _name("c")
        pid = sl.project(project, workspace="owner")["cuid"]
        assert sl.experiment(project, cuid, workspace="owner").status_code == 201
        link = f"{srv.url}/@owner/{project}"
        assert requests.get(link, allow_redirects=False, timeout=60).status_code == 401
        for path in (link, f"{link}/runs/{cuid}"):
            resp = requests.get(path, headers={"Authorization": f"Bearer {keys['outsider']}"}, allow_redirects=False,
                                timeout=60)
            assert resp.status_code == 404, (path, resp.status_code, resp.text[:200])
        resp = requests.get(link, headers={"Authorization": f"Bearer {keys['owner']}"}, allow_redirects=False,
                            timeout=60)
        assert resp.status_code == 302 and resp.headers["Location"] == f"/projects/{pid}"
    finally:
        srv.stop()


def test_unknown_things_are_404_not_500(sl):
    project = _name()
    pid = sl.project(project)["cuid"]
    resp = sl.get(f"/project/admin/{project}/runs/nope")
    assert resp.status_code == 404 and resp.reason == "Not Found"  # the SDK compares the phrase
    _is_error(sl.post("/house/metrics", json=_scalar(pid, "nope", [(0, 1.0)])), 404)
    _is_error(sl.post("/house/experiments/nope/heartbeat", json={}), 404)
    _is_error(sl.experiment(_name("missing-project"), "c1"), 404)
    _is_error(sl.put(f"/project/admin/{project}/runs/nope/profile", json={"config": {}}), 404)


def test_malformed_bodies_are_4xx(sl):
    project, cuid = _name(), _name("c")
    pid = sl.project(project)["cuid"]
    assert sl.experiment(project, cuid).status_code == 201
    bad = [
        sl.post("/house/metrics", data=b"{not json", headers={"Content-Type": "application/json"}),
        sl.post("/house/metrics", json=[1, 2]),
        sl.post("/house/metrics", json={"type": "weird", "projectId": pid, "experimentId": cuid, "metrics": []}),
        sl.post("/house/metrics", json={"type": "scalar", "projectId": pid, "experimentId": cuid, "metrics": "x"}),
        sl.post("/house/metrics", json=_scalar(pid, cuid, [(-1, 1.0)])),
        sl.post("/house/metrics", json=_scalar(pid, cuid, [(0, "abc")])),
        sl.post("/house/metrics", json=_scalar(pid, cuid, [(0, 1.0)], key="")),
        sl.put(f"/project/admin/{project}/runs/{cuid}/profile", json={"config": "not-a-dict"}),
        sl.put(f"/project/admin/{project}/runs/{cuid}/profile", json={"other": 1}),
        sl.post(f"/projects/admin/{project}/series", json={"series": [{"key": "x"}]}),
        sl.post("/resources/presigned/put", json={"experimentId": cuid, "paths": ["../../etc/passwd"]}),
        sl.post("/resources/presigned/put", json={"experimentId": cuid, "paths": ["/abs"]}),
        sl.post("/house/metrics", json={"type": "media", "projectId": pid, "experimentId": cuid,
                                        "metrics": [{"key": "m", "index": 0, "data": ["media/image/../../../x.png"]}]}),
        sl.post(f"/experiment/{cuid}/files/prepare", json={"files": [{"path": "a/../../b"}]}),
    ]
    for resp in bad:
        assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
        assert set(resp.json()) == {"code", "message"}


def test_scalar_batches_are_idempotent_on_run_key_step(sl, mlflow_client):
    project, cuid = _name(), _name("c")
    pid = sl.project(project)["cuid"]
    sl.experiment(project, cuid)
    batch = _scalar(pid, cuid, [(i, i * 0.5) for i in range(100)])
    for _ in range(2):
        assert sl.post("/house/metrics", json=batch).status_code == 201
    changed = _scalar(pid, cuid, [(i, 99.0) for i in range(50, 120)])  # a replay with other values
    changed["metrics"][0]["create_time"] = "2026-11-28T23:30:00Z"
    assert sl.post("/house/metrics", json=changed).status_code == 201
    run = mlflow_run(mlflow_client, cuid)
    history = mlflow_client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(120))
    assert [m.value for m in history[:100]] == [i * 0.5 for i in range(100)]  # nothing overwritten
    logs = {"type": "log", "projectId": pid, "experimentId": cuid,
            "metrics": [{"level": "INFO", "epoch": i, "message": f"line {i}", "create_time": "2026-11-28T23:19:29Z"}
                        for i in range(1, 6)]}
    assert sl.post("/house/metrics", json=logs).status_code == 201
    logs["metrics"][0]["message"] = "changed"
    assert sl.post("/house/metrics", json=logs).status_code == 201
    summary = sl.get(f"/house/metrics/summaries/{pid}/{cuid}", params={"all": "True"}).json()
    assert summary == {"scalar": [{"key": "loss", "step": 119}], "media": [], "log": [{"key": "log", "step": 5}]}
    nan = _scalar(pid, cuid, [(0, "nan")], key="maybe")
    assert sl.post("/house/metrics", json=nan).status_code == 201
    # a step twice in one batch of a new key, then again beyond what is stored: the first point wins
    assert sl.post("/house/metrics", json=_scalar(pid, cuid, [(0, 1.0), (0, 2.0), (1, 3.0)], key="dup")).status_code == 201
    assert sl.post("/house/metrics", json=_scalar(pid, cuid, [(2, 4.0), (2, 5.0), (1, 6.0)], key="dup")).status_code == 201
    dup = mlflow_client.get_metric_history(run.info.run_id, "dup")
    assert [(m.step, m.value) for m in dup] == [(0, 1.0), (1, 3.0), (2, 4.0)]


def test_presigned_media_upload_needs_no_cookie_and_is_signed(server, sl, mlflow_client):
    project, cuid = _name(), _name("c")
    pid = sl.project(project)["cuid"]
    sl.experiment(project, cuid)
    paths = ["media/image/000-abcdef12.png", "media/text/000-12345678.txt"]
    urls = sl.post("/resources/presigned/put", json={"experimentId": cuid, "paths": paths}).json()["urls"]
    assert len(urls) == 2 and all(u.startswith(server.url + "/api/swan/upload/") for u in urls)
    put = requests.put(urls[0], data=b"\x89PNG fake", headers={"Content-Type": "image/png"}, timeout=30)
    assert put.status_code == 200 and put.headers["ETag"].strip('"') == hashlib.md5(b"\x89PNG fake").hexdigest()
    assert requests.put(urls[1], data="hi", timeout=30).ok
    token = urls[0].rsplit("/", 1)[1]
    forged = urls[0][: -len(token)] + token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    _is_error(requests.put(forged, data=b"x", timeout=30), 403)
    media = {"type": "media", "projectId": pid, "experimentId": cuid,
             "metrics": [{"key": "pic", "index": 0, "data": [paths[0]], "more": [{"caption": "c"}],
                          "create_time": "2026-11-28T23:19:29Z"}]}
    assert sl.post("/house/metrics", json=media).status_code == 201
    run = mlflow_run(mlflow_client, cuid)
    files = all_artifacts(mlflow_client, run.info.run_id)
    assert files == {paths[0]: 9, paths[1]: 2}
    summary = sl.get(f"/house/metrics/summaries/{pid}/{cuid}").json()
    assert summary["media"] == [{"key": "pic", "step": 0}]


def test_signer_refuses_expired_and_foreign_tokens():
    signer = UploadSigner("secret-a")
    token = signer.sign({"p": "x"}, 60)
    assert signer.verify(token)["p"] == "x"
    for bad in (UploadSigner("secret-b"), ):
        with pytest.raises(SwanError):
            bad.verify(token)
    with pytest.raises(SwanError):
        signer.verify(signer.sign({"p": "x"}, -5))


def test_user_files_single_and_multipart(server, sl, mlflow_client):
    project, cuid = _name(), _name("c")
    sl.project(project)
    sl.experiment(project, cuid)
    url = sl.post(f"/experiment/{cuid}/files/prepare",
                  json={"files": [{"path": "ckpt/small.bin", "size": 3, "md5": "x", "mimeType": "a/b"}]}).json()["urls"][0]
    assert requests.put(url, data=b"abc", timeout=30).ok
    assert sl.post(f"/experiment/{cuid}/files/complete",
                   json={"files": [{"path": "ckpt/small.bin", "state": "UPLOADED"}]}).status_code == 201
    _is_error(sl.post(f"/experiment/{cuid}/files/complete",
                      json={"files": [{"path": "never-sent.bin", "state": "UPLOADED"}]}), 404)
    prep = sl.post(f"/experiment/{cuid}/files/prepare-multipart",
                   json={"files": [{"path": "big.bin", "size": 9, "md5": "x", "mimeType": "a/b", "count": 3}]}).json()
    (entry,) = prep["files"]
    assert [p["partNumber"] for p in entry["parts"]] == [1, 2, 3]
    etags = []
    for part, chunk in zip(entry["parts"], (b"111", b"222", b"333")):
        resp = requests.put(part["url"], data=chunk, timeout=30)
        assert resp.ok
        etags.append({"partNumber": part["partNumber"], "etag": resp.headers["ETag"].strip('"')})
    done = sl.post(f"/experiment/{cuid}/files/complete-multipart",
                   json={"files": [{"path": "big.bin", "uploadId": entry["uploadId"], "parts": etags}]})
    assert done.status_code == 201, done.text
    _is_error(sl.post(f"/experiment/{cuid}/files/complete-multipart",
                      json={"files": [{"path": "other.bin", "uploadId": entry["uploadId"], "parts": etags}]}), 400)
    run = mlflow_run(mlflow_client, cuid)
    assert all_artifacts(mlflow_client, run.info.run_id) == {"files/big.bin": 9, "files/ckpt/small.bin": 3}


def test_profile_config_metadata_requirements(sl, mlflow_client):
    project, cuid = _name(), _name("c")
    sl.project(project)
    sl.experiment(project, cuid)
    base = f"/project/admin/{project}/runs/{cuid}/profile"
    config = {"lr": {"value": 0.001, "sort": 0, "desc": ""}, "opt": {"value": {"name": "adam", "betas": [0.9, 0.99]},
                                                                    "sort": 1, "desc": ""},
              "bad key!": {"value": 1, "sort": 2, "desc": ""}, "none": {"value": None, "sort": 3, "desc": ""}}
    assert sl.put(base, json={"config": config}).ok
    assert sl.put(base, json={"config": {"lr": {"value": 0.5, "sort": 0, "desc": ""}}}).ok  # params stay immutable
    assert sl.put(base, json={"metadata": {"_version": 2, "hardware": {"cpu": 1}}}).ok
    assert sl.put(base, json={"metadata": {"_version": 2, "hardware": None}}).ok
    assert sl.put(base, json={"requirements": "numpy==2.0\n"}).ok
    assert sl.put(base, json={"conda": "name: x\n"}).ok
    run = mlflow_run(mlflow_client, cuid)
    assert run.data.params == {"lr": "0.001", "opt.name": "adam", "opt.betas": "[0.9, 0.99]", "none": "None"}
    files = all_artifacts(mlflow_client, run.info.run_id)
    assert set(files) == {"swanlab/config.json", "swanlab/metadata.json", "swanlab/requirements.txt",
                          "swanlab/conda.yaml"}


def test_series_and_legacy_columns(sl):
    project, cuid = _name(), _name("c")
    sl.project(project)
    sl.experiment(project, cuid)
    series = {"series": [{"key": "loss", "type": "FLOAT"}, {"key": "__swanlab__.cpu.pct", "type": "SYSTEM"},
                         {"key": "train/loss", "type": "FLOAT", "sectionName": "train", "xAxis": "train/epoch",
                          "hidden": True}]}
    for _ in range(2):
        assert sl.post(f"/projects/admin/{project}/series", json=series).status_code == 201
    legacy = [{"key": "acc", "type": "FLOAT", "class": "CUSTOM", "sectionType": "PUBLIC"},
              {"key": "__swanlab__.mem.pct", "type": "FLOAT", "class": "SYSTEM", "sectionType": "SYSTEM"}]
    assert sl.post(f"/experiment/{cuid}/columns", json=legacy).status_code == 201


def test_legacy_project_creation(sl):
    name = _name()
    first = sl.post("/project", json={"name": name, "visibility": "PRIVATE", "username": "admin"})
    assert first.status_code == 201 and first.json()["username"] == "admin" and first.json()["name"] == name
    again = sl.post("/project", json={"name": name, "visibility": "PRIVATE"})
    assert again.status_code == 409 and again.json()["path"] == f"/admin/{name}"
    assert sl.post("/project/admin", json={"name": _name()}).status_code == 201


def test_other_users_workspace(server, sl, mlflow_client):
    user = f"u{uuid.uuid4().hex[:6]}"
    key = create_user(server, user, "member")
    mine = SwanLabHttp(server.url, key)
    assert mine.login["userInfo"]["username"] == user
    project = mine.project("proj", workspace=user)
    assert project["group"]["username"] == user and project["path"] == f"/{user}/proj"
    assert mlflow_client.get_experiment_by_name(f"{user}/proj").experiment_id == project["cuid"]
    # Another user's workspace is closed to it (the shared `admin` workspace is open to every
    # member: see swan_server/services/access.py).
    other = f"o{uuid.uuid4().hex[:6]}"
    theirs = SwanLabHttp(server.url, create_user(server, other, "member"))
    their_project = theirs.project("theirs", workspace=other)
    _is_error(mine.get(f"/project/{other}/theirs"), 403)
    _is_error(mine.post(f"/projects/{other}", json={"name": "mine-now"}), 403)
    # the admin may look into it; another user's cuid is out of reach for the user
    assert sl.get(f"/project/{user}/proj").status_code == 200
    cuid = _name("c")
    assert theirs.experiment("theirs", cuid, workspace=other).status_code == 201
    _is_error(mine.post("/house/metrics", json=_scalar(their_project["cuid"], cuid, [(0, 1.0)])), 403)


def test_silent_running_runs_are_crashed(tmp_path):
    srv = LiveServer(tmp_path / "hb", extra_env={"SWAN_HEARTBEAT_TIMEOUT": "2"}).start()
    try:
        sl = SwanLabHttp(srv.url, admin_key(srv))
        project = sl.project("hb")
        alive, silent, done = "alive1", "silent1", "done1"
        for cuid in (alive, silent, done):
            assert sl.experiment("hb", cuid).status_code == 201
        assert sl.put(f"/project/admin/hb/runs/{done}/state", json={"state": "FINISHED"}).ok
        deadline = time.time() + 20
        state = None
        # Fresh connections while polling: a stall of a kept-alive connection (seen with
        # gunicorn's gthread worker) must not be mistaken for the server under test.
        sl.session.headers["Connection"] = "close"
        while time.time() < deadline:
            sl.post(f"/house/experiments/{alive}/heartbeat", json={"flagId": "123456"})
            state = sl.get(f"/project/admin/hb/runs/{silent}").json()["state"]
            if state == "CRASHED":
                break
            time.sleep(0.5)
        assert state == "CRASHED"
        assert sl.get(f"/project/admin/hb/runs/{alive}").json()["state"] == "RUNNING"
        assert sl.get(f"/project/admin/hb/runs/{done}").json()["state"] == "FINISHED"
        from mlflow import MlflowClient

        run = MlflowClient(srv.url).search_runs([project["cuid"]], "tags.`swanlab.cuid` = 'silent1'")[0]
        assert run.info.status == "FAILED" and run.info.end_time is not None
        # a resumed run is watched again, and comes back to RUNNING
        assert sl.experiment("hb", silent).status_code == 200
        assert sl.get(f"/project/admin/hb/runs/{silent}").json()["state"] == "RUNNING"
    finally:
        srv.stop()
    assert "Traceback" not in srv.log()
