"""How fast is this machine right now? A fixed piece of work timed before and after each
server's run, recorded beside the figures.

The development machines are shared VMs whose speed moves by up to half between runs minutes
apart (docs/SCALING.md): a change of that size in a benchmark figure says nothing about the code
unless the machine's own speed is known for the same minutes. The work is what Swan's ingestion
leans on: SQLite inserts into a table shaped like the row-per-point `metric_points` of schema
revisions before 0007 (in memory, so no disk; kept as it was so that figures stay comparable
across sessions), and a plain interpreter loop.

    python bench/calibrate.py       # prints one JSON line
"""

from __future__ import annotations

import json
import random
import sqlite3
import time

ROWS = 100_000
LOOP = 3_000_000


def machine_speed(repeats: int = 3) -> dict:
    """Best of `repeats`: milliseconds for ROWS SQLite inserts and for a LOOP-step Python loop."""
    rnd = random.Random(0)
    rows = [(k, step, 1_700_000_000_000 + step, rnd.random(), 0) for step in range(ROWS // 10) for k in range(10)]
    inserts, loops = [], []
    for _ in range(repeats):
        con = sqlite3.connect(":memory:")
        con.execute("CREATE TABLE p (s INTEGER, st INTEGER, ts INTEGER, v REAL, n INTEGER, "
                    "PRIMARY KEY (s, st, ts, v, n)) WITHOUT ROWID")
        t = time.perf_counter()
        con.executemany("INSERT INTO p VALUES (?, ?, ?, ?, ?)", rows)
        con.commit()
        inserts.append(time.perf_counter() - t)
        con.close()
        t = time.perf_counter()
        for _ in range(LOOP):
            pass
        loops.append(time.perf_counter() - t)
    return {"sqlite_100k_inserts_ms": round(min(inserts) * 1000, 1), "python_3m_loop_ms": round(min(loops) * 1000, 1)}


if __name__ == "__main__":
    print(json.dumps(machine_speed()))
