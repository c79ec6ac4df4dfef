"""The container's entrypoint, run on the host as CI has no Docker engine: the same script with the
environment a container gets (SWAN_HOME, a PostgreSQL URI, an S3 bucket on moto), probed with the
Dockerfile's own HEALTHCHECK command. Plus the Dockerfile's and docker-compose.yml's promises."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.databases import TempDatabase
from tests.server import free_port

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parent.parent
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
DOCKERFILE = (REPO / "Dockerfile").read_text()


def _healthcheck_command() -> str:
    """The shell command of the Dockerfile's HEALTHCHECK instruction."""
    text = DOCKERFILE.replace("\\\n", " ")
    line = next(ln for ln in text.splitlines() if ln.startswith("HEALTHCHECK"))
    return line.split(" CMD ", 1)[1].strip()


def _container_env(tmp: Path, **extra) -> dict:
    """What the image sets (ENV lines), on the host: python's bin dir on PATH for `swan`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWAN_", "AWS_", "PROMETHEUS_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.update(SWAN_HOME=str(tmp / "data"), SWAN_HOST="127.0.0.1", SWAN_PORT=str(free_port()),
               SWAN_BIN=f"{sys.executable} -m swan_client.cli")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _healthy(env: dict) -> bool:
    return subprocess.run(["sh", "-c", _healthcheck_command()], env=env, capture_output=True, timeout=30).returncode == 0


def test_entrypoint_serves_on_postgresql_and_s3_and_passes_the_healthcheck(tmp_path, moto_s3):
    from mlflow import MlflowClient

    db = TempDatabase("postgresql").create()
    bucket = f"deploy-{uuid.uuid4().hex[:8]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    env = _container_env(tmp_path, SWAN_BACKEND_STORE_URI=db.uri, SWAN_ARTIFACTS_DESTINATION=f"s3://{bucket}/artifacts",
                         SWAN_WORKERS=2, SWAN_LOG_FORMAT="json", **moto_s3.env)
    assert not _healthy(env)  # nothing listens yet: the check can fail
    log = open(tmp_path / "entrypoint.log", "wb")
    proc = subprocess.Popen(["sh", str(ENTRYPOINT)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd=tmp_path)
    try:
        deadline = time.time() + 90
        while not _healthy(env):
            assert proc.poll() is None, (tmp_path / "entrypoint.log").read_text()
            assert time.time() < deadline, "no healthy server"
            time.sleep(0.5)
        url = f"http://127.0.0.1:{env['SWAN_PORT']}"
        client = MlflowClient(url)
        exp = client.create_experiment("deployed")
        run = client.create_run(exp).info.run_id
        client.log_metric(run, "loss", 0.5, step=1)
        f = tmp_path / "model.txt"
        f.write_text("weights")
        client.log_artifact(run, str(f))
        keys = [o["Key"] for o in moto_s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert f"artifacts/{exp}/{run}/artifacts/model.txt" in keys
        assert (Path(env["SWAN_HOME"]) / "admin_api_key").is_file()  # the data folder is SWAN_HOME
        import requests

        assert requests.get(url + "/metrics", timeout=10).status_code == 200
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # what `docker stop` sends
        # gunicorn lets idle keep-alive connections reach graceful_timeout (30 s) before it exits
        code = proc.wait(60)
        log.close()
        db.drop()
    assert code == 0, (tmp_path / "entrypoint.log").read_text()[-3000:]
    lines = [ln for ln in (tmp_path / "entrypoint.log").read_text().splitlines() if ln.startswith("{")]
    assert any('"gunicorn.error"' in ln for ln in lines)  # SWAN_LOG_FORMAT reached the server


def test_entrypoint_with_an_unreachable_database_exits_with_one_line(tmp_path):
    env = _container_env(tmp_path, SWAN_BACKEND_STORE_URI="postgresql://postgres@127.0.0.1:1/none",
                         SWAN_WAIT_FOR_DB=2)
    proc = subprocess.run(["sh", str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("swan: cannot prepare the database"), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_entrypoint_runs_operations_commands_and_reads_secret_files(tmp_path):
    secret = tmp_path / "db-uri"
    secret.write_text(f"sqlite:///{tmp_path / 'from-secret.db'}")
    env = _container_env(tmp_path, SWAN_BACKEND_STORE_URI_FILE=secret, SWAN_ARTIFACTS_DESTINATION=tmp_path / "art")
    proc = subprocess.run(["sh", str(ENTRYPOINT), "gc", "--older-than", "0s"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Removed 0 project(s) and 0 run(s)" in proc.stdout
    assert (tmp_path / "from-secret.db").is_file()  # the URI came from the file
    proc = subprocess.run(["sh", str(ENTRYPOINT), "sh", "-c", "echo $SWAN_HOME"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout.strip() == str(tmp_path / "data")
    env["SWAN_BACKEND_STORE_URI_FILE"] = str(tmp_path / "missing")
    proc = subprocess.run(["sh", str(ENTRYPOINT), "gc"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "cannot read SWAN_BACKEND_STORE_URI_FILE" in proc.stderr


def test_entrypoint_refuses_an_unwritable_data_folder(tmp_path):
    env = _container_env(tmp_path, SWAN_HOME="/proc/swan-cannot-be-here")
    proc = subprocess.run(["sh", str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "is not writable" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_dockerfile_promises():
    froms = re.findall(r"^FROM (\S+)(?: AS (\w+))?", DOCKERFILE, re.M)
    assert len(froms) >= 3 and froms[0][0].startswith("node:")  # UI with node, wheel, runtime
    ui_stage = DOCKERFILE.split("FROM ", 2)[1]
    assert "npm ci" in ui_stage and "npm run build" in ui_stage and "ui/package.json" in ui_stage
    runtime = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    assert "pip install" in runtime and ".whl" in runtime
    user = re.search(r"^USER (\S+)", runtime, re.M).group(1)
    assert user.split(":")[0] not in ("root", "0")
    assert re.search(r'^VOLUME \["/data"\]', runtime, re.M) and "SWAN_HOME=/data" in runtime
    assert "/health" in _healthcheck_command()
    assert "COPY docker/entrypoint.sh" in runtime and 'ENTRYPOINT ["swan-entrypoint"]' in runtime
    for path in re.findall(r"^COPY (?!--from)(\S+)", DOCKERFILE, re.M):
        if "*" not in path:
            assert (REPO / path).exists(), path


def test_compose_file_wires_swan_to_postgresql_and_minio():
    from click import Context

    from swan_server.cli import server

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"swan", "postgres", "minio"} <= set(services)
    swan = services["swan"]
    env = swan["environment"]
    known = {p.envvar for p in server.get_params(Context(server)) if getattr(p, "envvar", None)}
    known |= {"SWAN_WAIT_FOR_DB"}  # read by the entrypoint
    assert {k for k in env if k.startswith("SWAN_")} <= known
    assert "@postgres:5432/" in env["SWAN_BACKEND_STORE_URI"]
    assert env["SWAN_ARTIFACTS_DESTINATION"].startswith("s3://")
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000"
    assert env["AWS_SECRET_ACCESS_KEY"] == services["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
    assert swan["volumes"] == ["swan-data:/data"]
    assert set(swan["depends_on"]) >= {"postgres"}
    bucket = env["SWAN_ARTIFACTS_DESTINATION"].split("/")[2]
    assert any(bucket in " ".join(shlex.split(c)) for c in services["minio-bucket"]["command"])


def test_wheel_stage_packages_the_built_ui(tmp_path):
    """The Dockerfile's wheel stage, on the host: its COPY sources plus a ui/dist as the node stage
    leaves it, then its `pip wheel` line. The wheel carries the dashboard and the migrations."""
    import zipfile

    stage = DOCKERFILE.split("AS wheel", 1)[1].split("\nFROM ", 1)[0]
    src = tmp_path / "src"
    src.mkdir()
    for line in stage.splitlines():
        m = re.match(r"^COPY (?!--from)(.+) (\S+)$", line)
        if m:
            *sources, dest = line.split()[1:]
            for name in sources:
                target = src / (name if dest.endswith("/") or dest == "./" else dest)
                if (REPO / name).is_dir():
                    shutil.copytree(REPO / name, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(REPO / name, target)
    (src / "ui" / "dist" / "assets").mkdir(parents=True)
    (src / "ui" / "dist" / "index.html").write_text("<!doctype html><title>Swan</title>")
    (src / "ui" / "dist" / "assets" / "app-1234.js").write_text("console.log('swan')")
    wheels = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(wheels), "."], cwd=src, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = wheels.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"swan_server/ui_dist/index.html", "swan_server/ui_dist/assets/app-1234.js"} <= names
    assert "swan_server/db/migrations/env.py" in names and "docker/entrypoint.sh" not in names
    assert any(n.startswith("swan_server/db/migrations/versions/0001") for n in names)
