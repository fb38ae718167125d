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


def cgroup_swap(host: Host, path: str) -> tuple[int | None, str]:
    """A cgroup's swap use and where it was read: v2 memory.swap.current, or v1 memsw.usage - usage."""
    base = "/sys/fs/cgroup"
    try:
        return procfs.parse_int(_read(host, f"{base}{path}/memory.swap.current").strip()), "memory.swap.current"
    except (OSError, ValueError):
        pass
    try:
        memsw = procfs.parse_int(_read(host, f"{base}/memory{path}/memory.memsw.usage_in_bytes").strip())
        usage = procfs.parse_int(_read(host, f"{base}/memory{path}/memory.usage_in_bytes").strip())
        return max(memsw - usage, 0), "memory.memsw.usage_in_bytes - memory.usage_in_bytes"
    except (OSError, ValueError):
        return None, "none"
