"""Helpers for the SwanLab tests: run the real `swanlab` SDK in a subprocess with its home,
root and log folder in a temporary directory, and read back through MLflow or raw HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import requests


def admin_key(server) -> str:
    return (server.home / "admin_api_key").read_text().strip()


def sdk_env(tmp: Path, **extra) -> dict:
    """A clean environment for one SDK process: no inherited SWANLAB_* settings, HOME and
    SWANLAB_ROOT inside `tmp`, no interactive prompts, no hardware monitor unless asked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWANLAB_")}
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        SWANLAB_ROOT=str(tmp / "swanlab-root"),
        SWANLAB_LOG_DIR=str(tmp / "swanlog"),
        SWANLAB_LOGDIR=str(tmp / "swanlog"),  # the older name, still read by 0.8 – 0.10
        SWANLAB_INTERACTIVE="false",
        SWANLAB_PROBE_MONITOR="false",
        PYTHONUNBUFFERED="1",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_script(tmp: Path, source: str, env: dict, python: str = sys.executable, timeout: float = 300,
               check: bool = True) -> subprocess.CompletedProcess:
    tmp.mkdir(parents=True, exist_ok=True)
    script = tmp / f"script_{abs(hash(source)) % 10**8}.py"
    script.write_text(textwrap.dedent(source))
    proc = subprocess.run([python, str(script)], cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"script failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    return proc


def run_cli(tmp: Path, args: list[str], env: dict, python: str = sys.executable, timeout: float = 300,
            check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([python, "-m", "swanlab", *args], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if check:
        assert proc.returncode == 0, f"swanlab {args[0]} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


class SwanLabHttp:
    """Raw SwanLab wire access, logged in with a key."""

    def __init__(self, base: str, key: str):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        resp = requests.post(self.base + "/api/login/api_key", headers={"authorization": key}, timeout=30)
        assert resp.status_code == 200, resp.text
        self.login = resp.json()
        self.session.cookies.set("sid", self.login["sid"])

    def get(self, path, **kw):
        return self.session.get(self.base + "/api" + path, timeout=60, **kw)

    def post(self, path, **kw):
        return self.session.post(self.base + "/api" + path, timeout=60, **kw)

    def put(self, path, **kw):
        return self.session.put(self.base + "/api" + path, timeout=60, **kw)

    def project(self, name: str, workspace: str = "admin") -> dict:
        resp = self.get(f"/project/{workspace}/{name}")
        if resp.status_code == 404:
            assert self.post(f"/projects/{workspace}", json={"name": name, "visibility": "PRIVATE"}).status_code == 201
            resp = self.get(f"/project/{workspace}/{name}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def experiment(self, project: str, cuid: str, workspace: str = "admin", **body):
        return self.post(f"/project/{workspace}/{project}/experiment",
                         json={"name": body.pop("name", cuid), "cuid": cuid, **body})


def mlflow_run(client, cuid: str):
    """The MLflow run of a SwanLab experiment, found by its `swanlab.cuid` tag."""
    exps = [e.experiment_id for e in client.search_experiments(view_type=3)]
    runs = client.search_runs(exps, f"tags.`swanlab.cuid` = '{cuid}'")
    assert len(runs) == 1, f"expected one run with cuid {cuid}, got {len(runs)}"
    return runs[0]


def all_artifacts(client, run_id: str, path: str | None = None) -> dict[str, int]:
    out = {}
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            out.update(all_artifacts(client, run_id, f.path))
        else:
            out[f.path] = f.file_size
    return out
