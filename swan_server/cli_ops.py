"""Operations commands: `swan gc`, `swan export`, `swan import swan`.

Each opens the database (upgrading its schema, as `swan server` does) and the artifact store
directly; an unreachable database or bucket is one line on stderr and exit status 1."""

from __future__ import annotations

import sys

import click

from swan_server.config import default_artifacts_destination, default_backend_store_uri
from swan_server.errors import SwanError


def _store_options(fn):
    fn = click.option(
        "--artifacts-destination", envvar="SWAN_ARTIFACTS_DESTINATION", default=None,
        help="Where the server keeps artifacts [default: $SWAN_HOME/artifacts].",
    )(fn)
    fn = click.option(
        "--backend-store-uri", envvar="SWAN_BACKEND_STORE_URI", default=None,
        help="SQLAlchemy URI of the tracking database [default: sqlite:///$SWAN_HOME/swan.db].",
    )(fn)
    return fn


def _fail(message: str) -> None:
    click.echo(f"swan: {message}", err=True)
    sys.exit(1)


def _open(backend_store_uri: str | None, artifacts_destination: str | None):
    """(store, artifact store), or a one-line error and exit 1."""
    from swan_server.artifacts import make_artifact_store
    from swan_server.cli import _one_line
    from swan_server.db.engine import make_engine, upgrade
    from swan_server.store.sql import SqlTrackingStore

    engine = None
    try:
        engine = make_engine(backend_store_uri or default_backend_store_uri())
        upgrade(engine)
    except Exception as exc:
        where = engine.url.render_as_string() if engine is not None else (backend_store_uri or "")
        _fail(f"cannot open the database {where}: {_one_line(exc)}")
    destination = artifacts_destination or default_artifacts_destination()
    try:
        artifacts = make_artifact_store(destination)
        artifacts.check()
    except Exception as exc:
        _fail(f"cannot use the artifacts destination {destination}: {_one_line(exc)}")
    return SqlTrackingStore(engine), artifacts


def _run(action):
    """Domain errors and transient database failures end the command with one line."""
    from swan_server.cli import _one_line

    try:
        return action()
    except SwanError as exc:
        _fail(exc.message)
    except (OSError, ValueError) as exc:
        _fail(_one_line(exc))
    except Exception as exc:  # driver errors (a database that went away mid-way)
        if type(exc).__module__.startswith(("sqlalchemy", "botocore", "boto3")):
            _fail(f"{type(exc).__name__}: {_one_line(exc)}")
        raise


def _ids(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


@click.command("gc")
@click.option("--older-than", default="30d", show_default=True,
              help="Only what was deleted at least this long ago (e.g. 30d, 12h, 90m, 0s).")
@click.option("--run-ids", default=None, help="Comma-separated ids of deleted runs to remove (ignores --older-than).")
@click.option("--experiment-ids", default=None,
              help="Comma-separated ids of deleted projects (experiments) to remove (ignores --older-than).")
@click.option("--logged-model-ids", default=None,
              help="Comma-separated ids of deleted logged models (m-...) to remove (ignores --older-than).")
@click.option("--dry-run", is_flag=True, help="Print what would be removed; change nothing.")
@_store_options
def gc(older_than, run_ids, experiment_ids, logged_model_ids, dry_run, backend_store_uri, artifacts_destination):
    """Permanently remove deleted runs, projects and logged models, with their metrics and
    artifacts (S3 too).

    As `mlflow gc`: deleted logged models (MLflow 3) go once their deletion is old enough. The
    logged models a removed run produced go with it. A logged model that a registered model
    version was made from is kept, files included, until that version is deleted. Registered
    model versions are never removed: one made from a removed run still reads (its run_id
    stays, as in MLflow) but its files, under the run, are gone.

    Without --run-ids, --experiment-ids or --logged-model-ids, also forgets batch idempotency
    keys older than a day and expired login sessions."""
    from swan_server.services.ops import GcService, parse_age

    age = _run(lambda: parse_age(older_than))
    store, artifacts = _open(backend_store_uri, artifacts_destination)
    report = _run(lambda: GcService(store, artifacts).run(age, _ids(run_ids), _ids(experiment_ids), dry_run, click.echo,
                                                          model_ids=_ids(logged_model_ids)))
    verb = "Would remove" if dry_run else "Removed"
    click.echo(f"{verb} {len(report.projects)} project(s) and {len(report.runs)} run(s)"
               + ("" if dry_run else f", {report.points} metric point(s), {report.artifact_trees} artifact folder(s)"))
    click.echo(f"{verb} {len(report.models)} logged model(s)"
               + (f"; kept {len(report.kept_models)} used by registered model versions" if report.kept_models else ""))
    if report.batch_keys or report.sessions:
        click.echo(f"Forgot {report.batch_keys} old batch key(s) and {report.sessions} expired session(s)")
    for uri in report.skipped_uris:
        click.echo(f"Left in place (outside the artifacts destination): {uri}", err=True)


@click.command("export")
@click.argument("project")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--no-users", is_flag=True,
              help="Leave the server's users and API keys out of the export.")
@_store_options
def export(project, directory, no_users, backend_store_uri, artifacts_destination):
    """Write PROJECT (a name or an id) with all its runs, metrics and artifacts to DIRECTORY.

    The export also holds the server's users: name, display name, role, own workspace,
    workspace memberships and API keys as the SHA-256 digests the server stores (never a plain
    key; treat the directory as a secret all the same)."""
    from swan_server.services.ops import Exporter

    store, artifacts = _open(backend_store_uri, artifacts_destination)
    manifest = _run(lambda: Exporter(store, artifacts).export(project, directory, click.echo, users=not no_users))
    c = manifest["counts"]
    click.echo(f"Exported project '{manifest['project']['name']}': {c.get('runs', 0)} run(s), "
               f"{c.get('metric_points', 0)} point(s), {c.get('artifact_files', 0)} artifact file(s) to {directory}"
               + (f", and {c['users']} user(s)" if "users" in c else ""))
    for uri in manifest["external_artifact_uris"]:
        click.echo(f"Not exported (outside the artifacts destination): {uri}", err=True)


@click.group("import")
def import_group():
    """Import runs from another tracker or another Swan server."""


@import_group.command("swan")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--replace-users", is_flag=True,
              help="A user of the export whose name exists here takes the export's role, display name and "
                   "disabled state, joins the export's workspaces with the export's roles, and gains its API "
                   "keys (its other keys and memberships here stay; keys revoked in the export are revoked).")
@click.option("--no-users", is_flag=True, help="Import no users or API keys.")
@_store_options
def import_swan(directory, replace_users, no_users, backend_store_uri, artifacts_destination):
    """Import a project written by `swan export` into this server.

    Rows are matched by their natural keys (run id, model id, trace id, registered model name
    and version): what is new is added, what changed is updated (run status, end time, name,
    tags, params, lifecycle; new metric points, logged models, versions...), and the tags of each
    exported run, model, trace and registered model become the exported ones. Importing the same
    export again changes nothing; importing a newer export of the same project brings this
    server up to date. Runs, models and versions missing from the newer export are kept.

    Users: the export's users are created with their workspaces, memberships and API keys, so
    the same keys authenticate here. A user whose name already exists here is kept as it is
    (role, memberships and keys untouched, the export's keys for it not added) unless
    --replace-users is given. A key already held by another user here is skipped."""
    from swan_server.services.ops import USERS_KEEP, USERS_REPLACE, USERS_SKIP, Importer

    if no_users and replace_users:
        _fail("--no-users and --replace-users exclude each other")
    users = USERS_SKIP if no_users else USERS_REPLACE if replace_users else USERS_KEEP
    store, artifacts = _open(backend_store_uri, artifacts_destination)
    result = _run(lambda: Importer(store, artifacts).import_dir(directory, click.echo, users=users))
    updated = sum(result["updated"].values()) + sum(result["removed"].values())
    click.echo(f"Imported into project {result['project_id']} "
               f"({result['inserted'].get('runs', 0)} new run(s), {result['inserted'].get('metric_points', 0)} new point(s), "
               f"{result['artifacts_copied']} artifact file(s) copied; "
               f"{result['updated'].get('runs', 0)} run(s) updated, {updated} row(s) changed in all)")
    u = result["users"]
    if u is not None:
        click.echo(f"Users: {len(u['created'])} created, {len(u['replaced'])} replaced, "
                   f"{len(u['kept'])} already here and kept" + (f" ({', '.join(u['kept'])})" if u["kept"] else ""))
        for key in u["skipped_keys"]:
            click.echo(f"API key {key}... not imported: another user here holds it", err=True)
