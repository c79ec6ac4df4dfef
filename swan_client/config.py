"""Where the client finds its server and key: an explicit value, else the environment
(`SWAN_TRACKING_URI`, `SWAN_API_KEY`), else what `swan login` saved, else the default URI."""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"


def credentials_path() -> Path:
    """`$SWAN_CONFIG_DIR/credentials.json`, default `~/.config/swan/credentials.json`."""
    base = os.environ.get("SWAN_CONFIG_DIR") or Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "swan"
    return Path(base).expanduser() / "credentials.json"


def load_saved() -> dict:
    try:
        data = json.loads(credentials_path().read_text())
        return data if isinstance(data, dict) else {}
    except (FileNotFoundError, ValueError, OSError):
        return {}


def save_login(tracking_uri: str, api_key: str | None) -> Path:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"tracking_uri": tracking_uri, "api_key": api_key}, f, indent=2)
    os.chmod(path, 0o600)
    return path


def resolve(tracking_uri: str | None = None, api_key: str | None = None) -> tuple[str, str | None]:
    saved = None
    if not tracking_uri:
        tracking_uri = os.environ.get("SWAN_TRACKING_URI")
    if not tracking_uri:
        saved = load_saved()
        tracking_uri = saved.get("tracking_uri")
    if not api_key:
        api_key = os.environ.get("SWAN_API_KEY")
    if not api_key:
        saved = saved if saved is not None else load_saved()
        # A saved key belongs to the saved server only.
        if saved.get("api_key") and (saved.get("tracking_uri") or "").rstrip("/") == (tracking_uri or "").rstrip("/"):
            api_key = saved["api_key"]
    return (tracking_uri or DEFAULT_TRACKING_URI).rstrip("/"), api_key or None
