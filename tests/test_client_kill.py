"""The server is SIGKILLed in the middle of a 100,000-point run and restarted on the same port and
database: the SDK keeps logging, spools, resends with the same idempotency keys, and every point
lands exactly once."""

import time

import sqlalchemy as sa

import swan_client
from swan_client.api import Client
from tests.server import LiveServer
from tests.stored_points import stored_points

KEYS = 10
STEPS = 10_000  # 10 keys x 10,000 steps = 100,000 points


def test_sigkill_mid_run_every_point_lands_exactly_once(tmp_path):
    home = tmp_path / "home"
    srv = LiveServer(home).start()
    restarted = None
    try:
        run = swan_client.init(project="kill-test", name="survivor", tracking_uri=srv.url, dir=tmp_path / "runs",
                               monitor=False, capture_console=True, flush_interval=0.02, batch_points=2_000,
                               finish_timeout=180)
        names = [f"m{k}" for k in range(KEYS)]
        killed_at = restarted_at = None
        for step in range(STEPS):
            run.log({n: step * 1000.0 + i for i, n in enumerate(names)}, step=step)
            if step % 250 == 0:
                print(f"step {step}")
                time.sleep(0.02)  # let the uploader work while the loop goes on
            if step == STEPS * 3 // 10:
                acked_before_kill = run.uploader.acked
                srv.kill()  # SIGKILL, batches in flight
                killed_at = step
            if step == STEPS * 6 // 10:
                srv.stop()
                restarted = LiveServer(home, port=srv.port).start()  # same port, same database
                restarted_at = step
        result = run.finish()
        assert killed_at and restarted_at
        assert result.uploaded, str(result)
        assert run.uploader.failures > 0  # the outage was seen and retried
        assert 0 < acked_before_kill < len(run.records)

        client = Client(restarted.url)
        for i, name in enumerate(names):
            hist = client.get_history(run.run_id, name)
            assert hist["step"] == list(range(STEPS)), name
            assert hist["value"] == [s * 1000.0 + i for s in range(STEPS)], name
        got = client.get_run(run.run_id)
        assert got["status"] == "FINISHED"
        console = client.get_console(run.run_id)
        steps_printed = [m for m in console["message"] if m.startswith("step ")]
        assert steps_printed == [f"step {s}" for s in range(0, STEPS, 250)]
        assert console["line"] == sorted(set(console["line"]))

        # exactly once in the store itself: 100,000 point rows and summaries that counted each once
        engine = sa.create_engine(f"sqlite:///{home / 'swan.db'}")
        with engine.connect() as conn:
            run_pk = conn.execute(sa.text("SELECT id FROM runs WHERE run_uuid = :r"), {"r": run.run_id}).scalar_one()
            series = conn.execute(sa.text(
                "SELECT id, key, point_count FROM metric_series WHERE run_id = :r AND key LIKE 'm%'"), {"r": run_pk}).all()
            assert sorted(s.key for s in series) == sorted(names)
            assert all(s.point_count == STEPS for s in series)
            points = stored_points(conn, [s.id for s in series])
            assert sum(map(len, points.values())) == KEYS * STEPS
            assert all(len(set(p)) == STEPS and {x[0] for x in p} == set(range(STEPS)) for p in points.values())
        engine.dispose()
    finally:
        srv.stop()
        if restarted is not None:
            restarted.stop()
