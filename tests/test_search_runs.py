"""search_runs against a live server: MLflow's filter grammar, order_by, paging and view types.

One module-scoped corpus of five runs (one of them deleted) with hand-picked metrics, params, tags,
attributes and dataset inputs backs most tests; every expectation is an exact, ordered list of run
names. The default order is newest start_time first, so expected lists below are written in the
corpus' newest-first order: delta, gamma, beta, alpha (epsilon is deleted).
"""

from __future__ import annotations

import base64
import json
import math
import uuid

import pytest

SEARCH = "/api/2.0/mlflow/runs/search"
T0 = 1_700_000_000_000  # start times are T0 + offsets, so the default order is fixed
NEWEST_FIRST = ["delta", "gamma", "beta", "alpha"]


@pytest.fixture(scope="module")
def client(module_mlflow_client):
    return module_mlflow_client


def _create_run(client, exp_id, name, start_offset, user):
    run = client.create_run(exp_id, start_time=T0 + start_offset, run_name=name, tags={"mlflow.user": user})
    assert run.info.user_id == user
    return run.info.run_id


@pytest.fixture(scope="module")
def corpus(client):
    """Five runs: alpha, beta, gamma, delta (active, oldest to newest) and epsilon (deleted)."""
    import mlflow
    import pandas as pd
    from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag

    exp_id = client.create_experiment(f"search-runs-corpus-{uuid.uuid4().hex[:10]}")
    ids = {
        "alpha": _create_run(client, exp_id, "alpha", 1000, "alice"),
        "beta": _create_run(client, exp_id, "beta", 2000, "bob"),
        "gamma": _create_run(client, exp_id, "gamma", 3000, "alice"),
        "delta": _create_run(client, exp_id, "delta", 4000, "carol"),
        "epsilon": _create_run(client, exp_id, "epsilon", 5000, "erin"),
    }
    # acc: the latest value is the point with the largest (step, timestamp): history points
    # that would match the filters below must not.
    client.log_batch(
        ids["alpha"],
        metrics=[Metric("acc", 0.1, 1, 0), Metric("acc", 0.9, 2, 1), Metric("loss", 0.5, 1, 0)],
        params=[Param("lr", "0.01"), Param("model", "Tree"), Param("opt", "adam"), Param("batch size", "32")],
        tags=[RunTag("team", "Vision"), RunTag("data.split", "a.b")],
    )
    client.log_batch(
        ids["beta"],
        # step 2 beats step 1 even though the step-1 point has the later timestamp
        metrics=[Metric("acc", 0.5, 1, 2), Metric("acc", 0.99, 100, 1), Metric("loss", float("nan"), 1, 0)],
        params=[Param("lr", "0.1"), Param("model", "tree")],
        tags=[RunTag("team", "vision"), RunTag("note", "it's 50% done")],
    )
    client.log_batch(
        ids["gamma"],
        # same step: the later timestamp wins
        metrics=[Metric("acc", 0.2, 5, 3), Metric("acc", 0.7, 9, 3), Metric("big", float("inf"), 1, 0)],
        params=[Param("model", "Forest")],
        tags=[RunTag("team", "Audio"), RunTag("data.split", "c")],
    )
    client.log_batch(
        ids["epsilon"],
        metrics=[Metric("acc", 0.95, 1, 0), Metric("loss", 0.1, 1, 0)],
        params=[Param("lr", "0.01"), Param("model", "Tree")],
        tags=[RunTag("team", "Vision")],
    )

    train = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2, 3]}), name="train_ds")
    evaluation = mlflow.data.from_pandas(pd.DataFrame({"y": [4.0, 5.0]}), name="eval_ds")
    assert train.digest != evaluation.digest
    with mlflow.start_run(run_id=ids["alpha"]):
        mlflow.log_input(train, context="training")
    with mlflow.start_run(run_id=ids["beta"]):
        mlflow.log_input(evaluation, context="eval")
    client.log_inputs(
        ids["gamma"],
        datasets=[DatasetInput(train._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", "eval")])],
    )

    # Attributes last: resuming a run with the fluent API marks it FINISHED.
    client.set_terminated(ids["alpha"], "FINISHED", end_time=T0 + 5000)
    client.set_terminated(ids["beta"], "FAILED", end_time=T0 + 6000)
    client.set_terminated(ids["delta"], "KILLED", end_time=T0 + 7000)
    client.delete_run(ids["epsilon"])
    assert client.get_run(ids["gamma"]).info.status == "RUNNING"
    assert client.get_run(ids["gamma"]).info.end_time is None
    return {"exp_id": exp_id, "ids": ids, "names": {v: k for k, v in ids.items()},
            "train_digest": train.digest, "eval_digest": evaluation.digest}


def names(corpus, runs):
    return [corpus["names"][r.info.run_id] for r in runs]


def search(client, corpus, filter_string="", **kw):
    return names(corpus, client.search_runs([corpus["exp_id"]], filter_string, **kw))


def expect_newest_first(*wanted):
    unknown = set(wanted) - set(NEWEST_FIRST)
    assert not unknown, unknown
    return [n for n in NEWEST_FIRST if n in wanted]


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------
FILTER_CASES = [
    ("", NEWEST_FIRST),
    # metrics: comparisons against the latest value
    ("metrics.acc = 0.9", ["alpha"]),
    ("metrics.acc != 0.9", ["gamma", "beta"]),  # delta has no acc: excluded even for !=
    ("metrics.acc < 0.7", ["beta"]),
    ("metrics.acc <= 0.7", ["gamma", "beta"]),
    ("metrics.acc > 0.5", ["gamma", "alpha"]),
    ("metrics.acc >= 0.5", ["gamma", "beta", "alpha"]),
    ("metrics.acc > 0.95", []),  # beta's 0.99 is history, not latest
    ("metrics.acc < 0.3", []),  # alpha's 0.1 and gamma's 0.2 are history
    ("metrics.acc != 123", ["gamma", "beta", "alpha"]),
    ("metrics.acc < 1e999", ["gamma", "beta", "alpha"]),
    ("metrics.acc > -1", ["gamma", "beta", "alpha"]),
    ("metrics.acc >= 7e-1", ["gamma", "alpha"]),
    ("metric.acc > 0.8", ["alpha"]),
    ("metrics.`acc` = 0.5", ["beta"]),
    ('metrics."acc" = 0.5', ["beta"]),
    ("metrics.missing = 1", []),
    ("metrics.missing != 1", []),
    # NaN (beta's loss) satisfies only !=; it does not compare as 0
    ("metrics.loss != 0.5", ["beta"]),
    ("metrics.loss = 0", []),
    ("metrics.loss < 1", ["alpha"]),
    ("metrics.loss >= 0", ["alpha"]),
    ("metrics.loss > -1e308", ["alpha"]),
    # +inf
    ("metrics.big > 1e300", ["gamma"]),
    ("metrics.big < 0", []),
    # params: strings, LIKE case-sensitive, ILIKE not
    ("params.model = 'Tree'", ["alpha"]),
    ("params.model = 'tree'", ["beta"]),
    ("params.model != 'Tree'", ["gamma", "beta"]),
    ("params.model != 'nothing'", ["gamma", "beta", "alpha"]),
    ("params.model LIKE 'T%'", ["alpha"]),
    ("params.model LIKE '%ree'", ["beta", "alpha"]),
    ("params.model LIKE 'tre_'", ["beta"]),
    ("params.model LIKE '%FOREST%'", []),
    ("params.model ILIKE 't%'", ["beta", "alpha"]),
    ("params.model ILIKE '%FOREST%'", ["gamma"]),
    ("params.lr IS NULL", ["delta", "gamma"]),
    ("params.lr IS NOT NULL", ["beta", "alpha"]),
    ("params.lr = '0.01'", ["alpha"]),  # string equality: '0.010' would not match
    ("params.lr = '0.010'", []),
    ('params.lr = "0.1"', ["beta"]),
    ("params.`lr` = '0.1'", ["beta"]),
    ('params."lr" = \'0.1\'', ["beta"]),
    ("param.lr = '0.1'", ["beta"]),
    ("parameter.lr = '0.1'", ["beta"]),
    ("parameters.lr = '0.1'", ["beta"]),
    ("params.model = 'Tree' and params.opt = 'adam'", ["alpha"]),
    ("params.model = 'Tree' AND params.opt = 'sgd'", []),
    ("params.`batch size` = '32'", ["alpha"]),
    ("params.`batch size` IS NULL", ["delta", "gamma", "beta"]),
    # keywords are case-insensitive; whitespace and newlines between clauses are free
    ("params.model like 'T%'", ["alpha"]),
    ("params.model ilike 'T%'", ["beta", "alpha"]),
    ("tags.team is null", ["delta"]),
    ("tags.team Is Not Null and params.lr is not null", ["beta", "alpha"]),
    ("metrics.acc > 0.5\n   AND\tparams.model = 'Tree'", ["alpha"]),
    # tags
    ("tags.team = 'Vision'", ["alpha"]),
    ("tags.team != 'Vision'", ["gamma", "beta"]),
    ("tags.team LIKE 'V%'", ["alpha"]),
    ("tags.team ILIKE 'v%'", ["beta", "alpha"]),
    ("tags.team ILIKE '%I%'", ["gamma", "beta", "alpha"]),
    ("tags.team IS NULL", ["delta"]),
    ("tags.team IS NOT NULL", ["gamma", "beta", "alpha"]),
    ("tag.team = 'Audio'", ["gamma"]),
    ("tags.`mlflow.runName` = 'beta'", ["beta"]),
    ("tags.mlflow.runName = 'beta'", ["beta"]),
    ('tags.note = "it\'s 50% done"', ["beta"]),
    ("tags.note LIKE '%50% done'", ["beta"]),
    ("tags.note LIKE 'it_s%'", ["beta"]),
    ("tags.`mlflow.runName` ILIKE 'AL%'", ["alpha"]),
    ("tags.`mlflow.runName` LIKE 'AL%'", []),
    ("tags.`data.split` = 'a.b'", ["alpha"]),
    ('tags."data.split" = \'c\'', ["gamma"]),
    ("tags.`data.split` IS NULL", ["delta", "beta"]),
    ("tags.`mlflow.user` = 'alice'", ["gamma", "alpha"]),
    # attributes
    ("attributes.run_name = 'gamma'", ["gamma"]),
    ("run_name = 'gamma'", ["gamma"]),
    ("attributes.run_name != 'alpha'", ["delta", "gamma", "beta"]),
    ("attributes.run_name LIKE '%ta'", ["delta", "beta"]),
    ("attributes.run_name LIKE 'ALP%'", []),
    ("attributes.run_name ILIKE 'ALP%'", ["alpha"]),
    ("attributes.status = 'FINISHED'", ["alpha"]),
    ("status = 'RUNNING'", ["gamma"]),
    ("attributes.status != 'RUNNING'", ["delta", "beta", "alpha"]),
    ("attributes.status LIKE 'F%'", ["beta", "alpha"]),
    (f"attributes.start_time = {T0 + 1000}", ["alpha"]),
    (f"attributes.start_time > {T0 + 2000}", ["delta", "gamma"]),
    (f"attributes.start_time >= {T0 + 2000}", ["delta", "gamma", "beta"]),
    (f"attributes.start_time < {T0 + 2000}", ["alpha"]),
    (f"attributes.start_time <= {T0 + 2000}", ["beta", "alpha"]),
    (f"attributes.start_time != {T0 + 2000}", ["delta", "gamma", "alpha"]),
    (f"attributes.created < {T0 + 2000}", ["alpha"]),
    (f"start_time >= {T0 + 3000}", ["delta", "gamma"]),
    (f"attributes.end_time < {T0 + 6500}", ["beta", "alpha"]),
    ("attributes.end_time > 0", ["delta", "beta", "alpha"]),  # gamma has no end_time
    (f"attributes.end_time != {T0 + 5000}", ["delta", "beta"]),
    ("attributes.user_id = 'alice'", ["gamma", "alpha"]),
    ("attr.user_id != 'alice'", ["delta", "beta"]),
    ("run.user_id LIKE 'b%'", ["beta"]),
    ("attributes.user_id ILIKE 'CAROL'", ["delta"]),
    ("attributes.run_id IN ('{alpha}', '{gamma}')", ["gamma", "alpha"]),
    ("attributes.run_id IN ('{delta}')", ["delta"]),
    ("attributes.run_id IN ('{epsilon}')", []),  # deleted
    ("attributes.run_id NOT IN ('{alpha}', '{gamma}')", ["delta", "beta"]),
    ("attributes.run_id in ('{alpha}','{beta}')", ["beta", "alpha"]),
    ("attributes.run_id not in ('{alpha}','{beta}')", ["delta", "gamma"]),
    ("run_id = '{beta}'", ["beta"]),
    ("attributes.run_id != '{beta}'", ["delta", "gamma", "alpha"]),
    ("attributes.artifact_uri LIKE '%{beta}%'", ["beta"]),
    # datasets: alpha train_ds/training, beta eval_ds/eval, gamma train_ds/eval
    ("datasets.name = 'train_ds'", ["gamma", "alpha"]),
    ("datasets.name != 'train_ds'", ["beta"]),  # runs without datasets are excluded
    ("datasets.name IN ('eval_ds', 'nope')", ["beta"]),
    ("datasets.name NOT IN ('eval_ds')", ["gamma", "alpha"]),
    ("datasets.name LIKE 'train%'", ["gamma", "alpha"]),
    ("datasets.name LIKE 'TRAIN%'", []),
    ("datasets.name ILIKE 'TRAIN%'", ["gamma", "alpha"]),
    ("dataset.name = 'eval_ds'", ["beta"]),
    ("datasets.digest = '{train_digest}'", ["gamma", "alpha"]),
    ("datasets.digest = '{eval_digest}'", ["beta"]),
    ("datasets.context = 'training'", ["alpha"]),
    ("datasets.context = 'eval'", ["gamma", "beta"]),
    ("datasets.context IN ('training')", ["alpha"]),
    ("datasets.context LIKE 'ev%'", ["gamma", "beta"]),
    ("datasets.name = 'train_ds' AND datasets.context = 'eval'", ["gamma"]),
    # combinations across entities
    ("metrics.acc > 0.6 and params.model = 'Tree'", ["alpha"]),
    ("metrics.acc > 0.4 AND tags.team ILIKE 'vision' AND attributes.status = 'FAILED'", ["beta"]),
    ("params.model ILIKE '%e%' and attributes.user_id = 'alice' and metrics.acc < 0.8", ["gamma"]),
]


def _fmt(corpus, text):
    return text.format(**corpus["ids"], train_digest=corpus["train_digest"], eval_digest=corpus["eval_digest"])


@pytest.mark.parametrize("filter_string, expected", FILTER_CASES, ids=[c[0] or "<empty>" for c in FILTER_CASES])
def test_filter(client, corpus, filter_string, expected):
    assert expected == expect_newest_first(*expected)  # the table itself is in default order
    assert search(client, corpus, _fmt(corpus, filter_string)) == expected


METRIC_FILTER_CASES = [(f, e) for f, e in FILTER_CASES if f.startswith("metric")]


@pytest.mark.parametrize("filter_string, expected", METRIC_FILTER_CASES, ids=[c[0] for c in METRIC_FILTER_CASES])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_metric_filter_on_the_metric_ordered_by(client, corpus, filter_string, expected, direction):
    """A metric that is both compared and ordered on is compared on the ordering's join: the
    same runs match as without the ordering (missing series and NaN included)."""
    key = filter_string.split(" ")[0].split(".", 1)[1].strip('`"')
    got = search(client, corpus, _fmt(corpus, filter_string), order_by=[f"metrics.`{key}` {direction}"])
    assert sorted(got) == sorted(expected)


def test_filter_with_fluent_search_runs(client, corpus):
    import mlflow

    df = mlflow.search_runs([corpus["exp_id"]], filter_string="params.model ILIKE 't%'")
    assert [corpus["names"][r] for r in df["run_id"]] == ["beta", "alpha"]
    assert list(df["params.model"]) == ["tree", "Tree"]
    assert list(df["metrics.acc"]) == [0.5, 0.9]
    assert math.isnan(df["metrics.loss"].iloc[0]) and df["metrics.loss"].iloc[1] == 0.5

    runs = mlflow.search_runs([corpus["exp_id"]], filter_string="metrics.big > 0", output_format="list")
    assert [r.info.run_name for r in runs] == ["gamma"]
    assert runs[0].data.metrics["big"] == math.inf


def test_search_returns_latest_metric_values(client, corpus):
    runs = {r.info.run_name: r for r in client.search_runs([corpus["exp_id"]])}
    assert runs["alpha"].data.metrics == {"acc": 0.9, "loss": 0.5}
    assert runs["beta"].data.metrics["acc"] == 0.5
    assert math.isnan(runs["beta"].data.metrics["loss"])
    assert runs["gamma"].data.metrics == {"acc": 0.7, "big": math.inf}
    assert runs["delta"].data.metrics == {}
    assert runs["alpha"].data.params == {"lr": "0.01", "model": "Tree", "opt": "adam", "batch size": "32"}
    assert runs["gamma"].data.tags["data.split"] == "c"
    assert [i.dataset.name for i in runs["alpha"].inputs.dataset_inputs] == ["train_ds"]


def test_filter_over_raw_http(api, corpus):
    body = {"experiment_ids": [corpus["exp_id"]], "filter": "params.model = 'Tree'"}
    r = api.post(SEARCH, json=body)
    assert r.status_code == 200, r.text
    payload = r.json()
    assert [run["info"]["run_id"] for run in payload["runs"]] == [corpus["ids"]["alpha"]]
    assert "next_page_token" not in payload
    # No match: the empty list is omitted, as in proto3 JSON.
    r = api.post(SEARCH, json={**body, "filter": "metrics.acc > 100"})
    assert r.status_code == 200 and r.json() == {}
    # The GET form with a query string works too.
    r = api.get(SEARCH, params={"experiment_ids": corpus["exp_id"], "filter": "tags.team = 'Audio'"})
    assert r.status_code == 200, r.text
    assert [run["info"]["run_name"] for run in r.json()["runs"]] == ["gamma"]


def test_run_name_attribute_follows_the_run_name_tag(client, unique_name):
    exp_id = client.create_experiment(unique_name)
    run_id = client.create_run(exp_id, run_name="before").info.run_id
    client.set_tag(run_id, "mlflow.runName", "after")
    assert [r.info.run_id for r in client.search_runs([exp_id], "attributes.run_name = 'after'")] == [run_id]
    assert client.search_runs([exp_id], "attributes.run_name = 'before'") == []
    client.update_run(run_id, name="again")
    assert [r.info.run_id for r in client.search_runs([exp_id], "tags.`mlflow.runName` = 'again'")] == [run_id]


# --------------------------------------------------------------------------------------------
# order_by
# --------------------------------------------------------------------------------------------
ORDER_CASES = [
    ([], ["delta", "gamma", "beta", "alpha"]),
    (["metrics.acc DESC"], ["alpha", "gamma", "beta", "delta"]),
    (["metrics.acc ASC"], ["beta", "gamma", "alpha", "delta"]),
    (["metrics.acc"], ["beta", "gamma", "alpha", "delta"]),
    (["metric.acc desc"], ["alpha", "gamma", "beta", "delta"]),
    (["metrics.`acc` DESC"], ["alpha", "gamma", "beta", "delta"]),
    # NaN after real values and before missing ones, in both directions; missing runs keep
    # the default start_time DESC order among themselves
    (["metrics.loss ASC"], ["alpha", "beta", "delta", "gamma"]),
    (["metrics.loss DESC"], ["alpha", "beta", "delta", "gamma"]),
    (["metrics.big DESC"], ["gamma", "delta", "beta", "alpha"]),
    # params and tags sort as strings (uppercase before lowercase), missing last
    (["params.model ASC"], ["gamma", "alpha", "beta", "delta"]),
    (["params.model DESC"], ["beta", "alpha", "gamma", "delta"]),
    (["params.lr DESC"], ["beta", "alpha", "delta", "gamma"]),
    (["params.lr ASC"], ["alpha", "beta", "delta", "gamma"]),
    (["tags.team ASC"], ["gamma", "alpha", "beta", "delta"]),
    (["tags.team DESC"], ["beta", "alpha", "gamma", "delta"]),
    (["tags.`data.split` DESC"], ["gamma", "alpha", "delta", "beta"]),
    (["tags.`data.split` ASC"], ["alpha", "gamma", "delta", "beta"]),
    # attributes
    (["attributes.start_time ASC"], ["alpha", "beta", "gamma", "delta"]),
    (["start_time DESC"], ["delta", "gamma", "beta", "alpha"]),
    (["created"], ["alpha", "beta", "gamma", "delta"]),
    (["attributes.end_time ASC"], ["alpha", "beta", "delta", "gamma"]),  # gamma has no end_time
    (["attributes.end_time DESC"], ["delta", "beta", "alpha", "gamma"]),
    (["attributes.run_name"], ["alpha", "beta", "delta", "gamma"]),
    (["run_name DESC"], ["gamma", "delta", "beta", "alpha"]),
    (["attributes.user_id ASC"], ["gamma", "alpha", "beta", "delta"]),  # alice tie: newest first
    (["attributes.status ASC"], ["beta", "alpha", "delta", "gamma"]),
    (["attr.status DESC"], ["gamma", "delta", "alpha", "beta"]),
    # several keys
    (["attributes.user_id DESC", "metrics.acc ASC"], ["delta", "beta", "gamma", "alpha"]),
    (["attributes.user_id ASC", "start_time ASC"], ["alpha", "gamma", "beta", "delta"]),
]


@pytest.mark.parametrize("order_by, expected", ORDER_CASES, ids=[",".join(c[0]) or "<default>" for c in ORDER_CASES])
def test_order_by(client, corpus, order_by, expected):
    assert search(client, corpus, order_by=order_by) == expected


def test_order_by_with_filter_and_fluent_client(client, corpus):
    import mlflow

    df = mlflow.search_runs([corpus["exp_id"]], filter_string="metrics.acc > 0", order_by=["metrics.acc DESC"])
    assert [corpus["names"][r] for r in df["run_id"]] == ["alpha", "gamma", "beta"]


def test_ties_break_on_run_id(client, unique_name):
    exp_id = client.create_experiment(unique_name)
    same = [client.create_run(exp_id, start_time=T0).info.run_id for _ in range(3)]
    newer = client.create_run(exp_id, start_time=T0 + 1).info.run_id
    assert [r.info.run_id for r in client.search_runs([exp_id])] == [newer] + sorted(same)
    assert [r.info.run_id for r in client.search_runs([exp_id], order_by=["start_time ASC"])] == sorted(same) + [newer]


# --------------------------------------------------------------------------------------------
# Paging
# --------------------------------------------------------------------------------------------
def _all_pages(client, exp_ids, page_size, **kw):
    pages, token = [], None
    while True:
        page = client.search_runs(exp_ids, max_results=page_size, page_token=token, **kw)
        pages.append(page)
        token = page.token
        if not token:
            return pages
        assert len(pages) < 20, "paging does not terminate"


@pytest.mark.parametrize("page_size", [1, 2, 3, 4, 5, 1000])
def test_paging(client, corpus, page_size):
    pages = _all_pages(client, [corpus["exp_id"]], page_size)
    total = len(NEWEST_FIRST)
    assert [len(p) for p in pages] == [min(page_size, total - i) for i in range(0, total, page_size)]
    # a token exactly when more rows exist: never a trailing empty page
    assert all(p.token for p in pages[:-1]) and pages[-1].token is None
    assert [corpus["names"][r.info.run_id] for p in pages for r in p] == NEWEST_FIRST


def test_paging_with_filter_and_order(client, corpus):
    pages = _all_pages(client, [corpus["exp_id"]], 2, filter_string="metrics.acc >= 0", order_by=["metrics.acc ASC"])
    assert [names(corpus, p) for p in pages] == [["beta", "gamma"], ["alpha"]]
    assert pages[0].token and pages[1].token is None


def test_paging_wire_format(api, corpus):
    body = {"experiment_ids": [corpus["exp_id"]], "max_results": 2}
    first = api.post(SEARCH, json=body)
    assert first.status_code == 200
    token = first.json()["next_page_token"]
    assert isinstance(token, str) and token
    second = api.post(SEARCH, json={**body, "page_token": token})
    assert second.status_code == 200
    assert "next_page_token" not in second.json()  # exactly 4 rows: no empty third page
    ids = [r["info"]["run_id"] for r in first.json()["runs"] + second.json()["runs"]]
    assert ids == [corpus["ids"][n] for n in NEWEST_FIRST]
    whole = api.post(SEARCH, json={**body, "max_results": 4}).json()
    assert "next_page_token" not in whole and len(whole["runs"]) == 4


def test_fluent_search_runs_max_results(client, corpus):
    import mlflow

    df = mlflow.search_runs([corpus["exp_id"]], max_results=3)
    assert [corpus["names"][r] for r in df["run_id"]] == NEWEST_FIRST[:3]


def _token(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "token",
    [
        "garbage!!",
        "%%%",
        _token(b"not json"),
        _token(["offset"]),
        _token({"nope": 1}),
        _token({"offset": -1}),
        _token({"offset": "ten"}),
        _token(b'{"offset": 1e999}'),
        _token({"offset": 10**30}),
    ],
)
def test_bad_page_token(api, corpus, token):
    r = api.post(SEARCH, json={"experiment_ids": [corpus["exp_id"]], "page_token": token})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_bad_page_token_through_client(client, corpus):
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as exc:
        client.search_runs([corpus["exp_id"]], page_token="not-a-token")
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"


def test_page_past_the_end_is_empty(api, corpus):
    r = api.post(SEARCH, json={"experiment_ids": [corpus["exp_id"]], "page_token": _token({"offset": 100})})
    assert r.status_code == 200 and r.json() == {}


# --------------------------------------------------------------------------------------------
# View types and experiments
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "view_type, filter_string, expected",
    [
        ("ACTIVE_ONLY", "", NEWEST_FIRST),
        ("DELETED_ONLY", "", ["epsilon"]),
        ("ALL", "", ["epsilon"] + NEWEST_FIRST),
        ("ALL", "params.model = 'Tree'", ["epsilon", "alpha"]),
        ("DELETED_ONLY", "metrics.acc > 0.9", ["epsilon"]),
        ("DELETED_ONLY", "metrics.acc < 0.9", []),
        ("ACTIVE_ONLY", "metrics.loss < 0.2", []),
    ],
)
def test_run_view_type(client, corpus, view_type, filter_string, expected):
    from mlflow.entities import ViewType

    vt = getattr(ViewType, view_type)
    assert search(client, corpus, filter_string, run_view_type=vt) == expected


def test_run_view_type_on_the_wire(api, corpus):
    body = {"experiment_ids": [corpus["exp_id"]], "run_view_type": "DELETED_ONLY"}
    r = api.post(SEARCH, json=body)
    assert r.status_code == 200
    assert [x["info"]["run_id"] for x in r.json()["runs"]] == [corpus["ids"]["epsilon"]]
    assert r.json()["runs"][0]["info"]["lifecycle_stage"] == "deleted"
    r = api.post(SEARCH, json={**body, "run_view_type": "BOGUS"})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_restored_run_is_active_again(client, unique_name):
    from mlflow.entities import ViewType

    exp_id = client.create_experiment(unique_name)
    a = client.create_run(exp_id, start_time=T0).info.run_id
    b = client.create_run(exp_id, start_time=T0 + 1).info.run_id
    client.delete_run(a)
    assert [r.info.run_id for r in client.search_runs([exp_id])] == [b]
    assert [r.info.run_id for r in client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)] == [a]
    client.restore_run(a)
    assert [r.info.run_id for r in client.search_runs([exp_id])] == [b, a]
    assert client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY) == []


def test_search_across_experiments(client, corpus, unique_name):
    other = client.create_experiment(unique_name)
    newest = client.create_run(other, start_time=T0 + 9000, run_name="newest").info.run_id
    oldest = client.create_run(other, start_time=T0, run_name="oldest").info.run_id
    client.log_param(newest, "model", "Tree")
    got = [r.info.run_id for r in client.search_runs([corpus["exp_id"], other])]
    assert got == [newest] + [corpus["ids"][n] for n in NEWEST_FIRST] + [oldest]
    got = [r.info.run_id for r in client.search_runs([other, corpus["exp_id"]], "params.model = 'Tree'")]
    assert got == [newest, corpus["ids"]["alpha"]]
    assert client.search_runs([other], "params.model = 'Forest'") == []
    # An experiment that does not exist has no runs (also when its id is beyond 64 bits).
    assert list(client.search_runs(["987654321"])) == []
    assert list(client.search_runs(["99999999999999999999"])) == []
    got = [r.info.run_id for r in client.search_runs(["99999999999999999999", other])]
    assert got == [newest, oldest]


# --------------------------------------------------------------------------------------------
# Errors: always 400 INVALID_PARAMETER_VALUE, never a 500 (the client retries those for minutes)
# --------------------------------------------------------------------------------------------
BAD_FILTERS = [
    ("metrics.acc > 0.5 OR metrics.acc < 0.1", "Invalid clause(s) in filter string: 'OR'"),
    ("params.model = 'Tree' or params.model = 'tree'", "Invalid clause(s) in filter string: 'OR'"),
    ("metrics.acc = 'high'", None),
    ("metrics.acc LIKE '1%'", None),
    ("metrics.acc IS NULL", None),
    ("metrics.acc IN ('1')", None),
    ("foo.bar = 'x'", None),
    ("params.model IN ('Tree', 'tree')", None),
    ("params.model NOT IN ('Tree')", None),
    ("tags.team IN ('Vision')", None),
    ("params.lr = 0.01", None),
    ("params.lr > '0.01'", None),
    ("tags.team < 'V'", None),
    ("attributes.nope = 'x'", None),
    ("attributes.start_time = 'yesterday'", None),
    ("attributes.start_time LIKE '17%'", None),
    ("attributes.start_time IS NULL", None),
    ("attributes.status IS NOT NULL", None),
    ("attributes.status > 'A'", None),
    ("datasets.size = '1'", None),
    ("datasets.name > 'a'", None),
    ("datasets.name = 1", None),
    ("metrics.acc >", None),
    ("metrics.acc > 1 AND", None),
    ("AND metrics.acc > 1", None),
    ("(metrics.acc > 1)", None),
    ("NOT params.lr = 'x'", None),
    ("metrics.acc ~ 1", None),
    ("metrics.acc == 1", None),
    ("metrics.acc > 1 metrics.acc < 2", None),
    ("attributes.run_id IN ()", None),
    ("attributes.run_id IN 'abc'", None),
    ("params.model = 'unterminated", None),
]


@pytest.mark.parametrize("filter_string, message", BAD_FILTERS, ids=[c[0] for c in BAD_FILTERS])
def test_bad_filter(api, corpus, filter_string, message):
    r = api.post(SEARCH, json={"experiment_ids": [corpus["exp_id"]], "filter": filter_string})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    if message:
        assert message in r.json()["message"]


def test_bad_filter_through_client(client, corpus):
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as exc:
        client.search_runs([corpus["exp_id"]], "metrics.acc > 1 OR params.lr = 'x'")
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Invalid clause(s) in filter string: 'OR'" in exc.value.message


BAD_ORDER_BY = [
    ["metrics.acc DESC", "metrics.acc ASC"],
    ["metrics.acc", "metric.acc DESC"],
    ["params.lr", "param.lr"],
    ["tags.team", "tag.team DESC"],
    ["start_time", "created DESC"],
    ["attributes.run_name", "run_name DESC"],
    ["datasets.name"],
    ["metrics.acc SIDEWAYS"],
    ["tags.team ILIKE"],
    ["attributes.nope"],
    ["foo.bar"],
    [""],
]


@pytest.mark.parametrize("order_by", BAD_ORDER_BY, ids=["|".join(o) or "<empty>" for o in BAD_ORDER_BY])
def test_bad_order_by(api, corpus, order_by):
    r = api.post(SEARCH, json={"experiment_ids": [corpus["exp_id"]], "order_by": order_by})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_duplicate_order_by_through_client(client, corpus):
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as exc:
        client.search_runs([corpus["exp_id"]], order_by=["metrics.acc DESC", "metrics.acc ASC"])
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "duplicate" in exc.value.message


@pytest.mark.parametrize("max_results", [0, -1, 50001, 10**12, "ten", 1.5, True])
def test_bad_max_results(api, corpus, max_results):
    r = api.post(SEARCH, json={"experiment_ids": [corpus["exp_id"]], "max_results": max_results})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_max_results_bounds_accepted(api, corpus):
    for n in (1, 50000):
        r = api.post(SEARCH, json={"experiment_ids": [corpus["exp_id"]], "max_results": n})
        assert r.status_code == 200, r.text
        assert len(r.json()["runs"]) == min(n, 4)
        assert ("next_page_token" in r.json()) == (n < 4)


@pytest.mark.parametrize(
    "body",
    [
        {"experiment_ids": "0"},
        {"experiment_ids": [0]},
        {"experiment_ids": ["0"], "filter": 5},
        {"experiment_ids": ["0"], "order_by": "start_time"},
        {"experiment_ids": ["0"], "order_by": [1]},
        {"experiment_ids": ["0"], "page_token": 5},
        {"experiment_ids": ["0"], "run_view_type": ["ALL"]},
    ],
)
def test_bad_input_types(api, body):
    r = api.post(SEARCH, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
