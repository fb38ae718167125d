"""The whole test suite in two lanes at once: the QEMU guests of tests/vm (one CPU-bound emulator at a time)
beside everything else (fake roots, then the real-kernel tests, in one process so that only one test at a time
touches this machine's swap and sysctls). On a two-core machine this halves the wall time; each lane is a
plain pytest run, so `pytest tests/vm` or `pytest --ignore=tests/vm` reproduce either one alone.

    .venv/bin/python tools/run_tests.py [PYTEST OPTIONS]   # options go to both lanes
    .venv/bin/python tools/run_tests.py tests/unit ...     # given paths: one plain pytest run of them

The guests' lane writes to a log that is printed when the other lane has finished. The exit status is the
failing lane's (the other lane's first when both fail), else 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VM_LANE = "tests/vm"
NO_TESTS = 5  # pytest: nothing collected (every test deselected by -k or -m): not a failure of the suite


def pytest(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", *args]


def main(argv: list[str]) -> int:
    if any((ROOT / a.split("::")[0]).exists() for a in argv if not a.startswith("-")):  # paths or node ids
        return subprocess.call(pytest(*argv), cwd=ROOT)
    with tempfile.NamedTemporaryFile("w+", prefix="swapctl-vm-lane-", suffix=".log") as log:
        vm = subprocess.Popen(
            pytest(VM_LANE, *argv), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        main_lane = subprocess.Popen(pytest("--ignore", VM_LANE, *argv), cwd=ROOT, start_new_session=True)
        started = time.monotonic()
        try:
            main_rc = main_lane.wait()
            if vm.poll() is None:
                print(f"\n--- waiting for the {VM_LANE} lane (QEMU guests) ---", flush=True)
            vm_rc = vm.wait()
        except KeyboardInterrupt:
            for proc in (main_lane, vm):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGINT)
            for proc in (main_lane, vm):
                proc.wait()
            return 130
        log.seek(0)
        print(f"\n--- {VM_LANE} lane (ran beside the others) ---", flush=True)
        sys.stdout.write(log.read())
    print(
        f"\n--- both lanes done in {time.monotonic() - started:.0f} s: {VM_LANE} exit {vm_rc}, "
        f"the rest exit {main_rc} ---",
        flush=True,
    )
    failed = [rc for rc in (main_rc, vm_rc) if rc not in (0, NO_TESTS)]
    if failed:
        return failed[0]
    return NO_TESTS if main_rc == vm_rc == NO_TESTS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
