"""The dashboard in a real browser (Playwright's Python package driving Debian's Chromium):
home -> project -> run -> compare by clicking, charts drawn from bucketed series, a one-step
spike in a 1,000,000-point series visible in the bucketed data, no console errors, clear pages
for bad input; zoom, smoothing, x axes, media, ECharts, console, artifacts and live runs, every
page state in the URL and restored on reload; no request ever leaves the test server.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import select

import swan_client
from swan_client.api import Client

from swan_server.db.engine import make_engine, upgrade
from swan_server.entities import Metric
from swan_server.records import LogLine
from swan_server.store.sql import SqlTrackingStore
from swan_server.db import schema as t
from tests.server import LiveServer
from tests.swanlab_support import admin_key, run_script, sdk_env

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


def _page(browser, server_url: str):
    """A fresh page whose console errors, script errors and requests to any host but the test
    server (a CDN, a font service, telemetry) are collected in `problems`; those requests are
    refused, so a page that needs them fails visibly too."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    own = urlsplit(server_url).netloc

    def only_the_test_server(route):
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            problems.append(f"request to another host: {route.request.url}")
            route.abort()

    page.route("**/*", only_the_test_server)
    return page, problems


def _wait_url(page, pattern: str):
    """Client-side navigations (history.pushState) fire no load event: poll the URL."""
    page.wait_for_function("p => new RegExp(p).test(location.pathname + location.search)", arg=pattern)


def _wait_preview_image(page) -> int:
    """Wait until the artifact browser's image preview has loaded; its natural width."""
    return page.wait_for_function(
        "() => { const i = document.querySelector('.preview img.preview-img');"
        " return i && i.complete && i.naturalWidth }").json_value()


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ui-{name}.png"), full_page=True)


def test_home_project_run_compare(ui_server, browser):
    srv, data = ui_server
    page, problems = _page(browser, srv.url)
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
    page, problems = _page(browser, srv.url)
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


def _bulk_create_runs(store: SqlTrackingStore, experiment_id: str, names: list[str], start: int) -> None:
    """Many runs in one transaction, written as the store's create_run writes each (a run row and
    its run-name tag): 10,000 runs take well under a second instead of 10,000 transactions."""
    with store.write() as conn:
        exp = conn.execute(select(t.projects).where(t.projects.c.id == int(experiment_id))).one()
        rows = []
        for i, name in enumerate(names):
            run_uuid = uuid.uuid4().hex
            rows.append({"run_uuid": run_uuid, "project_id": exp.id, "name": name, "user_id": "u", "status": "FINISHED",
                         "start_time": start + i, "end_time": start + i + 60_000, "lifecycle_stage": "active",
                         "artifact_uri": f"{exp.artifact_location.rstrip('/')}/{run_uuid}/artifacts"})
        conn.execute(t.runs.insert(), rows)
        ids = conn.execute(select(t.runs.c.id, t.runs.c.name).where(t.runs.c.project_id == exp.id)).all()
        conn.execute(t.run_tags.insert(),
                     [{"run_id": rid, "key": "mlflow.runName", "value": name} for rid, name in ids])


def test_virtual_scroll_through_10000_runs(ui_server, browser):
    srv, _ = ui_server
    n = 10_000
    engine = make_engine(srv.backend_store_uri)
    store = SqlTrackingStore(engine)
    exp = store.create_experiment("big-sweep", None, {})
    _bulk_create_runs(store, exp, [f"sweep-{i:05d}" for i in range(n)], 1_700_000_000_000)
    engine.dispose()
    page, problems = _page(browser, srv.url)
    page.goto(f"{srv.url}/projects/{exp}?sort=attributes.start_time%20DESC")
    page.get_by_role("link", name="sweep-09999").wait_for()
    assert page.get_by_text(f"{n:,} runs").is_visible()
    assert page.locator(".vbody .vrow").count() < 120  # only the visible rows are in the DOM
    row_height = page.locator(".vbody .vrow").first.bounding_box()["height"]
    page.locator(".vbody").evaluate(f"el => el.scrollTop = {n // 2 - 1} * {row_height}")
    page.get_by_role("link", name="sweep-05000").wait_for()
    assert page.locator(".vbody .vrow").count() < 120
    page.locator(".vbody").evaluate("el => el.scrollTop = el.scrollHeight")
    page.get_by_role("link", name="sweep-00000").wait_for()
    # the sort is in the URL: a reload shows the same order
    page.reload()
    page.get_by_role("link", name="sweep-09999").wait_for()
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
    page, problems = _page(browser, srv.url)
    rid = data["runs"]["vit-small"]
    page.goto(f"{srv.url}/#/experiments/{data['project']}/runs/{rid}")
    _wait_url(page, f"^/runs/{rid}$")
    page.get_by_role("heading", name="vit-small").wait_for()
    page.goto(f"{srv.url}/#/experiments/{data['project']}")
    _wait_url(page, f"^/projects/{data['project']}$")
    page.get_by_role("link", name="resnet-spiky").wait_for()
    assert not problems, problems
    page.close()


# -- runs logged with the real SDKs, shared by the tests below -------------------------------------

IMAGE_STEPS = (0, 1, 2, 3)
CONSOLE_LINES = 1200
NEEDLE_EVERY = 100

ECHARTS_RUN = """
import swanlab
swanlab.login(host={url!r}, api_key={key!r})
run = swanlab.init(project="custom-charts", experiment_name="echarts-run")
line = swanlab.echarts.Line()
line.add_xaxis(["a", "b", "c", "d"])
line.add_yaxis("score", [3, 1, 4, 1])
swanlab.log({{"custom/line": line}}, step=1)
swanlab.log({{"loss": 0.5}}, step=1)
swanlab.finish()
"""


def _image_width(step: int) -> int:
    return 8 * (step + 1)


@pytest.fixture(scope="module")
def media_run(ui_server, tmp_path_factory):
    """A run logged with swan_client: an image at several steps (each step a different width),
    1,200 console lines (every 100th a 'needle'), and artifacts of every previewed kind."""
    srv, _ = ui_server
    tmp = tmp_path_factory.mktemp("media-run")
    PILImage.new("RGB", (30, 20), (200, 30, 30)).save(tmp / "plot.png")
    (tmp / "metrics.json").write_text(json.dumps({"best_acc": 0.93, "epochs": 12}))
    (tmp / "table.csv").write_text("epoch,loss\n1,0.5\n2,0.25\n")
    (tmp / "notes.txt").write_text("trained on four GPUs\n")
    with swan_client.init(project="media-and-files", name="media-run", tracking_uri=srv.url, dir=tmp / "runs",
                          monitor=False, capture_console=True) as run:
        for step in IMAGE_STEPS:
            pixels = np.full((8, _image_width(step), 3), 60 * step, dtype=np.uint8)
            run.log({"samples/img": swan_client.Image(pixels), "loss": 1.0 / (step + 1)}, step=step)
        for i in range(CONSOLE_LINES):
            print(f"needle {i}" if i % NEEDLE_EVERY == 0 else f"training line {i}")
        run.log_artifact(tmp / "plot.png", name="figures/plot.png")
        for name in ("metrics.json", "table.csv", "notes.txt"):
            run.log_artifact(tmp / name)
    result = run.finish()
    assert result.uploaded and result.pending_records == 0
    return run.run_id


@pytest.fixture(scope="module")
def echarts_run(ui_server, tmp_path_factory):
    """A run logged with the swanlab SDK whose one media item is an ECharts line chart."""
    srv, _ = ui_server
    tmp = tmp_path_factory.mktemp("echarts-run")
    run_script(tmp, ECHARTS_RUN.format(url=srv.url, key=admin_key(srv)), sdk_env(tmp))
    (run,) = Client(srv.url).list_runs("custom-charts")
    return run["run_id"]


def _chart(page, key: str):
    return page.locator(f".chart-card[data-key='{key}'] .chart")


def _query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def _expect_buckets(page, key: str, **params: str):
    """Expect the page to get a bucketed series of `key` requested with these query values
    (`lo=None` for a request without a range): `with _expect_buckets(...) as info`, then
    `_series(info, key)` is what the server answered."""
    def wanted(response) -> bool:
        url = urlsplit(response.url)
        if url.path != "/api/v1/series/buckets" or not response.ok:
            return False
        q = parse_qs(url.query)
        return key in q.get("key", []) and all(q.get(k, [None])[0] == v for k, v in params.items())
    return page.expect_response(wanted, timeout=30_000)


def _series(info, key: str) -> dict:
    return next(s for s in info.value.json()["series"] if s["key"] == key)


def _wait_chart(page, key: str, **attributes: str) -> None:
    """Wait until the chart of `key` was drawn with these data attributes (dataset names)."""
    page.wait_for_function(
        """([key, want]) => {
             const el = document.querySelector(`.chart-card[data-key='${key}'] .chart`);
             return !!el && el.dataset.state === 'drawn' && Object.entries(want).every(([k, v]) => el.dataset[k] === v);
           }""", arg=[key, attributes], timeout=30_000)


def _canvas(page, key: str) -> str:
    return _chart(page, key).locator("canvas").evaluate("c => c.toDataURL()")


def test_drag_zooms_with_finer_buckets_and_the_zoom_is_in_the_url(ui_server, browser):
    srv, data = ui_server
    page, problems = _page(browser, srv.url)
    with _expect_buckets(page, "train/loss", lo=None) as whole:
        page.goto(f"{srv.url}/runs/{data['runs']['resnet-spiky']}")
    full_width = _series(whole, "train/loss")["width"]
    page.wait_for_function("document.querySelectorAll('.chart[data-state=drawn]').length >= 3", timeout=30_000)
    over = _chart(page, "train/loss").locator(".u-over").bounding_box()
    y = over["y"] + over["height"] / 2
    with _expect_buckets(page, "train/loss", x="step") as zoomed:
        page.mouse.move(over["x"] + over["width"] * 0.60, y)
        page.mouse.down()
        page.mouse.move(over["x"] + over["width"] * 0.66, y, steps=5)
        page.mouse.up()
    _wait_url(page, r"[?&]zoom=\d+\.\.\d+")
    lo, hi = map(int, _query(page)["zoom"].split(".."))
    assert 0.5 * BIG < lo < hi < 0.75 * BIG and hi - lo < BIG / 10
    fine = _series(zoomed, "train/loss")
    assert (fine["lo"], fine["hi"]) == (lo, hi) and fine["width"] < full_width / 5
    _wait_chart(page, "train/loss", zoom=f"{lo}..{hi}")
    # one zoom for the page: the other step charts show the same range
    _wait_chart(page, "val/acc", zoom=f"{lo}..{hi}")
    assert page.get_by_test_id("zoom-range").is_visible()
    _shot(page, "zoomed")

    # the link restores the zoom: the finer buckets are requested again on load
    with _expect_buckets(page, "train/loss", lo=str(lo), hi=str(hi)):
        page.reload()
    _wait_chart(page, "train/loss", zoom=f"{lo}..{hi}")

    # another x axis while zoomed: the step range does not carry over and the chart is redrawn on
    # the new axis (it used to keep the zoomed step buckets)
    page.locator("select[aria-label='x axis']").select_option("relative")
    _wait_url(page, r"x=relative")
    assert "zoom" not in _query(page)
    _wait_chart(page, "train/loss", xAxis="relative", zoom="")
    assert problems == [], problems
    page.close()


def test_wall_time_axis_and_smoothing_change_what_is_drawn(ui_server, browser):
    srv, data = ui_server
    page, problems = _page(browser, srv.url)
    page.goto(f"{srv.url}/runs/{data['runs']['vit-small']}")
    _wait_chart(page, "train/loss", xAxis="step")
    raw = _canvas(page, "train/loss")

    page.locator(".controls input[type=range]").fill("0.9")
    _wait_url(page, r"smooth=0\.9")
    page.wait_for_function(
        "([key, before]) => document.querySelector(`.chart-card[data-key='${key}'] canvas`).toDataURL() !== before",
        arg=["train/loss", raw])
    assert page.locator(".chart-card[data-key='train/loss'] .badge").inner_text() == "EMA 0.9"
    smoothed = _canvas(page, "train/loss")

    with _expect_buckets(page, "train/loss", x="time"):
        page.locator("select[aria-label='x axis']").select_option("time")
    _wait_url(page, r"x=time")
    _wait_chart(page, "train/loss", xAxis="time")
    last_x = _chart(page, "train/loss").evaluate("el => Number(el.dataset.xMax)")
    assert last_x > 1_600_000_000_000  # milliseconds since the epoch, not steps
    assert _canvas(page, "train/loss") not in (raw, smoothed)

    page.locator("section[data-group=system] .group-title").click()  # fold a group away
    _wait_url(page, r"collapsed=system")
    assert page.locator("section[data-group=system] .chart").count() == 0

    page.reload()  # every setting comes back from the URL
    _wait_chart(page, "train/loss", xAxis="time")
    assert page.locator("select[aria-label='x axis']").input_value() == "time"
    assert page.locator(".controls input[type=range]").input_value() == "0.9"
    assert page.locator("section[data-group=system] .chart").count() == 0
    assert page.locator("section[data-group=val] .chart").count() == 1
    assert problems == [], problems
    page.close()


def test_media_step_slider_changes_the_image(ui_server, browser, media_run):
    srv, _ = ui_server
    page, problems = _page(browser, srv.url)
    page.goto(f"{srv.url}/runs/{media_run}?tab=media")
    card = page.locator(".media-card", has_text="samples/img")
    shown_width = "() => { const i = document.querySelector('.media-card img'); return i && i.complete ? i.naturalWidth : 0 }"
    page.wait_for_function(f"({shown_width})() === {_image_width(IMAGE_STEPS[-1])}")  # the last step first
    card.locator("input.step-slider").fill("1")
    _wait_url(page, r"m\.samples%2Fimg=1|m\.samples/img=1")
    page.wait_for_function(f"({shown_width})() === {_image_width(1)}")
    assert "step 1" in card.locator(".chart-head").inner_text()
    page.reload()
    page.wait_for_function(f"({shown_width})() === {_image_width(1)}")
    assert card.locator("input.step-slider").input_value() == "1"
    _shot(page, "media")
    assert problems == [], problems
    page.close()


def test_echarts_media_is_drawn_and_echarts_loads_only_for_it(ui_server, browser, media_run, echarts_run):
    srv, data = ui_server
    page, problems = _page(browser, srv.url)
    chunks: list[str] = []
    page.on("request", lambda r: chunks.append(r.url) if re.search(r"/assets/echarts[^/]*\.js$", r.url) else None)
    page.goto(f"{srv.url}/runs/{data['runs']['vit-small']}")
    page.wait_for_function("document.querySelectorAll('.chart[data-state=drawn]').length >= 3")
    page.goto(f"{srv.url}/runs/{media_run}?tab=media")
    page.locator(".media-card img").first.wait_for()
    assert chunks == [], "ECharts was loaded for a page without ECharts media"
    page.goto(f"{srv.url}/runs/{echarts_run}?tab=media")
    chart = page.locator(".media-card", has_text="custom/line").locator(".echart[data-state=drawn]")
    chart.wait_for()
    assert chart.locator("canvas").count() >= 1 and chart.bounding_box()["height"] > 100
    assert len(chunks) == 1
    _shot(page, "echarts")
    assert problems == [], problems
    page.close()


def test_artifact_browser_previews_image_json_csv_and_text(ui_server, browser, media_run):
    srv, _ = ui_server
    page, problems = _page(browser, srv.url)
    page.goto(f"{srv.url}/runs/{media_run}?tab=artifacts")
    tree, preview = page.locator(".artifacts .tree"), page.locator(".artifacts .preview")
    tree.get_by_text("figures/").click()
    tree.get_by_text("plot.png").click()
    _wait_url(page, r"file=figures%2Fplot\.png")
    assert _wait_preview_image(page) == 30
    tree.get_by_text("metrics.json").click()
    preview.locator("pre", has_text='"best_acc"').wait_for()
    tree.get_by_text("notes.txt").click()
    preview.locator("pre", has_text="trained on four GPUs").wait_for()
    tree.get_by_text("table.csv").click()
    _wait_url(page, r"file=table\.csv")
    preview.locator("table th", has_text="epoch").wait_for()
    assert preview.locator("tbody tr").all_inner_texts() == ["1\t0.5", "2\t0.25"]
    page.reload()  # the selected file is in the URL
    preview.locator("table th", has_text="loss").wait_for()
    assert tree.locator("li.file.active").inner_text().startswith("table.csv")
    _shot(page, "artifacts")
    assert problems == [], problems
    page.close()


def test_console_search_and_load_more(ui_server, browser, media_run):
    srv, _ = ui_server
    page, problems = _page(browser, srv.url)
    page.goto(f"{srv.url}/runs/{media_run}?tab=console")
    lines = page.locator(".console-lines .cl")
    page.get_by_text("training line 1", exact=False).first.wait_for()
    assert lines.count() == 500  # the first page
    page.get_by_role("button", name="Load more").click()
    page.wait_for_function("document.querySelectorAll('.console-lines .cl').length === 1000")
    page.get_by_role("button", name="Load more").click()
    page.get_by_text(f"training line {CONSOLE_LINES - 1}").wait_for()
    assert page.get_by_role("button", name="Load more").count() == 0
    assert lines.count() >= CONSOLE_LINES

    page.get_by_label("Search console").fill("needle")
    page.get_by_label("Search console").press("Enter")
    _wait_url(page, r"cq=needle")
    needles = CONSOLE_LINES // NEEDLE_EVERY
    page.wait_for_function(f"document.querySelectorAll('.console-lines .cl').length === {needles}")
    assert all("needle" in t for t in lines.all_inner_texts())
    page.reload()
    page.wait_for_function(f"document.querySelectorAll('.console-lines .cl').length === {needles}")
    assert page.get_by_label("Search console").input_value() == "needle"
    assert problems == [], problems
    page.close()


def test_running_run_updates_live_on_run_compare_and_project_pages(ui_server, browser):
    srv, data = ui_server
    client = Client(srv.url)
    run = client.create_run("live-project", name="live-run")
    rid = run["run_id"]
    assert run["status"] == "RUNNING"
    now = int(time.time() * 1000)
    client.log_points(rid, (("live/loss", s, now + s, 1.0 / (s + 1)) for s in range(50)))
    pages = {}
    for name, path in (("run", f"/runs/{rid}"), ("compare", f"/compare?runs={rid},{data['runs']['vit-small']}"),
                       ("project", f"/projects/{run['project_id']}")):
        pages[name] = _page(browser, srv.url)
        pages[name][0].goto(srv.url + path)
    for name in ("run", "compare"):
        _wait_chart(pages[name][0], "live/loss", xMax="49")
    project = pages["project"][0]
    project.locator(".vrow .status", has_text="RUNNING").wait_for()

    # more points while the pages are open: both charts pick them up at their next refresh
    client.log_points(rid, (("live/loss", s, now + s, 1.0 / (s + 1)) for s in range(50, 150)))
    for name in ("run", "compare"):
        _wait_chart(pages[name][0], "live/loss", xMax="149")
    client.update_run(rid, status="FINISHED", end_time=int(time.time() * 1000))
    project.locator(".vrow .status", has_text="FINISHED").wait_for(timeout=15_000)
    pages["run"][0].get_by_test_id("run-status").filter(has_text="FINISHED").wait_for(timeout=15_000)
    for page, problems in pages.values():
        assert problems == [], problems
        page.close()


def test_no_page_requests_anything_but_the_test_server(ui_server, browser, media_run, echarts_run):
    srv, data = ui_server
    page, problems = _page(browser, srv.url)
    # the guard itself: a request to another host is caught and refused
    page.goto(srv.url + "/")
    refused = page.evaluate("() => fetch('https://cdn.example.com/lib.js').then(() => 'fetched', () => 'refused')")
    assert refused == "refused" and "request to another host: https://cdn.example.com/lib.js" in problems, problems
    problems.clear()
    visits = [("/", ".home, a"), (f"/projects/{data['project']}", ".vrow"),
              (f"/runs/{data['runs']['vit-small']}", ".chart[data-state=drawn]"),
              (f"/runs/{media_run}?tab=media", ".media-card img"),
              (f"/runs/{media_run}?tab=artifacts&file=figures%2Fplot.png", ".preview-img"),
              (f"/runs/{echarts_run}?tab=media", ".echart[data-state=drawn]"),
              (f"/compare?runs={data['runs']['vit-small']},{data['runs']['resnet-lr3']}", ".chart[data-state=drawn]")]
    for path, ready in visits:
        page.goto(srv.url + path)
        page.locator(ready).first.wait_for()
        page.wait_for_load_state("networkidle")
    assert problems == [], problems
    page.close()
