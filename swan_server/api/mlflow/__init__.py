"""The MLflow face: `/api/2.0/mlflow/*`, its ajax mirror, proxied artifacts, and the probes."""

from swan_server.api.mlflow import registry, traces  # noqa: F401  (MLflow 3 surface)
from swan_server.api.mlflow import artifacts, experiments, logged_models, meta, metrics, runs  # noqa: F401
from swan_server.api.mlflow.routes import routes


def register(app) -> None:
    routes.register(app)
