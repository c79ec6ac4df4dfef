"""The model registry against a live server, driven by the real MLflow client: registered models,
versions, tags, aliases, search and paging, `models:/` URIs, the prompt registry, and MLflow's
errors and limits."""

from __future__ import annotations

import uuid

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from tests.no5xx import no_5xx  # noqa: F401  (every test here fails on any 5xx answer)

API = "/api/2.0/mlflow"


def assert_error(resp, status: int, code: str, contains: str | None = None) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    body = resp.json()
    assert body["error_code"] == code, body
    assert "Traceback" not in resp.text
    if contains is not None:
        assert contains in body["message"], body["message"]
    return body


def assert_client_error(exc_info, code: str, contains: str | None = None):
    exc = exc_info.value
    assert exc.error_code == code, (exc.error_code, exc.message)
    if contains is not None:
        assert contains in exc.message, exc.message


class AddN(mlflow.pyfunc.PythonModel):
    def __init__(self, n):
        self.n = n

    def predict(self, context, model_input, params=None):
        return model_input.apply(lambda column: column * 10 + self.n)


def _run_with_file(client, name):
    exp_id = client.create_experiment(name)
    run = client.create_run(exp_id)
    return exp_id, run


# -- the full path: pyfunc model → register → alias → load by alias ----------------------------------
def test_pyfunc_register_alias_load_predict(mlflow_client, unique_name, api):
    import pandas as pd

    mlflow.set_experiment(unique_name)
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="adder", python_model=AddN(7))
    assert info.model_id.startswith("m-") and len(info.model_id) == 34

    name = f"reg-{unique_name}"
    mv = mlflow.register_model(info.model_uri, name)
    assert mv.version == "1"
    assert mv.status == "READY"
    assert mv.run_id == run.info.run_id
    # (the 3.17 client does not read model_id back from the proto; check the wire)
    raw = api.get(f"{API}/model-versions/get", params={"name": name, "version": "1"}).json()["model_version"]
    assert raw["model_id"] == info.model_id and raw["source"] == info.model_uri

    mlflow_client.set_registered_model_alias(name, "champion", mv.version)
    rm = mlflow_client.get_registered_model(name)
    assert rm.aliases == {"champion": "1"}
    assert mlflow_client.get_model_version_by_alias(name, "champion").version == "1"

    data = pd.DataFrame({"x": [1.0, 2.0, 3.5]})
    expected = AddN(7).predict(None, data)
    by_alias = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    pd.testing.assert_frame_equal(by_alias.predict(data), expected)
    by_version = mlflow.pyfunc.load_model(f"models:/{name}/1")
    pd.testing.assert_frame_equal(by_version.predict(data), expected)
    assert list(by_alias.predict(data)["x"]) == [17.0, 27.0, 42.0]

    # `runs:/<run>/<name>` of a 3.x logged model resolves (client side) to the same logged model.
    mv2 = mlflow.register_model(f"runs:/{run.info.run_id}/adder", name)
    assert mv2.version == "2" and mv2.source == f"models:/{info.model_id}"
    pd.testing.assert_frame_equal(mlflow.pyfunc.load_model(f"models:/{name}/2").predict(data), expected)

    # The download URI is the logged model's own proxied location.
    uri = mlflow_client.get_model_version_download_uri(name, "1")
    assert uri == mlflow_client.get_logged_model(info.model_id).artifact_location
    assert uri.startswith("mlflow-artifacts:/") and uri.endswith(f"/models/{info.model_id}/artifacts")

    # MLflow 3: the logged model records its registrations.
    lm = mlflow_client.get_logged_model(info.model_id)
    assert '"name": "%s"' % name in lm.tags["mlflow.modelVersions"]


def test_register_from_runs_uri_resolves_to_run_artifacts(mlflow_client, unique_name, tmp_path):
    exp_id, run = _run_with_file(mlflow_client, unique_name)
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "weights.txt").write_text("w=3")
    mlflow_client.log_artifacts(run.info.run_id, str(model_dir), "model")
    name = f"reg-{unique_name}"
    mlflow_client.create_registered_model(name)
    mv = mlflow_client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    assert mv.run_id == run.info.run_id
    uri = mlflow_client.get_model_version_download_uri(name, mv.version)
    assert uri == f"{run.info.artifact_uri}/model"
    local = mlflow.artifacts.download_artifacts(f"models:/{name}/{mv.version}", dst_path=str(tmp_path / "dl"))
    assert open(f"{local}/weights.txt").read() == "w=3"


# -- registered models: create, get, update, rename, delete ---------------------------------------------
def test_registered_model_lifecycle(mlflow_client, unique_name):
    name = f"rm-{unique_name}"
    rm = mlflow_client.create_registered_model(name, tags={"team": "vision"}, description="first")
    assert rm.name == name and rm.tags == {"team": "vision"} and rm.description == "first"
    assert rm.creation_timestamp > 0

    with pytest.raises(MlflowException) as exc:
        mlflow_client.create_registered_model(name)
    assert_client_error(exc, "RESOURCE_ALREADY_EXISTS", "already exists")

    updated = mlflow_client.update_registered_model(name, description="second")
    assert updated.description == "second"
    mlflow_client.set_registered_model_tag(name, "stage", "beta")
    mlflow_client.delete_registered_model_tag(name, "team")
    assert mlflow_client.get_registered_model(name).tags == {"stage": "beta"}

    mlflow_client.delete_registered_model(name)
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_registered_model(name)
    assert_client_error(exc, "RESOURCE_DOES_NOT_EXIST", "not found")


def _versions(mlflow_client, name, run, n):
    return [
        mlflow_client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
        for _ in range(n)
    ]


def test_rename_keeps_versions_and_aliases(mlflow_client, unique_name):
    _, run = _run_with_file(mlflow_client, unique_name)
    old, new = f"old-{unique_name}", f"new-{unique_name}"
    mlflow_client.create_registered_model(old, tags={"k": "v"})
    _versions(mlflow_client, old, run, 3)
    mlflow_client.set_registered_model_alias(old, "prod", "2")
    mlflow_client.set_model_version_tag(old, "3", "validated", "yes")

    mlflow_client.rename_registered_model(old, new)
    rm = mlflow_client.get_registered_model(new)
    assert rm.name == new
    assert rm.aliases == {"prod": "2"} and rm.tags == {"k": "v"}
    versions = mlflow_client.search_model_versions(f"name = '{new}'")
    assert sorted(v.version for v in versions) == ["1", "2", "3"]
    assert mlflow_client.get_model_version_by_alias(new, "prod").version == "2"
    assert mlflow_client.get_model_version(new, "3").tags == {"validated": "yes"}
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_registered_model(old)
    assert_client_error(exc, "RESOURCE_DOES_NOT_EXIST")

    # Renaming onto a taken name is refused.
    other = f"other-{unique_name}"
    mlflow_client.create_registered_model(other)
    with pytest.raises(MlflowException) as exc:
        mlflow_client.rename_registered_model(new, other)
    assert_client_error(exc, "RESOURCE_ALREADY_EXISTS")


def test_delete_model_deletes_versions(mlflow_client, unique_name, api):
    _, run = _run_with_file(mlflow_client, unique_name)
    name = f"del-{unique_name}"
    mlflow_client.create_registered_model(name)
    _versions(mlflow_client, name, run, 2)
    mlflow_client.set_registered_model_alias(name, "a", "1")
    mlflow_client.delete_registered_model(name)
    assert mlflow_client.search_model_versions(f"name = '{name}'") == []
    resp = api.get(f"{API}/model-versions/get", params={"name": name, "version": "1"})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    # The name is free again, and version numbers start over for the new model.
    mlflow_client.create_registered_model(name)
    assert _versions(mlflow_client, name, run, 1)[0].version == "1"


# -- versions: update, stages, delete, numbering, latest --------------------------------------------------
def test_model_version_operations(mlflow_client, unique_name, api):
    _, run = _run_with_file(mlflow_client, unique_name)
    name = f"mv-{unique_name}"
    mlflow_client.create_registered_model(name)
    v1, v2, v3 = _versions(mlflow_client, name, run, 3)
    assert [v1.version, v2.version, v3.version] == ["1", "2", "3"]
    assert v1.current_stage == "None" and v1.status == "READY"

    assert mlflow_client.update_model_version(name, "2", description="good").description == "good"
    t = mlflow_client.transition_model_version_stage(name, "1", "Production")
    assert t.current_stage == "Production"
    mlflow_client.transition_model_version_stage(name, "2", "production", archive_existing_versions=True)
    assert mlflow_client.get_model_version(name, "1").current_stage == "Archived"
    assert mlflow_client.get_model_version(name, "2").current_stage == "Production"
    latest = {v.current_stage: v.version for v in mlflow_client.get_latest_versions(name)}
    assert latest == {"Archived": "1", "Production": "2", "None": "3"}
    assert [v.version for v in mlflow_client.get_latest_versions(name, stages=["Production"])] == ["2"]

    # Deleting the newest version does not free its number; its aliases go with it.
    mlflow_client.set_registered_model_alias(name, "newest", "3")
    mlflow_client.delete_model_version(name, "3")
    assert "newest" not in mlflow_client.get_registered_model(name).aliases
    assert _versions(mlflow_client, name, run, 1)[0].version == "4"

    mlflow_client.set_model_version_tag(name, "4", "k", "v")
    mlflow_client.delete_model_version_tag(name, "4", "k")
    assert mlflow_client.get_model_version(name, "4").tags == {}

    assert_error(api.get(f"{API}/model-versions/get", params={"name": name, "version": "3"}),
                 404, "RESOURCE_DOES_NOT_EXIST", "not found")
    assert_error(api.get(f"{API}/model-versions/get", params={"name": name, "version": "x"}),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post(f"{API}/model-versions/transition-stage",
                          json={"name": name, "version": "1", "stage": "Gold"}), 400, "INVALID_PARAMETER_VALUE")


# -- aliases --------------------------------------------------------------------------------------------------
def test_aliases_and_their_rules(mlflow_client, unique_name, api):
    _, run = _run_with_file(mlflow_client, unique_name)
    name = f"al-{unique_name}"
    mlflow_client.create_registered_model(name)
    _versions(mlflow_client, name, run, 2)
    mlflow_client.set_registered_model_alias(name, "champ", "1")
    mlflow_client.set_registered_model_alias(name, "champ", "2")  # moves
    assert mlflow_client.get_model_version_by_alias(name, "champ").version == "2"
    assert mlflow_client.get_model_version(name, "2").aliases == ["champ"]
    # `latest` resolves to the newest version.
    assert mlflow_client.get_model_version_by_alias(name, "latest").version == "2"

    for bad, contains in (("latest", "reserved"), ("LATEST", "reserved"), ("v1", "reserved"), ("V12", "reserved"),
                          ("has space", "Invalid alias name"), ("a" * 256, "length")):
        resp = api.post(f"{API}/registered-models/alias", json={"name": name, "alias": bad, "version": "1"})
        assert_error(resp, 400, "INVALID_PARAMETER_VALUE", contains)
    assert api.post(f"{API}/registered-models/alias",
                    json={"name": name, "alias": "a" * 255, "version": "1"}).status_code == 200
    resp = api.post(f"{API}/registered-models/alias", json={"name": name, "alias": "x", "version": "9"})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")

    mlflow_client.delete_registered_model_alias(name, "champ")
    with pytest.raises(MlflowException) as exc:
        mlflow_client.get_model_version_by_alias(name, "champ")
    assert_client_error(exc, "INVALID_PARAMETER_VALUE", "alias champ not found")


# -- search and paging ------------------------------------------------------------------------------------------
def test_search_registered_models_filters_orders_and_pages(mlflow_client, unique_name, api):
    prefix = f"srch{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{i:03d}" for i in range(123)]
    for i, n in enumerate(names):
        mlflow_client.create_registered_model(n, tags={"parity": "even" if i % 2 == 0 else "odd"})

    found = mlflow_client.search_registered_models(f"name LIKE '{prefix}-%'", max_results=1000)
    assert [m.name for m in found] == names  # default order: name ascending
    first = mlflow_client.search_registered_models(f"name LIKE '{prefix}-%'")  # MLflow's default page: 100
    assert [m.name for m in first] == names[:100] and first.token
    rest = mlflow_client.search_registered_models(f"name LIKE '{prefix}-%'", page_token=first.token)
    assert [m.name for m in rest] == names[100:] and not rest.token
    assert len(mlflow_client.search_registered_models(f"name ILIKE '{prefix.upper()}-%'", max_results=500)) == 123
    assert mlflow_client.search_registered_models(f"name LIKE '{prefix.upper()}-%'") == []  # LIKE is case-sensitive
    assert [m.name for m in mlflow_client.search_registered_models(f"name = '{names[5]}'")] == [names[5]]
    odd = mlflow_client.search_registered_models(f"name LIKE '{prefix}-%' AND tags.parity = 'odd'", max_results=1000)
    assert [m.name for m in odd] == names[1::2]

    desc = mlflow_client.search_registered_models(f"name LIKE '{prefix}-%'", order_by=["name DESC"], max_results=1000)
    assert [m.name for m in desc] == names[::-1]
    mlflow_client.update_registered_model(names[3], description="touched")  # newest update
    by_update = mlflow_client.search_registered_models(f"name LIKE '{prefix}-%'", order_by=["last_updated_timestamp DESC"])
    assert by_update[0].name == names[3]

    # Paging: pages of 5, a token only while more remain, every model exactly once.
    seen, token, pages = [], None, 0
    while True:
        page = mlflow_client.search_registered_models(f"name LIKE '{prefix}-%'", max_results=25, page_token=token)
        seen += [m.name for m in page]
        pages += 1
        token = page.token
        if not token:
            break
    assert seen == names and pages == 5

    assert_error(api.get(f"{API}/registered-models/search", params={"max_results": 1001}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.get(f"{API}/registered-models/search", params={"filter": "name = 'a' OR name = 'b'"}),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.get(f"{API}/registered-models/search", params={"filter": "version_number = 1"}),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.get(f"{API}/registered-models/search", params={"order_by": "source ASC"}),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.get(f"{API}/registered-models/search", params={"page_token": "garbage"}),
                 400, "INVALID_PARAMETER_VALUE")


def test_search_model_versions_with_many_versions(mlflow_client, unique_name):
    _, run = _run_with_file(mlflow_client, unique_name)
    _, other_run = _run_with_file(mlflow_client, unique_name + "-b")
    name = f"many-{unique_name}"
    mlflow_client.create_registered_model(name)
    for i in range(30):
        r = run if i < 20 else other_run
        mlflow_client.create_model_version(name, f"runs:/{r.info.run_id}/model", run_id=r.info.run_id,
                                           tags={"i": str(i)})
    all_versions = mlflow_client.search_model_versions(f"name = '{name}'", order_by=["version_number ASC"])
    assert [v.version for v in all_versions] == [str(i) for i in range(1, 31)]
    assert len(mlflow_client.search_model_versions(f"name = '{name}' AND run_id = '{other_run.info.run_id}'")) == 10
    assert [v.version for v in mlflow_client.search_model_versions(f"name = '{name}' AND tags.i = '7'")] == ["8"]
    newer = mlflow_client.search_model_versions(f"name = '{name}' AND version_number > 25")
    assert sorted(int(v.version) for v in newer) == [26, 27, 28, 29, 30]
    in_runs = mlflow_client.search_model_versions(
        f"name = '{name}' AND run_id IN ('{run.info.run_id}', 'nope')", max_results=100)
    assert len(in_runs) == 20

    seen, token = [], None
    while True:
        page = mlflow_client.search_model_versions(f"name = '{name}'", max_results=7, page_token=token,
                                                   order_by=["version_number DESC"])
        seen += [int(v.version) for v in page]
        token = page.token
        if not token:
            break
    assert seen == list(range(30, 0, -1))


# -- sources: only what this server issued --------------------------------------------------------------------
@pytest.mark.parametrize(
    "source",
    [
        "file:///etc",
        "/etc/passwd",
        "http://169.254.169.254/latest/meta-data",
        "https://example.com/model",
        "s3://foreign-bucket/model",
        "mlflow-artifacts://evil-host/0/x",
        "mlflow-artifacts:/0/../../etc",
        "runs:/../etc",
        "models://other@registry/m/1",
    ],
)
def test_foreign_sources_are_refused(mlflow_client, unique_name, api, source):
    _, run = _run_with_file(mlflow_client, unique_name)
    name = f"src-{uuid.uuid4().hex}"
    mlflow_client.create_registered_model(name)
    resp = api.post(f"{API}/model-versions/create", json={"name": name, "source": source, "run_id": run.info.run_id})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert mlflow_client.search_model_versions(f"name = '{name}'") == []


def test_source_must_match_its_run_or_model(mlflow_client, unique_name, api):
    _, run = _run_with_file(mlflow_client, unique_name)
    _, other = _run_with_file(mlflow_client, unique_name + "-o")
    name = f"srcm-{unique_name}"
    mlflow_client.create_registered_model(name)
    # An mlflow-artifacts: source outside the run's own artifact root.
    resp = api.post(f"{API}/model-versions/create",
                    json={"name": name, "source": f"{other.info.artifact_uri}/model", "run_id": run.info.run_id})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    resp = api.post(f"{API}/model-versions/create", json={"name": name, "source": f"{run.info.artifact_uri}/model"})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    resp = api.post(f"{API}/model-versions/create",
                    json={"name": name, "source": f"runs:/{other.info.run_id}/model", "run_id": run.info.run_id})
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    # Inside the run's root it is accepted and served as is.
    resp = api.post(f"{API}/model-versions/create",
                    json={"name": name, "source": f"{run.info.artifact_uri}/model", "run_id": run.info.run_id})
    assert resp.status_code == 200, resp.text
    assert resp.json()["model_version"]["version"] == "1"
    # Unknown runs and logged models are 404s.
    resp = api.post(f"{API}/model-versions/create", json={"name": name, "source": f"runs:/{'0' * 32}/model"})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    resp = api.post(f"{API}/model-versions/create", json={"name": name, "source": f"models:/m-{'0' * 32}"})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    # Lineage that does not exist is refused, whatever the source.
    resp = api.post(f"{API}/model-versions/create", json={"name": name, "source": f"runs:/{run.info.run_id}/model",
                                                        "run_id": run.info.run_id, "model_id": "m-" + "1" * 32})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    resp = api.post(f"{API}/model-versions/create", json={"name": name, "source": f"models:/{name}/1", "run_id": "x" * 64})
    assert_error(resp, 404, "RESOURCE_DOES_NOT_EXIST")
    # A version of another registered model is a valid source (models:/name/version).
    resp = api.post(f"{API}/model-versions/create", json={"name": name, "source": f"models:/{name}/1"})
    assert resp.status_code == 200, resp.text
    assert mlflow_client.get_model_version_download_uri(name, "2") == f"{run.info.artifact_uri}/model"


# -- errors and limits ------------------------------------------------------------------------------------------
def test_registry_errors_and_limits(mlflow_client, unique_name, api):
    name = f"lim-{unique_name}"
    assert_error(api.post(f"{API}/registered-models/create", json={}), 400, "INVALID_PARAMETER_VALUE", "name")
    assert_error(api.post(f"{API}/registered-models/create", json={"name": "a/b"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post(f"{API}/registered-models/create", json={"name": "a:b"}), 400, "INVALID_PARAMETER_VALUE")
    mlflow_client.create_registered_model(name)
    resp = api.post(f"{API}/registered-models/create", json={"name": name})
    assert_error(resp, 400, "RESOURCE_ALREADY_EXISTS")

    ok = api.post(f"{API}/registered-models/set-tag", json={"name": name, "key": "k" * 250, "value": "v" * 100_000})
    assert ok.status_code == 200, ok.text
    assert_error(api.post(f"{API}/registered-models/set-tag", json={"name": name, "key": "k" * 251, "value": "v"}),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post(f"{API}/registered-models/set-tag", json={"name": name, "key": "k", "value": "v" * 100_001}),
                 400, "INVALID_PARAMETER_VALUE")
    assert mlflow_client.get_registered_model(name).tags["k" * 250] == "v" * 100_000

    assert_error(api.get(f"{API}/registered-models/get", params={"name": f"missing-{unique_name}"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.delete(f"{API}/registered-models/delete", json={"name": f"missing-{unique_name}"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.post(f"{API}/model-versions/create", json={"name": f"missing-{unique_name}", "source": "runs:/x/m"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.post(f"{API}/model-versions/create", json={"name": name}), 400, "INVALID_PARAMETER_VALUE", "source")
    assert_error(api.get(f"{API}/model-versions/get-download-uri", params={"name": name, "version": "1"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    # The ajax mirror answers the same.
    assert api.get("/ajax-api/2.0/mlflow/registered-models/get", params={"name": name}).status_code == 200


# -- prompt registry (rides on the registry) ---------------------------------------------------------------------
def test_prompt_registry_register_and_load(mlflow_client, unique_name):
    name = f"prompt-{uuid.uuid4().hex[:8]}"
    p1 = mlflow.genai.register_prompt(name=name, template="Hello {{name}}!", commit_message="first")
    assert p1.version == 1
    p2 = mlflow.genai.register_prompt(name=name, template="Hi {{name}}, welcome.")
    assert p2.version == 2
    loaded = mlflow.genai.load_prompt(f"prompts:/{name}/1")
    assert loaded.template == "Hello {{name}}!"
    assert loaded.format(name="Ada") == "Hello Ada!"
    assert mlflow.genai.load_prompt(f"prompts:/{name}/2").format(name="Bo") == "Hi Bo, welcome."
    mlflow.genai.set_prompt_alias(name, alias="prod", version=1)
    assert mlflow.genai.load_prompt(f"prompts:/{name}@prod").template == "Hello {{name}}!"
    assert mlflow.genai.load_prompt(f"prompts:/{name}@latest").version == 2
    # Prompts stay out of plain registered-model search (the client filters on the prompt tag).
    assert all(m.name != name for m in mlflow_client.search_registered_models(f"name = '{name}'"))
    assert [p.name for p in mlflow.genai.search_prompts(f"name = '{name}'")] == [name]
