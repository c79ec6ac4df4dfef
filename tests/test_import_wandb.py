"""`swan import wandb`: runs written by the real `wandb` SDK in offline mode (no network), imported
into a live server and checked point by point against what the writer logged; damaged logs, a run
without an exit record, re-import, bad input; the online path against a stand-in for wandb.Api."""

from __future__ import annotations

import json
import math
import shutil
import struct
import zlib
from pathlib import Path

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

WRITER = r"""
import json, os, sys, time
import numpy as np
import wandb

out = sys.argv[1]
truth = {"rows": [], "console": ["first line from stdout", "second line"], "stderr": ["an error line"]}
run = wandb.init(project="wb-proj", name="rich run", notes="some notes", tags=["t1", "t2"], group="g1",
                 job_type="train", config={"lr": 0.01, "layers": [1, 2], "nested": {"a": 1, "b": "x"}},
                 settings=wandb.Settings(x_stats_sampling_interval=0.2))
for s in range(60):
    row = {"train/loss": 1.0 / (s + 1), "train/acc": s / 60, "epoch": float(s // 10)}
    if s % 7 == 0:
        row["val/loss"] = 0.5 + s
    t0 = time.time(); run.log(row, step=s); t1 = time.time()
    truth["rows"].append({"step": s, "t0": t0, "t1": t1, "values": row})
img = np.zeros((6, 5, 3), dtype=np.uint8); img[1, 2] = [255, 0, 0]
counts, bins = np.array([1, 3, 2]), np.array([0.0, 1.0, 2.0, 3.0])
t0 = time.time()
run.log({"img": wandb.Image(img, caption="a caption"), "hist": wandb.Histogram(np_histogram=(counts, bins)),
         "tbl": wandb.Table(columns=["a", "b"], data=[[1, "x"], [2, "y"]]),
         "nan": float("nan"), "inf": float("inf"), "big": 1e300, "flag": True, "txt": "hello text",
         "nested": {"m1": 1.5, "m2": 2.5}}, step=60)
t1 = time.time()
truth["rows"].append({"step": 60, "t0": t0, "t1": t1, "values": {"nan": "NaN", "inf": "Infinity", "big": 1e300,
                      "flag": 1.0, "nested.m1": 1.5, "nested.m2": 2.5}})
print(truth["console"][0]); print(truth["console"][1])
print(truth["stderr"][0], file=sys.stderr)
time.sleep(1.0)
run.config.update({"late": 5})
run.summary["best"] = 0.99
truth["start_time"] = run.start_time
truth["run_id"] = run.id
run.finish()
json.dump(truth, open(out, "w"))
"""

BIG_WRITER = r"""
import json, sys, time, wandb
run = wandb.init(project="wb-big", name="big run")
rows = []
for s in range(3000):
    t0 = time.time(); run.log({"a": s * 0.25, "b": float(-s)}, step=s); t1 = time.time()
    rows.append([s, t0, t1])
run.finish()
json.dump(rows, open(sys.argv[1], "w"))
"""


def wandb_env(tmp: Path) -> dict:
    return {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp), "WANDB_DATA_DIR": str(tmp / "wbdata"),
            "WANDB_CACHE_DIR": str(tmp / "wbcache"), "WANDB_CONFIG_DIR": str(tmp / "wbconfig"),
            "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true", "WANDB_API_KEY": ""}


@pytest.fixture(scope="module")
def wb(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wandb")
    run_script(tmp, WRITER, env=wandb_env(tmp), args=[str(tmp / "truth.json")])
    (run_dir,) = (tmp / "wandb").glob("offline-run-*")
    return {"root": tmp, "wandb": tmp / "wandb", "run": run_dir, "truth": json.loads((tmp / "truth.json").read_text())}


@pytest.fixture(scope="module")
def wb_big(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wandb-big")
    run_script(tmp, BIG_WRITER, env=wandb_env(tmp), args=[str(tmp / "truth.json")])
    (run_dir,) = (tmp / "wandb").glob("offline-run-*")
    return {"run": run_dir, "rows": json.loads((tmp / "truth.json").read_text())}


def _num(v):
    return {"NaN": math.nan, "Infinity": math.inf}.get(v, v) if isinstance(v, str) else float(v)


def _same(a, b) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_offline_run_point_by_point(server, wb, unique_name):
    c = client(server)
    truth = wb["truth"]
    _, summary, _ = swan_import(server, "wandb", wb["wandb"], "--project", unique_name)
    assert [r["state"] for r in summary["runs"]] == ["imported"]
    run = c.get_run(runs_by_name(c, unique_name)["rich run"]["run_id"])
    rid = run["run_id"]

    # every logged value at its step, with its wall time inside the log() call's window
    expected: dict[str, list] = {}
    for row in truth["rows"]:
        for k, v in row["values"].items():
            expected.setdefault(k, []).append((row["step"], row["t0"], row["t1"], _num(v)))
    for key, want in expected.items():
        h = c.get_history(rid, key)
        assert h["step"] == [w[0] for w in want], key
        for ts, value, (step, t0, t1, v) in zip(h["timestamp"], h["value"], want):
            assert _same(value, v), (key, step, value, v)
            assert int(t0 * 1000) - 1 <= ts <= int(t1 * 1000) + 1, (key, step, ts, t0, t1)
    user_keys = {k for k in run["metrics"] if not k.startswith("system/")}
    assert user_keys == set(expected)

    # system metrics in the system group
    system = [k for k in run["metrics"] if k.startswith("system/")]
    assert "system/memory_percent" in system
    mem = c.get_history(rid, "system/memory_percent")
    assert mem["step"] == list(range(len(mem["step"]))) and all(0 < v < 100 for v in mem["value"])

    # media: the image file, the histogram data, the table, the text
    media = {m["key"]: m for m in c.get_media(rid)}
    assert set(media) == {"img", "hist", "tbl", "txt"}
    img = c.download_artifact(rid, media["img"]["path"])
    (source_png,) = (wb["run"] / "files" / "media" / "images").glob("img_*.png")
    assert img == source_png.read_bytes() and img[:4] == b"\x89PNG"
    assert media["img"]["caption"] == "a caption" and media["img"]["step"] == 60
    hist = json.loads(c.download_artifact(rid, media["hist"]["path"]))
    assert hist["edges"] == [0.0, 1.0, 2.0, 3.0] and hist["counts"] == [1, 3, 2]
    table = json.loads(c.download_artifact(rid, media["tbl"]["path"]))
    assert table["columns"] == ["a", "b"] and table["data"] == [[1, "x"], [2, "y"]]
    assert c.download_artifact(rid, media["txt"]["path"]) == b"hello text"

    # config, metadata, console, status, times
    assert run["params"] == {"lr": "0.01", "layers": "[1, 2]", "nested.a": "1", "nested.b": "x", "late": "5"}
    tags = run["tags"]
    assert run["name"] == "rich run" and tags["mlflow.note.content"] == "some notes"
    assert tags["t1"] == "" and tags["t2"] == "" and json.loads(tags["wandb.tags"]) == ["t1", "t2"]
    assert tags["wandb.group"] == "g1" and tags["wandb.job_type"] == "train"
    assert tags["wandb.summary.best"] == "0.99" and tags["wandb.state"] == "finished"
    assert tags["swan.import.source"] == f"wandb:wb-proj/{truth['run_id']}"
    assert tags["swan.import.source_run_id"] == truth["run_id"]
    assert run["status"] == "FINISHED"
    assert abs(run["start_time"] - truth["start_time"] * 1000) < 2
    assert run["end_time"] >= int(truth["rows"][-1]["t1"] * 1000)
    console = c.get_console(rid)
    lines = list(zip(console["level"], console["message"]))
    assert ("INFO", truth["console"][0]) in lines and ("INFO", truth["console"][1]) in lines
    assert ("ERROR", truth["stderr"][0]) in lines
    assert lines.index(("INFO", truth["console"][0])) < lines.index(("INFO", truth["console"][1]))
    files = {f["path"] for f in c.list_artifacts(rid, "wandb/files")}
    assert "wandb/files/requirements.txt" in files
    meta = json.loads(c.download_artifact(rid, "wandb/metadata.json"))
    assert meta["run"]["run_id"] == truth["run_id"]
    assert skipped_reasons(summary) == []


def test_reimport_adds_nothing(server, wb, unique_name):
    c = client(server)
    swan_import(server, "wandb", wb["run"], "--project", unique_name)
    before = server_counts(c, unique_name)
    _, summary, _ = swan_import(server, "wandb", wb["wandb"], "--project", unique_name)
    assert [r["state"] for r in summary["runs"]] == ["already imported"]
    assert server_counts(c, unique_name) == before


def _chunks(path: Path):
    """(offset, type, payload) of every chunk of a W&B or SwanLab log (a test-side parse of the framing)."""
    data = path.read_bytes()
    pos, out = 7, []
    while pos + 7 <= len(data):
        room = 32768 - pos % 32768
        if room < 7:
            pos += room
            continue
        crc, length, kind = struct.unpack_from("<IHB", data, pos)
        if kind == 0:
            break
        out.append((pos, kind, data[pos + 7:pos + 7 + length]))
        assert zlib.crc32(data[pos + 7:pos + 7 + length], zlib.crc32(bytes([kind]))) == crc
        pos += 7 + length
    return out


def test_run_without_exit_record_is_crashed(server, wb, tmp_path, unique_name):
    from wandb.proto import wandb_internal_pb2 as pb

    c = client(server)
    copy, log = copied_run(wb["run"], tmp_path, "*.wandb")
    exit_at = [off for off, kind, payload in _chunks(log)
               if kind == 1 and pb.Record.FromString(payload).WhichOneof("record_type") == "exit"]
    assert len(exit_at) == 1
    log.write_bytes(log.read_bytes()[:exit_at[0]])
    _, summary, _ = swan_import(server, "wandb", copy, "--project", unique_name)
    run = c.get_run(summary["runs"][0]["run_id"])
    assert run["status"] == "FAILED" and run["tags"]["wandb.state"] == "crashed"
    assert any("no exit record" in r for r in skipped_reasons(summary))
    assert len(c.get_history(run["run_id"], "train/loss")["step"]) == 60


def _big_truth(wb_big):
    return {(s, 0.25 * s) for s, _, _ in wb_big["rows"]}, {(s, float(-s)) for s, _, _ in wb_big["rows"]}


def test_big_run_exact(server, wb_big, unique_name):
    c = client(server)
    _, summary, _ = swan_import(server, "wandb", wb_big["run"], "--project", unique_name)
    rid = summary["runs"][0]["run_id"]
    h = c.get_history(rid, "a")
    assert h["step"] == list(range(3000)) and h["value"] == [0.25 * s for s in range(3000)]
    for ts, (s, t0, t1) in zip(h["timestamp"], wb_big["rows"]):
        assert int(t0 * 1000) - 1 <= ts <= int(t1 * 1000) + 1


def log_records(path: Path) -> list[tuple[list[tuple[int, int]], bytes]]:
    """Every record of an intact W&B log as (the [start, end) byte spans of its chunks, its
    payload): a test-side parse of the framing, to know which record a damaged byte belongs to."""
    out, spans = [], []
    for off, kind, payload in _chunks(path):
        if kind in (1, 2):  # FULL, FIRST
            spans = []
        spans.append((off, off + 7 + len(payload), payload))
        if kind in (1, 4):  # FULL, LAST
            out.append(([(a, b) for a, b, _ in spans], b"".join(p for _, _, p in spans)))
    return out


def record_at(records, offset: int):
    (hit,) = [r for r in records if any(a <= offset < b for a, b in r[0])]
    return hit


def test_reader_skips_exactly_the_damaged_record_wherever_the_byte_is(wb_big, tmp_path):
    """Flip, one at a time, every header byte and a few data bytes of the chunks around a record
    that crosses a block boundary (FIRST … LAST), and the padding before it: the reader must
    return every other record, in order, and report the damage."""
    from importers.leveldb import LogReport, iter_records

    (source,) = wb_big["run"].glob("*.wandb")
    original = source.read_bytes()
    records = log_records(source)
    crossing = next(i for i, (spans, _) in enumerate(records) if len(spans) > 1)
    around = records[crossing - 3:crossing + 4]
    offsets = set()
    for spans, _ in around:
        for a, b in spans:
            offsets.update(range(a, a + 7))  # crc, length, type
            offsets.update((a + 7, (a + 7 + b) // 2, b - 1))  # first, middle, last data byte
    block_end = records[crossing][0][0][1]
    offsets.update(range(block_end, block_end + (32768 - block_end % 32768) % 32768))  # padding, if any
    damaged = tmp_path / source.name
    for offset in sorted(offsets):
        data = bytearray(original)
        data[offset] ^= 0xFF
        damaged.write_bytes(bytes(data))
        report = LogReport(str(damaged))
        got = list(iter_records(damaged, b":W&B", 0xBEE1, report))
        in_padding = not any(a <= offset < b for spans, _ in records for a, b in spans)
        if in_padding:  # the padding is not read: nothing lost
            assert got == [p for _, p in records], offset
            continue
        lost = record_at(records, offset)
        assert got == [p for r, p in records if r is not lost[0]], offset
        assert report.damaged and report.damaged[0][0] in [a for a, _ in lost[0]], (offset, report)


def test_flipped_byte_recovers_every_intact_record(server, wb_big, tmp_path, unique_name):
    from wandb.proto import wandb_internal_pb2 as pb

    c = client(server)
    copy, log = copied_run(wb_big["run"], tmp_path, "*.wandb")
    records = log_records(log)
    size = log.stat().st_size
    # a byte in the middle of the first logged row past the middle of the file: we know its step
    spans, payload = next(r for r in records if r[0][0][0] > size // 2
                          and pb.Record.FromString(r[1]).WhichOneof("record_type") == "history")
    data = bytearray(log.read_bytes())
    data[(spans[0][0] + spans[-1][1]) // 2] ^= 0xFF
    log.write_bytes(bytes(data))
    lost = pb.Record.FromString(payload)
    lost_step = int(next(float(i.value_json) for i in lost.history.item if (i.key or i.nested_key[0]) == "_step"))
    _, summary, _ = swan_import(server, "wandb", copy, "--project", unique_name)
    rid = summary["runs"][0]["run_id"]
    truth_a, truth_b = _big_truth(wb_big)
    ha, hb = c.get_history(rid, "a"), c.get_history(rid, "b")
    want_steps = [s for s in range(3000) if s != lost_step]
    assert ha["step"] == want_steps and hb["step"] == want_steps
    assert set(zip(ha["step"], ha["value"])) == {(s, v) for s, v in truth_a if s != lost_step}
    assert set(zip(hb["step"], hb["value"])) == {(s, v) for s, v in truth_b if s != lost_step}
    skipped = [s for r in summary["runs"] for s in r["skipped"]]
    assert [s["reason"] for s in skipped if s["reason"].startswith("damaged")] == \
        [f"damaged data at byte {spans[0][0]}: {spans[-1][1] - spans[0][0]} byte(s) skipped"]
    assert c.get_run(rid)["status"] == "FINISHED"  # the exit record after the damage was recovered


def test_cut_off_tail_is_reported(server, wb_big, tmp_path, unique_name):
    c = client(server)
    copy, log = copied_run(wb_big["run"], tmp_path, "*.wandb")
    cut_tail(log, 7)
    _, summary, _ = swan_import(server, "wandb", copy, "--project", unique_name)
    rid = summary["runs"][0]["run_id"]
    assert len(c.get_history(rid, "a")["step"]) == 3000
    reasons = skipped_reasons(summary)
    assert any(r.startswith("incomplete last record") for r in reasons), reasons


def test_online_style_run_folder_name(server, wb, tmp_path, unique_name):
    """`wandb/run-<time>-<id>` (a run logged online) is read like `offline-run-*`: the same run,
    the same points."""
    c = client(server)
    online_style = tmp_path / "wandb" / wb["run"].name.removeprefix("offline-")
    shutil.copytree(wb["run"], online_style)
    assert online_style.name.startswith("run-")
    _, summary, _ = swan_import(server, "wandb", tmp_path, "--project", unique_name)
    (run,) = summary["runs"]
    assert run["state"] == "imported" and run["name"] == "rich run"
    full = c.get_run(run["run_id"])
    assert full["tags"]["swan.import.source"] == f"wandb:wb-proj/{wb['truth']['run_id']}"
    assert len(c.get_history(run["run_id"], "train/loss")["step"]) == 60
    assert skipped_reasons(summary) == []


def test_bad_input_is_a_clear_error_and_writes_nothing(server, wb, tmp_path, unique_name):
    c = client(server)
    empty = tmp_path / "empty"
    empty.mkdir()
    _, _, out = swan_import(server, "wandb", empty, "--project", unique_name, expect_exit=1)
    assert "not a W&B run folder" in out
    fake = tmp_path / "run-20260101_000000-abc"
    fake.mkdir()
    (fake / "run-abc.wandb").write_bytes(b"not a wandb log at all")
    _, _, out = swan_import(server, "wandb", fake, "--project", unique_name, expect_exit=1)
    assert "not a W&B transaction log" in out
    broken = tmp_path / "broken" / wb["run"].name
    shutil.copytree(wb["run"], broken)
    (broken.parent / "offline-run-20260101_000000-zzz").mkdir()
    (broken.parent / "offline-run-20260101_000000-zzz" / "run-zzz.wandb").symlink_to(tmp_path / "nowhere")
    _, _, out = swan_import(server, "wandb", broken.parent, "--project", unique_name, expect_exit=1)
    assert "cannot read" in out and "run-zzz.wandb" in out
    assert not project_exists(c, unique_name)


# -- online, against a stand-in with wandb.Api's interface ----------------------------------------------
class FakeFile:
    def __init__(self, name: str, data: bytes):
        self.name, self.data, self.size = name, data, len(data)

    def download(self, root: str, replace: bool = False):
        target = Path(root) / self.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.data)
        return open(target)


class FakeRun:
    def __init__(self, run_id: str, png: bytes):
        self.id = run_id
        self.name = f"online {run_id}"
        self.state = "finished"
        self.config = {"lr": 0.5, "opt": {"name": "sgd"}}
        self.summary = {"_runtime": 150.5, "best": 3}
        self.tags = ["online"]
        self.notes = "from the cloud"
        self.group = "grp"
        self.job_type = "eval"
        self.created_at = "2026-01-02T03:04:05Z"
        self.metadata = {"host": "h1"}
        self.lastHistoryStep = 99
        self.sweep = None
        self._files = {"media/images/p_5_abc.png": FakeFile("media/images/p_5_abc.png", png),
                       "output.log": FakeFile("output.log", b"console text\nepoch 1\r\repoch 2\nlast line")}

    def scan_history(self, keys=None, page_size=1000, min_step=0, max_step=None):
        base = 1767323045.0
        for s in range(100):
            row = {"_step": s, "_timestamp": base + s, "_runtime": float(s), "loss": 1.0 / (s + 1)}
            if s == 5:
                row["pic"] = {"_type": "image-file", "path": "media/images/p_5_abc.png", "caption": "pc",
                              "format": "png", "width": 1, "height": 1}
            yield row

    def history(self, stream="default", samples=500, pandas=True):
        return [{"_timestamp": 1767323045.0 + 10 * i, "system.cpu": 10.0 + i, "system.gpu.0.gpu": 50.0} for i in range(3)]

    def file(self, name):
        return self._files[name]

    def files(self):
        return list(self._files.values())


class FakeApi:
    """Stands in for `wandb.Api()`: `runs(path, per_page=...)` and `run(path)`."""

    png = b"\x89PNG\r\n\x1a\n" + b"fake image bytes"

    def runs(self, path, filters=None, per_page=50, order=None):
        if path != "my-team/my-project":
            raise ValueError(f"Could not find project {path}")
        return iter([FakeRun("abc123", self.png), FakeRun("def456", self.png)])

    def run(self, path):
        raise ValueError(f"Could not find run {path}")


def fake_api():
    return FakeApi()


def test_online_import_through_the_api(server, unique_name):
    c = client(server)
    _, summary, _ = swan_import(server, "wandb", "my-team/my-project", "--project", unique_name,
                                "--wandb-api", "tests.test_import_wandb:fake_api")
    assert sorted(r["state"] for r in summary["runs"]) == ["imported", "imported"]
    run = c.get_run(runs_by_name(c, unique_name)["online abc123"]["run_id"])
    rid = run["run_id"]
    h = c.get_history(rid, "loss")
    assert h["step"] == list(range(100)) and h["value"] == [1.0 / (s + 1) for s in range(100)]
    assert h["timestamp"] == [int((1767323045.0 + s) * 1000) for s in range(100)]
    cpu = c.get_history(rid, "system/cpu")
    assert cpu["value"] == [10.0, 11.0, 12.0] and cpu["step"] == [0, 1, 2]
    media = c.get_media(rid)
    assert len(media) == 1 and media[0]["caption"] == "pc" and media[0]["step"] == 5
    assert c.download_artifact(rid, media[0]["path"]) == FakeApi.png
    assert c.download_artifact(rid, "wandb/files/output.log") == b"console text\nepoch 1\r\repoch 2\nlast line"
    console = c.get_console(rid)  # a progress line overwritten with \r keeps what was left on screen
    assert console["message"] == ["console text", "epoch 2", "last line"]
    assert console["level"] == ["INFO"] * 3 and set(console["timestamp"]) == {1767323045000}
    assert run["params"] == {"lr": "0.5", "opt.name": "sgd"}
    assert run["tags"]["swan.import.source"] == "wandb:my-team/my-project/abc123"
    assert run["tags"]["wandb.group"] == "grp" and run["tags"]["mlflow.note.content"] == "from the cloud"
    assert run["status"] == "FINISHED" and run["start_time"] == 1767323045000
    assert run["end_time"] == 1767323045000 + 150500
    before = server_counts(c, unique_name)
    _, summary, _ = swan_import(server, "wandb", "my-team/my-project", "--project", unique_name,
                                "--wandb-api", "tests.test_import_wandb:fake_api")
    assert [r["state"] for r in summary["runs"]] == ["already imported"] * 2
    assert server_counts(c, unique_name) == before


def test_online_unknown_entity_is_a_clear_error(server, unique_name):
    c = client(server)
    _, _, out = swan_import(server, "wandb", "nobody/nothing", "--project", unique_name,
                            "--wandb-api", "tests.test_import_wandb:fake_api", expect_exit=1)
    assert "Could not find project nobody/nothing" in out
    assert not project_exists(c, unique_name)
