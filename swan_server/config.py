"""Server settings: every option is a CLI flag with a SWAN_* environment variable behind it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def swan_home() -> Path:
    return Path(os.environ.get("SWAN_HOME") or Path.home() / ".swan").expanduser()


def default_backend_store_uri() -> str:
    return f"sqlite:///{swan_home() / 'swan.db'}"


def default_artifacts_destination() -> str:
    return str(swan_home() / "artifacts")


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Settings:
    backend_store_uri: str = field(default_factory=default_backend_store_uri)
    artifacts_destination: str = field(default_factory=default_artifacts_destination)
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    # Largest request body accepted outside the streamed artifact routes (bytes).
    max_request_bytes: int = 64 * 1024 * 1024
    # A RUNNING run whose client heartbeats and then falls silent this long is crashed (seconds).
    heartbeat_timeout: float = 30 * 60.0
    # Every route but /health, the SwanLab ping and the logins needs credentials (swan_server.auth).
    auth: bool = False
    # The failed-login rate limit: this many failures per client address (or user name) within
    # the window (seconds) get 429 until the window has passed.
    login_max_failures: int = 20
    login_window: float = 300.0
    # Reverse proxies in front of the server whose X-Forwarded-For/-Proto/-Host/-Port headers are
    # believed (0: none; the headers are ignored, so a client cannot pick its own address).
    trusted_proxies: int = 0

    @classmethod
    def from_env(cls) -> "Settings":
        s = cls()
        s.backend_store_uri = os.environ.get("SWAN_BACKEND_STORE_URI") or s.backend_store_uri
        s.artifacts_destination = (
            os.environ.get("SWAN_ARTIFACTS_DESTINATION") or s.artifacts_destination
        )
        s.host = os.environ.get("SWAN_HOST") or s.host
        s.port = int(os.environ.get("SWAN_PORT") or s.port)
        s.workers = int(os.environ.get("SWAN_WORKERS") or s.workers)
        s.heartbeat_timeout = float(os.environ.get("SWAN_HEARTBEAT_TIMEOUT") or s.heartbeat_timeout)
        s.auth = env_flag("SWAN_AUTH", s.auth)
        s.login_max_failures = int(os.environ.get("SWAN_LOGIN_MAX_FAILURES") or s.login_max_failures)
        s.login_window = float(os.environ.get("SWAN_LOGIN_WINDOW") or s.login_window)
        s.max_request_bytes = int(os.environ.get("SWAN_MAX_REQUEST_BYTES") or s.max_request_bytes)
        s.trusted_proxies = int(os.environ.get("SWAN_TRUSTED_PROXIES") or s.trusted_proxies)
        return s
