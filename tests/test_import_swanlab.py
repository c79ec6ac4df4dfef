"""`swan import swanlab`: runs written by the real `swanlab` SDK in offline mode, imported and checked
point by point (values, steps, time windows), media bytes, config, console, status; a cut-off log,
re-import, bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.import_support import (
    client,
    cut_tail,
    project_exists,
    run_script,
    runs_by_name,
    server_counts,
    skipped_reasons,
    swan_import,
)
from tests.swanlab_support import sdk_env

WRITER = r"""
import json, sys, time
import numpy as np
import swanlab

truth = {"rows": []}
run = swanlab.init(project="sl-proj", experiment_name="sl run", description="the description", tags=["a", "b"],
                   config={"lr": 0.1, "nest": {"x": 1, "y": "z"}}, mode="offline")
for s in range(40):
    row = {"loss": 1.0 / (s + 1), "val/acc": s * 0.025}
    t0 = time.time(); swanlab.log(row, step=s); t1 = time.time()
    truth["rows"].append({"step": s, "t0": t0, "t1": t1, "values": row})
img = np.zeros((5, 4, 3), dtype=np.uint8); img[2, 1] = [0, 255, 0]
swanlab.log({"img": swanlab.Image(img, caption="green"), "note": swanlab.Text("hello text")}, step=7)
print("a console line")
swanlab.finish()
json.dump(truth, open(sys.argv[1], "w"))
"""


@pytest.fixture(scope="module")
def sl(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("swanlab")
    run_script(tmp, WRITER, env=sdk_env(tmp), args=[str(tmp / "truth.json")])
    (run_dir,) = (tmp / "swanlog").glob("run-*")
    return {"swanlog": tmp / "swanlog", "run": run_dir, "truth": json.loads((tmp / "truth.json").read_text())}


def test_offline_run_point_by_point(server, sl, unique_name):
    c = client(server)
    _, summary, _ = swan_import(server, "swanlab", sl["swanlog"], "--project", unique_name)
    assert [r["state"] for r in summary["runs"]] == ["imported"]
    run = c.get_run(runs_by_name(c, unique_name)["sl run"]["run_id"])
    rid = run["run_id"]
    for key in ("loss", "val/acc"):
        h = c.get_history(rid, key)
        rows = sl["truth"]["rows"]
        assert h["step"] == [r["step"] for r in rows]
        assert h["value"] == [r["values"][key] for r in rows]
        for ts, r in zip(h["timestamp"], rows):
            assert int(r["t0"] * 1000) - 1 <= ts <= int(r["t1"] * 1000) + 1
    media = {m["key"]: m for m in c.get_media(rid)}
    (png,) = (sl["run"] / "media" / "image").glob("*.png")
    assert c.download_artifact(rid, media["img"]["path"]) == png.read_bytes()
    assert media["img"]["caption"] == "green" and media["img"]["step"] == 7 and media["img"]["kind"] == "image"
    assert c.download_artifact(rid, media["note"]["path"]) == b"hello text" and media["note"]["kind"] == "text"
    assert run["params"] == {"lr": "0.1", "nest.x": "1", "nest.y": "z"}
    tags = run["tags"]
    assert tags["mlflow.note.content"] == "the description" and tags["a"] == "" and tags["b"] == ""
    assert tags["swanlab.state"] == "FINISHED" and run["status"] == "FINISHED"
    assert tags["swan.import.source"].startswith("swanlab:sl-proj/")
    assert "a console line" in c.get_console(rid)["message"]
    assert c.download_artifact(rid, "swanlab/requirements.txt")
    assert json.loads(c.download_artifact(rid, "swanlab/metadata.json"))
    assert run["start_time"] <= int(sl["truth"]["rows"][0]["t0"] * 1000) + 1 <= run["end_time"]
    assert skipped_reasons(summary) == []


def test_reimport_adds_nothing(server, sl, unique_name):
    c = client(server)
    swan_import(server, "swanlab", sl["run"], "--project", unique_name)
    before = server_counts(c, unique_name)
    _, summary, _ = swan_import(server, "swanlab", sl["swanlog"], "--project", unique_name)
    assert [r["state"] for r in summary["runs"]] == ["already imported"]
    assert server_counts(c, unique_name) == before


def test_cut_off_log_keeps_every_intact_record(server, sl, tmp_path, unique_name):
    c = client(server)
    copy = tmp_path / sl["run"].name
    shutil.copytree(sl["run"], copy)
    (log,) = copy.glob("*.swanlab")
    cut_tail(log, 7)  # the finish record is the last one
    _, summary, _ = swan_import(server, "swanlab", copy, "--project", unique_name)
    run = c.get_run(summary["runs"][0]["run_id"])
    assert run["status"] == "FAILED" and run["tags"]["swanlab.state"] == "CRASHED"
    assert c.get_history(run["run_id"], "loss")["value"] == [1.0 / (s + 1) for s in range(40)]
    reasons = skipped_reasons(summary)
    assert any(r.startswith("incomplete last record") for r in reasons)
    assert any("no finish record" in r for r in reasons)


def test_bad_input_is_a_clear_error_and_writes_nothing(server, tmp_path, unique_name):
    c = client(server)
    _, _, out = swan_import(server, "swanlab", tmp_path, "--project", unique_name, expect_exit=1)
    assert "not a SwanLab log folder" in out
    fake = tmp_path / "run-x"
    fake.mkdir()
    (fake / "run-x.swanlab").write_bytes(b":W&B\xe1\xbe\x00 not swanlab")
    _, _, out = swan_import(server, "swanlab", fake, "--project", unique_name, expect_exit=1)
    assert "not a SwanLab record log" in out
    assert not project_exists(c, unique_name)
