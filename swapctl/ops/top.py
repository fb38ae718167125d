"""What `swapctl top` reports: who uses swap (per process, user or cgroup), reconciled with the machine's own
total, and with --interval, how fast the machine swaps now (size is not pressure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swapctl.core.errors import UsageError
from swapctl.system import paths, processes, procfs

if TYPE_CHECKING:
    from swapctl.system.host import Host

BY = ("process", "user", "cgroup")
RATES = processes.GROUP_COUNTERS  # the same names in /proc/vmstat and a v2 cgroup's memory.stat
WHY_TOTALS_DIFFER = (
    "the machine counts every used swap slot; VmSwap leaves out swapped-out shared memory (shmem, tmpfs, SysV), "
    "and a page read back but still in the swap cache keeps its slot"
)


def _users(host: Host) -> dict[int, str]:
    """uid -> name from the tree's /etc/passwd (under --root, the tree's own users)."""
    out: dict[int, str] = {}
    for line in (host.read_text_or_none("/etc/passwd") or "").split("\n"):
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            out.setdefault(int(parts[2]), parts[0])
    return out


def scan(host: Host, *, by: str = "process", pss: bool = False, faults: bool = False) -> processes.Scan:
    """One pass over /proc, reading what the report by `by` needs (with faults: each process's majflt too)."""
    if by not in BY:
        raise UsageError(f"--by {by!r} is not one of {', '.join(BY)}")
    return processes.scan(host, pss=pss, cgroups=by == "cgroup", faults=faults)


def snapshot(
    host: Host,
    *,
    by: str = "process",
    pss: bool = False,
    limit: int | None = 20,
    scanned: processes.Scan | None = None,
) -> dict[str, Any]:
    """The report; scanned: a scan(host, by=by, pss=pss) already made (with --interval, the one whose major
    faults give the rates), else one is made here."""
    if scanned is None:
        scanned = scan(host, by=by, pss=pss)
    if pss and not host.is_root:
        note = "--pss reads other users' smaps_rollup only as root: their processes are left out"
    else:
        note = None
    mem = host.meminfo()
    machine_used = mem.get("SwapTotal", 0) - mem.get("SwapFree", 0)
    total = sum(p.swap for p in scanned.procs)
    users = _users(host)
    rows: list[dict[str, Any]]
    if by == "process":
        ranked = sorted((p for p in scanned.procs if p.swap > 0), key=lambda p: (-p.swap, p.pid))
        shown = ranked if limit is None else ranked[:limit]
        rows = [
            {
                "pid": p.pid,
                "user": users.get(p.uid, str(p.uid)),
                "command": processes.command_line(host, p.pid) or p.name,
                "swap": p.swap,
                "rss": p.rss,
                "share": round(100 * p.swap / machine_used, 1) if machine_used else None,
            }
            for p in shown
        ]
    else:
        groups: dict[str, dict[str, Any]] = {}
        for p in scanned.procs:
            key = users.get(p.uid, str(p.uid)) if by == "user" else (p.cgroup or "?")
            g = groups.setdefault(key, {by: key, "processes": 0, "swap": 0, "rss": 0})
            g["processes"] += 1
            g["swap"] += p.swap
            g["rss"] += p.rss
        rows = sorted((g for g in groups.values() if g["swap"] > 0), key=lambda g: -g["swap"])
        if limit is not None:
            rows = rows[:limit]
        for g in rows:
            g["share"] = round(100 * g["swap"] / machine_used, 1) if machine_used else None
            if by == "cgroup":
                own = processes.cgroup_swap(host, g["cgroup"]) if g["cgroup"] != "?" else processes.GroupSwap()
                g.update(
                    cgroup_swap=own.swap,
                    cgroup_source=own.source,
                    cgroup_swap_max=own.swap_max,
                    cgroup_swap_events=own.events,
                    cgroup_zswap=own.zswap,
                    cgroup_counters=own.counters,
                )
    return {
        "by": by,
        "source": "SwapPss (smaps_rollup)" if pss else "VmSwap (status)",
        "rows": rows,
        "total": total,
        "machine_used": machine_used,
        "why_totals_differ": WHY_TOTALS_DIFFER,
        "skipped": {
            "vanished": scanned.vanished,
            "unreadable": scanned.unreadable,
            "kernel_threads": scanned.kernel_threads,
        },
        "note": note,
    }


def vmstat_rates(before: dict[str, int], after: dict[str, int], seconds: float) -> dict[str, float]:
    """Pages per second of swap-in and -out (and zswap's) between two /proc/vmstat readings."""
    return {k: round((after[k] - before.get(k, 0)) / seconds, 1) for k in RATES if k in after}


def cgroup_rates(before: list[dict[str, Any]], after: list[dict[str, Any]], seconds: float) -> str | None:
    """Each cgroup row of `after` gains `rates`: its own swap-in and -out (and zswap's) in pages per second
    from memory.stat, against the same group in `before`; None for a group new in the list, or one whose
    kernel keeps no such counters. Returns why no group has rates, or None when some have."""
    prior = {r["cgroup"]: r.get("cgroup_counters") or {} for r in before}
    for r in after:
        now, then = r.get("cgroup_counters") or {}, prior.get(r["cgroup"])
        r["rates"] = None if not now or not then else vmstat_rates(then, now, seconds)
    if any(r.get("cgroup_counters") for r in after) or not after:
        return None
    return (
        "per-cgroup swap-in and swap-out rates need cgroup v2 on Linux 6.13 or later (pswpin and pswpout in "
        "memory.stat); these groups have no such counters"
    )


def read_vmstat(host: Host) -> dict[str, int]:
    return procfs.parse_vmstat(host.read_text(paths.VMSTAT))


def fault_rates(before: dict[int, int], after: dict[int, int], seconds: float) -> dict[int, float]:
    """Major faults per second per process (the nearest per-process swap-in signal), of the ones in both."""
    return {pid: round((n - before[pid]) / seconds, 1) for pid, n in after.items() if pid in before}


def majflts(scanned: processes.Scan) -> dict[int, int]:
    return {p.pid: p.majflt for p in scanned.procs if p.majflt is not None}
