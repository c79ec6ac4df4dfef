"""Swan tracking server."""

__version__ = "0.1.0"

# The MLflow client reads GET /version to decide which protocol generation the server speaks
# (v3 traces, OTLP). We answer with the MLflow release whose REST surface we implement.
MLFLOW_COMPAT_VERSION = "3.17.2"
