"""`swan import tensorboard|wandb|mlflow|swanlab SOURCE`: the importer commands, added to the
`swan import` group.

Each reads the source into neutral run records and writes them through `swan_client.api.Client`
(or, with `--dry-run`, only reads and counts). A source that is not of the kind named, that cannot
be read, or that names something unknown ends the command with one line and exit status 1 before
anything is written."""

from __future__ import annotations

import json
import sys

import click

from importers.records import SourceError


def _options(fn):
    fn = click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")(fn)
    fn = click.option("--api-key", envvar="SWAN_API_KEY", default=None, help="API key of the Swan server.")(fn)
    fn = click.option("--tracking-uri", envvar="SWAN_TRACKING_URI", default=None,
                      help="The Swan server [default: $SWAN_TRACKING_URI, the saved login, http://127.0.0.1:5000].")(fn)
    fn = click.option("--dry-run", is_flag=True, help="Read the source and report what would be imported; write nothing.")(fn)
    fn = click.option("--workspace", default=None, help="Workspace of the project (project 'P' in workspace 'W' is 'W/P').")(fn)
    fn = click.option("--project", default=None, help="Project to import into [default: the source's own grouping].")(fn)
    return fn


def _fail(message: str) -> None:
    click.echo(f"swan import: error: {message}", err=True)
    sys.exit(1)


def run_import(source_factory, *, project, workspace, dry_run, tracking_uri, api_key, as_json, default_project):
    """Open the source (errors: exit 1, nothing written), check the server, import, summarise."""
    from importers.progress import Progress, print_summary
    from importers.writer import Importer

    try:
        source = source_factory()
    except SourceError as exc:
        _fail(str(exc))
    client = None
    if not dry_run:
        from swan_client.api import Client, SwanApiError

        client = Client(tracking_uri, api_key, retries=5)
        try:
            client.me()
        except SwanApiError as exc:
            _fail(f"cannot use the Swan server at {client.tracking_uri}: {exc}")
    importer = Importer(client, project, default_project=default_project, dry_run=dry_run,
                        progress=None if as_json else Progress(),
                        workspace=None if workspace in (None, "", "admin") else workspace)
    try:
        summary = importer.run(source)
        # After the runs, what a source holds beside them (MLflow: logged models, the registry).
        extra = getattr(source, "import_models", None)
        models = extra(importer) if extra is not None else None
    except SourceError as exc:
        _fail(str(exc))
    if as_json:
        out = summary.to_dict()
        if models is not None:
            out["models"] = models.to_dict()
        click.echo(json.dumps(out, indent=1))
    else:
        print_summary(summary)
        for line in models.lines() if models is not None else []:
            click.echo(line)
    if summary.failed or (models is not None and models.failed):
        sys.exit(1)


@click.command("tensorboard")
@click.argument("path", type=click.Path(path_type=str))
@_options
def tensorboard_cmd(path, project, workspace, dry_run, tracking_uri, api_key, as_json):
    """Import TensorBoard logs: one run per folder holding event files (several files merged)."""
    from pathlib import Path

    from importers.tensorboard import TensorBoardSource

    run_import(lambda: TensorBoardSource(path), project=project, workspace=workspace, dry_run=dry_run,
               tracking_uri=tracking_uri, api_key=api_key, as_json=as_json,
               default_project=Path(path).expanduser().resolve().name or "tensorboard")


@click.command("wandb")
@click.argument("source")
@_options
@click.option("--wandb-api", "wandb_api", default=None, hidden=True,
              help="module:callable returning an object with wandb.Api's interface (tests).")
def wandb_cmd(source, project, workspace, dry_run, tracking_uri, api_key, as_json, wandb_api):
    """Import W&B runs: a local run folder (wandb/run-*, offline-run-*), a wandb/ folder, or
    ENTITY/PROJECT[/RUN_ID] online through wandb.Api()."""
    from pathlib import Path

    from importers.wandb import WandbApiSource, WandbSource

    local = Path(source).expanduser()

    def factory():
        if local.exists() or source.startswith((".", "/", "~")) or source.count("/") not in (1, 2):
            return WandbSource(source)
        api = None
        if wandb_api:
            import importlib

            module, _, attr = wandb_api.partition(":")
            api = getattr(importlib.import_module(module), attr)()
        return WandbApiSource(source, api=api)

    run_import(factory, project=project, workspace=workspace, dry_run=dry_run, tracking_uri=tracking_uri,
               api_key=api_key, as_json=as_json, default_project="wandb")


@click.command("mlflow")
@click.argument("source")
@_options
@click.option("--experiment", "experiments", multiple=True,
              help="Import only this experiment (a name or an id; repeatable). Default: all.")
def mlflow_cmd(source, project, workspace, dry_run, tracking_uri, api_key, as_json, experiments):
    """Import MLflow experiments and runs from an mlruns/ folder, an MLflow database URI
    (sqlite:///mlflow.db, postgresql://...) or a live MLflow server URL (http://host:5000).

    Each experiment becomes the project of the same name unless --project is given."""
    from importers.mlflow import open_source

    run_import(lambda: open_source(source, list(experiments) or None), project=project, workspace=workspace, dry_run=dry_run,
               tracking_uri=tracking_uri, api_key=api_key, as_json=as_json, default_project="Default")


@click.command("swanlab")
@click.argument("path", type=click.Path(path_type=str))
@_options
def swanlab_cmd(path, project, workspace, dry_run, tracking_uri, api_key, as_json):
    """Import SwanLab local runs: a swanlog/ folder, a run-* folder or a .swanlab file."""
    from importers.swanlab import SwanLabSource

    run_import(lambda: SwanLabSource(path), project=project, workspace=workspace, dry_run=dry_run,
               tracking_uri=tracking_uri, api_key=api_key, as_json=as_json, default_project="swanlab")


def register(group: click.Group) -> None:
    """Add the importer commands to the `swan import` group."""
    for command in (tensorboard_cmd, wandb_cmd, mlflow_cmd, swanlab_cmd):
        group.add_command(command)
