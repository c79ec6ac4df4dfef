"""Helpers for the importer tests: make sources with the real writers in subprocesses, run
`swan import ...` in-process, read back through `swan_client.api.Client`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner


def run_script(tmp: Path, source: str, env: dict | None = None, timeout: float = 600, check: bool = True,
               args: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run `source` as a Python script in `tmp` (heavy writer imports stay out of the test process)."""
    tmp.mkdir(parents=True, exist_ok=True)
    script = tmp / f"writer_{abs(hash(source)) % 10**8}.py"
    script.write_text(textwrap.dedent(source))
    proc = subprocess.run([sys.executable, str(script), *(args or [])], cwd=tmp, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout, check=False)
    if check:
        assert proc.returncode == 0, f"writer failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def copied_run(run_dir: Path, tmp_path: Path, pattern: str) -> tuple[Path, Path]:
    """A copy of a source run folder, to damage without touching the module's fixture, and the
    one record log in it matching `pattern` (e.g. "*.wandb")."""
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    (log,) = copy.glob(pattern)
    return copy, log


def swan_import(server, kind: str, source: str, *args: str, expect_exit: int = 0):
    """`swan import KIND SOURCE ... --json` in-process; returns (exit code, summary dict or None, output)."""
    from swan_client.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["import", kind, str(source), "--tracking-uri", server.url, "--json", *args],
                           catch_exceptions=False)
    out = result.stdout
    err = result.stderr if hasattr(result, "stderr") else ""
    assert result.exit_code == expect_exit, f"exit {result.exit_code}:\n{out[-4000:]}\n{err[-4000:]}"
    summary = None
    if out.strip().startswith("{"):
        summary = json.loads(out)
    return result.exit_code, summary, out + err


def client(server):
    from swan_client.api import Client

    return Client(server.url)


def runs_by_name(c, project: str) -> dict[str, dict]:
    return {r["name"]: r for r in c.list_runs(project, view="all")}


def project_exists(c, name: str) -> bool:
    return c.project_by_name(name) is not None


def server_counts(c, project: str) -> dict:
    """Everything countable in a project: runs, and per run every metric's points, media rows,
    console lines, artifact files, params and tags."""
    out = {}
    for r in c.list_runs(project, view="all"):
        rid = r["run_id"]
        full = c.get_run(rid)
        out[rid] = {
            "points": {k: len(c.get_history(rid, k)["step"]) for k in full["metrics"]},
            "media": len(c.get_media(rid)),
            "console": c.get_console(rid)["last_line"],
            "artifacts": sorted(_artifact_files(c, rid)),
            "params": dict(full["params"]),
            "tags": {k: v for k, v in full["tags"].items()},
            "status": full["status"],
            "times": (full["start_time"], full["end_time"]),
        }
    return out


def _artifact_files(c, run_id: str, path: str = ""):
    for f in c.list_artifacts(run_id, path):
        if f["is_dir"]:
            yield from _artifact_files(c, run_id, f["path"])
        else:
            yield (f["path"], f["file_size"])


def flip_byte(path: Path, fraction: float = 0.5) -> int:
    data = bytearray(path.read_bytes())
    i = int(len(data) * fraction)
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return i


def cut_tail(path: Path, n: int = 7) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:-n])


def skipped_reasons(summary: dict) -> list[str]:
    return [s["reason"] for r in summary["runs"] for s in r["skipped"]]


def ms(seconds: float) -> int:
    return int(seconds * 1000 + 0.5)
