"""`swan import swanlab`: runs written by the real `swanlab` SDK in offline mode, imported and checked
point by point (values, steps, time windows), media bytes, config, console, status; a run with the
hardware monitor, every media type the SDK writes offline and saved files, checked against the
SDK's own reader of its log; a flipped byte and a cut-off log, re-import, bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.import_support import (
    client,
    copied_run,
    cut_tail,
    project_exists,
    run_script,
    runs_by_name,
    server_counts,
    skipped_reasons,
    swan_import,
)
from tests.swanlab_support import SwanLabHttp, admin_key, sdk_env
from tests.test_import_wandb import log_records, record_at

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
    copy, log = copied_run(sl["run"], tmp_path, "*.swanlab")
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


def test_flipped_byte_mid_file_loses_only_the_damaged_record(server, sl, tmp_path, unique_name):
    from swanlab.proto.swanlab.record.v1 import record_pb2

    c = client(server)
    copy, log = copied_run(sl["run"], tmp_path, "*.swanlab")
    records = log_records(log)
    # the middle byte of the record of `loss` at step 20: we know what is lost
    spans, _ = next(r for r in records if (lambda rec: rec.WhichOneof("record_type") == "scalar"
                                           and rec.scalar.key == "loss" and rec.scalar.step == 20)(
        record_pb2.Record.FromString(r[1])))
    data = bytearray(log.read_bytes())
    data[(spans[0][0] + spans[-1][1]) // 2] ^= 0xFF
    log.write_bytes(bytes(data))
    _, summary, _ = swan_import(server, "swanlab", copy, "--project", unique_name)
    run = c.get_run(summary["runs"][0]["run_id"])
    loss = c.get_history(run["run_id"], "loss")
    assert loss["step"] == [s for s in range(40) if s != 20]
    assert loss["value"] == [1.0 / (s + 1) for s in range(40) if s != 20]
    acc = c.get_history(run["run_id"], "val/acc")
    assert acc["step"] == list(range(40)) and acc["value"] == [s * 0.025 for s in range(40)]
    assert {m["key"] for m in c.get_media(run["run_id"])} == {"img", "note"}
    assert run["status"] == "FINISHED"  # the finish record, after the damage, was read
    assert skipped_reasons(summary) == [f"damaged data at byte {spans[0][0]}: {spans[-1][1] - spans[0][0]} byte(s) skipped"]
    assert record_at(records, (spans[0][0] + spans[-1][1]) // 2)[0] == spans


def test_unreadable_log_is_a_clear_error_and_writes_nothing(server, sl, tmp_path, unique_name):
    """Root reads a chmod 000 file, so unreadable here means a dangling link, or a folder
    where the log file should be."""
    c = client(server)
    parent = tmp_path / "swanlog"
    shutil.copytree(sl["run"], parent / sl["run"].name)
    dangling = parent / "run-20260101_000000-gone"
    dangling.mkdir()
    (dangling / "run-gone.swanlab").symlink_to(tmp_path / "nowhere")
    _, _, out = swan_import(server, "swanlab", parent, "--project", unique_name, expect_exit=1)
    assert "cannot read" in out and "run-gone.swanlab" in out and "No such file" in out
    (dangling / "run-gone.swanlab").unlink()
    (dangling / "run-gone.swanlab").mkdir()
    _, _, out = swan_import(server, "swanlab", parent, "--project", unique_name, expect_exit=1)
    assert "cannot read" in out and "run-gone.swanlab" in out and "directory" in out
    assert not project_exists(c, unique_name)


FULL_WRITER = r"""
import io, os, sys, time
import numpy as np
import swanlab
from PIL import Image
from swanlab import echarts

with open("saved.txt", "w") as f:
    f.write("a saved file\n")
os.makedirs("ckpt", exist_ok=True)
with open("ckpt/weights.bin", "wb") as f:
    f.write(bytes(range(256)) * 4)
frames = [Image.new("RGB", (4, 4), (60 * i, 0, 0)) for i in range(3)]
gif = io.BytesIO()
frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
run = swanlab.init(project="sl-full", experiment_name="full run", mode="offline")
wave = (np.sin(np.linspace(0, 40, 800)) * 0.5).astype(np.float32)
swanlab.log({"sound": swanlab.Audio(wave, sample_rate=8000, caption="a tone")}, step=1)
swanlab.log({"page": swanlab.Html("<b>bold</b>", caption="html")}, step=2)
swanlab.log({"cloud": swanlab.Object3D(np.arange(30, dtype=float).reshape(10, 3), caption="points")}, step=3)
bar = echarts.Bar()
bar.add_xaxis(["a", "b"])
bar.add_yaxis("s", [1, 2])
swanlab.log({"chart": swanlab.ECharts(bar)}, step=4)
swanlab.log({"clip": swanlab.Video(gif.getvalue(), caption="frames")}, step=5)
swanlab.save("saved.txt")
swanlab.save("ckpt/*.bin", policy="end")
for s in range(5):
    swanlab.log({"x": s * 1.5}, step=s)
time.sleep(7)  # one hardware-monitor sample (the first comes one interval, 5 s, after init)
swanlab.finish()
"""


@pytest.fixture(scope="module")
def sl_full(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("swanlab-full")
    run_script(tmp, FULL_WRITER, env=sdk_env(tmp, SWANLAB_PROBE_MONITOR="true", SWANLAB_PROBE_MONITOR_INTERVAL="5"))
    (run_dir,) = (tmp / "swanlog").glob("run-*")
    return {"root": tmp, "run": run_dir}


def _sdk_records(run_dir):
    """The run's records as the SDK's own reader of its log gives them: the independent truth."""
    from swanlab.proto.swanlab.record.v1 import record_pb2
    from swanlab.sdk.internal.core_python.store import DataStoreReader

    (log,) = run_dir.glob("*.swanlab")
    reader = DataStoreReader()
    reader.open(log)
    try:
        return [record_pb2.Record.FromString(data) for data in reader]
    finally:
        reader.close()


def _in_one_order(columns: list[dict]) -> list[dict]:
    return sorted(columns, key=lambda col: json.dumps(col, sort_keys=True))


def _ms(ts) -> int:
    return ts.seconds * 1000 + ts.nanos // 1_000_000


def test_full_fidelity_system_metrics_media_saved_files_columns(server, sl_full, unique_name):
    from google.protobuf.json_format import MessageToDict

    c = client(server)
    records = _sdk_records(sl_full["run"])
    _, summary, _ = swan_import(server, "swanlab", sl_full["run"], "--project", unique_name)
    assert skipped_reasons(summary) == []
    rid = summary["runs"][0]["run_id"]
    run = c.get_run(rid)

    # every scalar, system ones included, point by point; `__swanlab__.X` is `system/X`
    scalars: dict[str, list] = {}
    for rec in records:
        if rec.WhichOneof("record_type") == "scalar":
            scalars.setdefault(rec.scalar.key, []).append((rec.scalar.step, rec.scalar.value.number,
                                                           _ms(rec.scalar.timestamp)))
    system = {k for k in scalars if k.startswith("__swanlab__.")}
    assert {"__swanlab__.cpu.pct", "__swanlab__.mem.pct"} <= system
    assert set(run["metrics"]) == {("system/" + k[len("__swanlab__."):]) if k in system else k for k in scalars}
    for key, points in scalars.items():
        h = c.get_history(rid, "system/" + key[len("__swanlab__."):] if key in system else key)
        assert list(zip(h["step"], h["value"], h["timestamp"])) == points, key
    # the SwanLab face reads the imported system metrics back under the SDK's own names
    http = SwanLabHttp(server.url, admin_key(server))
    resp = http.post("/house/metrics/scalar/keys", json={"experiments": [{"experimentId": rid}]})
    assert resp.status_code == 200, resp.text
    assert set(resp.json()["keys"]) == set(scalars)

    # every media item byte by byte, with its kind, step, caption and file type
    media = {m["key"]: m for m in c.get_media(rid)}
    kinds = {2: "image", 3: "audio", 6: "echarts", 7: "object3d", 9: "html"}
    items = [(rec.media, item) for rec in records if rec.WhichOneof("record_type") == "media"
             for item in rec.media.value.items]
    assert {md.key for md, _ in items} == set(media) == {"sound", "page", "cloud", "chart", "clip"}
    for md, item in items:
        got = media[md.key]
        source = sl_full["run"] / "media" / kinds[md.type] / item.filename
        assert c.download_artifact(rid, got["path"]) == source.read_bytes(), md.key
        assert (got["kind"], got["step"], got["caption"]) == (kinds[md.type], md.step, item.caption or None), md.key
        assert got["path"].endswith(item.filename.split(".", 1)[1]), (got["path"], item.filename)
    assert media["cloud"]["path"].endswith(".swanlab.pts.json") and media["clip"]["path"].endswith(".gif")

    # saved files at the path the SDK uploads them to online, byte by byte
    root = sl_full["root"]
    assert c.download_artifact(rid, "files/saved.txt") == (root / "saved.txt").read_bytes()
    assert c.download_artifact(rid, "files/ckpt/weights.bin") == (root / "ckpt" / "weights.bin").read_bytes()
    files = {f["path"] for f in c.list_artifacts(rid, "files")}
    assert files == {"files/saved.txt", "files/ckpt"}

    # the column definitions, as the SDK recorded them (system columns with their names and ranges)
    columns = json.loads(c.download_artifact(rid, "swanlab/columns.json"))
    want = [MessageToDict(rec.column, preserving_proto_field_name=True) for rec in records
            if rec.WhichOneof("record_type") == "column"]
    assert _in_one_order(columns) == _in_one_order(want)
    cpu = next(col for col in columns if col["column_key"] == "__swanlab__.cpu.pct")
    assert cpu["column_class"] == "COLUMN_CLASS_SYSTEM" and cpu["section_type"] == "SECTION_TYPE_SYSTEM"
    assert run["status"] == "FINISHED"
