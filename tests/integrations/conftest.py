"""The real frameworks against one live server (the session's `server`): every test here runs a
recipe of docs/INTEGRATIONS.md in its own Python process and reads back what the server stored."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_server_errors(server):
    """Whatever a framework sends, the server must not hit an unhandled error (a 5xx with a logged
    traceback): clients often swallow those and go on, so the test would not see them."""
    start = server.log_path.stat().st_size if server.log_path.exists() else 0
    yield
    with open(server.log_path, "rb") as f:
        f.seek(start)
        new = f.read().decode(errors="replace")
    assert "Unhandled error" not in new and "Traceback" not in new, new[-3000:]
