"""`swan import tensorboard`: event files written by tensorboardX and by tensorboard's own
EventFileWriter, imported into a live server and checked point by point against tbparse (an
independent reader) and tensorboard's EventAccumulator, plus damaged files, re-import and bad input."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import pytest

from tests.import_support import (
    client,
    cut_tail,
    flip_byte,
    ms,
    project_exists,
    run_script,
    runs_by_name,
    server_counts,
    skipped_reasons,
    swan_import,
)

WRITER = r"""
import sys, time
import numpy as np
from tensorboardX import SummaryWriter

root = sys.argv[1]
w = SummaryWriter(f"{root}/exp/runA")
for s in range(200):
    w.add_scalar("loss", 1.0 / (s + 1), s)
    w.add_scalar("acc", s / 200.0, s)
w.add_scalar("loss", float("nan"), 200)
w.add_histogram("weights", np.arange(100, dtype=np.float64), 5)
img = np.zeros((3, 4, 6), dtype=np.float32); img[0, 1, 2] = 1.0; img[2] = 0.5
w.add_image("img", img, 3)
t = np.linspace(0, 1, 800, dtype=np.float32)
w.add_audio("snd", np.sin(2 * np.pi * 440 * t), 4, sample_rate=8000)
w.add_text("notes", "hello **markdown**", 2)
w.add_pr_curve("pr", np.array([0, 1, 1, 0, 1]), np.array([0.1, 0.9, 0.7, 0.4, 0.6]), 6, num_thresholds=11)
w.add_scalars("multi", {"a": 1.0, "b": 2.0}, 0)
w.add_hparams({"lr": 0.1, "bs": 32, "opt": "adam", "flag": True}, {"hp/acc": 0.75})
w.close()
time.sleep(1.2)
w2 = SummaryWriter(f"{root}/exp/runA")  # a restart: a second event file in the same folder
for s in range(201, 301):
    w2.add_scalar("loss", 1.0 / (s + 1), s)
w2.close()

from tensorboard.compat.proto import event_pb2, graph_pb2
from tensorboard.plugins.histogram import summary_v2 as hist_v2
from tensorboard.plugins.scalar import summary_v2 as scalar_v2
from tensorboard.plugins.text import summary_v2 as text_v2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

ew = EventFileWriter(f"{root}/exp/tf2")
for s in range(50):
    ew.add_event(event_pb2.Event(wall_time=time.time(), step=s, summary=scalar_v2.scalar_pb("tloss", 2.0 * s + 0.25)))
ew.add_event(event_pb2.Event(wall_time=time.time(), step=7,
                             summary=hist_v2.histogram_pb("th", np.array([1.0, 2.0, 2.5, 4.0, 8.0]), buckets=4)))
ew.add_event(event_pb2.Event(wall_time=time.time(), step=8, summary=text_v2.text_pb("ttext", "tf2 text")))
graph = graph_pb2.GraphDef()
node = graph.node.add(); node.name = "n1"; node.op = "Const"
ew.add_event(event_pb2.Event(wall_time=time.time(), graph_def=graph.SerializeToString()))
ew.close()

big = SummaryWriter(f"{root}/big")
for s in range(3000):
    big.add_scalar("y", s * 0.5, s)
big.close()
"""


@pytest.fixture(scope="module")
def tb_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tb")
    run_script(root, WRITER, args=[str(root)])
    return root


def tbparse_frames(path: Path):
    from tbparse import SummaryReader

    reader = SummaryReader(str(path), extra_columns={"wall_time", "dir_name"})
    return reader.scalars, reader.tensors, reader.histograms


def _history(c, run_id, key):
    h = c.get_history(run_id, key)
    return list(zip(h["step"], h["timestamp"], h["value"]))


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_import_matches_tbparse_point_by_point(server, tb_root, unique_name):
    c = client(server)
    _, summary, _ = swan_import(server, "tensorboard", tb_root / "exp", "--project", unique_name)
    runs = runs_by_name(c, unique_name)
    names = set(runs)
    hp_dirs = [p.name for p in (tb_root / "exp" / "runA").iterdir() if p.is_dir() and p.name != "multi"]
    assert len(hp_dirs) == 1
    assert names == {"runA", "tf2", "runA/multi/a", "runA/multi/b", f"runA/{hp_dirs[0]}"}
    assert summary["totals"]["points"] == 200 * 2 + 1 + 100 + 50 + 2 + 1

    scalars, tensors, histograms = tbparse_frames(tb_root / "exp")
    # every scalar tbparse reads (tensorboardX simple values) is on the server, with step, wall time and value
    checked = 0
    for (dir_name, tag), frame in scalars.groupby(["dir_name", "tag"]):
        run = runs[dir_name]
        got = _history(c, run["run_id"], tag)
        want = sorted((int(r.step), ms(r.wall_time), float(r.value)) for r in frame.itertuples())
        assert len(got) == len(want), (dir_name, tag)
        for (gs, gt, gv), (ws, wt, wv) in zip(sorted(got, key=lambda p: (p[0], p[1])), want):
            assert gs == ws and gt == wt and _same(gv, wv), (dir_name, tag, gs, ws, gv, wv)
            checked += 1
    assert checked == 200 * 2 + 1 + 100 + 2 + 1
    # the two files of runA are one run: steps 0-200 from the first, 201-300 from the restart
    loss = _history(c, runs["runA"]["run_id"], "loss")
    assert [p[0] for p in loss] == list(range(301)) and math.isnan(loss[200][2])

    # TF2-style tensor scalars (tbparse lists them under .tensors)
    tloss = tensors[tensors.tag == "tloss"]
    got = _history(c, runs["tf2"]["run_id"], "tloss")
    want = sorted((int(r.step), ms(r.wall_time), float(r.value)) for r in tloss.itertuples())
    assert got == want and len(got) == 50

    # histograms: kept as histogram data (media items with a JSON payload), same buckets as tbparse
    media_a = {m["key"]: m for m in c.get_media(runs["runA"]["run_id"])}
    h = json.loads(c.download_artifact(runs["runA"]["run_id"], media_a["weights"]["path"]))
    row = histograms[(histograms.tag == "weights")].iloc[0]
    assert h["type"] == "histogram" and h["num"] == 100 and h["min"] == 0 and h["max"] == 99
    assert h["sum"] == sum(range(100)) and list(h["bucket"]) == [float(x) for x in row["counts"]]
    assert list(h["bucket_limit"]) == [float(x) for x in row["limits"]]
    assert sum(h["counts"]) == 100 and len(h["edges"]) == len(h["counts"]) + 1
    assert media_a["weights"]["step"] == 5 and media_a["weights"]["kind"] in ("histogram", "file")
    assert media_a["weights"]["path"].startswith("media/histogram/")
    media_tf2 = {m["key"]: m for m in c.get_media(runs["tf2"]["run_id"])}
    th = json.loads(c.download_artifact(runs["tf2"]["run_id"], media_tf2["th"]["path"]))
    assert sum(b[2] for b in th["buckets"]) == 5 and th["counts"] == [b[2] for b in th["buckets"]]
    assert media_tf2["th"]["step"] == 7

    # images, audio, text, PR curve: the bytes as tensorboard's EventAccumulator reads them
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(str(tb_root / "exp" / "runA"), size_guidance={ea.IMAGES: 0, ea.AUDIO: 0, ea.TENSORS: 0})
    acc.Reload()
    img = acc.Images("img")[0]
    stored = c.download_artifact(runs["runA"]["run_id"], media_a["img"]["path"])
    assert stored == img.encoded_image_string and media_a["img"]["kind"] == "image" and media_a["img"]["step"] == 3
    assert media_a["img"]["timestamp"] == ms(img.wall_time)
    snd = acc.Audio("snd")[0]
    stored = c.download_artifact(runs["runA"]["run_id"], media_a["snd"]["path"])
    assert stored == snd.encoded_audio_string and media_a["snd"]["kind"] == "audio" and stored[:4] == b"RIFF"
    text = c.download_artifact(runs["runA"]["run_id"], media_a["notes/text_summary"]["path"])
    assert text == b"hello **markdown**" and media_a["notes/text_summary"]["step"] == 2
    pr = json.loads(c.download_artifact(runs["runA"]["run_id"], media_a["pr"]["path"]))
    pr_tensor = acc.Tensors("pr")[0]
    import numpy as np
    from tensorboard.util import tensor_util

    arr = tensor_util.make_ndarray(pr_tensor.tensor_proto)
    assert pr["columns"] == ["threshold", "tp", "fp", "tn", "fn", "precision", "recall"]
    assert len(pr["data"]) == 11
    for i, row_ in enumerate(pr["data"]):
        assert np.allclose(row_[1:], arr[:, i])
    tf2_text = c.download_artifact(runs["tf2"]["run_id"], media_tf2["ttext"]["path"])
    assert tf2_text == b"tf2 text"

    # hparams → params of the folder they were written to; the graph → an artifact
    hp_run = c.get_run(runs[f"runA/{hp_dirs[0]}"]["run_id"])
    assert hp_run["params"] == {"lr": "0.1", "bs": "32", "opt": "adam", "flag": "True"}
    assert _history(c, hp_run["run_id"], "hp/acc")[0][2] == 0.75
    from tensorboard.compat.proto import graph_pb2

    graph = graph_pb2.GraphDef.FromString(c.download_artifact(runs["tf2"]["run_id"], "tensorboard/graph_def.pb"))
    assert graph.node[0].name == "n1"

    # source identity, names, times
    run_a = c.get_run(runs["runA"]["run_id"])
    assert run_a["tags"]["swan.import.source"] == f"tensorboard:{(tb_root / 'exp' / 'runA').resolve()}"
    walls = [r.wall_time for r in scalars[scalars.dir_name == "runA"].itertuples()]
    assert run_a["start_time"] <= ms(min(walls)) and run_a["end_time"] >= ms(max(walls))
    assert run_a["status"] == "FINISHED"
    assert skipped_reasons(summary) == []


def test_reimport_adds_nothing(server, tb_root, unique_name):
    c = client(server)
    swan_import(server, "tensorboard", tb_root / "exp", "--project", unique_name)
    before = server_counts(c, unique_name)
    _, summary, _ = swan_import(server, "tensorboard", tb_root / "exp", "--project", unique_name)
    assert {r["state"] for r in summary["runs"]} == {"already imported"}
    assert summary["totals"]["points"] == 0
    assert server_counts(c, unique_name) == before


def test_path_that_is_itself_a_run_is_named_by_its_basename(server, tb_root, unique_name):
    c = client(server)
    _, summary, _ = swan_import(server, "tensorboard", tb_root / "big", "--project", unique_name)
    assert [r["name"] for r in summary["runs"]] == ["big"]
    run = runs_by_name(c, unique_name)["big"]
    h = c.get_history(run["run_id"], "y")
    assert h["step"] == list(range(3000)) and h["value"] == [s * 0.5 for s in range(3000)]


def _big_points(tb_root):
    scalars, _, _ = tbparse_frames(tb_root / "big")
    return sorted((int(r.step), ms(r.wall_time), float(r.value)) for r in scalars.itertuples())


def test_flipped_byte_loses_only_the_damaged_record(server, tb_root, tmp_path, unique_name):
    c = client(server)
    truth = _big_points(tb_root)
    damaged = tmp_path / "big"
    shutil.copytree(tb_root / "big", damaged)
    (event_file,) = damaged.iterdir()
    flip_byte(event_file, 0.5)
    # tensorboard's own readers stop at the bad record
    from tbparse import SummaryReader

    assert len(SummaryReader(str(damaged)).scalars) < len(truth) * 0.6
    _, summary, _ = swan_import(server, "tensorboard", damaged, "--project", unique_name)
    run = runs_by_name(c, unique_name)["big"]
    got = _history(c, run["run_id"], "y")
    assert len(got) == len(truth) - 1
    assert set(got) <= set(truth)
    reasons = skipped_reasons(summary)
    assert len(reasons) == 1 and reasons[0].startswith("damaged data at byte"), reasons


def test_cut_off_last_record_is_reported_and_the_rest_kept(server, tb_root, tmp_path, unique_name):
    c = client(server)
    truth = _big_points(tb_root)
    damaged = tmp_path / "big"
    shutil.copytree(tb_root / "big", damaged)
    (event_file,) = damaged.iterdir()
    cut_tail(event_file, 7)
    _, summary, _ = swan_import(server, "tensorboard", damaged, "--project", unique_name)
    run = runs_by_name(c, unique_name)["big"]
    assert _history(c, run["run_id"], "y") == truth[:-1]
    reasons = skipped_reasons(summary)
    assert len(reasons) == 1 and reasons[0].startswith("incomplete last record"), reasons


def test_dry_run_writes_nothing(server, tb_root, unique_name):
    c = client(server)
    _, summary, _ = swan_import(server, "tensorboard", tb_root / "exp", "--project", unique_name, "--dry-run")
    assert summary["dry_run"] and summary["totals"]["points"] == 554
    assert {r["state"] for r in summary["runs"]} == {"would import"}
    assert not project_exists(c, unique_name)


def test_bad_input_is_a_clear_error_and_writes_nothing(server, tb_root, tmp_path, unique_name):
    c = client(server)
    not_tb = tmp_path / "notes"
    not_tb.mkdir()
    (not_tb / "readme.txt").write_text("hello")
    _, _, out = swan_import(server, "tensorboard", not_tb, "--project", unique_name, expect_exit=1)
    assert "not a TensorBoard log folder" in out
    _, _, out = swan_import(server, "tensorboard", tmp_path / "missing", "--project", unique_name, expect_exit=1)
    assert "no such file or folder" in out
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "events.out.tfevents.1.host").write_bytes(bytes(range(256)) * 40)
    _, _, out = swan_import(server, "tensorboard", garbage, "--project", unique_name, expect_exit=1)
    assert "no readable TensorBoard records" in out
    unreadable = tmp_path / "unreadable"
    shutil.copytree(tb_root / "big", unreadable)
    (unreadable / "events.out.tfevents.9999999999.gone").symlink_to(tmp_path / "nowhere")
    _, _, out = swan_import(server, "tensorboard", unreadable, "--project", unique_name, expect_exit=1)
    assert "cannot read" in out and "events.out.tfevents.9999999999.gone" in out
    assert not project_exists(c, unique_name)


def test_hashes_of_media_are_the_source_bytes(server, tb_root, unique_name):
    """Every media file on the server is byte-identical to what the writer put in the event file."""
    from tensorboard.backend.event_processing import event_accumulator as ea

    c = client(server)
    swan_import(server, "tensorboard", tb_root / "exp" / "runA", "--project", unique_name)
    run = runs_by_name(c, unique_name)["runA"]
    acc = ea.EventAccumulator(str(tb_root / "exp" / "runA"), size_guidance={ea.IMAGES: 0, ea.AUDIO: 0})
    acc.Reload()
    want = {hashlib.sha256(acc.Images("img")[0].encoded_image_string).hexdigest(),
            hashlib.sha256(acc.Audio("snd")[0].encoded_audio_string).hexdigest()}
    got = {hashlib.sha256(c.download_artifact(run["run_id"], m["path"])).hexdigest()
           for m in c.get_media(run["run_id"]) if m["kind"] in ("image", "audio")}
    assert got == want


def test_interrupted_import_resumes_without_duplicates(server, tb_root, unique_name):
    """The server goes away after the first batches: the run stays incomplete (no fingerprint tag);
    importing again completes it, and every point is there exactly once."""
    from importers.tensorboard import TensorBoardSource
    from importers.writer import Importer
    from swan_client.api import Client, SwanApiError

    class Flaky(Client):
        calls = 0

        def write_batch(self, run_id, **kw):
            Flaky.calls += 1
            if Flaky.calls == 3:
                raise SwanApiError(None, "NETWORK_ERROR", "connection reset")
            return super().write_batch(run_id, **kw)

    summary = Importer(Flaky(server.url), unique_name, default_project="x").run(TensorBoardSource(tb_root / "exp" / "runA"))
    states = {r.name: r.state for r in summary.runs}
    assert "failed" in states.values()
    c = client(server)
    _, again, _ = swan_import(server, "tensorboard", tb_root / "exp" / "runA", "--project", unique_name)
    assert {r["state"] for r in again["runs"]} <= {"imported", "already imported"}
    assert any(r["state"] == "imported" for r in again["runs"])
    run = runs_by_name(c, unique_name)["runA"]
    loss = c.get_history(run["run_id"], "loss")
    assert loss["step"] == list(range(301))
    assert sorted(m["key"] for m in c.get_media(run["run_id"])) == ["img", "notes/text_summary", "pr", "snd", "weights"]
    _, third, _ = swan_import(server, "tensorboard", tb_root / "exp" / "runA", "--project", unique_name)
    assert {r["state"] for r in third["runs"]} == {"already imported"}
