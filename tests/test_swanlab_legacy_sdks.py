"""Older SwanLab SDKs (0.8.x: legacy project and column routes; 0.9.x: views and /series) complete
a run against Swan. Each gets a throwaway venv (the pip cache makes this quick after the first)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from tests.swanlab_support import admin_key, mlflow_run, run_script, sdk_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.mark.parametrize("spec", ["swanlab==0.8.*", "swanlab==0.9.*"])
def test_older_sdk_completes_a_run(spec, server, mlflow_client, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "-q", spec, "numpy", "pillow"],
                             capture_output=True, text=True, timeout=800)
    assert install.returncode == 0, install.stderr[-3000:]
    version = subprocess.run([python, "-c", "import swanlab; print(swanlab.__version__)"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert version.startswith(spec.split("==")[1].rstrip(".*"))
    cuid = f"old{uuid.uuid4().hex[:8]}"
    project = f"legacy-{version.replace('.', '-')}-{uuid.uuid4().hex[:4]}"
    run_script(tmp_path, f"""
        import numpy as np, swanlab
        swanlab.login(host={server.url!r}, api_key={admin_key(server)!r})
        swanlab.init(project={project!r}, id={cuid!r}, resume="allow", config={{"lr": 0.1, "net": {{"w": 2}}}})
        for i in range(50):
            swanlab.log({{"loss": 1.0 / (i + 1), "train/acc": i / 50}}, step=i)
        swanlab.log({{"img": swanlab.Image(np.zeros((4, 4, 3), dtype=np.uint8), caption="c")}}, step=1)
        print("console from", swanlab.__version__)
        swanlab.finish()
    """, sdk_env(tmp_path), python=python)
    run = mlflow_run(mlflow_client, cuid)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.1", "net.w": "2"}
    history = mlflow_client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(i, 1.0 / (i + 1)) for i in range(50)]
    media = [f.path for f in mlflow_client.list_artifacts(run.info.run_id, "media/image")]
    assert media and media[0].startswith("media/image/001-")
