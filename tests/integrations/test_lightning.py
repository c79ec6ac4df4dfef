"""Lightning's `MLFlowLogger` and SwanLab's `SwanLabLogger`: every value Lightning hands the logger
is on the server at its step, the hyperparameters are params, and the run is finished."""

from __future__ import annotations

import pytest

from tests.integrations.support import check_swanlab_links, histories, points_by_key, run_recipes
from tests.swanlab_support import all_artifacts, mlflow_run

pytestmark = [pytest.mark.integrations, pytest.mark.timeout(600)]


def recording(logger_import: str, logger_class: str) -> str:
    """A prologue that keeps every (metrics, step) the logger receives, before it sends them."""
    return f"""
{logger_import}
LOGGED = []
_original_log_metrics = {logger_class}.log_metrics

def _recording_log_metrics(self, metrics, step=None):
    LOGGED.append([{{k: float(v) for k, v in metrics.items()}}, step])
    return _original_log_metrics(self, metrics, step)

{logger_class}.log_metrics = _recording_log_metrics
"""


def _expected(logged) -> dict:
    return points_by_key((k, step or 0, v) for metrics, step in logged for k, v in metrics.items())


def test_lightning_mlflow_logger(server, mlflow_client, tmp_path):
    out = run_recipes(tmp_path, server, ["lightning-setup", "lightning-mlflow"],
                      prologue=recording("from lightning.pytorch.loggers import MLFlowLogger", "MLFlowLogger"),
                      epilogue='result = {"run_id": logger.run_id, "logged": LOGGED}')
    expected = _expected(out["logged"])
    assert {"train_loss", "val_loss", "epoch"} <= set(expected) and len(expected["train_loss"]) == 16, expected
    assert len(expected["val_loss"]) == 2
    run = mlflow_client.get_run(out["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "lightning-mlflow"
    assert mlflow_client.get_experiment(run.info.experiment_id).name == "integrations-lightning"
    assert run.data.params == {"lr": "0.05", "hidden": "8"}
    assert set(run.data.metrics) == set(expected)
    assert histories(mlflow_client, run.info.run_id, expected) == expected
    # log_model=True: the checkpoint is a run artifact
    checkpoints = {p: size for p, size in all_artifacts(mlflow_client, run.info.run_id).items() if p.endswith(".ckpt")}
    assert len(checkpoints) == 1 and all(size > 0 for size in checkpoints.values()), checkpoints


def test_lightning_swanlab_logger(server, mlflow_client, tmp_path):
    out = run_recipes(tmp_path, server, ["lightning-setup", "lightning-swanlab"],
                      prologue=recording("from swanlab.integration.pytorch_lightning import SwanLabLogger",
                                         "SwanLabLogger"),
                      epilogue='result = {"cuid": logger.version, "logged": LOGGED}')
    assert "Upload complete" in out["_output"], out["_output"][-3000:]
    expected = _expected(out["logged"])
    assert {"train_loss", "val_loss", "epoch"} <= set(expected) and len(expected["train_loss"]) == 16, expected
    run = mlflow_run(mlflow_client, out["cuid"])
    assert run.info.status == "FINISHED" and run.info.run_name == "lightning-swanlab"
    assert mlflow_client.get_experiment(run.info.experiment_id).name == "integrations-lightning-swanlab"
    assert run.data.params == {"FRAMEWORK": "pytorch_lightning", "lr": "0.05", "hidden": "8"}
    assert "⚡️pytorch lightning" in run.data.tags["swanlab.tags"]
    assert set(run.data.metrics) == set(expected)
    assert histories(mlflow_client, run.info.run_id, expected) == expected
    check_swanlab_links(out["_output"], run)
