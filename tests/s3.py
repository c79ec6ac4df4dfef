"""A real S3 protocol endpoint for tests: moto's server on loopback."""

from __future__ import annotations

import subprocess
import sys
import time

import requests

from tests.server import free_port

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class MotoS3:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict:
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.url}

    def start(self) -> "MotoS3":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                requests.get(self.url, timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("moto server did not start")

    def client(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
