"""MLflow's own integrations, unchanged, against Swan: scikit-learn autologging (params, metrics,
the logged model, the dataset input; the model loads back) and system-metrics logging."""

from __future__ import annotations

import json

import pytest

from tests.integrations.support import run_recipes

pytestmark = [pytest.mark.integrations, pytest.mark.timeout(600)]

SKLEARN_EPILOGUE = """
mlflow.sklearn.autolog(disable=True)  # so the checks below log nothing themselves
from sklearn.metrics import accuracy_score
result = {"run_id": run.info.run_id, "loaded": type(loaded).__name__,
          "accuracy": accuracy_score(y, model.predict(X)), "n_rows": len(X)}
"""


@pytest.fixture(scope="module")
def sklearn_run(server, tmp_path_factory):
    return run_recipes(tmp_path_factory.mktemp("sklearn"), server, ["sklearn"], epilogue=SKLEARN_EPILOGUE)


def test_sklearn_autolog_params_metrics_dataset(sklearn_run, mlflow_client):
    run = mlflow_client.get_run(sklearn_run["run_id"])
    assert run.info.status == "FINISHED" and run.info.end_time >= run.info.start_time
    assert mlflow_client.get_experiment(run.info.experiment_id).name == "integrations-sklearn"
    params = run.data.params
    assert params["C"] == "0.5" and params["max_iter"] == "200" and params["solver"] == "lbfgs", params
    metrics = run.data.metrics
    for key in ("training_accuracy_score", "training_f1_score", "training_log_loss", "training_precision_score",
                "training_recall_score", "training_roc_auc", "training_score"):
        assert key in metrics, sorted(metrics)
    assert metrics["training_accuracy_score"] == pytest.approx(sklearn_run["accuracy"])
    assert metrics["training_score"] == pytest.approx(sklearn_run["accuracy"])
    assert run.data.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    # the training data as a dataset input, with its context, schema and profile
    by_context = {t.value: d for d in run.inputs.dataset_inputs for t in d.tags if t.key == "mlflow.data.context"}
    # `train` from fit(); `eval` from the recipe's predict() on the autologged model
    assert set(by_context) == {"train", "eval"}, run.inputs.dataset_inputs
    dataset = by_context["train"].dataset
    assert dataset.digest and dataset.source_type == "code"
    assert json.loads(dataset.profile)["features_shape"] == [sklearn_run["n_rows"], 5]
    assert "features" in json.loads(dataset.schema)["mlflow_tensorspec"]
    artifacts = {f.path for f in mlflow_client.list_artifacts(run.info.run_id)}
    assert {"estimator.html", "training_confusion_matrix.png", "training_roc_curve.png"} <= artifacts, artifacts


def test_sklearn_autolog_model_is_logged_and_loads_back(sklearn_run, mlflow_client, tmp_path):
    import mlflow

    run = mlflow_client.get_run(sklearn_run["run_id"])
    assert sklearn_run["loaded"] == "LogisticRegression"  # the recipe's load_model("runs:/…/model")
    (output,) = run.outputs.model_outputs
    model = mlflow_client.get_logged_model(output.model_id)
    assert model.name == "model" and model.source_run_id == run.info.run_id
    assert str(model.status) in ("READY", "LoggedModelStatus.READY"), model.status
    assert model.params["C"] == "0.5"
    # the model's metrics are the run's training metrics, tied to the dataset they were computed on
    by_key = {m.key: m for m in model.metrics}
    assert by_key["training_accuracy_score"].value == pytest.approx(sklearn_run["accuracy"])
    (train_input,) = [d for d in run.inputs.dataset_inputs if d.tags[0].value == "train"]
    assert by_key["training_accuracy_score"].dataset_digest == train_input.dataset.digest
    files = {f.path for f in mlflow_client.list_logged_model_artifacts(model.model_id)}
    assert {"MLmodel", "model.pkl", "requirements.txt"} <= files, files
    # and it loads back by its model URI here too
    loaded = mlflow.sklearn.load_model(f"models:/{model.model_id}", dst_path=str(tmp_path))
    assert type(loaded).__name__ == "LogisticRegression" and loaded.get_params()["C"] == 0.5


SYSTEM_PROLOGUE = """
def train():
    # Stands in for a training loop: returns once the monitor has published two samples (no
    # fixed sleep, so a loaded machine only makes it slower).
    import time
    from mlflow.tracking import fluent

    monitor = fluent.run_id_to_system_metrics_monitor[mlflow.active_run().info.run_id]
    while monitor._logging_step < 2:
        time.sleep(0.05)
"""


def test_system_metrics_land_in_the_system_group(server, mlflow_client, tmp_path):
    out = run_recipes(tmp_path, server, ["system-metrics"], prologue=SYSTEM_PROLOGUE,
                      epilogue='result = {"run_id": run.info.run_id}')
    run = mlflow_client.get_run(out["run_id"])
    assert run.info.status == "FINISHED"
    keys = set(run.data.metrics)
    assert keys and all(k.startswith("system/") for k in keys), keys
    expected = {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes",
                "system/system_memory_usage_percentage", "system/disk_usage_percentage",
                "system/disk_usage_megabytes", "system/disk_available_megabytes",
                "system/network_receive_megabytes", "system/network_transmit_megabytes"}
    assert expected <= keys, keys
    for key in keys:
        history = mlflow_client.get_metric_history(run.info.run_id, key)
        steps = sorted(m.step for m in history)
        assert len(steps) >= 2 and steps == list(range(len(steps))), (key, steps)
        assert all(run.info.start_time - 1000 <= m.timestamp <= run.info.end_time + 1000 for m in history)
    cpu = mlflow_client.get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")
    assert all(0 <= m.value <= 100 for m in cpu)
    memory = mlflow_client.get_metric_history(run.info.run_id, "system/system_memory_usage_megabytes")
    assert all(m.value > 0 for m in memory)
