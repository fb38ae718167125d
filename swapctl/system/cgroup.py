"""Transient memory cgroups (v1 or v2) for bounded memory pressure: find the controller, create, fill, read, remove."""

from __future__ import annotations

import errno
import os
import secrets
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swapctl.system import procfs
from swapctl.system.files import pid_alive

PREFIX = "swapctl-stress-"


@dataclass(frozen=True)
class MemoryController:
    """Where the memory controller is mounted: `version` 1 (memory.limit_in_bytes) or 2 (memory.max)."""

    version: int
    mount: Path  # real path (joined under --root)

    @property
    def delegated(self) -> bool:
        """v2 hands the memory controller to child groups only when the root's cgroup.subtree_control lists it
        (systemd enables it at boot; a machine without systemd may not)."""
        if self.version == 1:
            return True
        try:
            return "memory" in (self.mount / "cgroup.subtree_control").read_text().split()
        except OSError:
            return False

    @property
    def has_memsw(self) -> bool:
        # v1 exposes memory.memsw.* only with swap accounting (CONFIG_MEMCG_SWAP, swapaccount=1).
        return self.version == 1 and (self.mount / "memory.memsw.limit_in_bytes").exists()


def detect(mounts: list[procfs.Mount], real: Callable[[str], Path]) -> MemoryController | None:
    """The memory controller among a machine's mounts (`real` places a mount point), v1 preferred on hybrid
    hosts (v2 then has no memory controller, as on this project's VM where only hugetlb is bound to the unified
    tree)."""
    v2: MemoryController | None = None
    for m in mounts:
        real_mount = real(m.mount_point)
        if m.fstype == "cgroup" and "memory" in m.options.split(","):
            if (real_mount / "memory.limit_in_bytes").exists():
                return MemoryController(1, real_mount)
        elif m.fstype == "cgroup2" and v2 is None:
            try:
                controllers = (real_mount / "cgroup.controllers").read_text().split()
            except OSError:
                continue
            if "memory" in controllers:
                v2 = MemoryController(2, real_mount)
    return v2


def _write(path: Path, value: str) -> None:
    with open(path, "w", encoding="ascii") as fh:
        fh.write(value)


def _read_kv(path: Path) -> dict[str, int]:
    """memory.stat, memory.events: "name value" lines, the /proc/vmstat format."""
    try:
        return procfs.parse_vmstat(path.read_text())
    except OSError:
        return {}


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


class TransientCgroup:
    """One memory cgroup that swapctl made and will remove: a unique name holding swapctl's pid."""

    def __init__(self, controller: MemoryController, path: Path) -> None:
        self.controller = controller
        self.path = path

    @property
    def version(self) -> int:
        return self.controller.version

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, controller: MemoryController, limit: int, swap_allowance: int | None) -> TransientCgroup:
        """mkdir a fresh group and set its limits; the group is removed again if a limit is rejected."""
        name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        path = controller.mount / name
        path.mkdir(mode=0o755)
        cg = cls(controller, path)
        try:
            if controller.version == 1:
                _write(path / "memory.limit_in_bytes", str(limit))
                if swap_allowance is not None and controller.has_memsw:
                    # memsw counts memory + swap, and must stay >= the memory limit.
                    _write(path / "memory.memsw.limit_in_bytes", str(limit + swap_allowance))
            else:
                _write(path / "memory.max", str(limit))
                if swap_allowance is not None and (path / "memory.swap.max").exists():
                    _write(path / "memory.swap.max", str(swap_allowance))
        except BaseException:
            cg.remove()
            raise
        return cg

    def limits(self) -> dict[str, int | None]:
        if self.version == 1:
            return {
                "memory": _read_int(self.path / "memory.limit_in_bytes"),
                "memsw": _read_int(self.path / "memory.memsw.limit_in_bytes"),
            }
        return {"memory": _read_int(self.path / "memory.max"), "swap": _read_int(self.path / "memory.swap.max")}

    def add_pid(self, pid: int) -> None:
        _write(self.path / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def stat(self) -> dict[str, int]:
        return _read_kv(self.path / "memory.stat")

    def events(self) -> dict[str, int]:
        """Counters of limit hits and OOM: v2 memory.events; v1 failcnt and memory.oom_control."""
        out: dict[str, int] = {}
        if self.version == 2:
            out.update(_read_kv(self.path / "memory.events"))
            for key, fname in (
                ("current", "memory.current"),
                ("swap_current", "memory.swap.current"),
                ("peak", "memory.peak"),
            ):
                value = _read_int(self.path / fname)
                if value is not None:
                    out[key] = value
            return out
        for key, fname in (
            ("failcnt", "memory.failcnt"),
            ("memsw_failcnt", "memory.memsw.failcnt"),
            ("usage", "memory.usage_in_bytes"),
            ("max_usage", "memory.max_usage_in_bytes"),
            ("memsw_usage", "memory.memsw.usage_in_bytes"),
            ("memsw_max_usage", "memory.memsw.max_usage_in_bytes"),
        ):
            value = _read_int(self.path / fname)
            if value is not None:
                out[key] = value
        # oom_control: "oom_kill_disable 0", "under_oom 0", "oom_kill N" (the last from 4.13).
        out.update(_read_kv(self.path / "memory.oom_control"))
        return out

    def pressure(self) -> dict[str, dict[str, float]] | None:
        """The group's own PSI (v2 only; v1 has no per-group pressure)."""
        if self.version != 2:
            return None
        try:
            return procfs.parse_pressure((self.path / "memory.pressure").read_text())
        except OSError:
            return None

    def remove(self, timeout: float = 30.0) -> None:
        """Kill whatever is left inside, then rmdir, retrying while dying tasks still pin the group."""
        if not self.path.exists():
            return
        deadline = time.monotonic() + timeout
        kill_file = self.path / "cgroup.kill"
        while True:
            pids = self.pids()
            if not pids:
                try:
                    self.path.rmdir()
                    return
                except FileNotFoundError:
                    return
                except OSError as exc:
                    if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY) or time.monotonic() > deadline:
                        raise
            else:
                if kill_file.exists():  # v2, 5.14+: the kernel kills every task, forks included
                    try:
                        _write(kill_file, "1")
                    except OSError:
                        pass
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                if time.monotonic() > deadline:
                    raise OSError(errno.EBUSY, f"tasks {pids} are still in {self.path}")
            time.sleep(0.02)


def stale_groups(controller: MemoryController) -> list[TransientCgroup]:
    """Groups an earlier swapctl left behind (it was SIGKILLed): named for a pid that no longer runs."""
    out: list[TransientCgroup] = []
    try:
        entries = list(controller.mount.iterdir())
    except OSError:
        return out
    for entry in entries:
        if not entry.name.startswith(PREFIX) or not entry.is_dir():
            continue
        pid_text = entry.name[len(PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and not pid_alive(int(pid_text)):
            out.append(TransientCgroup(controller, entry))
    return out


# --- reading every limited group (swapctl doctor) --------------------------------------------------------
# v1 shows "no limit" as PAGE_COUNTER_MAX pages in bytes (9223372036854771712 with 4 KiB pages): anything this
# large is no limit.
V1_UNLIMITED = 1 << 62
MAX_GROUPS = 20000  # a walk stops here (a machine with more cgroups is listed in part, and says so)


@dataclass(frozen=True)
class GroupMemory:
    """One memory cgroup that has a limit, as read once: sizes in bytes, None where the file is absent."""

    path: str  # inside the hierarchy: "/system.slice/postgres.service"
    version: int
    current: int | None  # v2 memory.current; v1 memory.usage_in_bytes
    max: int | None  # v2 memory.max; v1 memory.limit_in_bytes; None: no limit
    high: int | None  # v2 memory.high; None: none (v1 has none)
    swap: int | None  # v2 memory.swap.current; v1 memory.memsw.usage_in_bytes - memory.usage_in_bytes
    events: dict[str, int]  # v2 memory.events (max, high, oom, oom_kill); v1 failcnt
    files: dict[str, str]  # each figure -> the in-machine file it came from


@dataclass(frozen=True)
class GroupScan:
    version: int
    mount: str  # in-machine mount point of the hierarchy
    groups: list[GroupMemory]  # those with a limit (memory.max or memory.high; v1 limit_in_bytes)
    walked: int  # groups looked at
    truncated: bool  # stopped at MAX_GROUPS


def _limit(text: str | None, version: int) -> int | None:
    if text is None or text.strip() == "max":
        return None
    try:
        value = procfs.parse_int(text.strip())
    except ValueError:
        return None
    return None if version == 1 and value >= V1_UNLIMITED else value


def scan_limited(host: Any, controller: MemoryController) -> GroupScan:
    """Every cgroup below the hierarchy's root with a memory limit, and what it holds now. A group without a
    limit costs one or two reads; a group's files are read once, through the Host (typed Any: host.py imports
    this module, and no two modules import each other)."""
    mount = host.paths.inside(controller.mount)
    v = controller.version

    def text(path: str) -> str | None:
        try:
            return host.read_text(path, limit=1 << 20)
        except (OSError, ValueError):
            return None

    def number(path: str) -> int | None:
        t = text(path)
        try:
            return None if t is None else procfs.parse_int(t.strip())
        except ValueError:
            return None

    groups: list[GroupMemory] = []
    walked, truncated = 0, False
    queue = deque([""])
    while queue:
        rel = queue.popleft()
        base = mount.rstrip("/") + rel
        try:
            with os.scandir(host.real(base)) as it:
                children = sorted(e.name for e in it if e.is_dir(follow_symlinks=False))
        except OSError:
            children = []
        if walked + len(queue) + len(children) > MAX_GROUPS:
            truncated = True
            children = children[: max(0, MAX_GROUPS - walked - len(queue))]
        queue.extend(f"{rel}/{c}" for c in children if not c.startswith(PREFIX))
        if not rel:
            continue  # the root group has no limit of its own
        walked += 1
        files: dict[str, str] = {}
        if v == 2:
            mx, hi = _limit(text(f"{base}/memory.max"), 2), _limit(text(f"{base}/memory.high"), 2)
            if mx is None and hi is None:
                continue
            files.update(max=f"{base}/memory.max", high=f"{base}/memory.high")
            current, swap = number(f"{base}/memory.current"), number(f"{base}/memory.swap.current")
            files.update(current=f"{base}/memory.current", swap=f"{base}/memory.swap.current")
            events = procfs.parse_vmstat(text(f"{base}/memory.events") or "")
            files["events"] = f"{base}/memory.events"
        else:
            mx, hi = _limit(text(f"{base}/memory.limit_in_bytes"), 1), None
            if mx is None:
                continue
            files["max"] = f"{base}/memory.limit_in_bytes"
            current = number(f"{base}/memory.usage_in_bytes")
            memsw = number(f"{base}/memory.memsw.usage_in_bytes")
            swap = None if memsw is None or current is None else max(memsw - current, 0)
            files.update(current=f"{base}/memory.usage_in_bytes", swap=f"{base}/memory.memsw.usage_in_bytes")
            failcnt = number(f"{base}/memory.failcnt")
            events = {} if failcnt is None else {"failcnt": failcnt}
            files["events"] = f"{base}/memory.failcnt"
        groups.append(GroupMemory(rel, v, current, mx, hi, swap, events, files))
    return GroupScan(v, mount, groups, walked, truncated)
