"""`mlflow.log_figure` and `mlflow.log_table`: the artifacts MLflow writes are served back by the
MLflow artifact routes (and `mlflow.load_table` reads the table), by the dashboard's artifact
previews under /api/v1, and drawn by the run page's artifact browser in a real browser."""

from __future__ import annotations

import json

import pytest
import requests

from tests.integrations.support import download_bytes, run_recipes
# the dashboard tests' Chromium, and their page guard (console errors, requests to other hosts)
from tests.test_ui import _page, _shot, _wait_preview_image, _wait_url, browser  # noqa: F401  (browser is a fixture)

pytestmark = [pytest.mark.integrations, pytest.mark.timeout(600)]

ROWS = [[1, "a"], [2, "b"], [3, "c"], [4, "d"]]


@pytest.fixture(scope="module")
def figure_run(server, tmp_path_factory):
    return run_recipes(tmp_path_factory.mktemp("figures"), server, ["figure-table"],
                       epilogue='result = {"run_id": run.info.run_id}')


def test_figure_and_table_through_mlflow(figure_run, mlflow_client, tmp_path):
    run_id = figure_run["run_id"]
    run = mlflow_client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert {"path": "tables/predictions.json", "type": "table"} in json.loads(run.data.tags["mlflow.loggedArtifacts"])
    sizes = {f.path: f.file_size for d in ("plots", "tables") for f in mlflow_client.list_artifacts(run_id, d)}
    assert set(sizes) == {"plots/line.png", "tables/predictions.json"} and sizes["plots/line.png"] > 1000
    png = download_bytes(mlflow_client, run_id, "plots/line.png", tmp_path)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) == sizes["plots/line.png"]
    table = json.loads(download_bytes(mlflow_client, run_id, "tables/predictions.json", tmp_path))
    assert table == {"columns": ["epoch", "label"], "data": ROWS}
    frame = mlflow_client.load_table(run.info.experiment_id, "tables/predictions.json", run_ids=[run_id])
    assert frame[["epoch", "label"]].values.tolist() == ROWS


def test_figure_and_table_in_the_dashboard_previews(figure_run, server):
    run_id = figure_run["run_id"]
    base = f"{server.url}/api/v1/runs/{run_id}"
    resp = requests.get(base + "/artifact-preview", params={"path": "tables/predictions.json"}, timeout=60)
    assert resp.status_code == 200, resp.text
    preview = resp.json()
    assert preview["kind"] == "json" and preview["truncated"] is False and preview["path"] == "tables/predictions.json"
    assert json.loads(preview["text"]) == {"columns": ["epoch", "label"], "data": ROWS}
    resp = requests.get(base + "/artifact-preview", params={"path": "plots/line.png"}, timeout=60)
    assert resp.status_code == 200, resp.text
    preview = resp.json()
    assert preview["kind"] == "image" and preview["size"] > 1000 and preview["text"] is None
    # the image itself, from the route the preview names
    resp = requests.get(base + "/artifacts/plots/line.png", timeout=60)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("image/png")
    assert resp.content.startswith(b"\x89PNG\r\n\x1a\n") and len(resp.content) == preview["size"]


def test_figure_and_table_drawn_in_the_run_pages_artifact_browser(figure_run, server, browser):
    run_id = figure_run["run_id"]
    page, problems = _page(browser, server.url)
    page.goto(f"{server.url}/runs/{run_id}")
    page.get_by_role("button", name="Artifacts").click()
    _wait_url(page, r"tab=artifacts")
    tree, preview = page.locator(".artifacts .tree"), page.locator(".artifacts .preview")

    tree.get_by_text("plots/").click()
    tree.get_by_text("line.png").click()
    _wait_url(page, r"file=plots%2Fline\.png")
    assert _wait_preview_image(page) > 0

    tree.get_by_text("tables/").click()
    tree.get_by_text("predictions.json").click()
    _wait_url(page, r"file=tables%2Fpredictions\.json")
    table = preview.locator("table.logged-table")
    table.wait_for()
    # text_content: the header's CSS upper-cases what innerText would return
    assert table.locator("thead th").all_text_contents() == ["epoch", "label"]
    cells = [row.locator("td").all_text_contents() for row in table.locator("tbody tr").all()]
    assert cells == [[str(epoch), label] for epoch, label in ROWS]
    assert preview.locator("pre").count() == 0  # the table replaces the raw JSON text
    _shot(page, "mlflow-figure-table")
    assert problems == [], problems
    page.close()
