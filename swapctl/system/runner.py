"""Runs external tools (mkswap, swapon, swapoff, ...) by argv list, never through a shell."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import NamedTuple

from swapctl.core.errors import OperationFailed, Refused

DEFAULT_TIMEOUT = 600.0
WATCH_S = 0.2  # how often a watched command's progress is looked at  # swapoff of a large, full area can take minutes
# Tools that act on the running kernel rather than on files: never run for a --root tree.
KERNEL_TOOLS = frozenset({"swapon", "swapoff"})


class Result(NamedTuple):
    argv: list[str]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error_text(self) -> str:
        text = (self.stderr or self.stdout).strip().splitlines()
        return text[-1] if text else f"exit status {self.returncode}"


class Runner:
    """Resolve on PATH, run with LC_ALL=C and a timeout, keep stderr for the error message."""

    # Plain classes and NamedTuples on the start-up path: a @dataclass costs ~0.35 ms to create (issue 8).
    def __init__(self, timeout: float = DEFAULT_TIMEOUT, *, live: bool = True) -> None:
        self.timeout = timeout
        self.live = live  # False under --root DIR: the files are a tree, the kernel is not theirs
        self.calls: list[list[str]] = []

    def which(self, name: str) -> str | None:
        # sbin is often not on a non-root PATH, and swapon/mkswap live there.
        path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
        return shutil.which(name, path=path)

    def run(
        self,
        argv: list[str],
        *,
        check: bool = False,
        timeout: float | None = None,
        watch: Callable[[], None] | None = None,
    ) -> Result:
        """Run argv to its end; `watch` (a progress display) is called every WATCH_S while it runs."""
        if argv[0] in KERNEL_TOOLS and not self.live:  # the last guard; steps refuse before anything changes
            raise Refused(f"{argv[0]} is not run under --root: the files there are not the running machine")
        exe = self.which(argv[0])
        if exe is None:
            raise OperationFailed(f"{argv[0]} not found on PATH", hint=f"install the package that provides {argv[0]}")
        env = dict(os.environ, LC_ALL="C", LANG="C")
        self.calls.append(list(argv))
        limit = timeout or self.timeout
        try:
            if watch is None:
                proc = subprocess.run(
                    [exe, *argv[1:]],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=limit,
                    stdin=subprocess.DEVNULL,
                    check=False,
                )
                returncode, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
            else:
                returncode, stdout, stderr = self._watched([exe, *argv[1:]], env, limit, watch)
        except subprocess.TimeoutExpired as exc:
            raise OperationFailed(f"{argv[0]} did not finish within {exc.timeout:.0f} s") from exc
        result = Result(list(argv), returncode, stdout, stderr)
        if check and not result.ok:
            raise OperationFailed(f"{' '.join(argv)} failed: {result.error_text()}")
        return result

    @staticmethod
    def _watched(argv: list[str], env: dict[str, str], limit: float, watch: Callable[[], None]) -> tuple[int, str, str]:
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, stdin=subprocess.DEVNULL
        ) as proc:
            deadline = time.monotonic() + limit
            while True:
                try:
                    stdout, stderr = proc.communicate(timeout=WATCH_S)
                    return proc.returncode, stdout, stderr
                except subprocess.TimeoutExpired:
                    if time.monotonic() > deadline:
                        proc.kill()
                        proc.communicate()
                        raise subprocess.TimeoutExpired(argv, limit) from None
                    watch()
