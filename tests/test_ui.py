"""The dashboard in a real browser (Playwright's Python package driving Debian's Chromium):
home -> project -> run -> compare by clicking, charts drawn from bucketed series, a one-step
spike in a 1,000,000-point series visible in the bucketed data, no console errors, clear pages
for bad input. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from swan_server.db.engine import make_engine, upgrade
from swan_server.entities import Metric
from swan_server.records import LogLine
from swan_server.store.sql import SqlTrackingStore
from tests.server import LiveServer

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SPIKE_STEP, SPIKE = 654_321, 50.0
BIG = 1_000_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _populate(uri: str) -> dict:
    engine = make_engine(uri)
    upgrade(engine)
    store = SqlTrackingStore(engine)
    exp = store.create_experiment("vision-baselines", None, {})
    store.create_experiment("nlp-sweeps", None, {})
    runs = {}
    for i, (name, model) in enumerate([("resnet-spiky", "resnet50"), ("vit-small", "vit_s16"), ("resnet-lr3", "resnet50")]):
        run = store.create_run(exp, "alice" if i != 1 else "bob", 1_700_000_000_000 + i * 1000,
                               {"team": "vision", "mlflow.note.content": "baseline sweep"}, name)
        rid = run.info.run_id
        runs[name] = rid
        store.log_batch(rid, [], {"lr": str(10 ** -(i + 2)), "model": model, "batch_size": "256"}, {})
        n = BIG if i == 0 else 5_000
        t0 = run.info.start_time
        for start in range(0, n, 100_000):
            pts = []
            for s in range(start, min(n, start + 100_000)):
                v = 2.0 * math.exp(-s / (n / 4)) + 0.05 * math.sin(s / 50.0) + 0.1 * i
                if i == 0 and s == SPIKE_STEP:
                    v = SPIKE
                pts.append(Metric("train/loss", v, t0 + s, s))
            store.log_batch(rid, pts, {}, {})
        store.log_batch(rid, [Metric("val/acc", 0.5 + 0.04 * k + 0.02 * i, t0 + k * 1000, k * 1000) for k in range(10)]
                        + [Metric("system/cpu_percent", 40 + (k % 7), t0 + k * 1000, k) for k in range(50)], {}, {})
        store.add_log_lines(rid, [LogLine(k, "ERROR" if k == 3 else "INFO", f"epoch {k}: loss ok", t0 + k)
                                  for k in range(1, 40)])
        if i != 0:
            store.end_run(rid, "FINISHED", t0 + 3_600_000)
    engine.dispose()
    return {"project": exp, "runs": runs}


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("swan-ui")
    uri = f"sqlite:///{home / 'swan.db'}"
    data = _populate(uri)
    srv = LiveServer(home, backend_store_uri=uri).start()
    yield srv, data
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _page(browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    return page, problems


def _wait_url(page, pattern: str):
    """Client-side navigations (history.pushState) fire no load event: poll the URL."""
    page.wait_for_function("p => new RegExp(p).test(location.pathname + location.search)", arg=pattern)


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ui-{name}.png"), full_page=True)


def test_home_project_run_compare(ui_server, browser):
    srv, data = ui_server
    page, problems = _page(browser)
    buckets: list[dict] = []
    page.on("response", lambda r: buckets.append(r.json()) if "/api/v1/series/buckets" in r.url and r.ok else None)

    page.goto(srv.url + "/")
    page.get_by_role("link", name="vision-baselines").wait_for()
    assert page.get_by_role("link", name="nlp-sweeps").is_visible()
    _shot(page, "home")

    page.get_by_role("link", name="vision-baselines").click()
    _wait_url(page, r"/projects/\d+")
    page.get_by_role("link", name="resnet-spiky").wait_for()
    for name in ("vit-small", "resnet-lr3"):
        assert page.get_by_role("link", name=name).is_visible()
    assert page.get_by_text("3 runs").is_visible()
    _shot(page, "project")

    page.get_by_role("link", name="resnet-spiky").click()
    _wait_url(page, r"/runs/[0-9a-f]{32}")
    page.wait_for_selector(".chart[data-state=drawn]")
    page.wait_for_function("document.querySelectorAll('.chart[data-state=drawn]').length >= 3", timeout=30_000)
    assert page.locator(".chart canvas").count() >= 3
    for group in ("train", "val", "system"):
        assert page.locator(f"section[data-group={group}]").count() == 1
    # the spike at one step of the 1,000,000-point series is in the bucketed data the page drew
    loss = [s for b in buckets for s in b["series"] if s["key"] == "train/loss"]
    assert loss, "no bucketed series for train/loss"
    run = loss[0]["runs"][0]
    assert max(v for v in run["max"] if v is not None) == SPIKE
    i = run["max"].index(SPIKE)
    assert run["x"][i] <= SPIKE_STEP < run["x"][i] + loss[0]["width"]
    assert len(run["x"]) <= 2001 and loss[0]["rows_read"] < 20_000
    assert int(page.locator(".chart-card[data-key='train/loss'] .chart").get_attribute("data-points")) <= 2001
    # chart controls live in the URL
    page.locator("select[aria-label='x axis']").select_option("relative")
    _wait_url(page, r"x=relative")
    page.wait_for_function("document.querySelectorAll('.chart[data-state=drawn]').length >= 3")
    page.get_by_text("log scale").click()
    _wait_url(page, r"log=1")
    _shot(page, "run")
    page.get_by_role("button", name=re.compile(r"Console")).click()
    page.get_by_text("epoch 3: loss ok").wait_for()
    _shot(page, "run-console")

    page.go_back()  # chart controls replace the URL: one step back is the run table
    _wait_url(page, r"/projects/\d+$")
    page.get_by_label("select resnet-spiky").check()
    page.get_by_label("select vit-small").check()
    page.get_by_role("button", name=re.compile(r"Compare \(2\)")).click()
    _wait_url(page, r"/compare\?runs=")
    page.get_by_text("Compare 2 runs").wait_for()
    page.wait_for_function("document.querySelectorAll('.chart[data-state=drawn]').length >= 3", timeout=30_000)
    diff = page.locator("table.params-diff")
    assert diff.get_by_text("vit_s16").is_visible()
    assert diff.locator("tbody th").all_inner_texts() == ["lr", "model"]  # equal params (batch_size) are hidden
    compared = [s for b in buckets for s in b["series"] if s["key"] == "train/loss" and len(s["runs"]) == 2]
    assert compared and {r["run_id"] for r in compared[-1]["runs"]} == {data["runs"]["resnet-spiky"], data["runs"]["vit-small"]}
    _shot(page, "compare")

    page.locator("button.theme").click()
    page.wait_for_function("document.documentElement.dataset.theme === 'dark'")
    page.wait_for_timeout(300)
    _shot(page, "compare-dark")
    page.locator("button.theme").click()
    assert problems == [], problems
    page.close()


def test_bad_filter_and_missing_run_show_clear_pages(ui_server, browser):
    srv, data = ui_server
    page, problems = _page(browser)
    page.goto(f"{srv.url}/projects/{data['project']}")
    page.get_by_role("link", name="resnet-spiky").wait_for()
    page.get_by_label("Filter runs").fill("metrics.loss >>> 1")
    page.get_by_role("button", name="Apply").click()
    err = page.get_by_test_id("filter-error")
    err.wait_for()
    assert err.inner_text().strip() and "filter" in err.inner_text().lower() or "invalid" in err.inner_text().lower()
    assert page.get_by_label("Filter runs").is_visible()  # the page is still there
    _shot(page, "bad-filter")
    page.get_by_label("Filter runs").fill("params.model = 'vit_s16'")
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("link", name="vit-small").wait_for()
    page.wait_for_function("!document.querySelector('[data-testid=filter-error]')")
    assert page.get_by_role("link", name="resnet-spiky").count() == 0

    page.goto(f"{srv.url}/runs/{'0' * 32}")
    page.get_by_test_id("not-found").wait_for()
    assert "does not exist" in page.get_by_test_id("not-found").inner_text()
    _shot(page, "missing-run")
    page.goto(f"{srv.url}/no/such/page")
    page.get_by_test_id("not-found").wait_for()
    # only the expected HTTP errors of those requests, no script errors
    assert not [p for p in problems if p.startswith("pageerror")], problems
    assert all(re.search(r"status of (400|404)", p) for p in problems), problems
    page.close()


def test_virtual_scroll_through_many_runs(ui_server, browser):
    srv, _ = ui_server
    engine = make_engine(srv.backend_store_uri)
    store = SqlTrackingStore(engine)
    exp = store.create_experiment("big-sweep", None, {})
    for i in range(1200):
        rid = store.create_run(exp, "u", 1_700_000_000_000 + i, {}, f"sweep-{i:05d}").info.run_id
        if i % 100 == 0:
            store.log_batch(rid, [Metric("acc", i / 1200, 1, 0)], {"seed": str(i)}, {})
    engine.dispose()
    page, problems = _page(browser)
    page.goto(f"{srv.url}/projects/{exp}?sort=attributes.start_time%20DESC")
    page.get_by_role("link", name="sweep-01199").wait_for()
    assert page.locator(".vbody .vrow").count() < 120  # only the visible rows are in the DOM
    page.locator(".vbody").evaluate("el => el.scrollTop = el.scrollHeight")
    page.get_by_role("link", name="sweep-00000").wait_for()
    assert problems == [], problems
    page.close()


def test_assets_are_cached_and_api_is_not_shadowed(ui_server):
    import requests

    srv, _ = ui_server
    index = requests.get(srv.url + "/runs/whatever")
    assert index.status_code == 200 and index.headers["Cache-Control"] == "no-cache"
    asset = re.search(r'/assets/[^"]+\.js', index.text).group(0)
    r = requests.get(srv.url + asset)
    assert r.status_code == 200 and "immutable" in r.headers["Cache-Control"]
    assert requests.get(srv.url + "/api/2.0/mlflow/nope").headers["Content-Type"].startswith("application/json")
    assert requests.get(srv.url + "/api/v1/nope", headers={"Accept": "text/html"}).status_code == 404
    assert requests.get(srv.url + "/health").text == "OK"
    assert json.loads(requests.get(srv.url + "/api/v1/projects/overview").text)["projects"]


def test_links_printed_by_the_mlflow_client_open_the_run_and_project(ui_server, browser):
    srv, data = ui_server
    page, problems = _page(browser)
    rid = data["runs"]["vit-small"]
    page.goto(f"{srv.url}/#/experiments/{data['project']}/runs/{rid}")
    _wait_url(page, f"^/runs/{rid}$")
    page.get_by_role("heading", name="vit-small").wait_for()
    page.goto(f"{srv.url}/#/experiments/{data['project']}")
    _wait_url(page, f"^/projects/{data['project']}$")
    page.get_by_role("link", name="resnet-spiky").wait_for()
    assert not problems, problems
    page.close()
