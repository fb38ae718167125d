"""The unit, plans and cli suites on the other supported Pythons, each in a venv of its own (.venvs/3.X,
made or refreshed from pyproject.toml as needed). The interpreter running this is left out: the rest of the
suite runs on it. Interpreters come from pyenv (~/.pyenv/versions/3.X.*), else pythonX.Y on PATH; one that
is missing is reported as such.

    .venv/bin/python tools/pythons.py [PYTEST OPTIONS]

3.10, 3.12 and 3.13 run unit and plans only (see BETWEEN). Three corpora run only on the main interpreter (see
CORPORA): the red team's 2,400 inputs, the hostile files and the terminal widths. They drive swapctl's own
logic, which these runs already cover on each version, and CI's time is better spent on the rest.
Prints a table of version, result and time; exits with the first failing run's status."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED = ("3.9", "3.10", "3.11", "3.12", "3.13")
# Left to the main interpreter: the three corpora that drive swapctl's own logic through thousands of
# inputs and terminal sizes (close to four minutes a Python on two cores beside the other lanes); every
# other unit, plans and cli test runs here.
CORPORA = ["tests/cli/test_hostile_redteam.py", "tests/cli/test_hostile_files.py", "tests/cli/test_terminal_widths.py"]
SUITES = ["tests/unit", "tests/plans", "tests/cli", *(f"--ignore={c}" for c in CORPORA)]
# The oldest gets every suite; the others get unit and plans (the language and the standard library they use),
# and the cli suite only through the oldest and the main interpreter (3.11): the same typer and click are installed
# on all of them, and CI's fifteen minutes go further that way (a cli suite is about two minutes a Python).
BETWEEN = ("3.10", "3.12", "3.13")
BETWEEN_SUITES = ["tests/unit", "tests/plans"]


def find(minor: str) -> str | None:
    """An interpreter of this minor version: pyenv's newest, else one on PATH."""
    found = sorted(
        glob.glob(os.path.expanduser(f"~/.pyenv/versions/{minor}.*/bin/python{minor}")),
        key=lambda p: [int(x) for x in Path(p).parents[1].name.split(".") if x.isdigit()],
    )
    return found[-1] if found else shutil.which(f"python{minor}")


def recipe() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]


def venv(minor: str, python: str) -> Path:
    """.venvs/MINOR with the project installed (editable, with what these suites need: the test-core
    extra), made again when pyproject.toml has changed since."""
    where = ROOT / ".venvs" / minor
    stamp = where / ".swapctl-recipe"
    if stamp.exists() and stamp.read_text() == recipe() and (where / "bin/python").exists():
        return where
    shutil.rmtree(where, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(where)], check=True)
    subprocess.run(
        [
            str(where / "bin/python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-e",
            f"{ROOT}[test-core]",
        ],
        check=True,
    )
    stamp.write_text(recipe())
    return where


def main(argv: list[str]) -> int:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    rows, failed = [], []
    for minor in SUPPORTED:
        if minor == here:
            continue
        python = find(minor)
        if python is None:
            rows.append((minor, "", "no interpreter found", ""))
            continue
        print(f"--- Python {minor} ({python}) ---", flush=True)
        started = time.monotonic()
        try:
            where = venv(minor, python)
        except subprocess.CalledProcessError as exc:
            rows.append((minor, "", f"venv failed (exit {exc.returncode})", ""))
            failed.append(exc.returncode or 1)
            continue
        suites = BETWEEN_SUITES if minor in BETWEEN else SUITES
        rc = subprocess.call([str(where / "bin/python"), "-m", "pytest", "-q", *suites, *argv], cwd=ROOT)
        what = "unit+plans" if minor in BETWEEN else "unit+plans+cli"
        rows.append(
            (minor, what, "passed" if rc == 0 else f"FAILED (exit {rc})", f"{time.monotonic() - started:.0f} s")
        )
        if rc:
            failed.append(rc)
    print("\nPython  suites           result                 time")
    for minor, what, result, took in rows:
        print(f"{minor:<7} {what:<16} {result:<22} {took}")
    return failed[0] if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
