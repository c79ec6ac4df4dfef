"""`swan server --auth` with the real MLflow client: MLFLOW_TRACKING_TOKEN (Bearer) and
MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (Basic, the password being the user's API
key). No credentials and wrong keys get 401 UNAUTHENTICATED, a viewer's writes and anyone's
reach into another user's workspace get 403 PERMISSION_DENIED, in MLflow's error JSON; a
member's writes go through."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.auth_support import basic, bearer, start_auth_server
from tests.no5xx import no_5xx  # noqa: F401

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def auth(tmp_path_factory):
    a = start_auth_server(tmp_path_factory.mktemp("auth-mlflow"))
    yield a
    a.stop()


def _name(prefix="exp"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def as_user(auth, monkeypatch):
    """`as_user(role, mode)`: an MlflowClient whose requests carry that user's credentials, the
    way the MLflow client sends them (from the environment, at every request)."""
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(auth.url)

    def make(role: str | None, mode: str = "token", key: str | None = None, user: str | None = None):
        for var in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            monkeypatch.delenv(var, raising=False)
        if role is not None or key is not None:
            key = key if key is not None else auth.keys[role]
            if mode == "token":
                monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", key)
            else:
                monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user if user is not None else auth.names[role])
                monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", key)
        return MlflowClient(auth.url)

    return make


def _code(excinfo) -> str:
    """MLflow's error code: RestException carries it; the artifact repository raises requests'
    HTTPError with the server's JSON in the response."""
    code = getattr(excinfo.value, "error_code", None)
    response = getattr(excinfo.value, "response", None)
    if code is None and response is not None:
        code = response.json().get("error_code")
    return code


MODES = ["token", "basic"]


def test_no_credentials_is_401_in_mlflow_json(auth, as_user):
    from mlflow.exceptions import MlflowException

    client = as_user(None)
    with pytest.raises(MlflowException) as err:
        client.search_experiments()
    assert _code(err) == "UNAUTHENTICATED"
    for method, path in [("GET", f"{API}/experiments/search"), ("POST", f"{API}/experiments/create"),
                         ("GET", f"{API}/runs/get?run_id={'a' * 32}"), ("GET", f"{API}/registered-models/search"),
                         ("GET", "/api/2.0/mlflow-artifacts/artifacts?path=0"), ("GET", "/get-artifact?run_id=x&path=y"),
                         ("GET", "/ajax-api/2.0/mlflow/experiments/search"), ("GET", "/api/3.0/mlflow/server-info"),
                         ("POST", "/v1/traces"), ("GET", "/metrics")]:
        r = requests.request(method, auth.url + path, json={} if method == "POST" else None, timeout=30)
        assert r.status_code == 401, (path, r.status_code, r.text)
        assert r.json()["error_code"] == "UNAUTHENTICATED" and r.json()["message"], path
    # the public route
    assert requests.get(auth.url + "/health", timeout=30).text == "OK"


@pytest.mark.parametrize("mode", MODES)
def test_version_needs_credentials_and_the_client_sends_them(auth, as_user, mode):
    """`GET /version` is not public: the MLflow client asks for it with the same credentials as
    every other call (its span logging depends on the answer), so requiring them costs a
    logged-in client nothing and tells an anonymous prober nothing."""
    from swan_server import MLFLOW_COMPAT_VERSION

    r = requests.get(auth.url + "/version", timeout=30)
    assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED", r.text
    client = as_user("viewer", mode)
    store = client._tracking_client.store
    type(store)._get_server_version.cache_clear()  # (cached per credentials across clients)
    version = store._get_server_version(store.get_host_creds())
    assert version is not None and str(version) == MLFLOW_COMPAT_VERSION
    anonymous = as_user(None)
    store = anonymous._tracking_client.store
    assert store._get_server_version(store.get_host_creds()) is None  # refused: the client carries on


@pytest.mark.parametrize("mode", MODES)
def test_wrong_key_is_401(auth, as_user, mode):
    from mlflow.exceptions import MlflowException

    for wrong in ("swan_wrong-key", auth.keys["member"] + "x"):
        with pytest.raises(MlflowException) as err:
            as_user("member", mode, key=wrong).search_experiments()
        assert _code(err) == "UNAUTHENTICATED"
    if mode == "basic":
        # a real key under another user's name is refused too
        with pytest.raises(MlflowException) as err:
            as_user("member", mode, key=auth.keys["viewer"]).search_experiments()
        assert _code(err) == "UNAUTHENTICATED"
    for header in ({"Authorization": "Bearer "}, {"Authorization": "Basic !!!"}, {"Authorization": "Digest x"},
                   basic(auth.names["member"], "nope"), bearer("nope")):
        r = requests.get(auth.url + f"{API}/experiments/search", headers=header, timeout=30)
        assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED", (header, r.text)


@pytest.mark.parametrize("mode", MODES)
def test_member_writes_runs_artifacts_and_models(auth, as_user, mode, tmp_path):
    import mlflow

    client = as_user("member", mode)
    name = _name("member")
    exp_id = client.create_experiment(name)
    run = client.create_run(exp_id, run_name="r1")
    rid = run.info.run_id
    client.log_param(rid, "lr", "0.1")
    client.log_metric(rid, "loss", 0.5, step=1)
    client.log_batch(rid, metrics=[mlflow.entities.Metric("acc", 0.9, 0, 2)])
    client.set_tag(rid, "team", "a")
    (tmp_path / "model.txt").write_text("weights")
    client.log_artifact(rid, str(tmp_path / "model.txt"), "out")
    assert [f.path for f in client.list_artifacts(rid, "out")] == ["out/model.txt"]
    local = client.download_artifacts(rid, "out/model.txt", str(tmp_path / "dl"))
    assert open(local).read() == "weights"
    client.set_terminated(rid)
    got = client.get_run(rid)
    assert got.data.params == {"lr": "0.1"} and got.data.metrics["loss"] == 0.5
    assert [r.info.run_id for r in client.search_runs([exp_id])] == [rid]
    # fluent API too
    mlflow.set_experiment(name)
    with mlflow.start_run() as fluent:
        mlflow.log_metric("x", 1.0)
    assert client.get_run(fluent.info.run_id).data.metrics == {"x": 1.0}
    # registry: members write it
    model = _name("model")
    client.create_registered_model(model)
    mv = client.create_model_version(model, f"runs:/{rid}/out", run_id=rid)
    assert mv.version == "1"
    client.delete_run(rid)


@pytest.mark.parametrize("mode", MODES)
def test_viewer_reads_but_every_write_is_403(auth, as_user, mode, tmp_path):
    from mlflow.exceptions import MlflowException

    member = as_user("member", "token")
    exp_id = member.create_experiment(_name("shared"))
    rid = member.create_run(exp_id).info.run_id
    member.log_metric(rid, "loss", 1.0)
    (tmp_path / "f.txt").write_text("data")
    member.log_artifact(rid, str(tmp_path / "f.txt"))
    model = _name("vm")
    member.create_registered_model(model)

    viewer = as_user("viewer", mode)
    assert viewer.get_run(rid).data.metrics == {"loss": 1.0}
    assert exp_id in [e.experiment_id for e in viewer.search_experiments()]
    assert [f.path for f in viewer.list_artifacts(rid)] == ["f.txt"]
    assert open(viewer.download_artifacts(rid, "f.txt", str(tmp_path / "v"))).read() == "data"
    assert viewer.get_registered_model(model).name == model
    writes = [
        lambda: viewer.create_experiment(_name("viewer")),
        lambda: viewer.create_run(exp_id),
        lambda: viewer.log_metric(rid, "loss", 2.0),
        lambda: viewer.log_param(rid, "p", "1"),
        lambda: viewer.set_tag(rid, "t", "1"),
        lambda: viewer.set_terminated(rid),
        lambda: viewer.delete_run(rid),
        lambda: viewer.rename_experiment(exp_id, _name("renamed")),
        lambda: viewer.delete_experiment(exp_id),
        lambda: viewer.set_experiment_tag(exp_id, "k", "v"),
        lambda: viewer.log_artifact(rid, str(tmp_path / "f.txt"), "viewer"),
        lambda: viewer.create_registered_model(_name("viewer-model")),
        lambda: viewer.create_model_version(model, f"runs:/{rid}/f.txt", run_id=rid),
        lambda: viewer.delete_registered_model(model),
    ]
    for write in writes:
        with pytest.raises((MlflowException, requests.HTTPError)) as err:
            write()
        assert _code(err) == "PERMISSION_DENIED", err.value
    # nothing changed
    member = as_user("member", "token")
    assert member.get_run(rid).data.metrics == {"loss": 1.0} and member.get_run(rid).info.status == "RUNNING"
    assert [f.path for f in member.list_artifacts(rid)] == ["f.txt"]
    r = requests.post(auth.url + f"{API}/runs/log-metric", headers=bearer(auth.keys["viewer"]), timeout=30,
                      json={"run_id": rid, "key": "k", "value": 1, "timestamp": 0})
    assert r.status_code == 403 and set(r.json()) == {"error_code", "message"}
    assert r.json()["error_code"] == "PERMISSION_DENIED"


@pytest.mark.parametrize("mode", MODES)
def test_other_users_workspace_is_closed(auth, as_user, mode, tmp_path):
    from mlflow.exceptions import MlflowException

    owner = as_user("member", "token")
    private = f"{auth.names['member']}/{_name('private')}"  # `W/P` lives in workspace W
    exp_id = owner.create_experiment(private)
    rid = owner.create_run(exp_id).info.run_id
    owner.log_metric(rid, "secret", 42.0)
    (tmp_path / "s.txt").write_text("secret")
    owner.log_artifact(rid, str(tmp_path / "s.txt"))
    artifact_uri = owner.get_run(rid).info.artifact_uri

    other = as_user("other", mode)
    assert exp_id not in [e.experiment_id for e in other.search_experiments()]
    for call in (lambda: other.get_experiment(exp_id), lambda: other.get_experiment_by_name(private),
                 lambda: other.get_run(rid), lambda: other.search_runs([exp_id]),
                 lambda: other.get_metric_history(rid, "secret"), lambda: other.list_artifacts(rid),
                 lambda: other.log_metric(rid, "secret", 0.0), lambda: other.create_run(exp_id),
                 lambda: other.create_experiment(f"{auth.names['member']}/{_name('squat')}")):
        with pytest.raises((MlflowException, requests.HTTPError)) as err:
            call()
        assert _code(err) == "PERMISSION_DENIED"
    # the proxied artifact routes and /get-artifact refuse the path too
    path = artifact_uri.split("mlflow-artifacts:", 1)[1].lstrip("/") + "/s.txt"
    headers = bearer(auth.keys["other"]) if mode == "token" else basic(auth.names["other"], auth.keys["other"])
    for method, url in (("GET", f"/api/2.0/mlflow-artifacts/artifacts/{path}"),
                        ("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{path}"),
                        ("DELETE", f"/api/2.0/mlflow-artifacts/artifacts/{path}"),
                        ("GET", f"/api/2.0/mlflow-artifacts/artifacts?path={path.rsplit('/', 1)[0]}"),
                        ("GET", f"/get-artifact?run_id={rid}&path=s.txt"),
                        ("GET", f"{API}/artifacts/list?run_id={rid}")):
        r = requests.request(method, auth.url + url, headers=headers, data=b"x" if method == "PUT" else None,
                             timeout=30)
        assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", (method, url, r.text)
    owner = as_user("member", "token")  # (the client takes its credentials from the environment)
    assert [f.path for f in owner.list_artifacts(rid)] == ["s.txt"]
    assert owner.get_run(rid).data.metrics == {"secret": 42.0}
    # the admin sees everything
    admin = as_user("admin", mode)
    assert admin.get_run(rid).data.metrics == {"secret": 42.0}
    assert exp_id in [e.experiment_id for e in admin.search_experiments()]


@pytest.mark.parametrize("mode", MODES)
def test_admin_only_routes(auth, mode):
    def headers(role):
        key = auth.keys[role]
        return bearer(key) if mode == "token" else basic(auth.names[role], key)

    for role in ("member", "viewer", "other"):
        for method, path, body in (("GET", "/api/v1/users", None), ("POST", "/api/v1/users", {"name": "x"}),
                                   ("POST", f"/api/v1/users/{auth.names['viewer']}/keys", {}),
                                   ("PATCH", f"/api/v1/users/{auth.names['viewer']}", {"disabled": True}),
                                   ("DELETE", "/api/v1/keys/swan_abcdef", None),
                                   ("POST", "/api/v1/workspaces", {"name": "team"})):
            r = requests.request(method, auth.url + path, headers=headers(role), json=body, timeout=30)
            assert r.status_code == 403, (role, method, path, r.text)
            assert r.json()["error"]["code"] == "PERMISSION_DENIED"
    r = requests.get(auth.url + "/api/v1/users", headers=headers("admin"), timeout=30)
    assert r.status_code == 200
    assert {auth.names["member"], auth.names["viewer"]} <= {u["name"] for u in r.json()["users"]}
