"""The whole test suite in three lanes at once: the QEMU guests of tests/vm (one CPU-bound emulator at a time);
everything else on this interpreter (fake roots, then the real-kernel tests, in one process so that only one
test at a time touches this machine's swap and sysctls); and the unit, plans and cli suites on every other
supported Python (tools/pythons.py: fake roots only). On a two-core machine this cuts the wall time by more
than half; each lane is a plain command, so `pytest tests/vm`, `pytest --ignore=tests/vm` or
`python tools/pythons.py` reproduce any one alone.

    .venv/bin/python tools/run_tests.py [PYTEST OPTIONS]   # options go to every lane
    .venv/bin/python tools/run_tests.py tests/unit ...     # given paths: one plain pytest run of them

The side lanes write to logs that are printed when the main lane has finished. The exit status is the first
failing lane's (main, then guests, then other Pythons), else 0."""

from __future__ import annotations

import contextlib
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
    side = {
        f"{VM_LANE} (QEMU guests)": pytest(VM_LANE, *argv),
        "other Pythons": [sys.executable, str(ROOT / "tools/pythons.py"), *argv],
    }
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        logs = {name: stack.enter_context(tempfile.TemporaryFile("w+")) for name in side}
        procs = {
            name: subprocess.Popen(cmd, cwd=ROOT, stdout=logs[name], stderr=subprocess.STDOUT, start_new_session=True)
            for name, cmd in side.items()
        }
        main_lane = subprocess.Popen(pytest("--ignore", VM_LANE, *argv), cwd=ROOT, start_new_session=True)
        everyone = [main_lane, *procs.values()]
        try:
            codes = {"main": main_lane.wait()}
            for name, proc in procs.items():
                if proc.poll() is None:
                    print(f"\n--- waiting for the {name} lane ---", flush=True)
                codes[name] = proc.wait()
        except KeyboardInterrupt:
            for proc in everyone:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGINT)
            for proc in everyone:
                proc.wait()
            return 130
        for name, log in logs.items():
            log.seek(0)
            print(f"\n--- {name} lane (ran beside the others) ---", flush=True)
            sys.stdout.write(log.read())
    summary = ", ".join(f"{name} exit {rc}" for name, rc in codes.items())
    print(f"\n--- all lanes done in {time.monotonic() - started:.0f} s: {summary} ---", flush=True)
    failed = [rc for rc in codes.values() if rc not in (0, NO_TESTS)]
    if failed:
        return failed[0]
    return NO_TESTS if all(rc == NO_TESTS for rc in codes.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
