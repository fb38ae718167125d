"""The harness of the hostile-input tests: a captured machine as a fake root with traps in it, one invocation (or
a sequence) on a fresh copy, and what it did: exit code, output, whether it crashed or hung, what changed inside
the tree and whether anything outside it was touched."""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from swapctl.cli.app import app
from swapctl.cli.context import Invocation
from swapctl.system.host import Host
from tests.fakes import FIXTURES, MEMINFO, fake_host, make_root
from tests.runner import CliRunner

SNAPSHOT = FIXTURES / "kernel-recordings/6.1/n1-512m/step0/root"
STATE = "var/lib/swapctl"
REPO = Path(__file__).resolve().parents[1]
HANG_SECONDS = 10


def build_template(base: Path) -> Path:
    """A captured 6.1 machine (zoneinfo, vm sysctls, nodes) with swapctl's fake-root basics, and traps."""
    root = base / "root"
    shutil.copytree(SNAPSHOT, root)
    make_root(
        root, meminfo=(SNAPSHOT / "proc/meminfo").read_text() if SNAPSHOT.is_dir() else MEMINFO, osrelease="6.1.0"
    )
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    os.chmod(root / "var/tmp", 0o755)
    (root / "var/tmp/dir").mkdir()
    (root / "var/tmp/open").mkdir()
    os.chmod(root / "var/tmp/open", 0o777)
    (root / "var/tmp/sticky").mkdir()
    os.chmod(root / "var/tmp/sticky", 0o1777)
    os.symlink("../../etc/passwd", root / "var/tmp/link")  # relative: never escapes the fake root
    os.symlink("../../etc", root / "var/tmp/linkdir")
    os.symlink("../../var/tmp/nowhere", root / "var/tmp/dangling")
    os.symlink("loop", root / "var/tmp/loop")
    return root


def snapshot(root: Path, *, skip_state: bool = True) -> dict[str, tuple]:
    """Every entry under a directory (but swapctl's own state dir): type, mode, bytes or link target."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if skip_state and (rel_dir == STATE or rel_dir.startswith(STATE + "/")):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st_ = os.lstat(p)
            rel = os.path.relpath(p, root)
            if skip_state and (STATE.startswith(rel + "/") or rel == STATE):
                continue  # the state dir and its parents (made with it, as on a machine where they exist)
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st_.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st_.st_mode))
            elif stat.S_ISREG(st_.st_mode):
                out[rel] = ("file", stat.S_IMODE(st_.st_mode), p.read_bytes() if st_.st_size < 1 << 20 else st_.st_size)
            else:
                out[rel] = ("special", stat.S_IFMT(st_.st_mode), stat.S_IMODE(st_.st_mode))
    return out


@dataclass
class Case:
    argv: list[str]
    code: int
    stdout: str
    stderr: str
    changed: bool  # inside the tree, swapctl's state dir aside
    crashed: bool  # exit 70, a traceback, or an exception that escaped
    hung: bool
    outside_changed: bool = False
    journal_written: bool = False
    root: Path | None = None  # kept only while a check runs (see run())

    def __str__(self) -> str:
        return (
            f"swapctl {self.argv!r} -> {self.code}{' (HUNG)' if self.hung else ''}\n"
            f"stdout: {self.stdout[-600:]}\nstderr: {self.stderr[-600:]}"
        )

    @property
    def one_line_error(self) -> bool:
        lines = self.stderr.splitlines()
        errors = [i for i, line in enumerate(lines) if line.startswith("swapctl: error: ")]
        if len(errors) != 1:
            return False
        rest = lines[errors[0] + 1 :]
        before = lines[: errors[0]]
        return all(line.startswith("warning: ") for line in before) and (
            not rest or (len(rest) == 1 and rest[0].startswith("hint: "))
        )


class Hang(Exception):
    pass


@contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Raise Hang in the main thread after `seconds` (a FIFO's open() or an endless read is cut short)."""

    def fire(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


OUTSIDE_VALUE = 77  # the swappiness of the tree's outside: a command that shows it read outside the tree
_IDS_AND_TIMES = re.compile(r"\b\d{8}T\d{6}-[0-9a-f]+\b|\b1764547200\b")


def shows_outside_value(stdout: str) -> bool:
    """Whether the outside tree's value appears as a number of its own (a transaction id's random hex or the
    journal's time may hold the same digits)."""
    return re.search(rf"\b{OUTSIDE_VALUE}\b", _IDS_AND_TIMES.sub("", stdout)) is not None


@dataclass
class Tree:
    """A fresh copy of the template and an `outside` directory beside it that nothing may touch."""

    work: Path
    root: Path
    outside: Path
    state_dir: Path | None = None
    host_factory: Callable[..., Host] | None = None
    uid: int = 0
    notes: list[str] = field(default_factory=list)

    def write(self, rel: str, data: bytes, mode: int | None = None) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_symlink() or p.exists():
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        p.write_bytes(data)
        if mode is not None:
            os.chmod(p, mode)
        return p

    def link(self, rel: str, target: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)
        os.symlink(target, p)
        return p

    def host(self) -> Host:
        host = fake_host(self.root, uid=self.uid, state_dir=self.state_dir)
        if self.host_factory is not None:
            host = self.host_factory(paths=host.paths, runner=host.runner, uid=self.uid, page_size=4096, live=True)
        return host


@contextmanager
def tree(template: Path) -> Iterator[Tree]:
    work = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        root = work / "root"
        shutil.copytree(template, root, symlinks=True)
        outside = work / "outside"
        outside.mkdir()
        (outside / "fstab").write_bytes(b"/outside-swap none swap sw 0 0\n")
        (outside / "sysctl.d").mkdir()
        (outside / "sysctl.d/90-swapctl.conf").write_bytes(f"vm.swappiness = {OUTSIDE_VALUE}\n".encode())
        (outside / "proc/sys/vm").mkdir(parents=True)
        (outside / "proc/sys/vm/swappiness").write_bytes(f"{OUTSIDE_VALUE}\n".encode())
        (outside / "state").mkdir(mode=0o700)
        yield Tree(work, root, outside)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def invoke(
    t: Tree,
    argv: list[str],
    *,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    with_host: bool = True,
    seconds: float = HANG_SECONDS,
) -> Case:
    """One invocation in this process against the tree (a fake Host and runner, or with_host=False: swapctl
    builds its own from the command line, as for --root)."""
    argv = [a.replace("@ROOT@", str(t.root)).replace("@OUTSIDE@", str(t.outside)) for a in argv]
    before, outside_before = snapshot(t.root), snapshot(t.outside, skip_state=False)
    journal = (t.state_dir or t.root / STATE) / "journal.jsonl"
    journal_before = journal.read_bytes() if journal.is_file() else None
    obj = Invocation(host=t.host()) if with_host else Invocation()
    hung = False
    try:
        with hang_guard(seconds):
            result = CliRunner().invoke(app, argv, obj=obj, input=stdin, env=env, catch_exceptions=True)
    except Hang:
        hung = True
    if hung:
        return Case(
            argv,
            -1,
            "",
            "",
            snapshot(t.root) != before,
            False,
            True,
            snapshot(t.outside, skip_state=False) != outside_before,
        )
    exc = result.exception
    if isinstance(exc, Hang):
        hung = True
    crashed = not hung and (
        result.exit_code == 70
        or (exc is not None and not isinstance(exc, SystemExit))
        or "Traceback" in result.stdout + result.stderr
    )
    journal_after = journal.read_bytes() if journal.is_file() else None
    return Case(
        argv,
        result.exit_code,
        result.stdout,
        result.stderr,
        snapshot(t.root) != before,
        crashed,
        hung,
        snapshot(t.outside, skip_state=False) != outside_before,
        journal_after != journal_before,
    )


def _limit_memory() -> None:
    # An endless read (a link to /dev/zero) must fail here, not take the machine's memory.
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def invoke_isolated(t: Tree, argv: list[str], *, seconds: float = 8.0) -> Case:
    """The real `python -m swapctl --root TREE ...` in a child with 1 GiB of address space and a time limit:
    for inputs that could hang or eat memory before the fix (a FIFO, /dev/zero, a huge file)."""
    argv = ["--root", str(t.root), *[a.replace("@ROOT@", str(t.root)) for a in argv]]
    before, outside_before = snapshot(t.root), snapshot(t.outside, skip_state=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWAPCTL_")}
    env["PYTHONPATH"] = str(REPO)
    env["TMPDIR"] = str(t.work)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "swapctl", *argv],
            capture_output=True,
            text=True,
            timeout=seconds,
            env=env,
            cwd=str(t.work),
            preexec_fn=_limit_memory,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return Case(
            argv,
            -1,
            str(exc.stdout or ""),
            str(exc.stderr or ""),
            snapshot(t.root) != before,
            False,
            True,
            snapshot(t.outside, skip_state=False) != outside_before,
        )
    crashed = proc.returncode == 70 or proc.returncode < 0 or "Traceback" in proc.stderr or "MemoryError" in proc.stderr
    return Case(
        argv,
        proc.returncode,
        proc.stdout,
        proc.stderr,
        snapshot(t.root) != before,
        crashed,
        False,
        snapshot(t.outside, skip_state=False) != outside_before,
    )
