"""`swanlab.sync_tensorboard_torch()` and `swanlab.sync_tensorboardX()`: what a TensorBoard
`SummaryWriter` writes (scalars, scalar groups, images, text) reaches Swan, and closing the writer
finishes the run."""

from __future__ import annotations

import pytest

from tests.integrations.support import check_swanlab_links, download_bytes, histories, run_recipes
from tests.swanlab_support import all_artifacts, mlflow_run

pytestmark = [pytest.mark.integrations, pytest.mark.timeout(600)]

EXPECTED = {
    "loss": {(i, 1.0 / (i + 1)) for i in range(5)},
    "acc/train": {(i, i / 10) for i in range(5)},
    "acc/val": {(i, i / 20) for i in range(5)},
}


def _check_run(client, out, name, logdir, text, tmp):
    run = mlflow_run(client, out["cuid"])
    check_swanlab_links(out["_output"], run)
    assert run.info.status == "FINISHED" and run.info.run_name == name
    assert client.get_experiment(run.info.experiment_id).name == "integrations-tensorboard"
    assert run.data.params["tensorboard_logdir"] == logdir
    assert set(run.data.metrics) == set(EXPECTED)
    assert histories(client, run.info.run_id, EXPECTED) == EXPECTED
    files = all_artifacts(client, run.info.run_id)
    (note,) = [p for p in files if p.startswith("media/text/003-") and p.endswith(".txt")]
    assert download_bytes(client, run.info.run_id, note, tmp).decode() == text
    return run, files


def test_sync_tensorboard_torch(server, mlflow_client, tmp_path):
    out = run_recipes(tmp_path, server, ["tensorboard-torch"], epilogue='result = {"cuid": run.id}')
    run, files = _check_run(mlflow_client, out, "torch-writer", "tb-logs", "hello from tensorboard", tmp_path)
    (image,) = [p for p in files if p.startswith("media/image/002-") and p.endswith(".png")]
    png = download_bytes(mlflow_client, run.info.run_id, image, tmp_path)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    from io import BytesIO

    from PIL import Image

    picture = Image.open(BytesIO(png)).convert("RGB")
    assert picture.size == (8, 8) and picture.getpixel((3, 3)) == (255, 0, 0)


def test_sync_tensorboardx(server, mlflow_client, tmp_path):
    out = run_recipes(tmp_path, server, ["tensorboardx"], epilogue='result = {"cuid": run.id}')
    _check_run(mlflow_client, out, "tensorboardx-writer", "tbx-logs", "hello from tensorboardX", tmp_path)
