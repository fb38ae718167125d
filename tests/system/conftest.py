"""Real-kernel fixtures: a root-only work dir under /var/tmp, a state dir, the real CLI as a subprocess, and
finalizers that swap off, unmount, detach and delete everything a test made and restore /etc/fstab's bytes."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import is_root

FSTAB = Path("/etc/fstab")
PROC_SWAPS = Path("/proc/swaps")
ROOT_REASON = "needs root: runs the real swapctl against the real kernel (swapon, mkswap, /etc/fstab)"


def _unescape(field_: str) -> str:
    # /proc/swaps and /proc/self/mounts escape space, tab, newline and backslash as octal (\040 ...).
    out, i = [], 0
    while i < len(field_):
        code = field_[i + 1 : i + 4]
        if field_[i] == "\\" and len(code) == 3 and all(c in "01234567" for c in code):
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field_[i])
            i += 1
    return "".join(out)


def active_swaps() -> dict[str, dict[str, Any]]:
    """/proc/swaps read independently of swapctl's own parser: path -> {type, size_kib, used_kib, priority}."""
    areas = {}
    for line in PROC_SWAPS.read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) < 5:
            continue
        # A deleted file shows as "path\040(deleted)"; keep the raw suffix so the finalizer still finds it.
        areas[_unescape(fields[0])] = {
            "raw": fields[0],
            "type": fields[1],
            "size_kib": int(fields[2]),
            "used_kib": int(fields[3]),
            "priority": int(fields[4]),
        }
    return areas


def swaps_under(directory: Path) -> dict[str, dict[str, Any]]:
    prefix = str(directory) + "/"
    return {p: a for p, a in active_swaps().items() if p.startswith(prefix)}


def mounts_under(directory: Path) -> list[str]:
    prefix = str(directory) + "/"
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        target = _unescape(line.split()[1])
        if target.startswith(prefix):
            found.append(target)
    return sorted(found, key=len, reverse=True)  # innermost first


def _quiet(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


def cleanup_dir(directory: Path, loops: list[str]) -> list[str]:
    """Swap off every area under directory, unmount everything under it, detach its loop devices and delete
    it. Returns what could not be undone (so a finalizer can fail loudly instead of leaking)."""
    problems = []
    for path in swaps_under(directory):
        r = _quiet(["swapoff", path])
        if r.returncode != 0:
            problems.append(f"swapoff {path}: {r.stderr.strip()}")
    for target in mounts_under(directory):
        # Swap areas on a loop filesystem are under the mount point, so they are already off.
        r = _quiet(["umount", target])
        if r.returncode != 0:
            r = _quiet(["umount", "-l", target])
            if r.returncode != 0:
                problems.append(f"umount {target}: {r.stderr.strip()}")
    for dev in loops:
        r = _quiet(["losetup", "-d", dev])
        if r.returncode != 0 and "No such device" not in r.stderr:
            problems.append(f"losetup -d {dev}: {r.stderr.strip()}")
    if not mounts_under(directory):
        shutil.rmtree(directory, ignore_errors=True)
    if directory.exists():
        problems.append(f"{directory} could not be deleted")
    return problems


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(
                f"swapctl {' '.join(self.args)} printed no JSON: {self.stdout!r}\nstderr: {self.stderr}"
            ) from exc

    def __str__(self) -> str:
        return f"swapctl {' '.join(self.args)} -> exit {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"


@dataclass
class RealSwapctl:
    """The real CLI in a child process: `python -m swapctl --state-dir STATE ARGS...`."""

    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        path_prefix: Path | None = None,
        fault: str | None = None,
        umask: int = 0o022,
        wrap: list[str] | None = None,
        timeout: float = 120,
    ) -> Result:
        """Run swapctl; `wrap` prefixes the argv (e.g. strace), `umask` is the child's."""
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("SWAPCTL_")}
        child_env.update(self.env)
        child_env.update(env or {})
        if fault:
            child_env["SWAPCTL_TEST_FAULT"] = fault
        if path_prefix is not None:
            child_env["PATH"] = f"{path_prefix}:{child_env.get('PATH', '/usr/bin:/bin')}"
        argv = [*(wrap or []), sys.executable, "-m", "swapctl", "--state-dir", str(self.state_dir), *args]
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=child_env,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
            cwd="/",
            umask=umask,
        )
        return Result(list(args), proc.returncode, proc.stdout, proc.stderr)

    def json(self, *args: str, **kwargs: Any) -> tuple[Result, dict[str, Any]]:
        r = self(*args, "-o", "json", **kwargs)
        return r, r.json()


@pytest.fixture
def need_root() -> None:
    if not is_root():
        pytest.skip(ROOT_REASON)


def _read_fstab() -> bytes | None:
    return FSTAB.read_bytes() if FSTAB.exists() else None


def _without_lines_of(data: bytes | None, root: Path) -> list[bytes]:
    mine = str(root).encode()
    return [ln.rstrip(b"\n") for ln in (data or b"").splitlines(keepends=True) if mine not in ln]


def restore_fstab(before: bytes | None, root: Path) -> None:
    """Put /etc/fstab's exact bytes back. If another test running at the same time changed it meanwhile (its
    lines name its own directory), drop only the lines naming ours rather than clobber theirs."""
    after = _read_fstab()
    if after == before:
        return
    if _without_lines_of(after, root) == _without_lines_of(before, root):
        data = before
    else:
        mine = str(root).encode()
        data = b"".join(ln for ln in (after or b"").splitlines(keepends=True) if mine not in ln)
    if data is None:
        FSTAB.unlink(missing_ok=True)
        return
    mode = stat.S_IMODE(FSTAB.stat().st_mode) if FSTAB.exists() else 0o644
    tmp = FSTAB.with_name(f".fstab.systest-{os.getpid()}")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, FSTAB)


@dataclass
class Workspace:
    """A root-owned 0700 directory under /var/tmp (the code refuses dirs others can write) and its parts."""

    root: Path
    swapdir: Path  # where the tests' swap files go: nothing else lives here, so listings are exact
    state_dir: Path
    loops: list[str] = field(default_factory=list)

    def mkdir(self, name: str) -> Path:
        d = self.root / name
        d.mkdir(mode=0o700)
        return d

    def fstab(self) -> bytes | None:
        """/etc/fstab's bytes, less the lines other tests running at the same time add for their own files
        under /var/tmp; a line naming this test's directory is kept, so it still shows as a difference."""
        data = _read_fstab()
        if data is None:
            return None
        mine = str(self.root).encode()
        return b"".join(ln for ln in data.splitlines(keepends=True) if b"/var/tmp/" not in ln or mine in ln)

    def listing(self, directory: Path | None = None) -> list[str]:
        return sorted(os.listdir(directory or self.swapdir))

    def swaps(self) -> dict[str, dict[str, Any]]:
        return swaps_under(self.root)

    def swapctl_binary(self) -> str:
        """The venv's console script (what a user runs); a shim to this checkout when there is none."""
        venv_bin = Path(sys.executable).parent / "swapctl"
        if venv_bin.exists():
            return str(venv_bin)
        shim = self.root / "swapctl"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m swapctl "$@"\n')
        shim.chmod(0o700)
        return str(shim)

    def areas(self) -> dict[str, tuple[str, int, int | str]]:
        """path -> (type, size in KiB, priority): what a test may compare. Used swap moves on its own, and
        automatic (negative) priorities shift when any other area goes off, so those read as "auto"."""
        return {
            p: (a["type"], a["size_kib"], a["priority"] if a["priority"] >= 0 else "auto")
            for p, a in self.swaps().items()
        }


@pytest.fixture
def work(need_root: None) -> Iterator[Workspace]:
    """The test's directory; afterwards every swap area, mount and loop device under it is gone, and
    /etc/fstab holds the bytes it held before (see restore_fstab)."""
    fstab_before = _read_fstab()
    root = Path(tempfile.mkdtemp(prefix="swapctl-systest-", dir="/var/tmp"))
    os.chmod(root, 0o700)
    ws = Workspace(root, root / "swap", root / "state")
    ws.swapdir.mkdir(mode=0o700)
    try:
        yield ws
    finally:
        problems = cleanup_dir(root, ws.loops)
        restore_fstab(fstab_before, root)
        assert not problems, "cleanup left things behind: " + "; ".join(problems)


@pytest.fixture
def swapctl(work: Workspace) -> RealSwapctl:
    return RealSwapctl(work.state_dir)


@pytest.fixture
def shim_dir(work: Workspace) -> Path:
    """A directory for fake tools that a test puts first on the child's PATH."""
    return work.mkdir("shims")


def write_shim(directory: Path, name: str, body: str) -> Path:
    script = directory / name
    script.write_text("#!/bin/sh\n" + body)
    os.chmod(script, 0o755)
    return script


def logging_shims(directory: Path, log: Path, tools: tuple[str, ...]) -> None:
    """Wrappers that record each call in `log`, then run the real tool: proof of which commands ran."""
    sbin_path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    for tool in tools:
        real = shutil.which(tool, path=sbin_path)
        if real is None:
            continue
        write_shim(directory, tool, f'echo "{tool} $*" >> "{log}"\nexec "{real}" "$@"\n')


def _zram_and_zswap_state() -> dict[str, object]:
    """The machine's zram devices (initstate, disksize, algorithm), its zram swap areas and zswap's parameters:
    read-only (never zram-control/hot_add, which creates a device when read)."""
    block = Path("/sys/block")
    devices = {}
    for name in sorted(n for n in os.listdir(block) if n.startswith("zram")):
        d = block / name
        devices[name] = tuple(
            (d / attr).read_text().strip() if (d / attr).exists() else None
            for attr in ("initstate", "disksize", "comp_algorithm")
        )
    swaps = [ln.split()[0] for ln in Path("/proc/swaps").read_text().splitlines()[1:] if ln.startswith("/dev/zram")]
    params = Path("/sys/module/zswap/parameters")
    zswap = {p.name: p.read_text().strip() for p in sorted(params.iterdir())} if params.is_dir() else {}
    return {"zram devices": devices, "zram swap areas": swaps, "zswap": zswap}


@pytest.fixture(scope="session", autouse=True)
def _zram_and_zswap_as_found() -> object:
    """After the whole run (here, not in tests/conftest.py: the other lanes run beside this one and would see
    its tests' devices mid-way), zram and zswap are as the suite found them: every test that set up, added or tuned
    them put them back (its finalizers), so the next run and the machine's owner see no trace."""
    before = _zram_and_zswap_state()
    yield
    after = _zram_and_zswap_state()
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not changed, f"the suite left zram or zswap changed (before, after): {changed}"
