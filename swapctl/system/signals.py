"""Signals: SIGTERM unwinds like Ctrl-C, and cleanups that must finish hold both until they are done."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOPS = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def terminate_like_interrupt() -> None:
    """SIGTERM (a CI job cancelled, systemd stopping a unit) raises KeyboardInterrupt, so plans roll back."""
    signal.signal(signal.SIGTERM, _interrupt)


@contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while an undo or a cleanup runs: a second Ctrl-C must not leave half a change
    or a cgroup behind. A signal that arrived meanwhile is raised as KeyboardInterrupt once it is done.

    Blocked as well as caught: a Ctrl-C at the terminal goes to the whole process group, and a child started
    meanwhile (the undo's swapoff) inherits the block, so it is not killed either. Caught because another
    thread (rich's refresh thread during stress) may take the signal, and Python then runs the handler here."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    got: list[int] = []

    def hold(signum: int, frame: object) -> None:
        got.append(signum)

    old = {s: signal.signal(s, hold) for s in STOPS}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # one that waited is handled now, by hold()
        for s, handler in old.items():
            signal.signal(s, handler)
    if got:
        raise KeyboardInterrupt
