"""Server-side commands: `swan server` and `swan db upgrade`."""

from __future__ import annotations

import sys

import click

from swan_server.config import Settings, default_artifacts_destination, default_backend_store_uri, swan_home


def _store_options(fn):
    fn = click.option(
        "--backend-store-uri",
        envvar="SWAN_BACKEND_STORE_URI",
        default=None,
        help="SQLAlchemy URI of the tracking database [default: sqlite:///$SWAN_HOME/swan.db].",
    )(fn)
    return fn


@click.command("server")
@click.option("--host", envvar="SWAN_HOST", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", envvar="SWAN_PORT", default=5000, type=int, show_default=True, help="Port to listen on.")
@_store_options
@click.option(
    "--artifacts-destination",
    envvar="SWAN_ARTIFACTS_DESTINATION",
    default=None,
    help="Where artifacts are stored [default: $SWAN_HOME/artifacts].",
)
@click.option("--workers", envvar="SWAN_WORKERS", default=1, type=int, show_default=True, help="Server worker processes.")
@click.option("--threads", envvar="SWAN_THREADS", default=8, type=int, show_default=True, help="Threads per worker.")
@click.option(
    "--heartbeat-timeout", envvar="SWAN_HEARTBEAT_TIMEOUT", default=1800.0, type=float, show_default=True,
    help="Seconds without a heartbeat after which a RUNNING (SwanLab) run is marked crashed (0 = never).",
)
@click.option("--log-format", envvar="SWAN_LOG_FORMAT", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Log lines as text or as JSON objects (structured logs).")
@click.option("--access-log/--no-access-log", envvar="SWAN_ACCESS_LOG", default=False, show_default=True,
              help="Log one line per request (method, route, status, duration).")
@click.option("--auth/--no-auth", envvar="SWAN_AUTH", default=False, show_default=True,
              help="Require credentials (an API key) on every route but /health, the SwanLab ping and the logins.")
@click.option("--max-request-size", envvar="SWAN_MAX_REQUEST_BYTES", default=64 * 1024 * 1024, type=int,
              show_default=True, help="Largest request body in bytes (413 above it); artifact uploads stream "
              "and are exempt.")
@click.option("--trusted-proxies", envvar="SWAN_TRUSTED_PROXIES", default=0, type=click.IntRange(0, 10),
              show_default=True, help="Reverse proxies in front of the server whose X-Forwarded-* headers are "
              "believed (client address for the login rate limit and logs; scheme and host for the URLs the "
              "server hands out). 0 ignores the headers.")
def server(host, port, backend_store_uri, artifacts_destination, workers, threads, heartbeat_timeout,
           log_format, access_log, auth, max_request_size, trusted_proxies):
    """Start the tracking server (MLflow REST API, artifacts proxy, health, /metrics)."""
    from swan_server.artifacts import make_artifact_store
    from swan_server.db.engine import make_engine, upgrade
    from swan_server.services.identity import IdentityService
    from swan_server.store.sql import SqlTrackingStore
    from swan_server.wsgi import run_gunicorn

    import os

    from swan_server.observability import configure_logging

    # The workers read these from the environment they inherit.
    os.environ["SWAN_LOG_FORMAT"] = log_format
    os.environ["SWAN_ACCESS_LOG"] = "1" if access_log else "0"
    configure_logging(log_format)
    settings = Settings(
        backend_store_uri=backend_store_uri or default_backend_store_uri(),
        artifacts_destination=artifacts_destination or default_artifacts_destination(),
        host=host,
        port=port,
        workers=workers,
        heartbeat_timeout=heartbeat_timeout,
        auth=auth,
        max_request_bytes=max_request_size,
        trusted_proxies=trusted_proxies,
    )
    # The failed-login rate limit (per client address and per user name).
    env_settings = Settings.from_env()
    settings.login_max_failures = env_settings.login_max_failures
    settings.login_window = env_settings.login_window
    engine = make_engine(settings.backend_store_uri)
    try:
        upgrade(engine)
        admin_key = IdentityService(SqlTrackingStore(engine)).ensure_admin(swan_home())
    except Exception as exc:  # a clear one-line error instead of a traceback
        click.echo(f"swan: cannot prepare the database {engine.url.render_as_string()}: {_one_line(exc)}", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    try:
        make_artifact_store(settings.artifacts_destination).check()
    except Exception as exc:
        click.echo(f"swan: cannot use the artifacts destination {settings.artifacts_destination}: {_one_line(exc)}", err=True)
        sys.exit(1)
    if admin_key:
        click.echo(f"Created the 'admin' user. Its API key (also saved in {swan_home() / 'admin_api_key'}):")
        click.echo(admin_key)
    if not auth and not _is_loopback(host):
        click.echo(
            f"swan: WARNING: listening on {host} without authentication: anyone who can reach this address can "
            "read and change everything. Start with --auth (SWAN_AUTH=true) and give each person an API key "
            "(swan users create NAME --role member).", err=True)
    click.echo(f"Swan listening on http://{host}:{port}  (store: {engine.url.render_as_string()}, artifacts: "
               f"{settings.artifacts_destination}, authentication: {'on' if auth else 'off'})")
    run_gunicorn(settings, workers=workers, threads=threads)


def _is_loopback(host: str) -> bool:
    import ipaddress

    name = (host or "").strip().strip("[]")
    if name in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _one_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@click.group("db")
def db():
    """Database schema management."""


@db.command("upgrade")
@_store_options
@click.option("--revision", default="head", show_default=True)
def db_upgrade(backend_store_uri, revision):
    """Create or upgrade the schema (the server does this at start too)."""
    from swan_server.db.engine import current_revision, make_engine, upgrade

    engine = make_engine(backend_store_uri or default_backend_store_uri())
    upgrade(engine, revision)
    click.echo(f"Database at revision {current_revision(engine)}")
