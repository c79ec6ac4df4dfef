"""`swan import` as a person sees it (no --json): the progress display, one line per run on a
non-terminal and a live bar on a terminal, and the closing summary with runs, points, media and
every skipped item with its reason. The source is a real `swanlab` offline run, cut off so that
its last record (the finish record) is skipped."""

from __future__ import annotations

import io
import re

import pytest
from click.testing import CliRunner

from tests.import_support import client, cut_tail, run_script
from tests.swanlab_support import sdk_env

WRITER = r"""
import numpy as np
import swanlab

swanlab.init(project="progress-proj", experiment_name="progress run", mode="offline")
for s in range(10):
    swanlab.log({"loss": 1.0 / (s + 1), "acc": s / 10}, step=s)
swanlab.log({"img": swanlab.Image(np.zeros((4, 4, 3), dtype=np.uint8))}, step=3)
swanlab.finish()
"""
POINTS, MEDIA = 20, 1
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def cut_run(tmp_path_factory):
    # a deep source path: a skipped item's line names its file and must not wrap however long that is
    tmp = tmp_path_factory.mktemp("swanlab-progress-" + "deep" * 40)
    run_script(tmp, WRITER, env=sdk_env(tmp))
    (run_dir,) = (tmp / "swanlog").glob("run-*")
    (log,) = run_dir.glob("*.swanlab")
    cut_tail(log, 7)
    return run_dir


def test_summary_text_lists_runs_points_media_and_each_skipped_item(server, cut_run, unique_name):
    from swan_client.cli import main

    result = CliRunner().invoke(main, ["import", "swanlab", str(cut_run), "--tracking-uri", server.url,
                                       "--project", unique_name], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out, err = result.stdout, result.stderr
    assert not out.lstrip().startswith("{")

    # what was imported agrees with the server
    c = client(server)
    (run,) = c.list_runs(unique_name, view="all")
    full = c.get_run(run["run_id"])
    assert sum(len(c.get_history(run["run_id"], k)["step"]) for k in full["metrics"]) == POINTS
    assert len(c.get_media(run["run_id"])) == MEDIA

    lines = out.splitlines()
    assert re.match(rf"Imported 1 run\(s\) from SwanLab runs in .+ into project '{unique_name}' in \d+\.\d s$",
                    lines[0]), lines[0]
    (row,) = [ln.split("│") for ln in lines if re.match(r"\s*progress run\s*│", ln)]
    console_lines, files = full_console_lines(c, run["run_id"]), len([f for f in list_files(c, run["run_id"]) if not f.startswith("media/")])
    assert [cell.strip() for cell in row] == ["progress run", "imported", str(POINTS), str(MEDIA), str(console_lines),
                                              str(files), "0", run["run_id"]], row
    assert any(ln.startswith(f"Totals: {POINTS} points, {MEDIA} media, ") and
               "0 run(s) already imported (unchanged), 0 failed" in ln for ln in lines), out
    skipped_at = lines.index("Skipped (2 item(s)):")
    skipped = lines[skipped_at + 1:skipped_at + 3]
    assert re.fullmatch(r"  progress run: 1 × incomplete last record \(\d+ byte\(s\)\): file cut off or still "
                        r"being written \[.+\.swanlab\]", skipped[0]), skipped
    assert skipped[1] == ("  progress run: 1 × no finish record: the run crashed or was still running; imported "
                          "as crashed (FAILED)"), skipped

    # the progress display on a non-terminal: a head line, then one line per run
    progress = err.splitlines()
    assert re.fullmatch(r"Importing 1 run\(s\), [0-9.]+ [KM]?B of source", progress[0]), progress
    assert progress[1] == (f"[1/1] progress run: read, writing ({POINTS} points, {MEDIA} media, {console_lines} lines, "
                           f"{files} files)"), progress


def test_progress_bar_on_a_terminal(server, cut_run, unique_name):
    from rich.console import Console

    from importers.progress import Progress, print_summary
    from importers.swanlab import SwanLabSource
    from importers.writer import Importer
    from swan_client.api import Client

    screen = io.StringIO()
    progress = Progress(console=Console(file=screen, force_terminal=True, width=120, color_system="standard"))
    assert progress.live
    summary = Importer(Client(server.url), unique_name, default_project="swanlab", progress=progress) \
        .run(SwanLabSource(cut_run))
    assert [r.state for r in summary.runs] == ["imported"]
    text = screen.getvalue()
    assert "\x1b[" in text  # drawn with terminal control codes, not printed as lines
    final = ANSI.sub("", text).replace("\r", "\n")
    last_read = [ln for ln in final.splitlines() if ln.startswith("read ")][-1]
    done, total = re.search(r"(\S+ [KMG]?B)/(\S+ [KMG]?B)", last_read).groups()
    assert done == total, last_read  # the bytes bar ends at the file's size
    assert re.search(r"runs .*1/1", final), final

    # and the summary on a terminal is the same text, in a table
    summary_screen = io.StringIO()
    print_summary(summary, console=Console(file=summary_screen, force_terminal=True, width=200))
    shown = ANSI.sub("", summary_screen.getvalue())
    assert "Skipped (2 item(s)):" in shown and "no finish record" in shown and f"{POINTS}" in shown


def full_console_lines(c, run_id: str) -> int:
    return c.get_console(run_id)["last_line"]


def list_files(c, run_id: str, path: str = "") -> list[str]:
    """Every artifact file of the run (media files included: they are stored as artifacts)."""
    out = []
    for f in c.list_artifacts(run_id, path):
        out += list_files(c, run_id, f["path"]) if f["is_dir"] else [f["path"]]
    return out
