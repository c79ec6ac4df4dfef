"""The swan_client SDK against a live server: a full run with every media type read back through
/api/v1 and MlflowClient, offline runs synced twice, the spool when the server is away, retries
through a real HTTP front that answers 5xx and 429, the hardware monitor (real psutil; a stand-in
for pynvml), console capture and bad input."""

import email.utils
import http.server
import io
import json
import logging
import math
import posixpath
import sys
import threading
import time
import types
import wave
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image as PILImage

import swan_client
from swan_client.api import MAX_RETRY_AFTER, Client, SwanApiError, retry_after_seconds
from swan_client.monitor import GpuProbe, HardwareMonitor
from swan_client.offline import RECORDS_FILE, read_acked, read_records, sync_folder
from tests.server import free_port
from tests.tcpproxy import TcpProxy


@pytest.fixture()
def client(server):
    return Client(server.url)


def _init(server, tmp_path, unique_name, **kw):
    kw.setdefault("monitor", False)
    kw.setdefault("capture_console", False)
    return swan_client.init(project=unique_name, tracking_uri=server.url, dir=tmp_path / "runs", **kw)


def test_full_run_every_media_type_read_back_two_ways(server, client, mlflow_client, tmp_path, unique_name):
    img_path = tmp_path / "pic.png"
    PILImage.new("RGB", (4, 3), (255, 0, 0)).save(img_path)
    art = tmp_path / "model.bin"
    art.write_bytes(b"weights" * 1000)
    with _init(server, tmp_path, unique_name, name="full", config={"lr": 0.01, "net": {"depth": 4}},
               tags={"team": "vision"}, capture_console=True) as run:
        for step in range(20):
            run.log({"loss": 1.0 / (step + 1), "acc": step / 20}, step=step)
        logged_media = {
            "img/array": swan_client.Image(np.random.default_rng(0).random((16, 16, 3)), caption="noise"),
            "img/pil": swan_client.Image(PILImage.new("L", (5, 5), 128)),
            "img/path": swan_client.Image(img_path),
            "img/list": [swan_client.Image(np.zeros((2, 2), dtype=np.uint8)),
                         swan_client.Image(np.ones((2, 2, 4)))],
            "sound": swan_client.Audio(np.sin(np.linspace(0, 100, 8000)), sample_rate=8000, caption="tone"),
            "note": swan_client.Text("hello\nworld"),
            "scores": swan_client.Table(columns=["name", "score"], data=[["a", 1.5], ["b", float("nan")]]),
        }
        run.log(logged_media, step=19)
        print("line one from the training script")
        sys.stderr.write("warning: loss is rising\n")
        sys.stderr.write("epoch 1: 10%\repoch 1: 100%\n")  # a progress bar: what the terminal finally shows
        sys.stderr.write("last words, no newline")  # a partial line is sent when the run finishes
        run.log_artifact(art)
        run.log_artifact(tmp_path / "pic.png", name="figures/pic.png")
    result = run.finish()
    assert result.uploaded and result.pending_records == 0
    rid = run.run_id

    got = client.get_run(rid)
    assert got["status"] == "FINISHED" and got["name"] == "full" and got["end_time"] is not None
    assert got["params"] == {"lr": "0.01", "net.depth": "4"} and got["tags"]["team"] == "vision"
    hist = client.get_history(rid, "loss")
    assert hist["step"] == list(range(20)) and hist["value"][-1] == pytest.approx(1 / 20)
    media = client.get_media(rid)
    kinds = sorted((m["key"], m["kind"], m["seq"]) for m in media)
    assert kinds == [("img/array", "image", 0), ("img/list", "image", 0), ("img/list", "image", 1),
                     ("img/path", "image", 0), ("img/pil", "image", 0), ("note", "text", 0),
                     ("scores", "table", 0), ("sound", "audio", 0)]
    by_key = {m["key"]: m for m in media}
    assert by_key["img/array"]["caption"] == "noise" and by_key["sound"]["caption"] == "tone"
    png = client.download_artifact(rid, by_key["img/array"]["path"])
    assert PILImage.open(io.BytesIO(png)).size == (16, 16)
    wav = wave.open(io.BytesIO(client.download_artifact(rid, by_key["sound"]["path"])))
    assert wav.getframerate() == 8000 and wav.getnframes() == 8000
    assert client.download_artifact(rid, by_key["note"]["path"]) == b"hello\nworld"
    table = json.loads(client.download_artifact(rid, by_key["scores"]["path"]))
    assert table == {"columns": ["name", "score"], "data": [["a", 1.5], ["b", "nan"]]}
    assert client.download_artifact(rid, "model.bin") == b"weights" * 1000
    assert client.download_artifact(rid, "figures/pic.png") == img_path.read_bytes()
    console = client.get_console(rid)
    expected = [("line one from the training script", "INFO"),  # stdout
                ("warning: loss is rising", "ERROR"), ("epoch 1: 100%", "ERROR"),  # stderr
                ("last words, no newline", "ERROR")]
    written = {message for message, _ in expected} | {"epoch 1: 10%"}
    got_lines = [(m, level) for m, level in zip(console["message"], console["level"]) if m in written]
    assert got_lines == expected

    # the same run through MLflow's client
    mrun = mlflow_client.get_run(rid)
    assert mrun.info.status == "FINISHED" and mrun.info.run_name == "full"
    assert mrun.data.params["net.depth"] == "4" and mrun.data.metrics["acc"] == pytest.approx(19 / 20)
    assert [m.step for m in mlflow_client.get_metric_history(rid, "loss")] == list(range(20))
    listed = {f.path for f in mlflow_client.list_artifacts(rid)}
    assert {"model.bin", "media", "figures"} <= listed
    # every media item: listed in its folder and downloaded through MLflow, byte for byte what
    # /api/v1 serves and what the SDK encoded when it was logged
    mlflow_dir = tmp_path / "through-mlflow"
    for item in media:
        folder = posixpath.dirname(item["path"])
        assert item["path"] in {f.path for f in mlflow_client.list_artifacts(rid, folder)}, item["path"]
        local = mlflow_client.download_artifacts(rid, item["path"], str(mlflow_dir))
        through_mlflow = Path(local).read_bytes()
        through_api = client.download_artifact(rid, item["path"])
        logged = logged_media[item["key"]]
        encoded = (logged[item["seq"]] if isinstance(logged, list) else logged).encode()
        assert through_mlflow == through_api == encoded, item["path"]
    assert client.download_artifact(rid, by_key["img/path"]["path"]) == img_path.read_bytes()
    exp = mlflow_client.get_experiment_by_name(unique_name)
    assert [r.info.run_id for r in mlflow_client.search_runs([exp.experiment_id])] == [rid]


def test_module_level_api_and_auto_steps(server, client, tmp_path, unique_name):
    run = _init(server, tmp_path, unique_name)
    swan_client.log({"x": 1.0})
    swan_client.log({"x": 2.0})
    swan_client.log({"x": 3.0}, step=10)
    swan_client.log({"x": 4.0})
    assert swan_client.current_run() is run
    swan_client.finish()
    assert swan_client.current_run() is None
    assert client.get_history(run.run_id, "x")["step"] == [0, 1, 10, 11]
    swan_client.log({"x": 5.0})  # no active run: a warning, not an error


def test_offline_run_synced_twice_duplicates_nothing(server, client, tmp_path, unique_name):
    run = swan_client.init(project=unique_name, mode="offline", dir=tmp_path / "off", config={"seed": 1},
                           monitor=False, capture_console=False, flush_interval=0.05, batch_points=1000)
    for step in range(5000):
        run.log({"a": step * 1.0, "b": -step * 1.0}, step=step)
    run.log({"pic": swan_client.Image(np.zeros((4, 4, 3)))}, step=1)
    result = run.finish()
    assert result.mode == "offline" and not result.uploaded
    folder = run.folder
    with pytest.raises(SwanApiError):
        client.get_run(run.run_id)  # nothing reached the server
    first = sync_folder(folder, client)
    assert first.sent == first.records > 5 and read_acked(folder) == first.records
    assert sync_folder(folder, client).sent == 0  # acknowledged already: nothing to send
    again = sync_folder(folder, client, resend=True)  # everything again: the server ignores it
    assert again.sent == again.records
    got = client.get_run(run.run_id)
    assert got["status"] == "FINISHED" and got["params"] == {"seed": "1"}
    for key, sign in (("a", 1), ("b", -1)):
        hist = client.get_history(run.run_id, key)
        assert hist["step"] == list(range(5000)) and hist["value"] == [sign * s * 1.0 for s in range(5000)]
    assert len(client.get_media(run.run_id)) == 1
    mlflow_summary = client.get_run(run.run_id)["metrics"]["a"]
    assert mlflow_summary["step"] == 4999


def test_damaged_record_file_syncs_what_is_intact(server, client, tmp_path, unique_name):
    run = swan_client.init(project=unique_name, mode="offline", dir=tmp_path / "off", monitor=False,
                           capture_console=False)
    run.log({"v": 1.0}, step=0)
    run._seal()
    run.log({"v": 2.0}, step=1)
    run._seal()
    run.log({"v": 3.0}, step=2)
    run.finish()
    path = run.folder / RECORDS_FILE
    records = list(read_records(path))
    assert [r.rtype for r in records] == [b"R", b"B", b"B", b"B", b"F"]
    data = bytearray(path.read_bytes())
    data[records[2].offset + 20] ^= 0xFF  # flip a byte inside the second batch
    data += b"SWR1B\x00\x10"  # and a torn record at the end
    path.write_bytes(bytes(data))
    result = sync_folder(run.folder, client)
    assert result.records == 4 and result.skipped_bytes > 0 and len(result.problems) == 2
    assert client.get_history(run.run_id, "v")["step"] == [0, 2]


def test_server_away_spools_then_drains_and_finish_reports(server, client, tmp_path, unique_name, caplog):
    dead = f"http://127.0.0.1:{free_port()}"
    caplog.set_level(logging.WARNING, "swan_client")
    run = swan_client.init(project=unique_name, tracking_uri=dead, dir=tmp_path / "runs", monitor=False,
                           capture_console=False, flush_interval=0.05)
    for step in range(3000):
        run.log({"m": float(step)}, step=step)
    result = run.finish(timeout=1.0)
    assert not result.uploaded and result.pending_records >= 2 and result.pending_points == 3000
    assert "swan sync" in str(result) and str(run.folder) in str(result)
    assert any("cannot reach" in r.message for r in caplog.records)
    # the server "comes back" (the folder is sent to the real one)
    sync = sync_folder(run.folder, client)
    assert sync.sent == result.pending_records  # the run record, the batches and the final status
    assert client.get_history(run.run_id, "m")["step"] == list(range(3000))
    assert client.get_run(run.run_id)["status"] == "FINISHED"


def test_resume_continues_steps_and_console_lines(server, client, tmp_path, unique_name):
    run = _init(server, tmp_path, unique_name, capture_console=True)
    run.log({"x": 1.0})
    run.log({"x": 2.0})
    print("first session")
    run.finish()
    again = _init(server, tmp_path, unique_name, id=run.run_id, resume="must", capture_console=True)
    again.log({"x": 3.0})
    print("second session")
    again.finish()
    assert client.get_history(run.run_id, "x")["step"] == [0, 1, 2]
    console = client.get_console(run.run_id)
    assert console["message"][-2:] == ["first session", "second session"]
    with pytest.raises(SwanApiError):
        _init(server, tmp_path, unique_name, id="0" * 32, resume="must")


def test_hardware_metrics_on_this_machine(server, client, tmp_path, unique_name):
    run = _init(server, tmp_path, unique_name, monitor=True, monitor_interval=0.1)
    import time

    deadline = time.time() + 20
    while run.monitor.tick < 3 and time.time() < deadline:
        time.sleep(0.05)
    run.finish()
    metrics = client.get_run(run.run_id)["metrics"]
    for key in ("system/cpu.pct", "system/mem.pct", "system/mem.proc", "system/disk.read_mb_s",
                "system/net.recv_mb_s"):
        assert key in metrics, sorted(metrics)
    assert 0 <= metrics["system/mem.pct"]["value"] <= 100 and metrics["system/mem.proc"]["value"] > 1
    assert not any(k.startswith("system/gpu") for k in metrics)  # no GPU here: no GPU keys, no error
    assert len(client.get_history(run.run_id, "system/cpu.pct")["step"]) >= 3


def fake_nvml(gpus=2, fail_power=False, fail_init=False):
    """A stand-in for pynvml's functions."""
    class NVMLError(Exception):
        pass

    def init():
        if fail_init:
            raise NVMLError("NVML Shared Library Not Found")

    def power(h):
        if fail_power:
            raise NVMLError("Not Supported")
        return 70_500 + h * 1000  # mW

    return types.SimpleNamespace(
        NVML_TEMPERATURE_GPU=0,
        nvmlInit=init,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: gpus,
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=40 + h, memory=10),
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(total=8 * 1024**3, used=2 * 1024**3, free=6 * 1024**3),
        nvmlDeviceGetTemperature=lambda h, sensor: 60 + h,
        nvmlDeviceGetPowerUsage=power,
    )


def test_gpu_path_with_a_stand_in_for_pynvml(server, client, tmp_path, unique_name):
    probe = GpuProbe(fake_nvml(gpus=2))
    values = probe.read()
    assert values["system/gpu.0.pct"] == 40 and values["system/gpu.1.pct"] == 41
    assert values["system/gpu.0.mem.pct"] == 25 and values["system/gpu.0.mem.value"] == 2048
    assert values["system/gpu.1.temp"] == 61 and values["system/gpu.0.power"] == 70.5
    assert "system/gpu.0.power" not in GpuProbe(fake_nvml(fail_power=True)).read()  # a missing reading is skipped
    assert GpuProbe(fake_nvml(fail_init=True)).read() == {}  # no NVML: no keys, no error
    assert GpuProbe(types.SimpleNamespace()).read() == {}  # an NVML without the functions
    run = _init(server, tmp_path, unique_name, monitor=True, monitor_interval=0.1, nvml=fake_nvml(gpus=1))
    import time

    deadline = time.time() + 20
    while run.monitor.tick < 2 and time.time() < deadline:
        time.sleep(0.05)
    run.finish()
    metrics = client.get_run(run.run_id)["metrics"]
    assert metrics["system/gpu.0.pct"]["value"] == 40 and metrics["system/gpu.0.temp"]["value"] == 60
    assert "system/cpu.pct" in metrics


def test_monitor_sample_never_raises_without_psutil_readings(monkeypatch):
    mon = HardwareMonitor(lambda values, tick: None, interval=1, nvml=fake_nvml(fail_init=True))
    assert "system/cpu.pct" in mon.sample()


def test_bad_input_never_kills_the_training_loop(server, client, tmp_path, unique_name, caplog):
    caplog.set_level(logging.WARNING, "swan_client")
    run = _init(server, tmp_path, unique_name, config={"lr": 0.1})

    class Weird:
        def __float__(self):
            raise RuntimeError("boom")

    run.log({"ok": 1.0, "obj": object(), "weird": Weird(), "none": None, "s": "text", "huge": 10**400,
             "list": [1, 2], "nan": float("nan"), "inf": float("inf"), "flag": True, "np": np.float32(0.5),
             "np_int": np.int64(7), "bad key?": 2.0, "": 3.0, "nested": {"a": {"b": 4.0}}, 5: 6.0}, step=0)
    run.log({"ok": "now a string"}, step=1)  # a key that changes type
    run.log({"ok": swan_client.Image(np.zeros((2, 2)))}, step=2)
    run.log({"ok": 2.0}, step=3)
    run.log({"big_text": swan_client.Text("x" * 11 * 1024 * 1024)}, step=0)
    run.log_params({"lr": 0.2, "long": "y" * 7000})  # a param cannot change; a long one is cut
    run.set_tags({"t": "z" * 9000})
    run.log([("not", "a dict")])  # wrong type: ignored
    run.log({"x": 1.0}, step=-3)  # a bad step: the next auto step
    run.log({"x": 1.0}, step="seven")
    result = run.finish()
    assert result.uploaded and not run.uploader.refused
    got = client.get_run(run.run_id)
    m = got["metrics"]
    assert m["ok"]["value"] == 2.0 and m["flag"]["value"] == 1.0 and m["np"]["value"] == 0.5
    assert m["np_int"]["value"] == 7 and m["nan"]["value"] == "NaN" and m["inf"]["value"] == "Infinity"
    assert m["bad key_"]["value"] == 2.0 and m["nested/a/b"]["value"] == 4.0 and m["5"]["value"] == 6.0
    for dropped in ("obj", "weird", "none", "s", "huge", "list"):
        assert dropped not in m
    assert got["params"]["lr"] == "0.1" and len(got["params"]["long"]) == 6000
    assert len(got["tags"]["t"]) == 8000
    assert client.get_history(run.run_id, "ok")["step"] == [0, 3]
    text = [x for x in client.get_media(run.run_id) if x["key"] == "big_text"]
    assert len(client.download_artifact(run.run_id, text[0]["path"])) < 11 * 1024 * 1024
    messages = " | ".join(r.message for r in caplog.records)
    for needle in ("'obj'", "'weird'", "'s'", "'huge'", "'ok' was logged as scalar", "param 'lr' is already",
                   "logged as 'bad key_'", "step must be a non-negative integer", "log() takes a dict"):
        assert needle in messages, needle
    run.log({"after": 1.0})  # after finish: a warning, nothing else
    assert math.isnan(float("nan"))


def test_init_with_a_wrong_key_fails_clearly(server, tmp_path, unique_name):
    with pytest.raises(SwanApiError) as err:
        swan_client.init(project=unique_name, tracking_uri=server.url, api_key="swan_wrong", dir=tmp_path,
                         monitor=False, capture_console=False)
    assert "401" in str(err.value) or "Invalid API key" in str(err.value)


def test_client_api_for_importers(server, client, tmp_path, unique_name):
    rid = "1" * 8 + unique_name.encode().hex()[:24].ljust(24, "0")
    run = client.create_run(unique_name, run_id=rid, name="imported", start_time=1_000, end_time=5_000,
                            status="FINISHED", tags={"import.source": "tb:/logs/x"}, params={"a": "1"})
    assert run["run_id"] == rid and run["status"] == "FINISHED"
    again = client.create_run(unique_name, run_id=rid, exist_ok=True)
    assert again["run_id"] == rid
    points = ((k, s, 1_000 + s, s * 0.5) for s in range(150_000) for k in ("loss",))
    assert client.log_points(rid, points, chunk_size=60_000, idempotency_prefix="imp") == 150_000
    # an importer running again with the same prefix writes nothing twice
    client.log_points(rid, ((k, s, 1_000 + s, s * 0.5) for s in range(150_000) for k in ("loss",)),
                      chunk_size=60_000, idempotency_prefix="imp")
    hist = client.get_history(rid, "loss")
    assert len(hist["step"]) == 150_000 and hist["value"][-1] == 149_999 * 0.5
    found = client.find_run_by_tag("import.source", "tb:/logs/x", project=unique_name)
    assert found["run_id"] == rid
    assert client.find_run_by_tag("import.source", "it's missing", project=unique_name) is None
    f = tmp_path / "d"
    (f / "sub").mkdir(parents=True)
    (f / "sub" / "a.txt").write_text("A")
    (f / "b.txt").write_text("B")
    assert sorted(client.upload_artifact(rid, f)) == ["d/b.txt", "d/sub/a.txt"]
    item = client.log_media(rid, "preview", swan_client.Image(np.zeros((3, 3, 3))), step=4)
    assert client.get_media(rid, "preview")[0]["path"] == item["path"]
    assert client.download_artifact(rid, "d/sub/a.txt") == b"A"
    assert [r["run_id"] for r in client.list_runs(unique_name)] == [rid]
    assert client.openapi()["openapi"].startswith("3.")


class FlakyFront:
    """A real HTTP front before the live server that fails chosen requests, then forwards the rest.

    `fail(method, path_part, *answers)` queues answers for the next requests whose method matches
    and whose path contains `path_part`, one answer per request:
      - an int status (503, 429...): answered at once, the server never sees the request;
      - "lost": forwarded (the server does the work), then answered 502, as when a gateway drops
        the reply, so the client must resend what the server already has.
    Every request is noted in `seen` as (arrival time, method, path, answered status, body)."""

    def __init__(self, upstream: str, retry_after: int = 1):
        self.upstream = upstream
        self.retry_after = retry_after
        self.seen: list[tuple[float, str, str, int, bytes]] = []
        self._planned: list[list] = []
        self._lock = threading.Lock()
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(size + 2)[:size]
                        if not size:
                            return data
                        data += chunk
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, body: bytes, headers: dict) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                arrived = time.monotonic()
                body = self._body()
                planned = front._take(self.command, self.path)
                if isinstance(planned, int):
                    status = planned
                    extra = {"Retry-After": str(front.retry_after)} if status == 429 else {}
                    reply = json.dumps({"error": {"code": "INJECTED", "message": f"front says {status}"}}).encode()
                    self._answer(status, reply, {"Content-Type": "application/json", **extra})
                else:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("host", "content-length", "transfer-encoding", "connection")}
                    resp = requests.request(self.command, front.upstream + self.path, data=body, headers=headers,
                                            timeout=120)
                    status = 502 if planned == "lost" else resp.status_code
                    reply = b"bad gateway" if planned == "lost" else resp.content
                    ctype = "text/plain" if planned == "lost" else resp.headers.get("Content-Type", "text/plain")
                    self._answer(status, reply, {"Content-Type": ctype})
                with front._lock:
                    front.seen.append((arrived, self.command, self.path, status, body))

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def fail(self, method: str, path_part: str, *answers) -> None:
        with self._lock:
            self._planned.append([method, path_part, list(answers)])

    def _take(self, method: str, path: str):
        with self._lock:
            for plan in self._planned:
                if plan[0] == method and plan[1] in path and plan[2]:
                    return plan[2].pop(0)
        return None

    def unused(self) -> list:
        with self._lock:
            return [plan for plan in self._planned if plan[2]]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture()
def flaky_front(server):
    front = FlakyFront(server.url)
    yield front
    front.close()


def _batch_keys(front: FlakyFront) -> list[str]:
    """The idempotency keys of the batch requests the front saw, in order (resends included)."""
    return [json.loads(body)["idempotency_key"] for _, method, path, _, body in front.seen
            if method == "POST" and path.endswith("/batches")]


def _retry_gaps(front: FlakyFront, status: int) -> list[float]:
    """Seconds between each answer `status` and the next request of the same method and path."""
    seen = sorted(front.seen)
    gaps = []
    for i, (t, method, path, answered, _) in enumerate(seen):
        if answered == status:
            gaps.append(next(t2 - t for t2, m2, p2, _, _ in seen[i + 1:] if (m2, p2) == (method, path)))
    return gaps


def test_client_retries_5xx_and_429_with_backoff_and_lands_each_point_once(server, client, flaky_front, unique_name):
    rid = client.create_run(unique_name)["run_id"]
    flaky_front.fail("POST", "/batches", 503, 429, "lost", 500, 504)
    through_front = Client(flaky_front.url, retries=5)
    points = ((k, s, 1_000 + s, s * 0.25) for s in range(30_000) for k in ("a", "b"))
    assert through_front.log_points(rid, points, chunk_size=20_000, idempotency_prefix="retry") == 60_000
    assert flaky_front.unused() == []
    # three chunks, each sent until the server answered; a resend keeps its idempotency key
    assert _batch_keys(flaky_front) == ["retry:0"] * 6 + ["retry:1", "retry:2"]
    assert min(_retry_gaps(flaky_front, 429)) >= flaky_front.retry_after  # Retry-After is honoured
    for key in ("a", "b"):
        hist = client.get_history(rid, key)
        assert hist["step"] == list(range(30_000)) and hist["value"] == [s * 0.25 for s in range(30_000)]
    # past its retries the client gives up with the server's status, marked as transient
    flaky_front.fail("GET", "/runs/", 503, 503)
    with pytest.raises(SwanApiError) as err:
        Client(flaky_front.url, retries=1).get_run(rid)
    assert err.value.status == 503 and err.value.transient
    flaky_front.fail("GET", "/runs/", 400)  # a 4xx other than 429 is final: not retried
    with pytest.raises(SwanApiError) as err:
        Client(flaky_front.url, retries=5).get_run(rid)
    assert err.value.status == 400 and not err.value.transient


def test_sdk_run_through_5xx_and_429_lands_everything_once(server, client, flaky_front, tmp_path, unique_name):
    # every kind of request fails at first: the run's creation, the media upload, the batches
    # (one answered 429 with Retry-After, one lost after the server stored it) and the final status
    flaky_front.fail("POST", "/api/v1/runs", 503)
    flaky_front.fail("PUT", "/artifacts/media/", 502)
    flaky_front.fail("POST", "/batches", 503, 429, "lost", 503)
    flaky_front.fail("PATCH", "/api/v1/runs/", 503, 500)
    run = swan_client.init(project=unique_name, tracking_uri=flaky_front.url, dir=tmp_path / "runs",
                           monitor=False, capture_console=False, flush_interval=0.05, batch_points=1_000)
    picture = swan_client.Image(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    run.log({"pic": picture}, step=0)
    for step in range(5_000):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 5_000}, step=step)
    result = run.finish(timeout=60)
    assert result.uploaded and result.problem is None, str(result)
    assert flaky_front.unused() == []
    assert run.uploader.failures >= 7 and not run.uploader.refused  # seen, retried, none skipped
    assert min(_retry_gaps(flaky_front, 429)) >= flaky_front.retry_after  # Retry-After is honoured
    keys = _batch_keys(flaky_front)
    assert len(set(keys)) == len(run.records) - 2  # every batch record (not the run and the finish ones)
    assert len(keys) == len(set(keys)) + 4  # the failed ones sent again, with the same key
    got = client.get_run(run.run_id)
    assert got["status"] == "FINISHED"
    for key, value in (("loss", lambda s: 1.0 / (s + 1)), ("acc", lambda s: s / 5_000)):
        hist = client.get_history(run.run_id, key)
        assert hist["step"] == list(range(5_000)) and hist["value"] == [value(s) for s in range(5_000)], key
    media = client.get_media(run.run_id)
    assert len(media) == 1 and client.download_artifact(run.run_id, media[0]["path"]) == picture.encode()


def test_retry_after_header_forms():
    assert retry_after_seconds("2") == 2.0 and retry_after_seconds("0.5") == 0.5
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8 <= retry_after_seconds(in_ten) <= 10
    assert retry_after_seconds(email.utils.formatdate(time.time() - 60, usegmt=True)) == 0.0  # a date passed
    assert retry_after_seconds("99999999") == MAX_RETRY_AFTER  # a server's mistake does not park the run
    for unreadable in (None, "", "soon", "nan", "inf"):
        assert retry_after_seconds(unreadable) is None, unreadable


@pytest.fixture()
def cuttable_front(server):
    """A TCP front before the live server that a test can cut (connections refused and reset)."""
    proxy = TcpProxy("127.0.0.1", server.port)
    yield proxy
    proxy.close()


def test_memory_stays_bounded_while_the_server_is_unreachable(server, client, cuttable_front, tmp_path, unique_name):
    cuttable_front.cut()
    run = swan_client.init(project=unique_name, tracking_uri=f"http://127.0.0.1:{cuttable_front.port}",
                           dir=tmp_path / "runs", monitor=False, capture_console=False, batch_points=1_000)
    # The writer thread normally seals the buffer every `batch_points`; stopped, it stands for a
    # writer that fell behind, so only log()'s own seal at the hard cap keeps memory bounded.
    run.writer.stop()
    hard_cap = run._hard_cap
    names = [f"m{k}" for k in range(5)]
    steps = 100_000  # 500,000 points: 125 times the hard cap
    largest_buffer = 0
    for step in range(steps):
        run.log({name: step + k / 10 for k, name in enumerate(names)}, step=step)
        largest_buffer = max(largest_buffer, len(run._buf.keys))
    assert largest_buffer < hard_cap == 4_000
    assert run.uploader.acked == 0 and run.uploader.failures > 0  # nothing reached the server
    assert len(run.records) >= 1 + steps * len(names) // hard_cap  # the rest is on disk, not in memory
    cuttable_front.restore()  # the server is back
    result = run.finish(timeout=180)
    assert result.uploaded and result.pending_points == 0, str(result)
    for k, name in enumerate(names):
        hist = client.get_history(run.run_id, name)
        assert hist["step"] == list(range(steps)) and hist["value"] == [s + k / 10 for s in range(steps)], name
    assert client.get_run(run.run_id)["status"] == "FINISHED"


def test_finish_tries_at_once_when_the_server_is_back(server, client, cuttable_front, tmp_path, unique_name):
    cuttable_front.cut()
    run = swan_client.init(project=unique_name, tracking_uri=f"http://127.0.0.1:{cuttable_front.port}",
                           dir=tmp_path / "runs", monitor=False, capture_console=False, flush_interval=0.05)
    run.log({"x": 1.0}, step=0)
    deadline = time.monotonic() + 30
    while run.uploader.failures < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.uploader.failures >= 6  # its backoff is now up to 6.4 s (random, full jitter)
    cuttable_front.restore()
    started = time.monotonic()
    result = run.finish(timeout=30)
    assert result.uploaded, str(result)
    # finish() ends the backoff in progress rather than letting the caller wait it out (a wait
    # drawn in [0, 6.4] s: one left to run out would exceed a second about 5 times in 6)
    assert time.monotonic() - started < 1.0
    assert client.get_history(run.run_id, "x")["value"] == [1.0]
