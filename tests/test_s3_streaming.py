"""A 1 GiB artifact through the server into S3 (moto) and back, with the server's memory flat."""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest
import requests

from tests.server import LiveServer
from tests.test_artifacts import ARTIFACTS, MiB, PatternStream, RssSampler

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_1gib_through_s3_with_flat_server_memory(tmp_path, moto_s3):
    size = 1024 * MiB
    bucket = f"big-{uuid.uuid4().hex[:8]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    srv = LiveServer(tmp_path / "home", artifacts_destination=f"s3://{bucket}/swan", extra_env=moto_s3.env).start()
    try:
        base = srv.url + ARTIFACTS + "/stream"
        # warm every code path (boto3 client, transfer threads) so they do not count as growth
        assert requests.put(base + "/warm.bin", data=PatternStream(20 * MiB), timeout=120).status_code == 200
        assert len(requests.get(base + "/warm.bin", timeout=120).content) == 20 * MiB
        time.sleep(0.5)
        sampler = RssSampler(srv.server_pids())
        sampler.start()
        try:
            body = PatternStream(size)
            t0 = time.perf_counter()
            resp = requests.put(base + "/big.bin", data=body, timeout=900)
            up = size / (time.perf_counter() - t0) / 1e6
            assert resp.status_code == 200, resp.text[:300]
            h, n = hashlib.sha256(), 0
            t0 = time.perf_counter()
            with requests.get(base + "/big.bin", stream=True, timeout=900) as r:
                assert r.status_code == 200 and r.headers["Content-Length"] == str(size)
                for chunk in r.iter_content(MiB):
                    h.update(chunk)
                    n += len(chunk)
            down = size / (time.perf_counter() - t0) / 1e6
        finally:
            sampler.stop()
        assert (n, h.hexdigest()) == (size, body.sha256)
        head = moto_s3.client().head_object(Bucket=bucket, Key="swan/stream/big.bin")
        assert head["ContentLength"] == size
        print(f"\n1 GiB through S3: up {up:.0f} MB/s, down {down:.0f} MB/s; "
              f"peak server RSS growth {sampler.peak / MiB:.1f} MiB over {sampler.samples} samples")
        assert sampler.samples > 20
        assert sampler.peak < 150 * MiB, f"server RSS grew by {sampler.peak / MiB:.0f} MiB"
    finally:
        srv.stop()
