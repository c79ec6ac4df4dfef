"""`swan users ...` and `swan keys ...`: manage identities directly in the database."""

from __future__ import annotations

import click

from swan_server.config import default_backend_store_uri
from swan_server.entities import ROLES
from swan_server.errors import SwanError

_store_option = click.option(
    "--backend-store-uri", envvar="SWAN_BACKEND_STORE_URI", default=None,
    help="SQLAlchemy URI of the tracking database [default: sqlite:///$SWAN_HOME/swan.db].",
)


def _identity(backend_store_uri):
    from swan_server.db.engine import make_engine, upgrade
    from swan_server.services.identity import IdentityService
    from swan_server.store.sql import SqlTrackingStore

    engine = make_engine(backend_store_uri or default_backend_store_uri())
    upgrade(engine)
    store = SqlTrackingStore(engine)
    return IdentityService(store), store


@click.group("users")
def users():
    """Users of this server."""


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True)
@_store_option
def users_create(name, role, backend_store_uri):
    """Create a user; its new API key is the last line of the output."""
    identity, _ = _identity(backend_store_uri)
    try:
        user, key = identity.create_user(name, role)
    except SwanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Created user '{user.name}' with role {user.role}. API key (shown once):")
    click.echo(key)


@users.command("list")
@_store_option
def users_list(backend_store_uri):
    """List users."""
    _, store = _identity(backend_store_uri)
    for u in store.list_users():
        click.echo(f"{u.name}\t{u.role}\t{'disabled' if u.disabled else 'active'}")


@users.command("disable")
@click.argument("name")
@_store_option
def users_disable(name, backend_store_uri):
    """Disable a user: its keys and sessions stop working."""
    _, store = _identity(backend_store_uri)
    try:
        store.set_user_disabled(name, True)
    except SwanError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Disabled user '{name}'.")


@click.group("keys")
def keys():
    """API keys."""


@keys.command("create")
@click.argument("user")
@click.option("--description", default=None)
@_store_option
def keys_create(user, description, backend_store_uri):
    """Create another API key for USER; the key is the last line of the output."""
    identity, store = _identity(backend_store_uri)
    found = store.get_user(user)
    if found is None:
        raise click.ClickException(f"User '{user}' not found")
    key = identity.add_key(found, description)
    click.echo(f"New API key for '{user}' (shown once):")
    click.echo(key)


@keys.command("revoke")
@click.argument("prefix")
@_store_option
def keys_revoke(prefix, backend_store_uri):
    """Revoke the key(s) starting with PREFIX (the first 11 characters are enough)."""
    _, store = _identity(backend_store_uri)
    n = store.revoke_api_key(prefix[:11])
    if n == 0:
        raise click.ClickException(f"No active key starts with '{prefix[:11]}'")
    click.echo(f"Revoked {n} key(s).")
