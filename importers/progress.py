"""The progress display of `swan import` and its closing summary."""

from __future__ import annotations

import sys
import threading


class Progress:
    """A rich progress bar (bytes of source read, runs done) on a terminal; one line per run
    otherwise (logs, CI)."""

    def __init__(self, console=None, live: bool | None = None):
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal if live is None else live
        self._bar = None
        self._bytes_task = None
        self._runs_task = None
        self._lock = threading.Lock()
        self.n_runs = 0
        self.done = 0
        self._read = 0
        self._total_bytes = 0

    def start(self, n_runs: int, n_bytes: int) -> None:
        self.n_runs = n_runs
        if not self.live:
            self.console.print(f"Importing {n_runs} run(s)" + (f", {_size(n_bytes)} of source" if n_bytes else ""),
                               soft_wrap=True)
            return
        from rich.progress import (
            BarColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        columns = [TextColumn("[bold]{task.description}"), BarColumn()]
        columns += [TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TimeRemainingColumn()]
        self._bar = RichProgress(*columns, console=self.console, transient=False)
        self._bar.start()
        if n_bytes:
            self._bytes_task = self._bar.add_task("read", total=n_bytes, detail=f"0 B/{_size(n_bytes)}")
            self._total_bytes = n_bytes
        self._runs_task = self._bar.add_task("runs", total=n_runs, detail="")

    def advance_bytes(self, n: int) -> None:
        if self._bar is not None and self._bytes_task is not None and n:
            with self._lock:
                self._read += n
                self._bar.update(self._bytes_task, advance=n,
                                 detail=f"{_size(self._read)}/{_size(self._total_bytes)}")

    def run_started(self, name: str) -> None:
        if self._bar is not None:
            self._bar.update(self._runs_task, detail=f"{self.done}/{self.n_runs} {name[:60]}")

    def run_done(self, result) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(self._runs_task, advance=1, detail=f"{self.done}/{self.n_runs}")
            return
        what = f"{result.points:,} points, {result.media:,} media, {result.console:,} lines, {result.artifacts:,} files"
        state = "read, writing" if result.state == "imported" else result.state
        line = f"[{self.done}/{self.n_runs}] {result.name or result.source_id}: {state}"
        if result.state in ("imported", "would import"):
            line += f" ({what})"
        if result.error:
            line += f": {result.error}"
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def print_summary(summary, console=None) -> None:
    """Runs, points, media, console lines, artifacts, and everything skipped, with the reason.
    Lines other than the table are never wrapped (soft_wrap), so each one can be searched for
    whole in a log, however long its paths are."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console(file=sys.stdout)
        if not console.is_terminal:
            console = Console(file=sys.stdout, width=200)
    verb = "Would import" if summary.dry_run else "Imported"
    n_new = summary.count("would import" if summary.dry_run else "imported")
    head = (f"{verb} {n_new} run(s) from {summary.source}"
            + (f" into project '{summary.project}'" if summary.project else "")
            + f" in {summary.seconds:.1f} s")
    console.print(head, markup=False, highlight=False, soft_wrap=True)
    if len(summary.runs) <= 50:
        table = Table(show_edge=False, pad_edge=False)
        for col in ("run", "state", "points", "media", "console", "artifacts", "params", "run id"):
            table.add_column(col, justify="right" if col in ("points", "media", "console", "artifacts", "params") else "left",
                             overflow="fold")
        for r in summary.runs:
            table.add_row(r.name or r.source_id, r.state, f"{r.points:,}", f"{r.media:,}", f"{r.console:,}",
                          f"{r.artifacts:,}", f"{r.params:,}", r.run_id or "")
        console.print(table)
    done = summary.count("already imported")
    failed = summary.count("failed")
    console.print(
        f"Totals: {summary.total('points'):,} points, {summary.total('media'):,} media, "
        f"{summary.total('console'):,} console lines, {summary.total('artifacts'):,} artifact files, "
        f"{summary.total('params'):,} params; {done} run(s) already imported (unchanged), {failed} failed",
        markup=False, highlight=False, soft_wrap=True,
    )
    skipped = summary.skipped()
    if skipped:
        console.print(f"Skipped ({sum(n for _, _, n, _ in skipped):,} item(s)):", markup=False, highlight=False, soft_wrap=True)
        for run, reason, n, where in skipped:
            console.print(f"  {run}: {n:,} × {reason}" + (f" [{where}]" if where else ""), markup=False,
                          highlight=False, soft_wrap=True)
    else:
        console.print("Skipped: nothing", markup=False, highlight=False, soft_wrap=True)
    for r in summary.runs:
        if r.error:
            console.print(f"Failed: {r.name or r.source_id}: {r.error}", markup=False, highlight=False, soft_wrap=True)
