"""Users, API keys and sessions (the identity every face relies on)."""

import os
import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from swan_client.cli import main
from swan_server.db import schema as t
from swan_server.db.engine import make_engine, upgrade
from swan_server.errors import SwanError
from swan_server.services.identity import IdentityService
from swan_server.store.sql import SqlTrackingStore


@pytest.fixture()
def identity(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'id.db'}")
    upgrade(engine)
    return IdentityService(SqlTrackingStore(engine)), engine


def test_users_create_prints_key_last_and_stores_only_a_hash(tmp_path):
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(main, ["users", "create", "alice", "--role", "viewer", "--backend-store-uri", uri])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("swan_") and len(key) > 30
    store = SqlTrackingStore(make_engine(uri))
    user = IdentityService(store).authenticate_key(key)
    assert (user.name, user.role) == ("alice", "viewer")
    assert key.encode() not in (tmp_path / "cli.db").read_bytes()
    with store.engine.connect() as conn:
        hashes = conn.execute(select(t.api_keys.c.key_hash)).scalars().all()
    assert key not in hashes and len(hashes) == 1
    # a second user with the same name is refused with a clear message
    again = CliRunner().invoke(main, ["users", "create", "alice", "--backend-store-uri", uri])
    assert again.exit_code != 0 and "already exists" in again.output
    listed = CliRunner().invoke(main, ["users", "list", "--backend-store-uri", uri])
    assert "alice\tviewer\tactive" in listed.output


def test_wrong_revoked_and_disabled_keys_are_refused(identity):
    svc, _ = identity
    user, key = svc.create_user("carol", "member")
    assert svc.authenticate_key(key).name == "carol"
    for bad in (None, "", "swan_wrong", key + "x"):
        with pytest.raises(SwanError) as err:
            svc.authenticate_key(bad)
        assert err.value.http_status == 401
    second = svc.add_key(user)
    opened_with_first, _, _ = svc.login(key)
    assert svc.session_user(opened_with_first).name == "carol"
    assert svc.store.revoke_api_key(key[:11]) == 1
    with pytest.raises(SwanError):
        svc.authenticate_key(key)
    with pytest.raises(SwanError):  # the revoked key's session ended with it
        svc.session_user(opened_with_first)
    assert svc.authenticate_key(second).name == "carol"
    sid, _, _ = svc.login(second)
    assert svc.session_user(sid).name == "carol"
    svc.store.set_user_disabled("carol", True)
    for attempt in (lambda: svc.authenticate_key(second), lambda: svc.session_user(sid)):
        with pytest.raises(SwanError):
            attempt()


def test_bad_role_and_name(identity):
    svc, _ = identity
    for name, role in (("dave", "root"), ("../x", "member"), ("", "member")):
        with pytest.raises(SwanError) as err:
            svc.create_user(name, role)
        assert err.value.http_status == 400


def test_admin_key_generated_once_with_private_mode(identity, tmp_path, monkeypatch):
    svc, _ = identity
    monkeypatch.delenv("SWAN_ADMIN_API_KEY", raising=False)
    key = svc.ensure_admin(tmp_path / "home")
    key_file = tmp_path / "home" / "admin_api_key"
    assert key and key_file.read_text().strip() == key
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert svc.ensure_admin(tmp_path / "home") is None  # not regenerated
    assert svc.authenticate_key(key).role == "admin"


def test_admin_key_from_environment(identity, tmp_path, monkeypatch):
    svc, _ = identity
    monkeypatch.setenv("SWAN_ADMIN_API_KEY", "admin-key-from-env-0123456789")
    assert svc.ensure_admin(tmp_path / "home") is None
    assert not (tmp_path / "home" / "admin_api_key").exists()
    assert svc.authenticate_key("admin-key-from-env-0123456789").name == "admin"


def test_server_prints_admin_key_at_first_start(server):
    key_file = server.home / "admin_api_key"
    key = key_file.read_text().strip()
    assert key in server.log()
