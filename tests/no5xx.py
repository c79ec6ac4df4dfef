"""An autouse fixture for test modules that must see no 5xx from the server: every HTTP answer
the process receives during a test (the MLflow client's, the tracing exporter's background
threads', and the tests' own `requests` calls) is recorded, and any status >= 500 fails the test.

Use it with `from tests.no5xx import no_5xx  # noqa: F401` in a test module."""

from __future__ import annotations

import threading

import pytest
import requests.adapters


@pytest.fixture(autouse=True)
def no_5xx(monkeypatch):
    seen: list[str] = []
    lock = threading.Lock()
    original = requests.adapters.HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        try:
            response = original(self, request, *args, **kwargs)
        except Exception as exc:
            if "too many 5" in str(exc):  # urllib3 gave up on retried 5xx answers
                with lock:
                    seen.append(f"{request.method} {request.url}: {exc}")
            raise
        if response.status_code >= 500:
            with lock:
                seen.append(f"{request.method} {request.url}: {response.status_code} {response.text[:300]}")
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    yield
    import mlflow

    try:
        mlflow.flush_trace_async_logging()
    except Exception:
        pass
    assert not seen, "server answered 5xx:\n" + "\n".join(seen)
