"""A live `swan server --auth` (SWAN_AUTH=true) with one user per role, made with the real
`swan users create` command, for the auth and attack tests."""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.server import LiveServer


def create_user(server: LiveServer, name: str, role: str) -> str:
    """`swan users create NAME --role ROLE`: the API key is the last line of its output."""
    out = subprocess.run(
        [sys.executable, "-m", "swan_client.cli", "users", "create", name, "--role", role,
         "--backend-store-uri", server.backend_store_uri],
        capture_output=True, text=True, check=True, env={**_env(server)},
    )
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("swan_") and " " not in key, out.stdout
    return key


def _env(server: LiveServer) -> dict:
    import os

    return {**os.environ, "SWAN_HOME": str(server.home)}


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def basic(user: str, key: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()}


@dataclass
class AuthServer:
    """The server and its users: `keys[role]`, `names[role]` for admin, member, viewer, and a
    second member (`other`) whose own workspace the first member may not see."""

    server: LiveServer
    keys: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    database: object | None = None  # tests.databases.TempDatabase on PostgreSQL / MariaDB

    def stop(self) -> None:
        self.server.stop()
        if self.database is not None:
            self.database.drop()

    @property
    def url(self) -> str:
        return self.server.url

    def get(self, path, key=None, **kw):
        return requests.get(self.url + path, headers={**(bearer(key) if key else {}), **kw.pop("headers", {})},
                            timeout=60, **kw)

    def post(self, path, key=None, **kw):
        return requests.post(self.url + path, headers={**(bearer(key) if key else {}), **kw.pop("headers", {})},
                             timeout=120, **kw)

    def request(self, method, path, key=None, **kw):
        return requests.request(method, self.url + path,
                                headers={**(bearer(key) if key else {}), **kw.pop("headers", {})}, timeout=120, **kw)


def start_auth_server(home: Path, extra_env: dict | None = None, **kw) -> AuthServer:
    """On the back end the suite runs on (SWAN_TEST_BACKEND: a fresh database of its own)."""
    from tests.databases import TempDatabase, selected_backend

    env = {"SWAN_AUTH": "true", "SWAN_LOGIN_MAX_FAILURES": "100000", **(extra_env or {})}
    database = None
    if selected_backend() != "sqlite" and "backend_store_uri" not in kw:
        database = TempDatabase(selected_backend()).create()
        kw["backend_store_uri"] = database.uri
    srv = LiveServer(home, extra_env=env, **kw).start()
    auth = AuthServer(srv, database=database)
    auth.keys["admin"] = (srv.home / "admin_api_key").read_text().strip()
    auth.names["admin"] = "admin"
    suffix = uuid.uuid4().hex[:6]
    for role, name in (("member", f"mem{suffix}"), ("viewer", f"view{suffix}"), ("other", f"oth{suffix}")):
        auth.keys[role] = create_user(srv, name, "member" if role == "other" else role)
        auth.names[role] = name
    return auth


def app_rules() -> list:
    """Every URL rule of the app as the server builds it (an in-process app on a throwaway SQLite
    database: the rules do not depend on the back end), so route walks cover routes added later
    without anyone extending a hand-written list."""
    global _RULES
    if _RULES is None:
        import tempfile

        from swan_server.app import create_app
        from swan_server.config import Settings

        with tempfile.TemporaryDirectory() as tmp:
            app = create_app(Settings(backend_store_uri=f"sqlite:///{tmp}/rules.db",
                                      artifacts_destination=f"{tmp}/artifacts", auth=True))
            _RULES = list(app.url_map.iter_rules())
            detector = app.extensions["swan"].crash_detector
            if detector is not None:  # its thread would outlive the throwaway database
                detector.stop()
    return _RULES


_RULES = None
