"""Build hook: `pip install .` builds the dashboard (`ui/`, with npm) and ships it inside the
package as `swan_server/ui_dist`. Everything else is declared in pyproject.toml.

* Needs Node.js 20+ and npm on PATH; packages come from the npm registry through
  `ui/package-lock.json` (`npm ci`), nothing from a CDN.
* Skips the build when `ui/dist` is already up to date with the sources (a stamp of their hash).
* Without npm it uses an existing `ui/dist` if there is one, and otherwise stops with a clear
  message. `SWAN_SKIP_UI_BUILD=1` installs the server without the dashboard (the APIs work; `/`
  explains how to build it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
UI = ROOT / "ui"
DIST = UI / "dist"
STAMP = DIST / ".build-hash"


def _sources_hash() -> str:
    h = hashlib.sha256()
    files = [UI / n for n in ("package.json", "package-lock.json", "index.html", "vite.config.ts", "tsconfig.json")]
    files += sorted(p for p in (UI / "src").rglob("*") if p.is_file())
    for p in files:
        if p.is_file():
            h.update(str(p.relative_to(UI)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def build_ui() -> Path | None:
    if not (UI / "package.json").is_file():
        return DIST if (DIST / "index.html").is_file() else None
    if os.environ.get("SWAN_SKIP_UI_BUILD") == "1":
        print("swan: SWAN_SKIP_UI_BUILD=1, not building the dashboard", file=sys.stderr)
        return DIST if (DIST / "index.html").is_file() else None
    digest = _sources_hash()
    if STAMP.is_file() and STAMP.read_text().strip() == digest and (DIST / "index.html").is_file():
        return DIST
    npm = shutil.which("npm")
    if npm is None:
        if (DIST / "index.html").is_file():
            print("swan: npm not found; using the dashboard already built in ui/dist", file=sys.stderr)
            return DIST
        raise SystemExit(
            "swan: building the dashboard needs Node.js 20+ and npm (not found on PATH).\n"
            "Install them (e.g. `apt-get install nodejs npm`) and run `pip install .` again, or set "
            "SWAN_SKIP_UI_BUILD=1 to install the server without the dashboard."
        )
    lock_stamp = UI / "node_modules" / ".swan-lock-hash"
    lock_hash = hashlib.sha256((UI / "package-lock.json").read_bytes()).hexdigest()
    if not (lock_stamp.is_file() and lock_stamp.read_text().strip() == lock_hash):
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=UI, check=True)
        lock_stamp.write_text(lock_hash)
    subprocess.run([npm, "run", "build"], cwd=UI, check=True)
    STAMP.write_text(digest)
    return DIST


class BuildPyWithUI(build_py):
    def run(self):
        super().run()
        dist = build_ui()
        if dist is None or getattr(self, "editable_mode", False):
            return  # an editable install serves ui/dist from the checkout
        target = Path(self.build_lib) / "swan_server" / "ui_dist"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(dist, target, ignore=shutil.ignore_patterns(".build-hash"))


setup(cmdclass={"build_py": BuildPyWithUI})
