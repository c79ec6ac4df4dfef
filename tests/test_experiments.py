"""Experiments against a live server: create, get, get-by-name, search, rename, delete/restore,
tags, the Default experiment, artifact locations, and input validation (400, never 500)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def client(module_mlflow_client):
    return module_mlflow_client


def _fresh_ms():
    """Sleep into the next millisecond so consecutive creations get distinct timestamps."""
    start = int(time.time() * 1000)
    while int(time.time() * 1000) <= start + 1:
        time.sleep(0.001)


def _error(response, status, code):
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code, response.text
    return response.json()["message"]


# --------------------------------------------------------------------------------------------
# create / get / get-by-name
# --------------------------------------------------------------------------------------------
def test_create_with_tags_and_get(client, api, unique_name):
    before = int(time.time() * 1000)
    exp_id = client.create_experiment(unique_name, tags={"team": "vision", "my.key": "x y"})
    after = int(time.time() * 1000)
    assert isinstance(exp_id, str) and exp_id.isdigit()
    exp = client.get_experiment(exp_id)
    assert exp.experiment_id == exp_id
    assert exp.name == unique_name
    assert exp.tags == {"team": "vision", "my.key": "x y"}
    assert exp.lifecycle_stage == "active"
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    assert before <= exp.creation_time <= after
    assert exp.last_update_time == exp.creation_time

    r = api.get(f"{API}/experiments/get", params={"experiment_id": exp_id})
    assert r.status_code == 200
    wire = r.json()["experiment"]
    assert wire["experiment_id"] == exp_id and isinstance(wire["creation_time"], int)
    assert sorted(wire["tags"], key=lambda t: t["key"]) == [
        {"key": "my.key", "value": "x y"}, {"key": "team", "value": "vision"}]


def test_get_by_name(client, api, unique_name):
    exp_id = client.create_experiment(unique_name)
    assert client.get_experiment_by_name(unique_name).experiment_id == exp_id
    assert client.get_experiment_by_name(unique_name.upper()) is None  # names are case-sensitive
    assert client.get_experiment_by_name(unique_name + "-missing") is None
    r = api.get(f"{API}/experiments/get-by-name", params={"experiment_name": unique_name + "-missing"})
    _error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    r = api.get(f"{API}/experiments/get-by-name", params={"experiment_name": unique_name})
    assert r.status_code == 200 and r.json()["experiment"]["experiment_id"] == exp_id


def test_set_experiment_creates_then_reuses(client, unique_name):
    import mlflow

    assert client.get_experiment_by_name(unique_name) is None
    exp = mlflow.set_experiment(unique_name)
    assert exp.name == unique_name and exp.lifecycle_stage == "active"
    assert client.get_experiment_by_name(unique_name).experiment_id == exp.experiment_id
    assert mlflow.set_experiment(unique_name).experiment_id == exp.experiment_id
    assert mlflow.set_experiment(experiment_id=exp.experiment_id).name == unique_name


def test_get_missing_experiment(client, api):
    from mlflow.exceptions import MlflowException

    r = api.get(f"{API}/experiments/get", params={"experiment_id": "987654321"})
    _error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    with pytest.raises(MlflowException) as exc:
        client.get_experiment("987654321")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_duplicate_name(client, api, unique_name):
    from mlflow.exceptions import MlflowException

    client.create_experiment(unique_name)
    r = api.post(f"{API}/experiments/create", json={"name": unique_name})
    _error(r, 400, "RESOURCE_ALREADY_EXISTS")
    with pytest.raises(MlflowException) as exc:
        client.create_experiment(unique_name)
    assert exc.value.error_code == "RESOURCE_ALREADY_EXISTS"
    # A different case is a different name.
    assert client.create_experiment(unique_name.upper()) is not None


def test_duplicate_name_of_deleted_experiment(client, api, unique_name):
    exp_id = client.create_experiment(unique_name)
    client.delete_experiment(exp_id)
    r = api.post(f"{API}/experiments/create", json={"name": unique_name})
    _error(r, 400, "RESOURCE_ALREADY_EXISTS")
    assert client.get_experiment_by_name(unique_name).experiment_id == exp_id


def test_custom_artifact_location(client, unique_name):
    place = f"mlflow-artifacts:/custom/{uuid.uuid4().hex}"
    exp_id = client.create_experiment(unique_name, artifact_location=place)
    assert client.get_experiment(exp_id).artifact_location == place
    run = client.create_run(exp_id)
    assert run.info.artifact_uri == f"{place}/{run.info.run_id}/artifacts"


HOSTILE_LOCATIONS = [
    "file:///etc",
    "file:/etc",
    "/etc",
    "../escape",
    "s3://other-bucket/x",
    "gs://other-bucket/x",
    "http://evil.example.com/x",
    "mlflow-artifacts:/../../etc",
    "mlflow-artifacts:/a/../../etc",
    "mlflow-artifacts:/a/%2e%2e/%2e%2e/etc",
    "mlflow-artifacts:/..%2f..%2fetc",
    "mlflow-artifacts:/a\\..\\..\\etc",
    "mlflow-artifacts://evil.example.com/x",
    "mlflow-artifacts:",
    "mlflow-artifacts:/",
]


@pytest.mark.parametrize("location", HOSTILE_LOCATIONS)
def test_hostile_artifact_location(client, api, unique_name, location):
    r = api.post(f"{API}/experiments/create", json={"name": unique_name, "artifact_location": location})
    _error(r, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_experiment_by_name(unique_name) is None


# --------------------------------------------------------------------------------------------
# Bad input: 400 INVALID_PARAMETER_VALUE, never a 500
# --------------------------------------------------------------------------------------------
def test_name_of_wrong_type_message(api):
    r = api.post(f"{API}/experiments/create", json={"name": 123})
    assert _error(r, 400, "INVALID_PARAMETER_VALUE") == "Invalid value 123 for parameter 'name' supplied"
    r = api.post(f"{API}/experiments/create", json={})
    assert "Missing value for required parameter 'name'" in _error(r, 400, "INVALID_PARAMETER_VALUE")


@pytest.fixture(scope="module")
def victim(client):
    """An experiment the bad-input tests aim at; none of them may change it."""
    exp_id = client.create_experiment(f"bad-input-victim-{uuid.uuid4().hex}", tags={"keep": "me"})
    return exp_id


BAD_REQUESTS = [
    ("post", "experiments/create", {"name": 123}),
    ("post", "experiments/create", {"name": ["a"]}),
    ("post", "experiments/create", {"name": {"a": 1}}),
    ("post", "experiments/create", {"name": True}),
    ("post", "experiments/create", {"name": 1.5}),
    ("post", "experiments/create", {"name": ""}),
    ("post", "experiments/create", {"name": "   "}),
    ("post", "experiments/create", {"name": "x" * 501}),
    ("post", "experiments/create", {"name": "{new}", "tags": "x"}),
    ("post", "experiments/create", {"name": "{new}", "tags": {"k": "v"}}),
    ("post", "experiments/create", {"name": "{new}", "tags": [1]}),
    ("post", "experiments/create", {"name": "{new}", "tags": [{"key": 1, "value": "v"}]}),
    ("post", "experiments/create", {"name": "{new}", "tags": [{"key": "k", "value": 5}]}),
    ("post", "experiments/create", {"name": "{new}", "tags": [{"value": "v"}]}),
    ("post", "experiments/create", {"name": "{new}", "tags": [{"key": "../x", "value": "v"}]}),
    ("post", "experiments/create", {"name": "{new}", "tags": [{"key": "k", "value": "v" * 20001}]}),
    ("post", "experiments/create", {"name": "{new}", "artifact_location": 5}),
    ("get", "experiments/get", {}),
    ("get", "experiments/get-by-name", {}),
    ("post", "experiments/update", {"experiment_id": "{victim}", "new_name": 5}),
    ("post", "experiments/update", {"experiment_id": "{victim}", "new_name": ["x"]}),
    ("post", "experiments/update", {"experiment_id": 5, "new_name": "{new}"}),
    ("post", "experiments/update", {"new_name": "{new}"}),
    ("post", "experiments/update", {"experiment_id": "{victim}", "new_name": "x" * 501}),
    ("post", "experiments/delete", {"experiment_id": ["{victim}"]}),
    ("post", "experiments/delete", {}),
    ("post", "experiments/restore", {"experiment_id": {"id": 1}}),
    ("post", "experiments/restore", {}),
    ("post", "experiments/set-experiment-tag", {"experiment_id": "{victim}", "key": 5, "value": "v"}),
    ("post", "experiments/set-experiment-tag", {"experiment_id": "{victim}", "value": "v"}),
    ("post", "experiments/set-experiment-tag", {"experiment_id": "{victim}", "key": "k", "value": 5}),
    ("post", "experiments/set-experiment-tag", {"experiment_id": "{victim}", "key": "../k", "value": "v"}),
    ("post", "experiments/set-experiment-tag", {"experiment_id": "{victim}", "key": "k", "value": "v" * 20001}),
    ("post", "experiments/set-experiment-tag", {"experiment_id": "{victim}", "key": "k" * 251, "value": "v"}),
    ("post", "experiments/delete-experiment-tag", {"experiment_id": "{victim}"}),
    ("post", "experiments/delete-experiment-tag", {"experiment_id": "{victim}", "key": ["keep"]}),
    ("post", "experiments/search", {"filter": 5}),
    ("post", "experiments/search", {"max_results": "ten"}),
    ("post", "experiments/search", {"max_results": 2.5}),
    ("post", "experiments/search", {"order_by": "name"}),
    ("post", "experiments/search", {"order_by": [1]}),
    ("post", "experiments/search", {"page_token": 5}),
    ("post", "experiments/search", {"view_type": "BOGUS"}),
    ("post", "experiments/search", {"view_type": ["ALL"]}),
    ("post", "experiments/search", {"view_type": 7}),
]


def _fill(value, names):
    if isinstance(value, str):
        return value.format(**names) if "{" in value and value.endswith("}") else value
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


@pytest.mark.parametrize("method, path, body", BAD_REQUESTS, ids=[f"{p}:{json.dumps(b)[:60]}" for _, p, b in BAD_REQUESTS])
def test_bad_input(client, api, victim, unique_name, method, path, body):
    body = _fill(body, {"victim": victim, "new": unique_name})
    if method == "get":
        r = api.get(f"{API}/{path}", params=body)
    else:
        r = api.post(f"{API}/{path}", json=body)
    _error(r, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_experiment_by_name(unique_name) is None
    exp = client.get_experiment(victim)
    assert exp.lifecycle_stage == "active" and exp.tags == {"keep": "me"}
    assert exp.name.startswith("bad-input-victim-")


# --------------------------------------------------------------------------------------------
# search_experiments
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exps(client):
    """apple, Banana, cherry (active, created in that order) and durian (deleted), all under one
    unique name prefix. apple is created as 'avocado' and renamed last, so it is the most
    recently updated."""
    prefix = f"exps-{uuid.uuid4().hex[:12]}"
    ids = {}
    ids["apple"] = client.create_experiment(f"{prefix}-avocado", tags={"color": "red", "my.key": "one"})
    _fresh_ms()
    ids["Banana"] = client.create_experiment(f"{prefix}-Banana", tags={"color": "Red"})
    _fresh_ms()
    ids["cherry"] = client.create_experiment(f"{prefix}-cherry", tags={"my.key": "two"})
    _fresh_ms()
    ids["durian"] = client.create_experiment(f"{prefix}-durian", tags={"color": "red"})
    _fresh_ms()
    client.delete_experiment(ids["durian"])
    _fresh_ms()
    client.rename_experiment(ids["apple"], f"{prefix}-apple")
    info = {k: client.get_experiment(v) for k, v in ids.items()}
    assert info["apple"].last_update_time > max(info[k].last_update_time for k in ("Banana", "cherry"))
    return {"prefix": prefix, "ids": ids, "info": info, "names": {v: k for k, v in ids.items()}}


def _scope(exps, filter_string=""):
    scope = f"name LIKE '{exps['prefix']}-%'"
    return f"{scope} AND {filter_string}" if filter_string else scope


def _names(exps, experiments):
    return [exps["names"][e.experiment_id] for e in experiments]


EXP_FILTERS = [
    ("", ["cherry", "Banana", "apple"]),  # default: newest creation first
    ("name = '{prefix}-apple'", ["apple"]),
    ("name = '{prefix}-APPLE'", []),
    ("name = '{prefix}-avocado'", []),  # renamed
    ("name != '{prefix}-apple'", ["cherry", "Banana"]),
    ("name LIKE '{prefix}-b%'", []),
    ("name ILIKE '{prefix}-b%'", ["Banana"]),
    ("name LIKE '%an%'", ["Banana"]),
    ("name LIKE '%-_pple'", ["apple"]),
    ("attribute.name = '{prefix}-cherry'", ["cherry"]),
    ("tags.color = 'red'", ["apple"]),
    ("tags.color = 'Red'", ["Banana"]),
    ("tags.color != 'red'", ["Banana"]),  # cherry has no color tag: excluded
    ("tags.color LIKE 'r%'", ["apple"]),
    ("tags.color ILIKE 'RED'", ["Banana", "apple"]),
    ("tags.color IS NULL", ["cherry"]),
    ("tags.color IS NOT NULL", ["Banana", "apple"]),
    ("tags.`my.key` = 'two'", ["cherry"]),
    ('tags."my.key" LIKE \'o%\'', ["apple"]),
    ("tag.color = 'Red'", ["Banana"]),
    ("tags.missing IS NULL", ["cherry", "Banana", "apple"]),
    ("creation_time > {ct_apple}", ["cherry", "Banana"]),
    ("creation_time >= {ct_Banana}", ["cherry", "Banana"]),
    ("creation_time < {ct_Banana}", ["apple"]),
    ("creation_time <= {ct_Banana}", ["Banana", "apple"]),
    ("creation_time = {ct_cherry}", ["cherry"]),
    ("creation_time != {ct_cherry}", ["Banana", "apple"]),
    ("last_update_time > {lut_cherry}", ["apple"]),
    ("last_update_time < {lut_apple}", ["cherry", "Banana"]),
    ("experiment_id = '{id_apple}'", ["apple"]),
    ("experiment_id != '{id_apple}'", ["cherry", "Banana"]),
    ("experiment_id IN ('{id_apple}', '{id_cherry}', '{id_durian}')", ["cherry", "apple"]),
    ("experiment_id NOT IN ('{id_apple}')", ["cherry", "Banana"]),
    ("tags.color ILIKE 'red' AND creation_time > {ct_apple}", ["Banana"]),
    ("tags.color ILIKE 'red' and name ILIKE '%APPLE'", ["apple"]),
]


def _fmt_exp(exps, text):
    values = {"prefix": exps["prefix"]}
    for k, e in exps["info"].items():
        values[f"ct_{k}"] = e.creation_time
        values[f"lut_{k}"] = e.last_update_time
        values[f"id_{k}"] = e.experiment_id
    return text.format(**values)


@pytest.mark.parametrize("filter_string, expected", EXP_FILTERS, ids=[c[0] or "<empty>" for c in EXP_FILTERS])
def test_search_filter(client, exps, filter_string, expected):
    got = client.search_experiments(filter_string=_scope(exps, _fmt_exp(exps, filter_string)))
    assert _names(exps, got) == expected


EXP_ORDERS = [
    (["name"], ["Banana", "apple", "cherry"]),  # byte order: uppercase first
    (["name ASC"], ["Banana", "apple", "cherry"]),
    (["name DESC"], ["cherry", "apple", "Banana"]),
    (["creation_time ASC"], ["apple", "Banana", "cherry"]),
    (["creation_time DESC"], ["cherry", "Banana", "apple"]),
    (["experiment_id"], ["apple", "Banana", "cherry"]),
    (["experiment_id DESC"], ["cherry", "Banana", "apple"]),
    (["last_update_time DESC"], ["apple", "cherry", "Banana"]),
    (["last_update_time ASC"], ["Banana", "cherry", "apple"]),
    (["attribute.name DESC"], ["cherry", "apple", "Banana"]),
    (["last_update_time DESC", "name ASC"], ["apple", "cherry", "Banana"]),
]


@pytest.mark.parametrize("order_by, expected", EXP_ORDERS, ids=[",".join(o) for o, _ in EXP_ORDERS])
def test_search_order_by(client, exps, order_by, expected):
    got = client.search_experiments(filter_string=_scope(exps), order_by=order_by)
    assert _names(exps, got) == expected


def test_experiment_ids_order_numerically(client, unique_name):
    # The order is the integer order of the ids (it differs from the string order whenever the
    # ids cross a digit boundary, e.g. 99 -> 100).
    ids = [client.create_experiment(f"{unique_name}-{i}") for i in range(3)]
    got = client.search_experiments(filter_string=f"name LIKE '{unique_name}-%'", order_by=["experiment_id ASC"])
    assert [e.experiment_id for e in got] == sorted(ids, key=int)
    got = client.search_experiments(filter_string=f"name LIKE '{unique_name}-%'", order_by=["experiment_id DESC"])
    assert [e.experiment_id for e in got] == sorted(ids, key=int, reverse=True)
    assert int(ids[0]) < int(ids[1]) < int(ids[2])


@pytest.mark.parametrize(
    "view_type, expected",
    [("ACTIVE_ONLY", ["cherry", "Banana", "apple"]), ("DELETED_ONLY", ["durian"]),
     ("ALL", ["durian", "cherry", "Banana", "apple"])],
)
def test_search_view_type(client, api, exps, view_type, expected):
    from mlflow.entities import ViewType

    got = client.search_experiments(view_type=getattr(ViewType, view_type), filter_string=_scope(exps))
    assert _names(exps, got) == expected
    for e in got:
        assert e.lifecycle_stage == ("deleted" if e.experiment_id == exps["ids"]["durian"] else "active")
    r = api.post(f"{API}/experiments/search", json={"view_type": view_type, "filter": _scope(exps)})
    assert [exps["names"][e["experiment_id"]] for e in r.json()["experiments"]] == expected
    # proto3 JSON also allows the enum's number
    number = {"ACTIVE_ONLY": 1, "DELETED_ONLY": 2, "ALL": 3}[view_type]
    r = api.post(f"{API}/experiments/search", json={"view_type": number, "filter": _scope(exps)})
    assert r.status_code == 200, r.text
    assert [exps["names"][e["experiment_id"]] for e in r.json()["experiments"]] == expected


def test_search_returns_tags(client, exps):
    got = {exps["names"][e.experiment_id]: e for e in client.search_experiments(filter_string=_scope(exps))}
    assert got["apple"].tags == {"color": "red", "my.key": "one"}
    assert got["cherry"].tags == {"my.key": "two"}
    assert got["apple"].name == f"{exps['prefix']}-apple"


@pytest.mark.parametrize("page_size", [1, 2, 3, 4])
def test_search_paging(client, exps, page_size):
    pages, token = [], None
    while True:
        page = client.search_experiments(filter_string=_scope(exps), max_results=page_size, page_token=token,
                                         order_by=["name ASC"])
        pages.append(page)
        token = page.token
        if not token:
            break
        assert len(pages) < 10
    assert [len(p) for p in pages] == [min(page_size, 3 - i) for i in range(0, 3, page_size)]
    assert all(p.token for p in pages[:-1]) and pages[-1].token is None
    assert [exps["names"][e.experiment_id] for p in pages for e in p] == ["Banana", "apple", "cherry"]


def test_search_paging_wire(api, exps):
    body = {"filter": _scope(exps), "max_results": 2}
    first = api.post(f"{API}/experiments/search", json=body).json()
    assert len(first["experiments"]) == 2 and first["next_page_token"]
    second = api.post(f"{API}/experiments/search", json={**body, "page_token": first["next_page_token"]}).json()
    assert len(second["experiments"]) == 1 and "next_page_token" not in second
    r = api.post(f"{API}/experiments/search", json={"filter": _scope(exps, "name = 'nothing'")})
    assert r.status_code == 200 and r.json() == {}
    # The GET form takes a query string; repeated keys make a list.
    r = api.get(f"{API}/experiments/search",
                params={"filter": _scope(exps), "max_results": 2, "order_by": ["creation_time ASC"]})
    assert r.status_code == 200, r.text
    assert [exps["names"][e["experiment_id"]] for e in r.json()["experiments"]] == ["apple", "Banana"]
    assert r.json()["next_page_token"]


def test_fluent_search_experiments(client, exps):
    import mlflow

    got = mlflow.search_experiments(filter_string=_scope(exps, "tags.color ILIKE 'red'"), order_by=["name DESC"])
    assert _names(exps, got) == ["apple", "Banana"]


def test_default_experiment(client, api):
    from mlflow.exceptions import MlflowException

    default = client.get_experiment("0")
    assert default.name == "Default" and default.lifecycle_stage == "active"
    assert client.get_experiment_by_name("Default").experiment_id == "0"
    assert [e.experiment_id for e in client.search_experiments(filter_string="name = 'Default'")] == ["0"]
    r = api.post(f"{API}/experiments/delete", json={"experiment_id": "0"})
    _error(r, 400, "INVALID_PARAMETER_VALUE")
    with pytest.raises(MlflowException) as exc:
        client.delete_experiment("0")
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_experiment("0").lifecycle_stage == "active"


def _token(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.b64encode(raw).decode()


BAD_SEARCHES = [
    {"filter": "name = 'a' OR name = 'b'"},
    {"filter": "foo = 'x'"},
    {"filter": "metrics.x > 1"},
    {"filter": "params.x = 'a'"},
    {"filter": "name > 'a'"},
    {"filter": "name IN ('a', 'b')"},
    {"filter": "name = 5"},
    {"filter": "name IS NULL"},
    {"filter": "creation_time = 'yesterday'"},
    {"filter": "creation_time LIKE '17%'"},
    {"filter": "last_update_time IN ('1')"},
    {"filter": "experiment_id > '1'"},
    {"filter": "experiment_id LIKE '1%'"},
    {"filter": "experiment_id = 'abc'"},
    {"filter": "experiment_id = '99999999999999999999999'"},
    {"filter": "experiment_id IN ('1', 'x')"},
    {"filter": "tags.color IN ('red')"},
    {"filter": "tags.color > 'a'"},
    {"filter": "tags.color = 5"},
    {"filter": "name = 'a' AND"},
    {"filter": "(name = 'a')"},
    {"max_results": 0},
    {"max_results": -5},
    {"max_results": 50001},
    {"order_by": ["name", "name DESC"]},
    {"order_by": ["creation_time", "attribute.creation_time DESC"]},
    {"order_by": ["tags.color"]},
    {"order_by": ["foo"]},
    {"order_by": ["name SIDEWAYS"]},
    {"page_token": "garbage!!"},
    {"page_token": _token({"offset": -1})},
    {"page_token": _token(b'{"offset": 1e999}')},
    {"page_token": _token({"offset": 10**30})},
]


@pytest.mark.parametrize("body", BAD_SEARCHES, ids=[json.dumps(b)[:70] for b in BAD_SEARCHES])
def test_bad_search(api, body):
    r = api.post(f"{API}/experiments/search", json=body)
    message = _error(r, 400, "INVALID_PARAMETER_VALUE")
    if " OR " in body.get("filter", ""):
        assert "Invalid clause(s) in filter string: 'OR'" in message


def test_max_results_limit_accepted(api, exps):
    r = api.post(f"{API}/experiments/search", json={"max_results": 50000, "filter": _scope(exps)})
    assert r.status_code == 200 and len(r.json()["experiments"]) == 3


# --------------------------------------------------------------------------------------------
# rename, delete, restore, tags
# --------------------------------------------------------------------------------------------
def test_rename(client, api, unique_name):
    exp_id = client.create_experiment(unique_name)
    created = client.get_experiment(exp_id)
    _fresh_ms()
    client.rename_experiment(exp_id, unique_name + "-renamed")
    exp = client.get_experiment(exp_id)
    assert exp.name == unique_name + "-renamed"
    assert exp.creation_time == created.creation_time
    assert exp.last_update_time > created.last_update_time
    assert client.get_experiment_by_name(unique_name) is None
    assert client.get_experiment_by_name(unique_name + "-renamed").experiment_id == exp_id
    # The old name is free again.
    assert client.create_experiment(unique_name) != exp_id
    # Renaming to its own name is a no-op, not a conflict.
    client.rename_experiment(exp_id, unique_name + "-renamed")
    r = api.post(f"{API}/experiments/update", json={"experiment_id": exp_id, "new_name": unique_name})
    _error(r, 400, "RESOURCE_ALREADY_EXISTS")
    r = api.post(f"{API}/experiments/update", json={"experiment_id": "987654321", "new_name": unique_name + "-x"})
    _error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    assert client.get_experiment(exp_id).name == unique_name + "-renamed"


def test_rename_conflicts_with_deleted_and_deleted_cannot_be_renamed(client, api, unique_name):
    gone = client.create_experiment(unique_name + "-gone")
    client.delete_experiment(gone)
    live = client.create_experiment(unique_name + "-live")
    r = api.post(f"{API}/experiments/update", json={"experiment_id": live, "new_name": unique_name + "-gone"})
    _error(r, 400, "RESOURCE_ALREADY_EXISTS")
    r = api.post(f"{API}/experiments/update", json={"experiment_id": gone, "new_name": unique_name + "-new"})
    _error(r, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_experiment(gone).name == unique_name + "-gone"


def test_delete_and_restore_cascade_to_runs(client, api, unique_name):
    import mlflow
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException

    exp_id = client.create_experiment(unique_name)
    kept = [client.create_run(exp_id, start_time=1000 + i).info.run_id for i in range(2)]
    already_deleted = client.create_run(exp_id, start_time=500).info.run_id
    client.delete_run(already_deleted)
    _fresh_ms()

    client.delete_experiment(exp_id)
    exp = client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted"
    assert exp.last_update_time >= exp.creation_time
    assert client.get_experiment_by_name(unique_name).lifecycle_stage == "deleted"
    assert client.search_runs([exp_id]) == []
    all_runs = client.search_runs([exp_id], run_view_type=ViewType.ALL)
    assert {r.info.run_id: r.info.lifecycle_stage for r in all_runs} == {
        kept[0]: "deleted", kept[1]: "deleted", already_deleted: "deleted"}
    assert [e.experiment_id for e in client.search_experiments(filter_string=f"name = '{unique_name}'")] == []
    assert [e.experiment_id for e in client.search_experiments(
        view_type=ViewType.DELETED_ONLY, filter_string=f"name = '{unique_name}'")] == [exp_id]
    with pytest.raises(MlflowException, match="deleted"):
        mlflow.set_experiment(unique_name)
    r = api.post(f"{API}/runs/create", json={"experiment_id": exp_id})
    _error(r, 400, "INVALID_PARAMETER_VALUE")
    r = api.post(f"{API}/experiments/set-experiment-tag", json={"experiment_id": exp_id, "key": "k", "value": "v"})
    _error(r, 400, "INVALID_PARAMETER_VALUE")
    # Deleting twice is an error (as in MLflow) and must not break the restore below.
    _fresh_ms()
    r = api.post(f"{API}/experiments/delete", json={"experiment_id": exp_id})
    _error(r, 404, "RESOURCE_DOES_NOT_EXIST")

    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    # The runs deleted with the experiment come back; the one deleted before stays deleted.
    assert [r.info.run_id for r in client.search_runs([exp_id])] == [kept[1], kept[0]]
    assert [r.info.run_id for r in client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)] == [
        already_deleted]
    assert [e.experiment_id for e in client.search_experiments(filter_string=f"name = '{unique_name}'")] == [exp_id]
    assert mlflow.set_experiment(unique_name).experiment_id == exp_id
    r = api.post(f"{API}/experiments/restore", json={"experiment_id": exp_id})
    _error(r, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("missing", ["987654321", "99999999999999999999", "-99999999999999999999"])
def test_missing_experiment_ids(api, missing):
    # Ids beyond 64 bits cannot exist either: a 404, not an overflow 500.
    r = api.get(f"{API}/experiments/get", params={"experiment_id": missing})
    _error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    for path, extra in (("delete", {}), ("restore", {}), ("update", {"new_name": f"n-{uuid.uuid4().hex}"}),
                        ("set-experiment-tag", {"key": "k", "value": "v"}), ("delete-experiment-tag", {"key": "k"})):
        r = api.post(f"{API}/experiments/{path}", json={"experiment_id": missing, **extra})
        _error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_experiment_tags(client, api, unique_name):
    from mlflow.exceptions import MlflowException

    exp_id = client.create_experiment(unique_name, tags={"a": "1"})
    client.set_experiment_tag(exp_id, "b", "2")
    client.set_experiment_tag(exp_id, "a", "one")  # overwrite
    client.set_experiment_tag(exp_id, "dotted.key", "x" * 20000)
    client.set_experiment_tag(exp_id, "k" * 250, "")
    assert client.get_experiment(exp_id).tags == {"a": "one", "b": "2", "dotted.key": "x" * 20000, "k" * 250: ""}
    client.delete_experiment_tag(exp_id, "a")
    client.delete_experiment_tag(exp_id, "k" * 250)
    assert client.get_experiment(exp_id).tags == {"b": "2", "dotted.key": "x" * 20000}
    with pytest.raises(MlflowException) as exc:
        client.delete_experiment_tag(exp_id, "a")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    r = api.post(f"{API}/experiments/set-experiment-tag",
                 json={"experiment_id": "987654321", "key": "k", "value": "v"})
    _error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    # Tag filters see the change.
    found = client.search_experiments(filter_string=f"name = '{unique_name}' AND tags.b = '2'")
    assert [e.experiment_id for e in found] == [exp_id]
    assert client.search_experiments(filter_string=f"name = '{unique_name}' AND tags.a IS NOT NULL") == []
