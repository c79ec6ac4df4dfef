"""The unmodified `swanlab` SDK (0.10.x) logging to a live Swan server, read back with MLflow."""

from __future__ import annotations

import json
import math
import sqlite3
import uuid

import pytest

from tests.swanlab_support import SwanLabHttp, admin_key, all_artifacts, mlflow_run, run_cli, run_script, sdk_env

pytestmark = pytest.mark.timeout(600)

FULL_RUN = """
import math, sys, numpy as np, swanlab
swanlab.login(host={url!r}, api_key={key!r})
run = swanlab.init(project={project!r}, experiment_name="full-run", description="the full run",
                   config={{"lr": 0.01, "epochs": 200, "model": {{"depth": 3, "act": "relu"}}, "flag": True,
                            "layers": [64, 32]}},
                   tags=["baseline", "sdk"], group="grp-a", job_type="train")
open("weights.txt", "w").write("w" * 1000)
swanlab.save("weights.txt")
for i in range(200):
    swanlab.log({{"loss": 1.0 / (i + 1), "train/acc": i / 200.0}}, step=i)
print("console says hello")
print("second line", file=sys.stderr)
img = np.zeros((8, 8, 3), dtype=np.uint8); img[:, :4] = 255
swanlab.log({{"samples/img": swanlab.Image(img, caption="half white"),
             "notes": swanlab.Text("some text to keep"),
             "sound": swanlab.Audio(np.sin(np.linspace(0, 440, 800)).astype("float32"), sample_rate=8000)}}, step=5)
swanlab.log({{"bad": float("nan")}}, step=7)
swanlab.finish()
print("CUID=" + run.id)
"""


@pytest.fixture(scope="module")
def full_run(server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sdk-full")
    project = f"full-{uuid.uuid4().hex[:6]}"
    proc = run_script(tmp, FULL_RUN.format(url=server.url, key=admin_key(server), project=project), sdk_env(tmp))
    cuid = proc.stdout.rsplit("CUID=", 1)[1].split()[0]
    return {"project": project, "cuid": cuid, "proc": proc, "tmp": tmp}


def test_full_run_reads_back_through_mlflow(full_run, mlflow_client, server):
    assert "Upload complete" in full_run["proc"].stdout + full_run["proc"].stderr
    exp = mlflow_client.get_experiment_by_name(full_run["project"])  # admin workspace: the bare name
    run = mlflow_run(mlflow_client, full_run["cuid"])
    assert run.info.experiment_id == exp.experiment_id
    assert run.info.status == "FINISHED" and run.info.end_time >= run.info.start_time
    assert run.info.run_name == "full-run"
    assert len(run.info.run_id) == 32 and int(run.info.run_id, 16) >= 0
    # config → params, flattened, values as str(value)
    assert run.data.params == {
        "lr": "0.01", "epochs": "200", "model.depth": "3", "model.act": "relu", "flag": "True", "layers": "[64, 32]",
    }
    tags = run.data.tags
    assert tags["mlflow.note.content"] == "the full run"
    assert tags["swanlab.cuid"] == full_run["cuid"]
    assert json.loads(tags["swanlab.tags"]) == ["baseline", "sdk"] and tags["baseline"] == ""
    assert tags["swanlab.group"] == "grp-a" and tags["swanlab.job_type"] == "train"
    # scalars: same keys, step = index, every point
    history = mlflow_client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(i, 1.0 / (i + 1)) for i in range(200)]
    acc = mlflow_client.get_metric_history(run.info.run_id, "train/acc")
    assert [m.step for m in acc] == list(range(200)) and acc[10].value == pytest.approx(0.05)
    assert all(run.info.start_time - 60_000 <= m.timestamp <= run.info.end_time + 1000 for m in history)
    assert math.isnan(mlflow_client.get_metric_history(run.info.run_id, "bad")[0].value)
    # artifacts: media, saved file, config, console log
    files = all_artifacts(mlflow_client, run.info.run_id)
    names = set(files)
    assert any(p.startswith("media/image/005-") and p.endswith(".png") for p in names), names
    assert any(p.startswith("media/text/005-") and p.endswith(".txt") for p in names), names
    assert any(p.startswith("media/audio/005-") and p.endswith(".wav") for p in names), names
    saved = [p for p in names if p.startswith("files/") and p.endswith("weights.txt")]
    assert saved and files[saved[0]] == 1000
    assert json.loads(_download(mlflow_client, run, "swanlab/config.json"))["lr"]["value"] == 0.01
    console = _download(mlflow_client, run, "logs/console.log")
    assert "console says hello" in console and "second line" in console
    text_item = [p for p in names if p.startswith("media/text/")][0]
    assert _download(mlflow_client, run, text_item) == "some text to keep"


def _download(client, run, path) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        local = client.download_artifacts(run.info.run_id, path, d)
        with open(local, encoding="utf-8") as f:
            return f.read()


def test_media_index_and_console_lines_are_rows(full_run, mlflow_client, server):
    run = mlflow_run(mlflow_client, full_run["cuid"])
    db = sqlite3.connect(f"file:{server.home / 'swan.db'}?mode=ro", uri=True)
    try:
        (pk,) = db.execute("SELECT id FROM runs WHERE run_uuid = ?", (run.info.run_id,)).fetchone()
        media = db.execute("SELECT key, step, kind, caption, path FROM media_items WHERE run_id = ? ORDER BY key",
                           (pk,)).fetchall()
        lines = db.execute("SELECT line, level, message FROM log_lines WHERE run_id = ? ORDER BY line", (pk,)).fetchall()
    finally:
        db.close()
    by_key = {m[0]: m for m in media}
    assert set(by_key) == {"samples/img", "notes", "sound"}
    assert by_key["samples/img"][1:4] == (5, "image", "half white")
    assert by_key["sound"][2] == "audio" and by_key["notes"][2] == "text"
    assert [ln[0] for ln in lines] == list(range(1, len(lines) + 1))
    assert any(ln[2] == "console says hello" and ln[1] == "INFO" for ln in lines)


def test_login_with_environment_and_hardware_monitor(server, mlflow_client, tmp_path):
    cuid = f"env{uuid.uuid4().hex[:8]}"
    env = sdk_env(tmp_path, SWANLAB_API_HOST=server.url, SWANLAB_API_KEY=admin_key(server),
                  SWANLAB_PROBE_MONITOR="true", SWANLAB_PROBE_MONITOR_INTERVAL="5")
    run_script(tmp_path, f"""
        import time, swanlab
        swanlab.init(project="env-login", id={cuid!r}, resume="allow")
        for i in range(5):
            swanlab.log({{"x": i}})
        time.sleep(12)  # two monitor ticks (the first comes one interval after init)
        swanlab.finish()
    """, env)
    run = mlflow_run(mlflow_client, cuid)
    assert run.info.status == "FINISHED"
    system = {k for k in run.data.metrics if k.startswith("system/")}
    assert "system/cpu.pct" in system and "system/mem.pct" in system, run.data.metrics
    assert not any(k.startswith("__swanlab__") for k in run.data.metrics)
    cpu = mlflow_client.get_metric_history(run.info.run_id, "system/cpu.pct")
    assert [m.step for m in cpu][:2] == [0, 1]
    # the way back: resume summaries give the SDK its own keys
    http = SwanLabHttp(server.url, admin_key(server))
    pid = http.project("env-login")["cuid"]
    summary = http.get(f"/house/metrics/summaries/{pid}/{cuid}", params={"all": "True"}).json()
    keys = {s["key"]: s["step"] for s in summary["scalar"]}
    assert keys["x"] == 4 and "__swanlab__.cpu.pct" in keys and not any(k.startswith("system/") for k in keys)


def test_login_with_cli_writes_netrc_and_runs(server, mlflow_client, tmp_path):
    env = sdk_env(tmp_path)
    run_cli(tmp_path, ["login", "--host", server.url, "-k", admin_key(server)], env)
    netrc = (tmp_path / "swanlab-root" / ".netrc").read_text()
    assert server.url in netrc and admin_key(server) in netrc
    cuid = f"cli{uuid.uuid4().hex[:8]}"
    run_script(tmp_path, f"""
        import swanlab
        swanlab.init(project="cli-login", id={cuid!r}, resume="allow")
        swanlab.log({{"y": 1.5}})
        swanlab.finish()
    """, env)
    assert mlflow_run(mlflow_client, cuid).data.metrics["y"] == 1.5
    bad = run_cli(tmp_path, ["login", "--relogin", "--host", server.url, "-k", "swan_wrong"], env, check=False)
    assert bad.returncode != 0


def test_wrong_key_is_refused_with_401(server, api, tmp_path):
    resp = api.post("/api/login/api_key", headers={"authorization": "swan_not-a-key"})
    assert resp.status_code == 401 and resp.reason == "Unauthorized"
    assert set(resp.json()) == {"code", "message"}
    proc = run_script(tmp_path, f"""
        import swanlab
        swanlab.login(host={server.url!r}, api_key="swan_not-a-key")
    """, sdk_env(tmp_path), check=False)
    assert proc.returncode != 0 and "AuthenticationError" in proc.stderr


RESUME = """
import swanlab
swanlab.login(host={url!r}, api_key={key!r})
swanlab.init(project={project!r}, id={cuid!r}, resume={mode!r}, config={config})
for i in range({start}, {stop}):
    swanlab.log({{"loss": float(i)}}, step=i)
print("console line", {start})
swanlab.finish()
"""


def test_resume_must_and_allow(server, mlflow_client, tmp_path):
    project, cuid = f"resume-{uuid.uuid4().hex[:6]}", f"res{uuid.uuid4().hex[:8]}"
    key = admin_key(server)
    env = sdk_env(tmp_path)

    def run(mode, start, stop, config="{}", run_id=cuid, check=True):
        return run_script(tmp_path, RESUME.format(url=server.url, key=key, project=project, cuid=run_id, mode=mode,
                                                  start=start, stop=stop, config=config), env, check=check)

    missing = run("must", 0, 1, run_id="does-not-exist", check=False)
    assert missing.returncode != 0 and "does not exist" in missing.stdout + missing.stderr
    run("allow", 0, 10, config='{"lr": 0.1, "opt": "adam"}')  # allow + unknown id: created (201)
    first = mlflow_run(mlflow_client, cuid)
    assert first.info.status == "FINISHED"
    run("must", 10, 20)  # resumes: the same Swan run goes on
    again = mlflow_run(mlflow_client, cuid)
    assert again.info.run_id == first.info.run_id and again.info.status == "FINISHED"
    assert [m.step for m in mlflow_client.get_metric_history(first.info.run_id, "loss")] == list(range(20))
    assert again.data.params == {"lr": "0.1", "opt": "adam"}  # resent empty config keeps the first one
    run("allow", 20, 25)
    assert len(mlflow_client.get_metric_history(first.info.run_id, "loss")) == 25
    other = f"new{uuid.uuid4().hex[:8]}"
    run("allow", 0, 3, run_id=other)  # allow on an unknown id creates it
    assert mlflow_run(mlflow_client, other).info.run_id != first.info.run_id
    http = SwanLabHttp(server.url, key)
    pid = http.project(project)["cuid"]
    summary = http.get(f"/house/metrics/summaries/{pid}/{cuid}").json()
    assert {"key": "loss", "step": 24} in summary["scalar"] and summary["log"][0]["step"] >= 3


def test_offline_run_uploaded_with_swanlab_sync(server, mlflow_client, tmp_path):
    env = sdk_env(tmp_path)
    project = f"offline-{uuid.uuid4().hex[:6]}"
    run_script(tmp_path, f"""
        import numpy as np, swanlab
        swanlab.init(project={project!r}, mode="offline", experiment_name="offline-exp", config={{"k": 7}})
        for i in range(30):
            swanlab.log({{"offline/loss": 30 - i}}, step=i)
        swanlab.log({{"pic": swanlab.Image(np.full((4, 4, 3), 128, dtype=np.uint8), caption="grey")}}, step=2)
        swanlab.finish()
    """, env)
    run_dirs = list((tmp_path / "swanlog").glob("run-*"))
    assert len(run_dirs) == 1
    proc = run_cli(tmp_path, ["sync", str(run_dirs[0]), "-k", admin_key(server), "-h", server.url], env)
    exp = mlflow_client.get_experiment_by_name(project)
    assert exp is not None, proc.stdout + proc.stderr
    (run,) = mlflow_client.search_runs([exp.experiment_id])
    assert run.info.run_name == "offline-exp" and run.info.status == "FINISHED"
    assert run.data.params == {"k": "7"}
    history = mlflow_client.get_metric_history(run.info.run_id, "offline/loss")
    assert [(m.step, m.value) for m in history] == [(i, float(30 - i)) for i in range(30)]
    assert any(p.startswith("media/image/002-") for p in all_artifacts(mlflow_client, run.info.run_id, "media"))
