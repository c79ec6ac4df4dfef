import os

import pytest

from tests.databases import TempDatabase, selected_backend
from tests.server import LiveServer


@pytest.fixture(scope="session")
def backend_store_uri():
    """The database the session's servers use: SQLite in SWAN_HOME by default; a fresh database on
    the local PostgreSQL or MariaDB with SWAN_TEST_BACKEND=postgresql|mysql."""
    backend = selected_backend()
    if backend == "sqlite":
        yield None
        return
    db = TempDatabase(backend).create()
    yield db.uri
    db.drop()


@pytest.fixture(scope="session")
def server(tmp_path_factory, backend_store_uri):
    """One live `swan server` (local artifacts) shared by the session's tests."""
    srv = LiveServer(tmp_path_factory.mktemp("swan-home"), backend_store_uri=backend_store_uri).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def tracking_uri(server):
    return server.url


@pytest.fixture(scope="module")
def module_mlflow_client(tracking_uri):
    """`MlflowClient` for module-scoped fixtures that log shared data once per test module."""
    import mlflow
    from mlflow import MlflowClient

    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(tracking_uri)
    yield MlflowClient(tracking_uri)
    mp.undo()


@pytest.fixture()
def mlflow_client(tracking_uri, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    # Fail fast in tests instead of retrying for minutes on a 5xx.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(tracking_uri)
    return MlflowClient(tracking_uri)


@pytest.fixture(autouse=True)
def _isolate_mlflow_fluent_state():
    """The fluent API keeps an active run and experiment per process; tests share a process."""
    yield
    import sys

    if "mlflow" not in sys.modules:
        return
    import mlflow
    from mlflow.tracking import fluent

    while mlflow.active_run() is not None:
        mlflow.end_run()
    fluent._active_experiment_id = None
    for var in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        os.environ.pop(var, None)


@pytest.fixture()
def api(tracking_uri):
    """Raw HTTP access for wire-level checks."""
    import requests

    class Api:
        base = tracking_uri

        def get(self, path, **kw):
            return requests.get(tracking_uri + path, timeout=60, **kw)

        def post(self, path, **kw):
            return requests.post(tracking_uri + path, timeout=60, **kw)

        def put(self, path, **kw):
            return requests.put(tracking_uri + path, timeout=600, **kw)

        def delete(self, path, **kw):
            return requests.delete(tracking_uri + path, timeout=60, **kw)

    return Api()


@pytest.fixture()
def unique_name(request):
    """A name no other test uses (tests share one server)."""
    import uuid

    return f"{request.node.name[:60]}-{uuid.uuid4().hex[:8]}"


os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


@pytest.fixture(scope="session")
def moto_s3():
    """A real S3 protocol endpoint (moto's server) on loopback."""
    from tests.s3 import MotoS3

    s3 = MotoS3().start()
    yield s3
    s3.stop()
