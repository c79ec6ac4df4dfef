"""The unmodified `swanlab.Api()` query client (SDK 0.10) reading a live Swan server: a run logged
by the real swanlab SDK and one logged with MlflowClient both read back through it, values
compared exactly; unknown projects and runs give the SDK's errors; bad parameters are 4xx with
`{code, message}`. Media logged by the SDK are listed per key and step with their captions and
downloaded through signed URLs that need no credentials and cannot be forged or reused."""

from __future__ import annotations

import base64
import json
import sqlite3
import tempfile
import uuid

import pytest
import requests

from tests.auth_support import create_user
from tests.swanlab_support import SwanLabHttp, admin_key, all_artifacts, mlflow_run, run_script, sdk_env

pytestmark = pytest.mark.timeout(600)

SDK_STEPS = 12
LONG_STEPS = 1800  # more than the 1500 points of a sampled line

SDK_RUN = """
import swanlab
swanlab.login(host={url!r}, api_key={key!r})
run = swanlab.init(project={project!r}, experiment_name="sdk-run", description="logged by swanlab",
                   config={{"lr": 0.01, "epochs": 7, "model": {{"depth": 3, "act": "relu"}}, "flag": True}},
                   tags=["t1", "t2"], group="grp", job_type="train")
for i in range({steps}):
    swanlab.log({{"loss": 1.0 / (i + 1), "train/acc": i * 0.125}}, step=i)
for i in range({long_steps}):
    swanlab.log({{"long": (i * 7919 % 1000) / 1000.0}}, step=i)
print("console line for the log reader")
swanlab.finish()
print("CUID=" + run.id)
"""


def sdk_loss(i):
    return 1.0 / (i + 1)


def sdk_acc(i):
    return i * 0.125


def long_value(i):
    return (i * 7919 % 1000) / 1000.0


def mlflow_loss(i):
    return 2.5 - i * 0.3 + (i % 3) * 0.01


@pytest.fixture(scope="module")
def logged(server, module_mlflow_client, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sdk-openapi")
    project = f"openapi-{uuid.uuid4().hex[:6]}"
    proc = run_script(tmp, SDK_RUN.format(url=server.url, key=admin_key(server), project=project, steps=SDK_STEPS,
                                          long_steps=LONG_STEPS), sdk_env(tmp))
    cuid = proc.stdout.rsplit("CUID=", 1)[1].split()[0]
    client = module_mlflow_client
    exp_id = client.get_experiment_by_name(project).experiment_id
    run = client.create_run(exp_id, run_name="mlflow-run")
    client.log_param(run.info.run_id, "lr", "0.5")
    client.log_param(run.info.run_id, "optimizer", "adam")
    for i in range(9):
        client.log_metric(run.info.run_id, "loss", mlflow_loss(i), step=i * 10)
    client.log_metric(run.info.run_id, "system/gpu", 42.0, step=0)
    client.set_terminated(run.info.run_id)
    return {"project": project, "cuid": cuid, "mlflow_run_id": run.info.run_id, "exp_id": exp_id}


MEDIA_STEPS = (1, 3)
MEDIA_RUN = """
import numpy as np, swanlab
swanlab.login(host={url!r}, api_key={key!r})
run = swanlab.init(project={project!r}, experiment_name="media-run")
for step in {steps!r}:
    img = np.zeros((8, 8, 3), dtype=np.uint8); img[:, :step] = 255
    other = np.full((6, 6, 3), 10 * step, dtype=np.uint8)
    swanlab.log({{"samples/img": [swanlab.Image(img, caption=f"image at {{step}}"),
                                  swanlab.Image(other, caption=f"second at {{step}}")],
                 "notes": swanlab.Text(f"text at step {{step}}"),
                 "sound": swanlab.Audio(np.sin(np.linspace(0, 44 * step, 800)).astype("float32"), sample_rate=8000)}},
                step=step)
    swanlab.log({{"loss": 0.5 * step}}, step=step)
swanlab.finish()
print("CUID=" + run.id)
"""


@pytest.fixture(scope="module")
def media_run(server, module_mlflow_client, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sdk-media")
    project = f"media-{uuid.uuid4().hex[:6]}"
    proc = run_script(tmp, MEDIA_RUN.format(url=server.url, key=admin_key(server), project=project,
                                            steps=MEDIA_STEPS), sdk_env(tmp))
    cuid = proc.stdout.rsplit("CUID=", 1)[1].split()[0]
    run_id = mlflow_run(module_mlflow_client, cuid).info.run_id
    stored = {}  # artifact path (relative to the run) -> bytes, as Swan keeps them
    with tempfile.TemporaryDirectory() as d:
        for path in all_artifacts(module_mlflow_client, run_id, "media"):
            with open(module_mlflow_client.download_artifacts(run_id, path, d), "rb") as f:
                stored[path] = f.read()
    exp_id = module_mlflow_client.get_experiment_by_name(project).experiment_id
    return {"project": project, "cuid": cuid, "run_id": run_id, "exp_id": exp_id, "stored": stored}


@pytest.fixture(scope="module")
def api(server, tmp_path_factory):
    home = tmp_path_factory.mktemp("openapi-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("HOME", str(home))
    mp.setenv("SWANLAB_ROOT", str(home / "swanlab-root"))
    import swanlab

    yield swanlab.Api(api_key=admin_key(server), host=server.url)
    mp.undo()


def _points(metric: dict) -> list[tuple]:
    return [(p["index"], p["data"]) for p in metric["metrics"]]


def _by_key(result: dict) -> dict:
    return {m["key"]: m for m in result["list"]}


def test_constructor_user_workspaces_and_self_hosted(api):
    assert api.username == "admin"
    user = api.user()
    assert user.wrapper().ok and user.username == "admin" and user.email == ""
    ws = api.workspace()
    assert ws.wrapper().ok and ws.username == "admin" and ws.workspace_type == "PERSON" and ws.role == "OWNER"
    assert "admin" in [w.username for w in api.workspaces()]
    sh = api.self_hosted()
    assert sh.wrapper().ok and sh.enabled and not sh.expired and sh.root
    assert "admin" in [u["username"] for u in sh.get_users()]


def test_projects_read_back(api, logged):
    project = api.project(f"admin/{logged['project']}")
    assert project.wrapper().ok
    assert project.name == logged["project"] and project.project_id == logged["exp_id"]
    assert project.path == f"/admin/{logged['project']}" and project.count["experiments"] == 2
    listed = list(api.projects("admin", search=logged["project"]))
    assert [p.name for p in listed] == [logged["project"]] and listed[0].project_id == logged["exp_id"]
    assert logged["project"] in [p.name for p in api.projects("admin", all=True, size=10)]
    created = api.create_project(name=f"made-{uuid.uuid4().hex[:6]}", description="by the query client")
    assert created is not None and api.project(created.path.lstrip("/")).wrapper().ok
    assert api.project(created.path.lstrip("/")).count["experiments"] == 0


def test_runs_list_with_config_state_and_filters(api, logged):
    path = f"admin/{logged['project']}"
    runs = {r.name: r for r in api.runs(path)}
    assert set(runs) == {"sdk-run", "mlflow-run"}
    sdk, mlf = runs["sdk-run"], runs["mlflow-run"]
    assert sdk.run_id == logged["cuid"] and mlf.run_id == logged["mlflow_run_id"]
    assert sdk.state == "FINISHED" and mlf.state == "FINISHED"
    assert sdk.description == "logged by swanlab" and sdk.group == "grp" and sdk.job_type == "train"
    assert [x["name"] for x in sdk.labels] == ["t1", "t2"]
    config = {k: v["value"] for k, v in sdk.profile["config"].items()}
    assert config == {"lr": 0.01, "epochs": 7, "model": {"depth": 3, "act": "relu"}, "flag": True}
    assert {k: v["value"] for k, v in mlf.profile["config"].items()} == {"lr": "0.5", "optimizer": "adam"}
    assert sdk.project_id == logged["exp_id"] and sdk.created_at_ts > 0
    # the same runs through the project (its path has a leading slash), paged, and filtered
    assert {r.run_id for r in api.project(path).runs()} == {logged["cuid"], logged["mlflow_run_id"]}
    paged = api.runs_get(path, size=10)
    assert {r.run_id for r in paged} == {logged["cuid"], logged["mlflow_run_id"]}
    assert paged.json()["total"] == 2
    lr = [r.name for r in api.runs(path, filters=[{"key": "lr", "type": "CONFIG", "op": "EQ", "value": ["0.01"]}])]
    assert lr == ["sdk-run"]
    low = [r.name for r in api.runs(path, filters=[{"key": "loss", "type": "SCALAR", "op": "LTE", "value": ["0.1"]}])]
    assert low == ["sdk-run"]  # last loss: 1/12 for the SDK run, 0.12 for the MLflow run
    named = api.project(path).runs(sorts=[{"key": "name", "type": "STABLE", "order": "ASC"}])
    assert [r.name for r in named] == ["mlflow-run", "sdk-run"]


def test_sdk_run_metrics_summary_series_and_columns(api, logged):
    exp = api.run(f"admin/{logged['project']}/{logged['cuid']}")
    assert exp.wrapper().ok and exp.name == "sdk-run" and exp.state == "FINISHED"
    assert exp.profile["config"]["epochs"]["value"] == 7
    lines = _by_key(exp.metrics(keys=["loss", "train/acc"]))
    assert _points(lines["loss"]) == [(i, sdk_loss(i)) for i in range(SDK_STEPS)]
    assert _points(lines["train/acc"]) == [(i, sdk_acc(i)) for i in range(SDK_STEPS)]
    assert lines["loss"]["latest"]["data"] == sdk_loss(SDK_STEPS - 1)
    assert lines["loss"]["latest"]["index"] == SDK_STEPS - 1
    assert lines["loss"]["min"]["data"] == sdk_loss(SDK_STEPS - 1) and lines["loss"]["max"]["data"] == 1.0
    # a long line: sampled to at most 1500 points (first and last kept), exact in full
    sampled = _points(_by_key(exp.metrics(keys=["long"]))["long"])
    assert 1000 <= len(sampled) <= 1500 and sampled[0] == (0, 0.0)
    assert sampled[-1] == (LONG_STEPS - 1, long_value(LONG_STEPS - 1))
    assert all(v == long_value(s) for s, v in sampled)
    full = _by_key(exp.metrics(keys=["long", "loss"], all=True))
    assert [(p["step"], p["value"]) for p in full["long"]["metrics"]] == [(i, long_value(i)) for i in range(LONG_STEPS)]
    assert [(p["step"], p["value"]) for p in full["loss"]["metrics"]] == [(i, sdk_loss(i)) for i in range(SDK_STEPS)]
    timed = _by_key(exp.metrics(keys=["loss"], x_axis="time"))["loss"]["metrics"]
    assert [p["data"] for p in timed] == [sdk_loss(i) for i in range(SDK_STEPS)]
    assert all(p["index"] == p["timestamp"] > 0 for p in timed)
    ranged = _by_key(exp.metrics(keys=["long"], range_query={"start": 100, "end": 104}))["long"]
    assert [(p["step"], p["value"]) for p in ranged["metrics"]] == [(i, long_value(i)) for i in range(100, 105)]
    summary = exp.summary()
    assert summary["loss"]["step"] == SDK_STEPS - 1 and summary["loss"]["value"] == sdk_loss(SDK_STEPS - 1)
    assert summary["loss"]["min"] == sdk_loss(SDK_STEPS - 1) and summary["loss"]["max"] == 1.0
    assert summary["train/acc"]["value"] == sdk_acc(SDK_STEPS - 1)
    assert set(exp.summary(keys=["loss"])) == {"loss"}
    assert set(exp.series().json()["keys"]) == {"loss", "train/acc", "long"}
    assert exp.series().availability(["loss", "nope"]) == {"loss": [logged["cuid"]], "nope": []}
    key = next(k for k in exp.series() if k.key == "train/acc")
    assert _points(key.metric()) == [(i, sdk_acc(i)) for i in range(SDK_STEPS)]
    with pytest.warns(DeprecationWarning):
        columns = {c.key: c for c in exp.columns()}
    assert {"loss", "train/acc", "long"} <= set(columns) and columns["loss"].column_type == "FLOAT"
    logs = exp.logs()
    assert any("console line for the log reader" in line["message"] for line in logs["logs"])


def test_mlflow_run_reads_through_swanlab_api(api, logged):
    exp = api.run(f"admin/{logged['project']}/{logged['mlflow_run_id']}")
    assert exp.wrapper().ok and exp.name == "mlflow-run" and exp.run_id == logged["mlflow_run_id"]
    assert {k: v["value"] for k, v in exp.profile["config"].items()} == {"lr": "0.5", "optimizer": "adam"}
    expected = [(i * 10, mlflow_loss(i)) for i in range(9)]
    assert _points(_by_key(exp.metrics(keys=["loss"]))["loss"]) == expected
    full = _by_key(exp.metrics(keys=["loss"], all=True))["loss"]["metrics"]
    assert [(p["step"], p["value"]) for p in full] == expected
    summary = exp.summary()
    assert summary["loss"]["value"] == mlflow_loss(8) and summary["loss"]["step"] == 80
    assert summary["__swanlab__.gpu"]["value"] == 42.0  # MLflow's system/ prefix is SwanLab's __swanlab__.
    assert exp.series().json()["keys"] == ["loss"]
    assert exp.series(metric_class="SYSTEM").json()["keys"] == ["__swanlab__.gpu"]


def test_unknown_project_and_run_are_the_sdks_errors(api, logged):
    missing = api.project(f"admin/missing-{uuid.uuid4().hex[:6]}")
    resp = missing.wrapper()
    assert not resp.ok and "not found" in resp.errmsg.lower()
    run = api.run(f"admin/{logged['project']}/no-such-run")
    resp = run.wrapper()
    assert not resp.ok and "RESOURCE_DOES_NOT_EXIST" in resp.errmsg
    with pytest.raises(ValueError, match="no-such-run"):
        run.metrics(keys=["loss"])
    assert list(api.runs(f"admin/missing-{uuid.uuid4().hex[:6]}")) == []
    assert not api.workspace("no-such-workspace").wrapper().ok


def _is_error(resp, status):
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert set(body) == {"code", "message"} and body["message"], body
    return body


def test_bad_parameters_are_4xx(server, logged):
    sl = SwanLabHttp(server.url, admin_key(server))
    project, cuid = logged["project"], logged["cuid"]
    col = {"experimentId": cuid, "key": "loss", "createdAt": 1}
    _is_error(sl.get(f"/project/admin/{project}/runs", params={"size": 1000}), 400)
    _is_error(sl.get(f"/project/admin/{project}/runs", params={"page": "x"}), 400)
    _is_error(sl.get("/project/admin", params={"page": 0}), 400)
    _is_error(sl.post(f"/project/admin/{project}/runs/shows", json={"filters": [{"key": "a", "type": "NOPE"}]}), 400)
    _is_error(sl.post(f"/project/admin/{project}/runs/shows", json={"filters": "x"}), 400)
    _is_error(sl.post("/house/metrics/scalar", json={"projectId": logged["exp_id"], "columns": [col], "num": 0}), 400)
    _is_error(sl.post("/house/metrics/scalar", json={"columns": [col], "xType": "weird"}), 400)
    _is_error(sl.post("/house/metrics/scalar", json={"columns": []}), 400)
    _is_error(sl.post("/house/metrics/scalar", json={"columns": [{**col, "experimentId": "nope"}]}), 404)
    _is_error(sl.post("/house/metrics/scalar", json={"projectId": "999999", "columns": [col]}), 409)
    _is_error(sl.post("/house/metrics/summaries", json={"experiments": "x"}), 400)
    _is_error(sl.post("/house/metrics/other/keys", json={"experiments": [col]}), 400)
    _is_error(sl.post("/files/presigned/get", json={"paths": ["swan-export/forged.token"]}), 403)
    _is_error(sl.post("/files/presigned/get", json={"paths": ["elsewhere/file.csv"]}), 404)
    _is_error(sl.get("/swan/export/forged.token"), 403)
    _is_error(sl.get(f"/experiment/{cuid}/column", params={"class": "WRONG"}), 400)
    _is_error(sl.get("/house/metrics/log", params={"experimentId": cuid, "level": "LOUD"}), 400)
    _is_error(sl.get("/house/metrics/log", params={"experimentId": "nope"}), 404)
    _is_error(sl.get("/group/no-such-workspace"), 404)
    _is_error(sl.get("/user/nobody-here/groups"), 404)


def test_access_policy_applies_to_the_query_client(tmp_path):
    """With --auth, a user reads its own workspace through swanlab.Api(); another member gets the
    SDK's permission error, and does not see the workspace in its list."""
    import swanlab

    from tests.server import LiveServer

    srv = LiveServer(tmp_path / "home", extra_env={"SWAN_AUTH": "true"}).start()
    try:
        keys = {name: create_user(srv, name, "member") for name in ("owner", "outsider")}
        sl = SwanLabHttp(srv.url, keys["owner"])
        project, cuid = f"p-{uuid.uuid4().hex[:6]}", f"c-{uuid.uuid4().hex[:6]}"
        pid = sl.project(project, workspace="owner")["cuid"]
        assert sl.experiment(project, cuid, workspace="owner").status_code == 201
        metrics = [{"key": "loss", "index": i, "data": 0.5 * i, "create_time": "2026-01-01T00:00:00Z"} for i in range(4)]
        assert sl.post("/house/metrics", json={"type": "scalar", "projectId": pid, "experimentId": cuid,
                                               "metrics": metrics}).status_code == 201

        owner = swanlab.Api(api_key=keys["owner"], host=srv.url)
        assert owner.username == "owner" and "owner" in [w.username for w in owner.workspaces()]
        assert [r.run_id for r in owner.runs(f"owner/{project}")] == [cuid]
        line = owner.run(f"owner/{project}/{cuid}").metrics(keys=["loss"])["list"][0]
        assert _points(line) == [(i, 0.5 * i) for i in range(4)]

        outsider = swanlab.Api(api_key=keys["outsider"], host=srv.url)
        assert "owner" not in [w.username for w in outsider.workspaces()]
        resp = outsider.project(f"owner/{project}").wrapper()
        assert not resp.ok and "PERMISSION_DENIED" in resp.errmsg
        assert not outsider.run(f"owner/{project}/{cuid}").wrapper().ok
        assert list(outsider.runs(f"owner/{project}")) == []
        assert not outsider.self_hosted().root
    finally:
        srv.stop()


def _items(medias: dict) -> dict:
    """{key: {step: items ({url, caption})}} of a `medias()` result."""
    out = {}
    for m in medias["list"]:
        out[m["key"]] = {e["index"]: e["items"] for e in m["metrics"]}
    return out


def _stored_at(media_run, kind: str, step: int) -> list[bytes]:
    return [b for p, b in sorted(media_run["stored"].items()) if p.startswith(f"media/{kind}/{step:03d}-")]


def test_media_listed_per_key_and_step_and_downloaded(api, media_run):
    exp = api.run(f"admin/{media_run['project']}/{media_run['cuid']}")
    assert exp.wrapper().ok
    keys = ["samples/img", "notes", "sound"]
    stored = set(media_run["stored"].values())
    assert len(stored) == 8  # 2 images, a text and an audio at each of 2 steps
    # one step: the listing gives every step with media, the items of the one asked for
    at3 = exp.medias(keys=keys, step=3)
    assert {m["key"] for m in at3["list"]} == set(keys)
    for m in at3["list"]:
        assert m["steps"] == list(MEDIA_STEPS) and m["step"] == 3
        assert [e["index"] for e in m["metrics"]] == [3]
    items = _items(at3)
    assert [i["caption"] for i in items["samples/img"][3]] == ["image at 3", "second at 3"]
    assert len(items["notes"][3]) == 1 and len(items["sound"][3]) == 1
    got = {}
    for key in keys:
        for item in items[key][3]:
            resp = requests.get(item["url"], timeout=30)  # no cookie, no key: the URL is the credential
            assert resp.status_code == 200, (resp.status_code, resp.text)
            got.setdefault(key, []).append(resp.content)
    assert got["notes"][0].decode().find("text at step 3") >= 0
    assert got["notes"] == _stored_at(media_run, "text", 3)
    assert got["sound"] == _stored_at(media_run, "audio", 3)
    assert sorted(got["samples/img"]) == sorted(_stored_at(media_run, "image", 3))
    # a step without media: nothing listed, the steps still given
    empty = exp.medias(keys=["notes"], step=2)["list"][0]
    assert empty["metrics"] == [] and empty["steps"] == list(MEDIA_STEPS)
    # every step at once
    every = _items(exp.medias(keys=keys, all=True))
    assert {k: sorted(v) for k, v in every.items()} == {k: list(MEDIA_STEPS) for k in keys}
    assert [[i["caption"] for i in every["samples/img"][s]] for s in MEDIA_STEPS] == [
        [f"image at {s}", f"second at {s}"] for s in MEDIA_STEPS]
    downloaded = {requests.get(i["url"], timeout=30).content for k in keys for s in MEDIA_STEPS for i in every[k][s]}
    assert downloaded == stored


def _signer_secret(server) -> str:
    db = sqlite3.connect(f"file:{server.home / 'swan.db'}?mode=ro", uri=True)
    try:
        (value,) = db.execute("SELECT value FROM server_secrets WHERE name = 'upload-url-key'").fetchone()
    finally:
        db.close()
    return value


def test_media_urls_are_signed_confined_and_expire(server, media_run, logged):
    from swan_server.artifacts.presign import UploadSigner

    sl = SwanLabHttp(server.url, admin_key(server))
    listed = sl.post("/house/metrics/f_media", json={"columns": [{"experimentId": media_run["cuid"], "key": "notes"}]})
    assert listed.status_code == 200, listed.text
    path = listed.json()[0]["metrics"][0]["data"][0]
    assert path.startswith("media/text/")
    # a project id that is not the run's: refused
    _is_error(sl.post("/resources/presigned/get",
                      json={"prefix": f"999999/{media_run['cuid']}", "paths": [path]}), 409)
    prefix = f"{media_run['exp_id']}/{media_run['cuid']}"
    good = sl.post("/resources/presigned/get", json={"prefix": prefix, "paths": [path]})
    assert good.status_code == 200, good.text
    url = good.json()["urls"][0]
    assert requests.get(url, timeout=30).content == media_run["stored"][path]
    # only media of that run: other files of the run, traversal, another run's media
    for bad in ["files/config.yaml", "media/../files/config.yaml", "../../other/artifacts/x.txt",
                "media/text/no-such.txt", "/etc/passwd"]:
        resp = sl.post("/resources/presigned/get", json={"prefix": prefix, "paths": [bad]})
        assert 400 <= resp.status_code < 500, (bad, resp.status_code, resp.text)
        assert "urls" not in resp.text
    other = sl.post("/resources/presigned/get",
                    json={"prefix": f"{logged['exp_id']}/{logged['cuid']}", "paths": [path]})
    assert other.status_code == 404, other.text
    _is_error(sl.post("/resources/presigned/get", json={"prefix": "no-slash", "paths": [path]}), 400)
    _is_error(sl.post("/resources/presigned/get", json={"prefix": prefix, "paths": []}), 400)
    _is_error(sl.post("/house/metrics/media", json={"columns": [{"experimentId": media_run["cuid"], "key": "notes"}],
                                                    "step": -1}), 400)
    # the URL itself: unsigned, tampered, expired, or an upload token are all refused
    base, token = url.rsplit("/", 1)
    body, mac = token.split(".")
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    secret = _signer_secret(server)
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert claims["g"].endswith("/" + path) and claims["exp"] > 0
    signer = UploadSigner(secret)
    expired = signer.sign({"g": claims["g"]}, -5)
    upload_token = signer.sign({"p": claims["g"]}, 600)
    escape = signer.sign({"g": claims["g"].rsplit("/artifacts/", 1)[0] + "/../../swan.db"}, 600)
    assert requests.get(f"{base}/{signer.sign({'g': claims['g']}, 600)}", timeout=30).status_code == 200
    for bad in [body, f"{body}.", f"{body}.{flipped}", expired, upload_token, "forged.token",
                _b64json({"g": claims["g"], "exp": 2**40}) + "." + mac]:
        resp = requests.get(f"{base}/{bad}", timeout=30)
        assert 400 <= resp.status_code < 500 and resp.content != media_run["stored"][path], (bad, resp.status_code)
    resp = requests.get(f"{base}/{escape}", timeout=30)
    assert 400 <= resp.status_code < 500, resp.status_code
    # a download token cannot upload
    assert 400 <= requests.put(url.replace("/swan/media/", "/swan/upload/"), data=b"x", timeout=30).status_code < 500
    assert requests.get(url, timeout=30).content == media_run["stored"][path]


def _b64json(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()


def test_media_reads_follow_the_access_policy(tmp_path):
    """With --auth, the owner lists and downloads its run's media through swanlab.Api(); a member
    of another workspace can neither list them nor get download URLs, and a signed URL is the
    only credential a download takes (no key, no cookie)."""
    import swanlab

    from tests.server import LiveServer

    srv = LiveServer(tmp_path / "home", extra_env={"SWAN_AUTH": "true"}).start()
    try:
        keys = {name: create_user(srv, name, "member") for name in ("owner", "outsider")}
        project = f"m-{uuid.uuid4().hex[:6]}"
        proc = run_script(tmp_path / "sdk", MEDIA_RUN.format(url=srv.url, key=keys["owner"], project=project,
                                                             steps=MEDIA_STEPS), sdk_env(tmp_path / "sdk"))
        cuid = proc.stdout.rsplit("CUID=", 1)[1].split()[0]

        owner = swanlab.Api(api_key=keys["owner"], host=srv.url)
        exp = owner.run(f"owner/{project}/{cuid}")
        assert exp.wrapper().ok
        pid = exp.project_id
        items = _items(exp.medias(keys=["samples/img", "notes"], step=1))
        assert [i["caption"] for i in items["samples/img"][1]] == ["image at 1", "second at 1"]
        url = items["notes"][1][0]["url"]
        resp = requests.get(url, timeout=30)
        assert resp.status_code == 200 and b"text at step 1" in resp.content

        sl_owner = SwanLabHttp(srv.url, keys["owner"])
        col = {"experimentId": cuid, "key": "notes", "createdAt": 1}
        path = sl_owner.post("/house/metrics/media", json={"projectId": pid, "columns": [col], "step": 1}
                             ).json()["metrics"][0]["data"][0]

        outsider = SwanLabHttp(srv.url, keys["outsider"])
        for route, body in [("/house/metrics/media", {"projectId": pid, "columns": [col], "step": 1}),
                            ("/house/metrics/f_media", {"projectId": pid, "columns": [col]}),
                            ("/resources/presigned/get", {"prefix": f"{pid}/{cuid}", "paths": [path]})]:
            resp = outsider.post(route, json=body)
            assert resp.status_code == 403, (route, resp.status_code, resp.text)
            assert "text at step" not in resp.text and "/swan/media/" not in resp.text
        api = swanlab.Api(api_key=keys["outsider"], host=srv.url)
        assert not api.run(f"owner/{project}/{cuid}").wrapper().ok
        # no credentials at all: the listing is refused, a signed URL still downloads, a forged one does not
        anon = requests.post(f"{srv.url}/api/house/metrics/f_media", json={"projectId": pid, "columns": [col]},
                             timeout=30)
        assert anon.status_code == 401
        base, token = url.rsplit("/", 1)
        assert requests.get(url, timeout=30).status_code == 200
        assert requests.get(f"{base}/{token[:-3]}abc", timeout=30).status_code in (401, 403)
        assert requests.get(f"{base}/{token.split('.')[0]}", timeout=30).status_code in (401, 403)
    finally:
        srv.stop()
