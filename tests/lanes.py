"""A pytest plugin (loaded from pyproject's addopts): `pytest` with no paths runs the whole suite in three lanes
at once. This process runs everything but tests/vm (fake roots, then the real-kernel tests, one at a time); the
QEMU guests of tests/vm and the unit, plans and cli suites on every other Python (tools/pythons.py) run beside
it as child processes, and their output and exit status join this run's at its end. On a two-core machine
that cuts the wall time by more than half. Given paths (`pytest tests/unit`), or inside a lane, pytest runs
just what it is given. Every run keeps its temporary directories on tmpfs (see _basetemp_in_memory)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
VM_LANE = ROOT / "tests/vm"
ENV = "SWAPCTL_TEST_LANE"  # set in the lanes' environment: they never start lanes of their own
_lanes: dict[str, tuple[subprocess.Popen[bytes], Any]] = {}


def _whole_suite(config: pytest.Config) -> bool:
    args = config.invocation_params.args
    paths = [a for a in args if not a.startswith("-") and (ROOT / a.split("::")[0]).exists()]
    return not paths and not os.environ.get(ENV) and not config.option.collectonly


def _options(config: pytest.Config) -> list[str]:
    """The invocation's own options, passed on to every lane (-k, -x, -q, ...)."""
    return [str(a) for a in config.invocation_params.args]


_BASETEMP = pytest.StashKey[str]()


def _on_tmpfs(path: str) -> bool:
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
            return any(f[1] == path and f[2] == "tmpfs" for f in (line.split() for line in fh) if len(f) > 2)
    except OSError:
        return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    _basetemp_in_memory(config)
    _start_lanes(config)


def _basetemp_in_memory(config: pytest.Config) -> None:
    """Pytest's temporary directories on tmpfs (/dev/shm) unless --basetemp says where. The fake-root trees are
    thousands of small files that swapctl writes with fsync, which on this VM's disk took more than half of a
    file's time (tests/cli/test_hostile_files.py: 92 s on the disk, 41 s on tmpfs). Nothing the real kernel
    swaps to lives there: tests/system's swap files are in a root-only directory under /var/tmp, on the disk.
    Removed again when the run ends."""
    if config.option.basetemp is not None or not _on_tmpfs("/dev/shm") or not os.access("/dev/shm", os.W_OK):
        return
    _remove_stale("/dev/shm")
    config.option.basetemp = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir="/dev/shm")
    config.stash[_BASETEMP] = config.option.basetemp


PREFIX = "swapctl-pytest-"


def _remove_stale(where: str) -> None:
    """The directories of runs that were killed (a timeout, Ctrl-C twice): their pid, in the name, is gone."""
    for name in os.listdir(where):
        pid = name[len(PREFIX) :].split("-", 1)[0]
        if not name.startswith(PREFIX) or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(where, name), ignore_errors=True)
        except PermissionError:
            pass  # another user's run, alive


def pytest_unconfigure(config: pytest.Config) -> None:
    where = config.stash.get(_BASETEMP, None)
    if where is not None:
        shutil.rmtree(where, ignore_errors=True)


def _start_lanes(config: pytest.Config) -> None:
    if not _whole_suite(config) or _lanes:
        return
    config.stash[_ACTIVE] = True
    env = {**os.environ, ENV: "1"}
    opts = _options(config)
    for name, argv in (
        ("tests/vm (QEMU guests)", [sys.executable, "-m", "pytest", str(VM_LANE), *opts]),
        ("other Pythons", [sys.executable, str(ROOT / "tools/pythons.py"), *opts]),
    ):
        log = tempfile.TemporaryFile("w+")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _lanes[name] = (proc, log)


_ACTIVE = pytest.StashKey[bool]()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if config.stash.get(_ACTIVE, False) and collection_path == VM_LANE:
        return True  # its own lane runs it
    return None


NO_TESTS = 5  # a lane whose tests were all deselected (-k): not a failure


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _lanes:
        return
    codes = {}
    for name, (proc, log) in _lanes.items():
        if proc.poll() is None:
            print(f"\n--- waiting for the {name} lane ---", flush=True)
        try:
            codes[name] = proc.wait()
        except KeyboardInterrupt:
            for p, _ in _lanes.values():
                if p.poll() is None:
                    os.killpg(p.pid, 2)
            raise
        log.seek(0)
        print(f"\n--- {name} lane (ran beside this one) ---", flush=True)
        sys.stdout.write(log.read())
        log.close()
    print("\n--- lanes: " + ", ".join(f"{n} exit {c}" for n, c in codes.items()) + " ---", flush=True)
    failed = [c for c in codes.values() if c not in (0, NO_TESTS)]
    if failed and session.exitstatus in (0, NO_TESTS):
        session.exitstatus = failed[0]
    elif session.exitstatus == NO_TESTS and any(c == 0 for c in codes.values()):
        session.exitstatus = 0
    _lanes.clear()
