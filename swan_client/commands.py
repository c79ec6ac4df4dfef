"""Client commands of `swan`: `login`, `sync`, `runs list`, `runs show`.

Every command takes `--tracking-uri` (env SWAN_TRACKING_URI; else what `swan login` saved; else
http://127.0.0.1:5000) and `--api-key` (env SWAN_API_KEY; else the saved key). Output is made
for a terminal; `--json` prints plain JSON for scripts instead."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from swan_client.config import DEFAULT_TRACKING_URI, resolve, save_login


def client_options(fn):
    fn = click.option("--api-key", envvar="SWAN_API_KEY", default=None,
                      help="API key [env SWAN_API_KEY; default: the key `swan login` saved].")(fn)
    fn = click.option("--tracking-uri", envvar="SWAN_TRACKING_URI", default=None,
                      help=f"Swan server [env SWAN_TRACKING_URI; default: the saved login, else {DEFAULT_TRACKING_URI}].")(fn)
    return fn


def json_option(fn):
    return click.option("--json", "as_json", is_flag=True, help="Print plain JSON instead of tables.")(fn)


def _client(tracking_uri, api_key):
    from swan_client.api import Client

    return Client(tracking_uri, api_key, retries=2, timeout=60)


def _fail(exc) -> None:
    from swan_client.api import SwanApiError

    if isinstance(exc, SwanApiError):
        click.echo(f"swan: {exc}", err=True)
        sys.exit(1)
    raise exc


def _console():
    from rich.console import Console

    con = Console()
    if not con.is_terminal:  # piped or captured: wide enough that ids are never folded
        con = Console(width=max(con.width, 200))
    return con


def _when(ms) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(run) -> str:
    start, end = run.get("start_time"), run.get("end_time")
    if start is None:
        return "-"
    if end is None:
        if run.get("status") != "RUNNING":
            return "-"
        end = int(datetime.now(tz=timezone.utc).timestamp() * 1000)
    secs = max(0, (end - start) // 1000)
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


_STATUS_STYLE = {"RUNNING": "cyan", "FINISHED": "green", "FAILED": "red", "KILLED": "yellow", "SCHEDULED": "blue"}


# -- login -------------------------------------------------------------------------------------------
@click.command("login")
@client_options
@click.option("--no-verify", is_flag=True, help="Save without asking the server whether the key is valid.")
@json_option
def login(tracking_uri, api_key, no_verify, as_json):
    """Save the tracking URI and API key for the SDK and the other commands."""
    uri, _ = resolve(tracking_uri, None)
    if api_key is None:
        api_key = click.prompt("API key (empty for none)", default="", hide_input=True, show_default=False) or None
    user = None
    if not no_verify:
        try:
            me = _client(uri, api_key).me()
        except Exception as exc:  # noqa: BLE001 - one clear line, nothing saved
            from swan_client.api import SwanApiError

            msg = str(exc) if isinstance(exc, SwanApiError) else f"{type(exc).__name__}: {exc}"
            click.echo(f"swan: cannot log in to {uri}: {msg}", err=True)
            sys.exit(1)
        user = (me.get("user") or {}).get("name")
    path = save_login(uri, api_key)
    if as_json:
        click.echo(json.dumps({"tracking_uri": uri, "user": user, "saved": str(path)}))
    else:
        who = f" as {user}" if user else (" without a key" if not api_key else "")
        click.echo(f"Logged in to {uri}{who}. Saved in {path}")


# -- sync --------------------------------------------------------------------------------------------
@click.command("sync")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@client_options
@click.option("--resend", is_flag=True, help="Send every record again (the server ignores what it already has).")
@json_option
def sync(paths, tracking_uri, api_key, resend, as_json):
    """Upload run folders (offline runs, or what an online run could not send). PATH may be a run
    folder or a folder holding run folders. Syncing again uploads nothing twice."""
    from swan_client.api import SwanApiError
    from swan_client.offline import find_run_folders, sync_folder

    client = _client(tracking_uri, api_key)
    folders = []
    for p in paths:
        found = find_run_folders(p)
        if not found:
            click.echo(f"swan: no run folder in {p}", err=True)
        folders += found
    results, failed = [], 0
    for folder in folders:
        try:
            r = sync_folder(folder, client, resend=resend)
            results.append({"folder": str(folder), "run_id": r.run_id, "records": r.records, "sent": r.sent,
                            "damaged_bytes": r.skipped_bytes, "problems": r.problems + r.refused, "ok": True})
        except SwanApiError as exc:
            failed += 1
            results.append({"folder": str(folder), "ok": False, "error": str(exc)})
    if as_json:
        click.echo(json.dumps({"tracking_uri": client.tracking_uri, "runs": results}))
    else:
        from rich.table import Table

        table = Table(title=f"swan sync → {client.tracking_uri}")
        for col in ("folder", "run", "records", "sent now", "notes"):
            table.add_column(col)
        for r in results:
            if r["ok"]:
                notes = "; ".join(r["problems"])[:200] or "ok"
                table.add_row(r["folder"], r["run_id"], str(r["records"]), str(r["sent"]), notes)
            else:
                table.add_row(r["folder"], "-", "-", "-", f"[red]{r['error'][:200]}[/red]")
        _console().print(table)
    if failed or not folders:
        sys.exit(1)


# -- runs ----------------------------------------------------------------------------------------------
@click.group("runs")
def runs():
    """List and inspect runs."""


@runs.command("list")
@client_options
@click.option("--project", "-p", default=None, help="Project name (default: every active project).")
@click.option("--filter", "filter_string", default=None, help="MLflow filter, e.g. \"metrics.acc > 0.9\".")
@click.option("--order-by", multiple=True, help="e.g. \"metrics.acc DESC\" (repeatable).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000), help="At most this many runs.")
@click.option("--view", type=click.Choice(["active", "deleted", "all"]), default="active", show_default=True)
@json_option
def runs_list(tracking_uri, api_key, project, filter_string, order_by, limit, view, as_json):
    """Runs, newest first (or as --order-by says)."""
    client = _client(tracking_uri, api_key)
    try:
        projects = {p["id"]: p["name"] for p in client.list_projects()}
        if project:
            found = client.project_by_name(project)
            if found is None:
                click.echo(f"swan: no project named {project!r}", err=True)
                sys.exit(1)
            ids = [found["id"]]
            projects[found["id"]] = found["name"]
        else:
            ids = list(projects)
        items = list(client.list_runs(project_ids=ids, filter=filter_string, order_by=list(order_by) or None,
                                      view=view, max_results=limit)) if ids else []
    except Exception as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps({"runs": items}))
        return
    from rich.table import Table

    table = Table(title=f"{len(items)} run(s) on {client.tracking_uri}")
    table.add_column("run id", no_wrap=True, min_width=32)
    for col in ("project", "name", "status", "started", "duration", "metrics"):
        table.add_column(col, overflow="fold")
    for r in items:
        metrics = {k: m["value"] for k, m in sorted(r["metrics"].items()) if not k.startswith("system/")}
        shown = ", ".join(f"{k}={_value(v)}" for k, v in list(metrics.items())[:4])
        if len(metrics) > 4:
            shown += f", … (+{len(metrics) - 4})"
        status = r["status"]
        table.add_row(r["run_id"], projects.get(r["project_id"], r["project_id"]), r["name"] or "",
                      f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]", _when(r["start_time"]), _duration(r), shown)
    _console().print(table)


@runs.command("show")
@click.argument("run_id")
@client_options
@json_option
def runs_show(run_id, tracking_uri, api_key, as_json):
    """One run: its info, params, tags, latest metrics, media and artifacts."""
    client = _client(tracking_uri, api_key)
    try:
        run = client.get_run(run_id)
        project = client.get_project(run["project_id"])
        media = client.get_media(run_id)
        files = client.list_artifacts(run_id)
    except Exception as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps({"run": run, "project": project, "media": media, "artifacts": files}))
        return
    from rich.table import Table

    con = _console()
    status = run["status"]
    con.print(f"[bold]{run['name'] or run['run_id']}[/bold]  [{_STATUS_STYLE.get(status, 'white')}]{status}[/]")
    info = Table.grid(padding=(0, 2))
    for label, value in (("run id", run["run_id"]), ("project", f"{project['name']} (id {project['id']})"),
                         ("user", run.get("user") or "-"), ("started", _when(run["start_time"])),
                         ("ended", _when(run["end_time"])), ("duration", _duration(run)),
                         ("artifacts", run["artifact_uri"])):
        info.add_row(f"[dim]{label}[/dim]", str(value))
    con.print(info)
    for title, data in (("params", run["params"]),
                        ("tags", {k: v for k, v in run["tags"].items() if k != "mlflow.runName"})):
        if data:
            t = Table(title=title, title_justify="left")
            t.add_column("key")
            t.add_column("value", overflow="fold")
            for k, v in sorted(data.items()):
                t.add_row(k, v)
            con.print(t)
    if run["metrics"]:
        t = Table(title="metrics (latest)", title_justify="left")
        for col in ("key", "value", "step"):
            t.add_column(col)
        for k, m in sorted(run["metrics"].items(), key=lambda kv: (kv[0].startswith("system/"), kv[0])):
            t.add_row(k, _value(m["value"]), str(m["step"]))
        con.print(t)
    if media:
        kinds: dict[str, int] = {}
        for m in media:
            kinds[f"{m['key']} ({m['kind']})"] = kinds.get(f"{m['key']} ({m['kind']})", 0) + 1
        con.print("[bold]media[/bold]: " + ", ".join(f"{k} ×{n}" for k, n in sorted(kinds.items())))
    if files:
        con.print("[bold]artifacts[/bold]: " + ", ".join(f["path"] + ("/" if f["is_dir"] else "") for f in files))


COMMANDS = (login, sync, runs)
