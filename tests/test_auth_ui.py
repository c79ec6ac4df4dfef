"""The dashboard under `swan server --auth`, in a real browser (Playwright's Python package driving
Debian's Chromium): the login page, a wrong key, a member's projects (and not another user's),
a run page read through the session cookie, logout."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.auth_support import bearer, start_auth_server
from tests.test_ui import ARTIFACTS, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def auth(tmp_path_factory):
    a = start_auth_server(tmp_path_factory.mktemp("auth-ui"))
    yield a
    a.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _v1(auth, role, method, path, **kw):
    r = requests.request(method, auth.url + "/api/v1" + path, headers=bearer(auth.keys[role]), timeout=30, **kw)
    assert r.status_code < 300, r.text
    return r.json()


def test_login_browse_logout(auth, browser):
    tag = uuid.uuid4().hex[:6]
    mine = _v1(auth, "member", "POST", "/projects", json={"name": f"{auth.names['member']}/vision-{tag}"})["project"]
    run = _v1(auth, "member", "POST", "/runs", json={"project_id": mine["id"], "name": f"resnet-{tag}"})["run"]
    _v1(auth, "member", "POST", f"/runs/{run['run_id']}/batches",
        json={"idempotency_key": "k1", "metrics": {"key": ["loss"] * 3, "step": [0, 1, 2], "value": [3.0, 2.0, 1.0]}})
    theirs = _v1(auth, "other", "POST", "/projects", json={"name": f"{auth.names['other']}/secret-{tag}"})["project"]

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    # (Chromium logs 401 and 403 answers as failed resource loads: here they are the login flow and
    # the refused project, on purpose)
    expected = ("status of 401", "status of 403")
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not any(e in m.text for e in expected) else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(auth.url + "/")
    page.get_by_test_id("login").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-login.png"))
    page.get_by_label("API key").fill("swan_not-a-key")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("alert").wait_for()
    assert "not valid" in page.get_by_role("alert").inner_text()

    page.get_by_label("API key").fill(auth.keys["member"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name=mine["name"]).wait_for()
    assert page.get_by_test_id("whoami").inner_text().startswith(auth.names["member"])
    assert page.get_by_role("link", name=theirs["name"]).count() == 0
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["swan_session"]["httpOnly"] and cookies["swan_session"]["sameSite"] == "Lax"
    # no key is kept by the page
    assert auth.keys["member"] not in page.evaluate("JSON.stringify(localStorage) + document.cookie")

    page.get_by_role("link", name=mine["name"]).click()
    page.get_by_role("link", name=f"resnet-{tag}").click()
    page.wait_for_function("document.querySelectorAll('.chart[data-state=drawn]').length >= 1", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "ui-login-run.png"))

    # another user's project is not reachable by URL either
    page.goto(auth.url + f"/projects/{theirs['id']}")
    page.get_by_role("alert").wait_for()
    assert "no access" in page.get_by_role("alert").inner_text()

    # a link followed without a session: log in, and land where it pointed
    page.goto(auth.url + "/")
    page.get_by_role("button", name="Log out").click()
    page.get_by_test_id("login").wait_for()
    page.goto(auth.url + f"/?next=/runs/{run['run_id']}")
    page.get_by_label("API key").fill(auth.keys["member"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_function("location.pathname.startsWith('/runs/')")
    page.wait_for_function("document.querySelectorAll('.chart[data-state=drawn]').length >= 1", timeout=30_000)

    page.goto(auth.url + "/")
    page.get_by_role("button", name="Log out").click()
    page.get_by_test_id("login").wait_for()
    page.reload()
    page.get_by_test_id("login").wait_for()
    assert "swan_session" not in {c["name"] for c in page.context.cookies()}
    assert not problems, problems
    page.close()
