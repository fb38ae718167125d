"""The stress worker (a child process that allocates and keeps touching anonymous memory) and its handle."""

from __future__ import annotations

import argparse
import ctypes
import json
import mmap
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PATTERNS = ("random", "zero", "mixed")
RANDOM_BLOCK = 1 << 20
FILE_CHUNK = 1 << 20


# --- the parent's side -------------------------------------------------------------------------------
class WorkerProcess:
    """A running worker: started paused, moved into a cgroup by the caller, then told to go."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self._buf = b""
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)

    @classmethod
    def spawn(
        cls, *, size: int, pattern: str, file_size: int, file_dir: str, max_seconds: float, report_interval: float = 0.2
    ) -> WorkerProcess:
        import swapctl

        package_parent = str(Path(swapctl.__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = package_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        argv = [
            sys.executable,
            "-m",
            "swapctl.system.stress_worker",
            "--size",
            str(size),
            "--pattern",
            pattern,
            "--file-size",
            str(file_size),
            "--file-dir",
            file_dir,
            "--max-seconds",
            f"{max_seconds:.3f}",
            "--report-interval",
            str(report_interval),
            "--parent",
            str(os.getpid()),
        ]
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, close_fds=True
        )
        return cls(proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def returncode(self) -> int | None:
        return self.proc.poll()

    def reports(self, timeout: float = 0.0) -> list[dict]:
        """Every report line that arrived, waiting up to `timeout` for the first."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        if timeout > 0:
            select.select([fd], [], [], timeout)
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self._buf += chunk
        *complete, self._buf = self._buf.split(b"\n")
        out = []
        for line in complete:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def wait_ready(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for rep in self.reports(0.05):
                if rep.get("event") == "ready":
                    return rep
            if self.returncode() is not None:
                break
        raise TimeoutError(f"the stress worker did not start within {timeout:.0f} s: {self.stderr_tail()}")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def stop(self, grace: float = 1.0) -> None:
        """Close its stdin (the worker's cue to stop), then SIGKILL if it lingers; always reaps it."""
        try:
            if self.proc.stdin is not None and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill()  # SIGKILL if still there; reaps it and closes the pipes either way

    def kill(self, timeout: float = 60.0) -> None:
        """SIGKILL it and reap it. A task dies only once the swap-in it is blocked on completes, which on a
        congested disk takes seconds: wait for it, boundedly (OSError past that; the cgroup's removal retries)."""
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise OSError(f"the worker (pid {self.proc.pid}) is still alive {timeout:.0f} s after SIGKILL") from None
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def stderr_tail(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        try:
            text = self.proc.stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""
        lines = text.splitlines()
        return lines[-1] if lines else ""


# --- the worker's side -------------------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _prefer_me_for_oom() -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
    except OSError:
        pass  # not fatal: inside the cgroup the OOM killer can only choose among its own tasks


class _Reporter:
    def __init__(self) -> None:
        self.out = sys.stdout.buffer

    def __call__(self, **fields: object) -> None:
        self.out.write(json.dumps(fields, separators=(",", ":")).encode() + b"\n")
        self.out.flush()


def _stop_requested() -> bool:
    readable, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(readable) and not sys.stdin.buffer.readline()


def _fill(mem: mmap.mmap, pattern: str, page: int, report: _Reporter) -> None:
    """Write every page once. Random pages share one random block but differ in their first word, so
    no two pages are equal (no KSM/dedup) and none compresses (zswap/zram); zero pages stay zero-filled,
    which zswap and zram store specially."""
    npages = len(mem) // page
    words = memoryview(mem).cast("Q")
    wpp = page // 8
    seed = int.from_bytes(os.urandom(8), "little")
    if pattern == "zero":
        for i in range(npages):
            words[i * wpp] = 0
    else:
        block = os.urandom(RANDOM_BLOCK)
        for off in range(0, len(mem), RANDOM_BLOCK):
            end = min(off + RANDOM_BLOCK, len(mem))
            mem[off:end] = block[: end - off]
            first, last = off // page, end // page
            for i in range(first, last):
                words[i * wpp] = (seed ^ (i * 0x9E3779B97F4A7C15)) & 0xFFFFFFFFFFFFFFFF
            if pattern == "mixed":
                zero = bytes(page)
                for i in range(first | 1, last, 2):
                    mem[i * page : (i + 1) * page] = zero
    words.release()
    report(event="filled", pages=npages)


def worker_main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="swapctl-stress-worker")
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--pattern", choices=PATTERNS, default="random")
    ap.add_argument("--file-size", type=int, default=0)
    ap.add_argument("--file-dir", default="/var/tmp")
    ap.add_argument("--max-seconds", type=float, required=True)
    ap.add_argument("--report-interval", type=float, default=0.2)
    ap.add_argument("--parent", type=int, required=True)
    args = ap.parse_args(argv)

    # Ctrl-C in a terminal reaches the whole process group; the parent decides when the worker ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(args.parent)
    _prefer_me_for_oom()
    report = _Reporter()
    report(event="ready", pid=os.getpid())
    if sys.stdin.buffer.readline().strip() != b"go":  # the parent's cue: we are in the cgroup now
        return 0
    started = time.monotonic()
    deadline = started + args.max_seconds

    fd = -1
    if args.file_size > 0:
        # O_TMPFILE: the file never has a name, so nothing can be left behind even on SIGKILL.
        try:
            fd = os.open(args.file_dir, os.O_TMPFILE | os.O_RDWR, 0o600)
        except OSError:
            import tempfile

            fd, name = tempfile.mkstemp(prefix="swapctl-stress-", dir=args.file_dir)
            os.unlink(name)
        block = os.urandom(FILE_CHUNK)
        written = 0
        while written < args.file_size:
            written += os.write(fd, block[: min(FILE_CHUNK, args.file_size - written)])

    page = mmap.PAGESIZE
    mem = mmap.mmap(-1, args.size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    _fill(mem, args.pattern, page, report)
    words = memoryview(mem).cast("Q")
    wpp = page // 8
    nwords = len(words)
    touched = 0
    passes = 0
    last_t, last_touched = time.monotonic(), 0
    file_off = 0
    k = 0
    while True:
        # Write back each page's first word: it dirties the page (a swapped page must be read in and
        # written out again) and keeps the pattern as it was.
        end = min(k + 256 * wpp, nwords)
        for j in range(k, end, wpp):
            words[j] = words[j]
        touched += (end - k + wpp - 1) // wpp
        k = end
        if k >= nwords:
            k = 0
            passes += 1
        if fd >= 0:
            if not os.pread(fd, FILE_CHUNK, file_off):
                file_off = 0
            else:
                file_off += FILE_CHUNK
        now = time.monotonic()
        if now - last_t >= args.report_interval:
            rate = (touched - last_touched) / (now - last_t)
            report(event="touch", t=round(now - started, 3), pages=touched, passes=passes, rate=round(rate, 1))
            last_t, last_touched = now, touched
            if now >= deadline or _stop_requested():
                break
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
