"""Run the recipes of docs/INTEGRATIONS.md as written, each in a fresh Python process pointed at a
live server, and collect what the program knew (run ids, the values the framework logged)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from tests.swanlab_support import admin_key, run_script, sdk_env

DOC = Path(__file__).resolve().parents[2] / "docs" / "INTEGRATIONS.md"
RESULT = "INTEGRATION-RESULT="

# Printed by every program after its recipe: `result` is a dict the epilogue fills in.
EPILOGUE_PRINT = f"\nimport json as _json\nprint({RESULT!r} + _json.dumps(result), flush=True)\n"


def recipe(name: str) -> str:
    """The python block under `<!-- recipe: NAME -->` in docs/INTEGRATIONS.md."""
    text = DOC.read_text()
    m = re.search(r"<!-- recipe: " + re.escape(name) + r" -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert m, f"no recipe {name!r} in {DOC}"
    return m.group(1)


def program_env(tmp: Path, server) -> dict:
    """MLflow and SwanLab both pointed at `server`; no hub, no inherited MLflow run settings."""
    env = sdk_env(tmp, SWANLAB_API_HOST=server.url, SWANLAB_API_KEY=admin_key(server))
    for k in [k for k in env if k.startswith("MLFLOW_")]:
        del env[k]
    env.update(
        MLFLOW_TRACKING_URI=server.url,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",  # a 5xx fails the program instead of retrying for minutes
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(tmp / "hf-home"),
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        MPLBACKEND="Agg",
    )
    return env


def run_recipes(tmp: Path, server, names: list[str], prologue: str = "", epilogue: str = "",
                timeout: float = 300) -> dict:
    """prologue + the recipes + epilogue as one program; returns the epilogue's `result`."""
    source = "\n".join([prologue, *(recipe(n) for n in names), "result = {}", epilogue, EPILOGUE_PRINT])
    proc = run_script(tmp, source, program_env(tmp, server), timeout=timeout)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    assert line, f"the program printed no result:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    out = json.loads(line[-1][len(RESULT):])
    out["_output"] = proc.stdout + proc.stderr
    return out


def histories(client, run_id: str, keys) -> dict[str, set[tuple[int, float]]]:
    """{key: {(step, value)}} as the server returns each metric's full history."""
    return {k: {(m.step, m.value) for m in client.get_metric_history(run_id, k)} for k in keys}


def points_by_key(entries) -> dict[str, set[tuple[int, float]]]:
    """[(key, step, value)] → {key: {(step, value)}}"""
    out = defaultdict(set)
    for key, step, value in entries:
        out[key].add((int(step), float(value)))
    return dict(out)


def download_bytes(client, run_id: str, path: str, tmp: Path) -> bytes:
    local = client.download_artifacts(run_id, path, str(tmp))
    return Path(local).read_bytes()



def check_swanlab_links(output: str, run) -> None:
    """The links the SwanLab SDK printed ("View project at", "View run at") lead to the
    dashboard's pages of that project and run."""
    import requests

    runs = set(re.findall(r"(http://[^\s]+/@[^\s/]+/[^\s/]+/runs/[^\s/]+)", output))
    projects = set(re.findall(r"(http://[^\s]+/@[^\s/]+/[^\s/]+)(?:\s|$)", output))
    assert len(runs) == 1 and len(projects) == 1, (runs, projects, output[-2000:])
    for link, page in ((runs.pop(), f"/runs/{run.info.run_id}"), (projects.pop(), f"/projects/{run.info.experiment_id}")):
        resp = requests.get(link, allow_redirects=False, timeout=60)
        assert resp.status_code == 302 and resp.headers["Location"] == page, (link, resp.status_code, resp.headers)
