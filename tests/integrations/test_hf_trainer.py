"""A Hugging Face `Trainer` (a one-layer BERT built from its config, random token ids, CPU) run once
with `report_to="mlflow"` and once with `report_to="swanlab"`: every entry of the trainer's
`state.log_history` is on the server, at its step, and the run is finished."""

from __future__ import annotations

import pytest

from tests.integrations.support import check_swanlab_links, histories, points_by_key, run_recipes
from tests.swanlab_support import mlflow_run

pytestmark = [pytest.mark.integrations, pytest.mark.timeout(600)]

# What transformers' MLflowCallback logs as params: the model config under the training arguments,
# minus values longer than MLflow's limit; logged as str(value).
MLFLOW_EPILOGUE = """
combined = {**model.config.to_dict(), **args.to_dict()}
result = {"run_id": mlflow.last_active_run().info.run_id, "log_history": trainer.state.log_history,
          "params": {k: str(v) for k, v in combined.items() if len(str(v)) <= 6000}}
"""
SWANLAB_EPILOGUE = """
result = {"cuid": swanlab.get_run().id, "log_history": trainer.state.log_history,
          "num_parameters": model.num_parameters()}
"""
SINGLE_VALUES = {"train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos"}


def _numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_trainer_report_to_mlflow(server, mlflow_client, tmp_path):
    out = run_recipes(tmp_path, server, ["hf-setup", "hf-mlflow"], prologue="import mlflow",
                      epilogue=MLFLOW_EPILOGUE)
    history = out["log_history"]
    assert sum("loss" in e for e in history) == 8 and sum("eval_loss" in e for e in history) == 2, history
    run = mlflow_client.get_run(out["run_id"])
    assert run.info.status == "FINISHED" and run.info.end_time >= run.info.start_time
    assert run.info.run_name == "hf-mlflow"
    assert mlflow_client.get_experiment(run.info.experiment_id).name == "integrations-hf-trainer"
    # every logged value, at its global step; nothing else
    expected = points_by_key((k, e["step"], v) for e in history for k, v in e.items() if k != "step" and _numeric(v))
    assert set(run.data.metrics) == set(expected), sorted(run.data.metrics)
    assert histories(mlflow_client, run.info.run_id, expected) == expected
    # the training arguments and model config, more than one log-batch's worth of params
    assert len(out["params"]) > 100
    # (problem_type is filled in by the model's first forward pass, after the callback logged it)
    assert run.data.params.pop("problem_type") == "None"
    assert out["params"].pop("problem_type") == "single_label_classification"
    assert run.data.params == out["params"]
    assert run.data.params["learning_rate"] == "0.001" and run.data.params["hidden_size"] == "16"


def _swanlab_key(key: str) -> str:
    """transformers' SwanLabCallback: one-off totals under single_value/, evaluation under eval/,
    the rest under train/."""
    if key in SINGLE_VALUES:
        return "single_value/" + key
    if key.startswith("eval_"):
        return "eval/" + key[len("eval_"):]
    return "train/" + key


def test_trainer_report_to_swanlab(server, mlflow_client, tmp_path):
    out = run_recipes(tmp_path, server, ["hf-setup", "hf-swanlab"], epilogue=SWANLAB_EPILOGUE)
    assert "Upload complete" in out["_output"], out["_output"][-3000:]
    history = out["log_history"]
    assert sum("loss" in e for e in history) == 8 and sum("eval_loss" in e for e in history) == 2, history
    run = mlflow_run(mlflow_client, out["cuid"])
    assert run.info.status == "FINISHED" and run.info.end_time >= run.info.start_time
    assert run.info.run_name == "hf-swanlab"
    assert mlflow_client.get_experiment(run.info.experiment_id).name == "integrations-hf-trainer-swanlab"
    entries = [(_swanlab_key(k), e["step"], v) for e in history for k, v in e.items() if k != "step" and _numeric(v)]
    entries += [("train/global_step", e["step"], e["step"]) for e in history]
    expected = points_by_key(entries)
    assert set(run.data.metrics) == set(expected), sorted(run.data.metrics)
    assert histories(mlflow_client, run.info.run_id, expected) == expected
    # SwanLab config → params (flattened, str(value))
    params = run.data.params
    assert params["FRAMEWORK"] == "🤗transformers"
    assert params["learning_rate"] == "0.001" and params["num_train_epochs"] == "2" and params["hidden_size"] == "16"
    assert params["model_num_parameters"] == str(out["num_parameters"])
    check_swanlab_links(out["_output"], run)
