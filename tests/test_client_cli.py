"""`swan login`, `swan sync`, `swan runs list`, `swan runs show` on real data (a live server)."""

import json
import os
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

import swan_client
from swan_client.cli import main


@pytest.fixture()
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("SWAN_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.delenv("SWAN_TRACKING_URI", raising=False)
    monkeypatch.delenv("SWAN_API_KEY", raising=False)
    return tmp_path / "cfg"


@pytest.fixture()
def populated(server, tmp_path, unique_name):
    runs = []
    for i, (lr, status) in enumerate(((0.1, "FINISHED"), (0.01, "FAILED"), (0.001, "FINISHED"))):
        run = swan_client.init(project=unique_name, name=f"trial-{i}", config={"lr": lr}, tags={"sweep": "s1"},
                               tracking_uri=server.url, dir=tmp_path / "runs", monitor=False, capture_console=False)
        for step in range(10):
            run.log({"loss": lr * (10 - step), "acc": step / 10 + i / 100}, step=step)
        run.finish(status)
        runs.append(run)
    return runs


def invoke(*args, env=None, input=None):
    result = CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)
    return result


def test_login_stores_uri_and_key(server, cfg):
    key = (server.home / "admin_api_key").read_text().strip()
    result = invoke("login", "--tracking-uri", server.url, "--api-key", key)
    assert result.exit_code == 0, result.output
    assert "as admin" in result.output
    saved = cfg / "credentials.json"
    assert json.loads(saved.read_text()) == {"tracking_uri": server.url, "api_key": key}
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    # the SDK and the other commands now find both without flags
    from swan_client.api import Client

    client = Client()
    assert client.tracking_uri == server.url and client.me()["user"]["name"] == "admin"
    bad = invoke("login", "--tracking-uri", server.url, "--api-key", "swan_wrong")
    assert bad.exit_code == 1 and "Invalid API key" in bad.output
    assert json.loads(saved.read_text())["api_key"] == key  # a failed login saves nothing
    down = invoke("login", "--tracking-uri", "http://127.0.0.1:9", "--api-key", key)
    assert down.exit_code == 1 and "cannot log in" in down.output


def test_login_from_environment_and_json(server, cfg):
    # no key anywhere: it is asked for (hidden); an empty answer means none
    result = invoke("login", "--json", env={"SWAN_TRACKING_URI": server.url, "SWAN_API_KEY": ""}, input="\n")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["tracking_uri"] == server.url and out["user"] is None


def test_runs_list_and_show(server, cfg, populated, unique_name):
    result = invoke("runs", "list", "--project", unique_name, "--tracking-uri", server.url)
    assert result.exit_code == 0, result.output
    for run in populated:
        assert run.run_id in result.output
    assert "trial-1" in result.output and "FAILED" in result.output and "loss=" in result.output

    as_json = invoke("runs", "list", "--project", unique_name, "--json", "--order-by", "metrics.acc DESC",
                     env={"SWAN_TRACKING_URI": server.url})
    data = json.loads(as_json.output)
    assert [r["run_id"] for r in data["runs"]] == [r.run_id for r in reversed(populated)]
    filtered = json.loads(invoke("runs", "list", "--project", unique_name, "--json", "--filter",
                                 "params.lr = '0.01'", "--tracking-uri", server.url).output)
    assert [r["name"] for r in filtered["runs"]] == ["trial-1"]
    limited = json.loads(invoke("runs", "list", "--json", "--limit", "2", "--tracking-uri", server.url).output)
    assert len(limited["runs"]) == 2

    target = populated[0]
    show = invoke("runs", "show", target.run_id, "--tracking-uri", server.url)
    assert show.exit_code == 0, show.output
    for needle in (target.run_id, "trial-0", unique_name, "FINISHED", "lr", "0.1", "sweep", "loss", "acc"):
        assert needle in show.output, needle
    shown = json.loads(invoke("runs", "show", target.run_id, "--json", "--tracking-uri", server.url).output)
    assert shown["run"]["params"] == {"lr": "0.1"} and shown["project"]["name"] == unique_name
    assert shown["run"]["metrics"]["acc"]["value"] == pytest.approx(0.9)

    missing = invoke("runs", "show", "0" * 32, "--tracking-uri", server.url)
    assert missing.exit_code == 1 and "not found" in missing.output
    nope = invoke("runs", "list", "--project", "no-such-" + unique_name, "--tracking-uri", server.url)
    assert nope.exit_code == 1


def test_sync_command_twice(server, cfg, tmp_path, unique_name):
    run = swan_client.init(project=unique_name, mode="offline", dir=tmp_path / "off", monitor=False,
                           capture_console=False)
    for step in range(100):
        run.log({"v": float(step)}, step=step)
    run.finish()
    first = invoke("sync", str(tmp_path / "off"), "--json", "--tracking-uri", server.url)
    assert first.exit_code == 0, first.output
    out = json.loads(first.output)
    assert out["runs"][0]["run_id"] == run.run_id and out["runs"][0]["sent"] == out["runs"][0]["records"]
    second = invoke("sync", str(run.folder), "--resend", "--tracking-uri", server.url)
    assert second.exit_code == 0 and run.run_id in second.output
    from swan_client.api import Client

    assert Client(server.url).get_history(run.run_id, "v")["step"] == list(range(100))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke("sync", str(empty), "--tracking-uri", server.url).exit_code == 1


def test_swan_entry_point_runs_the_client_commands(server, cfg):
    """The installed `swan` console script (what `pip install .` gives) has the client commands."""
    out = subprocess.run([sys.executable, "-m", "swan_client.cli", "runs", "list", "--json", "--limit", "1"],
                         env={**os.environ, "SWAN_TRACKING_URI": server.url}, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "runs" in json.loads(out.stdout)
