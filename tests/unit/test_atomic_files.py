"""Atomic config edits: a process editing /etc/fstab or /etc/sysctl.d/90-swapctl.conf over and over through the
real FileEdit steps, SIGKILLed at random moments while another reads the file as fast as it can, never leaves
or shows anything but the old bytes or the new ones. A naive writer, watched the same way, is caught."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from swapctl.ops import fstab
from swapctl.ops.vm_set import PERSIST_FILE, SysctlPersist
from swapctl.system.host import Host
from swapctl.system.paths import SysPaths
from tests.fakes import make_root
from tests.figures import report

KILLS = 60
SWAPLINE = "/var/tmp/swapfile none swap defaults,pri=3 0 0"


def _padding(n: int) -> str:
    # Big enough that writing and fsyncing it takes a while: the kills must land inside writes too.
    return "".join(f"# padding line {i:06d} keeps this file large enough to catch a torn write\n" for i in range(n))


def _fstab_editor(root: Path) -> tuple[str, bytes, bytes, Callable[[Host, int], None]]:
    etc_fstab = root / "etc/fstab"
    etc_fstab.write_text(etc_fstab.read_text() + _padding(4000))
    old = etc_fstab.read_bytes()
    new = fstab.set_line(old.decode(), "/var/tmp/swapfile", SWAPLINE).encode()

    def edit(host: Host, i: int) -> None:
        step = fstab.fstab_set("/var/tmp/swapfile", SWAPLINE if i % 2 == 0 else None)
        step.apply(host, step.snapshot(host))

    return "/etc/fstab", old, new, edit


def _sysctl_editor(root: Path) -> tuple[str, bytes, bytes, Callable[[Host, int], None]]:
    target = root / PERSIST_FILE.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("# kept by the admin\nvm.swappiness = 60\n" + _padding(4000))
    old = target.read_bytes()
    step = SysctlPersist(path=PERSIST_FILE, settings={"vm.swappiness": 10, "vm.watermark_scale_factor": 125})
    new = step.transform(old.decode()).encode()

    def edit(host: Host, i: int) -> None:
        settings = (
            {"vm.swappiness": 10, "vm.watermark_scale_factor": 125}
            if i % 2 == 0
            else {"vm.swappiness": 60, "vm.watermark_scale_factor": None}
        )
        s = SysctlPersist(path=PERSIST_FILE, settings=settings)
        s.apply(host, s.snapshot(host))

    return PERSIST_FILE, old, new, edit


def _naive_edit(path: Path, old: bytes, new: bytes) -> Callable[[Host, int], None]:
    def edit(host: Host, i: int) -> None:
        with open(path, "wb") as fh:  # truncate, then write: what the atomic edit exists to avoid
            fh.write(new if i % 2 == 0 else old)

    return edit


class Watcher:
    """Reads the file in a tight loop; anything but the two allowed contents is recorded. It runs in a process
    of its own: the editors are forked, and forking beside a running thread can leave a child waiting for a
    lock that the thread held (Python 3.12 warns about it), which would hang the test."""

    def __init__(self, path: Path, allowed: set[bytes]) -> None:
        self.path, self.allowed = path, allowed
        self.reads = 0
        self.bad: list[str] = []

    def start(self) -> None:
        self._stop_r, self._stop_w = os.pipe()
        self._alarm_r, alarm_w = os.pipe()
        self._report_r, report_w = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:
            try:
                os.close(self._stop_w)
                os.set_blocking(self._stop_r, False)
                _watch(self.path, self.allowed, self._stop_r, alarm_w, report_w)
            finally:
                os._exit(0)
        for fd in (self._stop_r, alarm_w, report_w):
            os.close(fd)
        os.set_blocking(self._alarm_r, False)

    def saw_bad(self) -> bool:
        """Whether a read has been neither old nor new so far."""
        try:
            return bool(os.read(self._alarm_r, 1))
        except BlockingIOError:
            return False

    def finish(self) -> None:
        os.close(self._stop_w)  # end of file on the stop pipe tells the watcher to report
        with os.fdopen(self._report_r) as fh:
            doc = json.load(fh)
        os.waitpid(self._pid, 0)
        os.close(self._alarm_r)
        self.reads, self.bad = doc["reads"], doc["bad"]


def _watch(path: Path, allowed: set[bytes], stop: int, alarm: int, report_fd: int) -> None:
    reads, bad = 0, []
    while True:
        try:
            os.read(stop, 1)
            break  # end of file: the test is done
        except BlockingIOError:
            pass
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            bad.append("the file was missing")
        else:
            reads += 1
            if data not in allowed:
                bad.append(f"{len(data)} bytes, neither old nor new")
        if bad and alarm >= 0:
            os.write(alarm, b"!")  # once
            alarm = -1
    with os.fdopen(report_fd, "w") as fh:
        json.dump({"reads": reads, "bad": bad[:100]}, fh)


def _edit_forever(root: Path, edit: Callable[[Host, int], None], ready_w: int) -> None:
    host = Host(paths=SysPaths(root))
    i = 0
    while True:
        edit(host, i)
        i += 1
        if i == 1:
            os.write(ready_w, b"x")


def _kill_rounds(
    root: Path,
    in_machine: str,
    old: bytes,
    new: bytes,
    edit: Callable[[Host, int], None],
    rounds: int,
    rng: random.Random,
    stop_on_bad: bool = False,
) -> dict:
    real = root / in_machine.lstrip("/")
    watcher = Watcher(real, {old, new})
    watcher.start()
    seen_bad = False
    after_kill_bad, mid_write = [], 0
    kills = 0
    try:
        # At least `rounds` kills, and more (up to five times as many) until one has landed inside a write: where
        # the window is a small share of the edit's time, 60 random kills can all miss it.
        while kills < rounds or (mid_write == 0 and kills < 5 * rounds):
            kills += 1
            ready_r, ready_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child edits until killed; it never returns into pytest
                try:
                    os.close(ready_r)
                    _edit_forever(root, edit, ready_w)
                finally:
                    os._exit(0)
            os.close(ready_w)
            os.read(ready_r, 1)
            os.close(ready_r)
            time.sleep(rng.uniform(0, 0.03))
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            data = real.read_bytes() if real.exists() else None
            if data not in (old, new):
                after_kill_bad.append(f"{0 if data is None else len(data)} bytes after the kill")
            temps = [p for p in real.parent.iterdir() if p.name != real.name and real.name in p.name]
            if temps:
                mid_write += 1  # the kill landed between the temp file's creation and the rename
                for p in temps:
                    p.unlink()
            seen_bad = seen_bad or watcher.saw_bad()
            if stop_on_bad and (seen_bad or after_kill_bad):
                break
    finally:
        watcher.finish()
    return {
        "kills": kills,
        "reads": watcher.reads,
        "torn_reads": len(watcher.bad),
        "torn_after_kill": len(after_kill_bad),
        "kills_mid_write": mid_write,
        "examples": (watcher.bad + after_kill_bad)[:3],
    }


@pytest.mark.parametrize("editor", [_fstab_editor, _sysctl_editor], ids=["fstab", "sysctl.d"])
def test_an_edit_killed_at_random_moments_leaves_and_shows_only_the_old_or_the_new_bytes(
    disk_dir: Path, editor: Callable
) -> None:
    root = make_root(disk_dir / "root")  # on a disk: on tmpfs a write is too quick for a kill to land inside it
    in_machine, old, new, edit = editor(root)
    assert old != new
    rng = random.Random(7)
    result = _kill_rounds(root, in_machine, old, new, edit, KILLS, rng)
    report("atomic-files", file=in_machine, size=len(old), **{k: v for k, v in result.items() if k != "examples"})
    assert result["torn_reads"] == 0 and result["torn_after_kill"] == 0, result["examples"]
    assert result["reads"] > KILLS, "the watcher hardly read the file: the test saw nothing"
    assert result["kills_mid_write"] > 0, "no kill landed inside a write: the test did not test the window"
    # Nothing but the file itself (and swapctl's own temp names, removed above) is left in the directory.
    real = root / in_machine.lstrip("/")
    assert real.read_bytes() in (old, new)
    assert oct(real.stat().st_mode & 0o777) == oct(0o644)


def test_the_watcher_catches_a_writer_that_truncates_in_place(disk_dir: Path) -> None:
    """The control: the same harness, given a naive open('w') writer, sees torn files, so its silence above
    means the atomic edit really is atomic."""
    root = make_root(disk_dir / "root")
    in_machine, old, new, _edit = _fstab_editor(root)
    naive = _naive_edit(root / "etc/fstab", old, new)
    result = _kill_rounds(root, in_machine, old, new, naive, KILLS, random.Random(7), stop_on_bad=True)
    assert result["torn_reads"] + result["torn_after_kill"] > 0, result


def test_a_temp_file_left_by_a_killed_writer_is_removed_by_the_next_edit(tmp_path: Path) -> None:
    from swapctl.system.files import atomic_write

    target = tmp_path / "fstab"
    target.write_text("old\n")
    dead = _dead_pid()
    stale = tmp_path / f".fstab.swapctl-{dead}.tmp"
    stale.write_text("half")
    atomic_write(target, b"new\n")
    assert target.read_text() == "new\n" and not stale.exists()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
