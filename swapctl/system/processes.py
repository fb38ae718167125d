"""The processes of a machine as /proc shows them, for `swapctl top`: each one's swap (VmSwap, or SwapPss from
smaps_rollup on request), RSS, user, command, cgroup and major faults. Read-only; a process that exits while it
is read, or whose files this user may not read, is skipped and counted, never an error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from swapctl.system import procfs

if TYPE_CHECKING:
    from swapctl.system.host import Host

STATUS_LIMIT = 16 << 10
KIB = 1024


@dataclass
class Proc:
    pid: int
    name: str
    uid: int
    swap: int  # bytes: VmSwap, or SwapPss with --pss
    rss: int  # bytes
    shmem: int  # bytes of RSS that is shared memory (its swapped part is not in VmSwap)
    majflt: int | None = None
    cgroup: str | None = None
    command: str | None = None


@dataclass
class Scan:
    procs: list[Proc] = field(default_factory=list)
    vanished: int = 0  # exited while being read
    unreadable: int = 0  # files this user may not read (smaps_rollup of another user's process)
    kernel_threads: int = 0  # no memory of their own


def _kib(value: str) -> int:
    parts = procfs.fields(value)
    return procfs.parse_int(parts[0]) * KIB if parts else 0


def parse_status(text: str) -> dict[str, str]:
    out = {}
    for line in text.split("\n"):
        key, sep, value = line.partition(":")
        if sep:
            out[key] = value.strip(" \t")
    return out


def parse_cgroup(text: str) -> str | None:
    """The process's memory cgroup: the v1 memory hierarchy's path where there is one, else the v2 path."""
    v2 = None
    for line in text.split("\n"):
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if "memory" in parts[1].split(","):
            return parts[2]
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
    return v2


def parse_majflt(stat: str) -> int | None:
    """Field 12 of /proc/PID/stat, counted after the command's closing parenthesis (a name may hold any)."""
    rest = stat.rpartition(")")[2].split()
    try:
        return procfs.parse_int(rest[9]) if len(rest) > 9 else None
    except ValueError:
        return None


def parse_swap_pss(text: str) -> int | None:
    for line in text.split("\n"):
        if line.startswith("SwapPss:"):
            return _kib(line.partition(":")[2])
    return None


def _read(host: Host, path: str) -> str:
    return host.read_text(path, limit=STATUS_LIMIT)


def scan(host: Host, *, pss: bool = False, cgroups: bool = False, faults: bool = False) -> Scan:
    out = Scan()
    for entry in host.list_dir("/proc") or []:
        if not entry.isdigit():
            continue
        base = f"/proc/{entry}"
        try:
            status = parse_status(_read(host, f"{base}/status"))
            if "VmSwap" not in status:  # kernel threads have no mm
                out.kernel_threads += 1
                continue
            uid = procfs.parse_int(procfs.fields(status.get("Uid", "0"))[0])
            swap = _kib(status["VmSwap"])
            if pss:
                try:
                    got = parse_swap_pss(_read(host, f"{base}/smaps_rollup"))
                except PermissionError:
                    out.unreadable += 1
                    continue
                swap = got if got is not None else swap
            proc = Proc(
                pid=int(entry),
                name=status.get("Name", "?"),
                uid=uid,
                swap=swap,
                rss=_kib(status.get("VmRSS", "0")),
                shmem=_kib(status.get("RssShmem", "0")),
            )
            if cgroups:
                proc.cgroup = parse_cgroup(_read(host, f"{base}/cgroup"))
            if faults:
                proc.majflt = parse_majflt(_read(host, f"{base}/stat"))
        except (FileNotFoundError, ProcessLookupError):
            out.vanished += 1
            continue
        except PermissionError:
            out.unreadable += 1
            continue
        except (OSError, ValueError):
            out.unreadable += 1  # a file that is not what the kernel writes (a damaged --root tree)
            continue
        out.procs.append(proc)
    return out


def command_line(host: Host, pid: int) -> str | None:
    """The command line, NULs as spaces, shortened; None when it is gone or empty (a zombie)."""
    try:
        raw = host.read_bytes(f"/proc/{pid}/cmdline", limit=4096)
    except OSError:
        return None
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
    return text or None


# memory.stat counters of swap traffic: cgroup v2 has pswpin/pswpout from 6.13, zswpin/zswpout from 5.19 and
# zswpwb from 6.8; cgroup v1's memory.stat has none of them.
GROUP_COUNTERS = ("pswpin", "pswpout", "zswpin", "zswpout", "zswpwb")


@dataclass
class GroupSwap:
    """What a cgroup itself says of its swap: sizes in bytes, None where the file is absent."""

    swap: int | None = None  # v2 memory.swap.current; v1 memory.memsw.usage_in_bytes - memory.usage_in_bytes
    source: str = "none"
    swap_max: int | None = None  # v2 memory.swap.max; None: "max" (no limit) or absent
    events: dict[str, int] = field(default_factory=dict)  # v2 memory.swap.events: high, max, fail
    zswap: int | None = None  # v2 memory.zswap.current (5.19+)
    counters: dict[str, int] = field(default_factory=dict)  # GROUP_COUNTERS found in memory.stat (pages)


def _number(host: Host, path: str) -> int | None:
    try:
        text = _read(host, path).strip()
        return None if text == "max" else procfs.parse_int(text)
    except (OSError, ValueError):
        return None


def cgroup_swap(host: Host, path: str) -> GroupSwap:
    """A cgroup's own swap figures: v2 memory.swap.* and memory.stat's swap counters, or v1 memsw - usage."""
    base = f"/sys/fs/cgroup{path}"
    current = _number(host, f"{base}/memory.swap.current")
    if current is not None:
        try:
            stat = procfs.parse_vmstat(_read(host, f"{base}/memory.stat"))
        except OSError:
            stat = {}
        try:
            events = procfs.parse_vmstat(_read(host, f"{base}/memory.swap.events"))
        except OSError:
            events = {}
        return GroupSwap(
            swap=current,
            source="memory.swap.current",
            swap_max=_number(host, f"{base}/memory.swap.max"),
            events=events,
            zswap=_number(host, f"{base}/memory.zswap.current"),
            counters={k: stat[k] for k in GROUP_COUNTERS if k in stat},
        )
    v1 = f"/sys/fs/cgroup/memory{path}"
    memsw, usage = _number(host, f"{v1}/memory.memsw.usage_in_bytes"), _number(host, f"{v1}/memory.usage_in_bytes")
    if memsw is None or usage is None:
        return GroupSwap()
    return GroupSwap(swap=max(memsw - usage, 0), source="memory.memsw.usage_in_bytes - memory.usage_in_bytes")
