"""Signals held during undo and cleanup: a Ctrl-C at the terminal reaches the whole process group, so the tool
swapctl runs meanwhile (swapoff) must not die of it either."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import os, signal, sys, threading
from swapctl.system import signals
from swapctl.system.runner import Runner

# What the terminal does on Ctrl-C: SIGINT to every process of the foreground group, the child's too.
threading.Timer(0.3, lambda: os.killpg(os.getpgrp(), signal.SIG)).start()
try:
    with signals.held():
        result = Runner().run(["sleep", "1"])
        print("child", result.returncode, flush=True)
except KeyboardInterrupt:
    print("interrupted after", flush=True)
"""


def run_in_own_group(signame: str) -> list[str]:
    code = PROBE.replace("signal.SIG)", f"signal.{signame})")
    if signame == "SIGTERM":  # as main() sets it up: SIGTERM unwinds like Ctrl-C
        code = code.replace("threading.Timer", "signals.terminate_like_interrupt()\nthreading.Timer", 1)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.splitlines()


def test_a_ctrl_c_to_the_process_group_waits_for_the_tool_and_then_interrupts() -> None:
    assert run_in_own_group("SIGINT") == ["child 0", "interrupted after"]


def test_a_sigterm_to_the_process_group_waits_likewise() -> None:
    assert run_in_own_group("SIGTERM") == ["child 0", "interrupted after"]
