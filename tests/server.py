"""Start a real `swan server` process for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A `swan server` subprocess with its own SWAN_HOME, database and artifact folder."""

    def __init__(self, home: Path, backend_store_uri: str | None = None, artifacts_destination: str | None = None,
                 workers: int = 1, extra_env: dict | None = None, port: int | None = None):
        self.home = Path(home)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.backend_store_uri = backend_store_uri or f"sqlite:///{self.home / 'swan.db'}"
        self.artifacts_destination = artifacts_destination or str(self.home / "artifacts")
        self.workers = workers
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = self.home / f"server-{self.port}.log"

    def start(self, timeout: float = 60) -> "LiveServer":
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "SWAN_HOME": str(self.home), **self.extra_env}
        cmd = [
            sys.executable, "-m", "swan_client.cli", "server",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--backend-store-uri", self.backend_store_uri,
            "--artifacts-destination", self.artifacts_destination,
            "--workers", str(self.workers),
        ]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"swan server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"swan server did not become healthy:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL the whole server process group (master and workers)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            # SIGINT is gunicorn's quick shutdown: it does not wait for idle keep-alive clients.
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()

    def server_pids(self) -> list[int]:
        import psutil

        if not self.proc:
            return []
        parent = psutil.Process(self.proc.pid)
        return [parent.pid] + [c.pid for c in parent.children(recursive=True)]
