"""`swapctl doctor`: the whole machine read once, then explained as a sysadmin reads it (watermarks, kswapd,
direct reclaim, NUMA, zone_reclaim_mode, swappiness, cgroup limits), as findings with a stable id, a severity,
the numbers behind them and the file each came from, what they mean and the command that would change them.

read() takes the one reading (every /proc and /sys file at most once, through system/host.py ReadOnce; only
/proc/vmstat is read a second time, --interval seconds later, for rates); each check is a pure function of
that Reading, so a test can build one finding without the others."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from swapctl.core.errors import UsageError
from swapctl.core.units import format_bytes
from swapctl.kernel import mm
from swapctl.kernel.knobs import KNOBS
from swapctl.system import paths, procfs

if TYPE_CHECKING:
    from swapctl.core.journal import Journal, Transaction
    from swapctl.ops.vm import VmState
    from swapctl.system.cgroup import GroupScan
    from swapctl.system.host import Host

SEVERITIES = ("info", "warning", "critical")  # in order; warning or above makes the run exit 4
# Every finding's id: stable (scripts and `swapctl metrics` key on them); the README lists each.
IDS = (
    "no-swap",
    "swap-nearly-full",
    "swapping-now",
    "direct-reclaim",
    "psi-memory",
    "numa-node-below-low",
    "zone-reclaim-mode",
    "cgroup-at-limit-swapping",
    "min-free-kbytes-unusual",
    "swappiness-extreme",
    "zram-priority-below-disk",
    "zswap-in-front-of-zram",
    "zram-unit-not-running",
    "persisted-drift",
    "pending-transaction",
    "journal-damaged",
    "swap-not-encrypted",
)

# --- thresholds (each finding's docstring says why) ------------------------------------------------------
SWAP_NEARLY_FULL = 0.90  # share of SwapTotal in use: warning
SWAP_FULL = 0.98  # critical: the next burst has nowhere to go but the OOM killer
SWAP_RATE_WARN = 1 << 20  # bytes/s of swap-in + swap-out: warning (below it: info)
PSI_SOME_WARN = 10.0  # % of time some task stalled on memory (avg10 or avg60)
PSI_FULL_WARN = 5.0  # % of time every non-idle task stalled at once
PSI_FULL_CRIT = 20.0
CGROUP_AT_LIMIT = 0.95  # memory.current at or above this share of memory.max / memory.high
MACHINE_HAS_MEMORY = 0.10  # MemAvailable at least this share of MemTotal: the machine is not short
MIN_FREE_LOW = 0.5  # min_free_kbytes below half the kernel's own value: warning
MIN_FREE_HIGH = 4.0  # above four times it (yet within the safe limit): info
MAX_CGROUP_FINDINGS = 10


# --- the reading -----------------------------------------------------------------------------------------
@dataclass
class Reading:
    """Everything doctor decides from, read once."""

    release: str = ""
    page_size: int = 4096
    meminfo: dict[str, int] = field(default_factory=dict)
    areas: list[dict[str, Any]] = field(default_factory=list)  # ops/inventory.py report(): the `list` rows
    vmstat: dict[str, int] | None = None  # the first reading
    vmstat_after: dict[str, int] | None = None  # the second, `seconds` later (None with --interval 0)
    seconds: float = 0.0
    pressure: dict[str, dict[str, float]] | None = None
    state: VmState | None = None  # ops/vm.py read_state(): runtime values, zones, what the next boot applies
    vm_rows: list[dict[str, Any]] = field(default_factory=list)  # ops/vm.py describe(): drift per knob
    numa: dict[str, Any] | None = None  # ops/watermarks.py build_numa() data
    cgroups: GroupScan | None = None
    zswap: dict[str, str] | None = None  # /sys/module/zswap/parameters
    # booted with systemd: swapctl's enabled zram units, each with the device it made this boot (None: none)
    zram_units: list[dict[str, Any]] = field(default_factory=list)
    pending: Transaction | None = None
    journal_problem: str | None = None  # a damaged journal: what is wrong, and its hint
    journal_path: str = ""
    not_checked: list[dict[str, str]] = field(default_factory=list)

    def skip(self, check: str, why: str) -> None:
        self.not_checked.append({"check": check, "why": why})

    @property
    def values(self) -> dict[str, int | None]:
        return self.state.values if self.state is not None else {}


def read(
    host: Host,
    journal: Journal,
    *,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Reading:
    """The one reading of the machine. /proc/vmstat is read first and again `interval` seconds later (the
    other files are read in between, so the wait is shorter by what reading them took); sleep and clock are
    the test seam."""
    from swapctl.core.journal import JournalCorrupt
    from swapctl.ops import inventory, vm, watermarks, zram_boot
    from swapctl.ops.swapfile import managed_paths
    from swapctl.system import numa, zswap
    from swapctl.system.cgroup import scan_limited
    from swapctl.system.host import ReadOnce

    once = host if isinstance(host, ReadOnce) else ReadOnce(host)
    r = Reading(journal_path=str(journal.path))
    try:
        r.vmstat = procfs.parse_vmstat(once.read_text(paths.VMSTAT))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        r.skip("swapping-now, direct-reclaim", f"cannot read {paths.VMSTAT}")
    start = clock()
    r.release = once.kernel_release()
    r.meminfo = once.meminfo()

    managed: set[str] | None = None
    try:
        managed = managed_paths(journal)
        r.pending = journal.pending()
    except PermissionError:
        r.skip("pending-transaction", f"cannot read the journal in {journal.path.parent} (run as root)")
    except JournalCorrupt as exc:
        r.journal_problem = exc.message + (f" ({exc.hint})" if exc.hint else "")
    r.areas = inventory.report(once, managed)[0]["areas"]
    r.zswap = zswap.read_parameters(once)
    if once.is_dir("/run/systemd/system"):  # booted with systemd: the units have had their chance to run
        r.zram_units = [{"unit": u.path, "key": u.key, "device": u.device} for u in zram_boot.units(once) if u.enabled]

    r.state = vm.read_state(once)
    r.vm_rows = vm.describe(r.state, list(KNOBS.values()))
    memory = r.state.memory
    r.page_size = memory.page_size
    problem = memory.zones_problem
    if isinstance(problem, UsageError):
        raise problem  # a damaged zoneinfo: exit 2, as watermarks and numa do
    if problem is not None:
        r.skip("numa-node-below-low, min-free-kbytes-unusual", problem.message)
    else:
        r.numa = watermarks.build_numa(memory, numa.read_nodes(once))[0]

    try:
        r.pressure = procfs.parse_pressure(once.read_text(paths.PRESSURE_MEMORY))
    except (FileNotFoundError, NotADirectoryError):
        r.skip("psi-memory", f"no {paths.PRESSURE_MEMORY} (a kernel without PSI)")
    except OSError as exc:  # EOPNOTSUPP: built in, but off (psi=0)
        r.skip("psi-memory", f"cannot read {paths.PRESSURE_MEMORY}: {exc.strerror or exc}")

    controller = once.memory_controller()
    if controller is None:
        r.skip("cgroup-at-limit-swapping", "no memory cgroup controller is mounted")
    else:
        r.cgroups = scan_limited(once, controller)

    if r.vmstat is not None and interval > 0:
        sleep(max(0.0, interval - (clock() - start)))
        try:
            r.vmstat_after = procfs.parse_vmstat(once.fresh.read_text(paths.VMSTAT))
            r.seconds = max(clock() - start, 1e-6)
        except OSError:
            r.skip("swapping-now, direct-reclaim", f"{paths.VMSTAT} could not be read a second time")
    elif r.vmstat is not None:
        r.skip("swapping-now, direct-reclaim", "--interval 0 takes one reading: no rates")
    return r


# --- findings --------------------------------------------------------------------------------------------
def ev(name: str, value: Any, source: str, unit: str | None = None) -> dict[str, Any]:
    """One number read, and where from: unit is "bytes", "pages", "kB", "%", "pages/s", "bytes/s" or None."""
    return {"name": name, "value": value, "unit": unit, "source": source}


def finding(
    id: str,
    severity: str,
    summary: str,
    evidence: list[dict[str, Any]],
    meaning: str,
    fix: list[str],
    subject: str | None = None,
) -> dict[str, Any]:
    assert severity in SEVERITIES and id in IDS
    return {
        "id": id,
        "severity": severity,
        "subject": subject,
        "summary": summary,
        "evidence": evidence,
        "meaning": meaning,
        "fix": fix,
    }


def _delta(r: Reading, prefix: str, exclude: tuple[str, ...] = ()) -> float | None:
    """Per second over the interval, of every counter starting with `prefix` (allocstall_normal and the old
    allocstall alike; pgscan_kswapd and the per-zone pgscan_kswapd_normal of 4.x)."""
    if r.vmstat is None or r.vmstat_after is None or r.seconds <= 0:
        return None
    keys = [k for k in r.vmstat_after if k.startswith(prefix) and k not in exclude]
    if not keys:
        return None
    return round(sum(r.vmstat_after[k] - r.vmstat.get(k, 0) for k in keys) / r.seconds, 1)


def rates(r: Reading) -> dict[str, float] | None:
    """Pages per second between the two vmstat readings: swap-in/out, zswap, and who scans (kswapd, direct
    reclaim by the allocating tasks, reclaim forced by cgroup limits)."""
    if r.vmstat_after is None:
        return None
    out: dict[str, float] = {}
    for key, prefix, exclude in (
        ("pswpin", "pswpin", ()),
        ("pswpout", "pswpout", ()),
        ("zswpin", "zswpin", ()),
        ("zswpout", "zswpout", ()),
        ("zswpwb", "zswpwb", ()),
        ("pgscan_kswapd", "pgscan_kswapd", ()),
        ("pgscan_direct", "pgscan_direct", ("pgscan_direct_throttle",)),
        ("pgsteal_kswapd", "pgsteal_kswapd", ()),
        ("pgsteal_direct", "pgsteal_direct", ()),
        ("allocstall", "allocstall", ()),
        ("pgscan_anon", "pgscan_anon", ()),
        ("pgscan_file", "pgscan_file", ()),
        ("pgscan_khugepaged", "pgscan_khugepaged", ()),
        ("pgscan_proactive", "pgscan_proactive", ()),
    ):
        value = _delta(r, prefix, exclude)
        if value is not None:
            out[key] = value
    if "pgscan_anon" in out and "pgscan_file" in out:
        # pgscan_anon/_file count all reclaim; the global items leave out reclaim a cgroup's limit forces
        # (mm/vmscan.c: cgroup_reclaim() skips PGSCAN_KSWAPD/PGSCAN_DIRECT).
        global_scan = sum(out.get(k, 0.0) for k in ("pgscan_kswapd", "pgscan_direct", "pgscan_khugepaged"))
        global_scan += out.get("pgscan_proactive", 0.0)
        out["pgscan_cgroup"] = round(max(0.0, out["pgscan_anon"] + out["pgscan_file"] - global_scan), 1)
    return out


def _mib(n: int) -> str:
    """A size as swapctl's --size and systemd's properties both read it: whole MiB, rounded up."""
    return f"{-(-n // (1 << 20))}M"


def _free_swap_path(r: Reading) -> str:
    taken = {a["path"] for a in r.areas}
    return next(p for p in ("/swapfile", "/swapfile2", "/swapfile3", "/var/swapfile") if p not in taken)


def check_no_swap(r: Reading) -> list[dict[str, Any]]:
    """No swap area at all: warning. Without swap, anonymous memory (heap, stacks, tmpfs) can never leave RAM,
    so under pressure reclaim can only drop page cache, down to the executables' own pages, and then the OOM
    killer runs. Running without swap can be a choice; doctor still says what it costs."""
    if r.areas:
        return []
    mi = r.meminfo
    zswap_on = (r.zswap or {}).get("enabled") == "Y"
    return [
        finding(
            "no-swap",
            "warning",
            "no swap area is active: anonymous memory can never leave RAM",
            [
                ev("swap areas", 0, paths.SWAPS),
                ev("SwapTotal", mi.get("SwapTotal", 0), paths.MEMINFO, "bytes"),
                ev("MemTotal", mi.get("MemTotal", 0), paths.MEMINFO, "bytes"),
                ev("MemAvailable", mi.get("MemAvailable", 0), paths.MEMINFO, "bytes"),
            ],
            "With no swap, kswapd and direct reclaim can only evict page cache (file pages); anonymous "
            "memory stays resident however cold it is. Under pressure the machine drops its file cache, re-reads "
            "its own programs from disk (thrashing without a single swap-out), and then the OOM killer picks a "
            "victim. A little swap lets the kernel park cold anonymous pages instead."
            + (" zswap is enabled, but it stores nothing without a swap area behind it." if zswap_on else ""),
            [
                f"swapctl create {_free_swap_path(r)} --size auto",
                "swapctl zram create --size auto   (compressed swap in RAM, no disk)",
            ],
        )
    ]


def check_swap_full(r: Reading) -> list[dict[str, Any]]:
    """Swap used at 90% of SwapTotal or more: warning; 98%: critical. Swap holding cold pages is fine, but
    nearly full swap means the next burst of anonymous memory has nowhere to go but the OOM killer."""
    total, free = r.meminfo.get("SwapTotal", 0), r.meminfo.get("SwapFree", 0)
    if total <= 0:
        return []
    share = (total - free) / total
    if share < SWAP_NEARLY_FULL:
        return []
    severity = "critical" if share >= SWAP_FULL else "warning"
    evidence = [
        ev("SwapTotal", total, paths.MEMINFO, "bytes"),
        ev("SwapFree", free, paths.MEMINFO, "bytes"),
        ev("used", round(100 * share, 1), "SwapTotal - SwapFree", "%"),
    ]
    evidence += [ev(f"{a['path']} used", a["used"], paths.SWAPS, "bytes") for a in r.areas]
    evidence += [ev(f"{a['path']} size", a["size"], paths.SWAPS, "bytes") for a in r.areas]
    managed = [a for a in r.areas if a.get("managed") and a["type"] == "file"]
    fix = ["swapctl top   (who holds the swap)"]
    if managed:
        a = managed[0]
        fix.append(f"swapctl resize {a['path']} --size {_mib(2 * a['size'])}")
    fix.append(f"swapctl create {_free_swap_path(r)} --size auto")
    return [
        finding(
            "swap-nearly-full",
            severity,
            f"swap is {100 * share:.0f}% full: {format_bytes(total - free)} of {format_bytes(total)} in use",
            evidence,
            "When swap is full, reclaim can no longer move anonymous pages out, and the kernel behaves as if it "
            "had no swap: it drops page cache, then OOM-kills. Swap that fills and stays full often means a "
            "process leaking memory (swapctl top shows who) rather than too little swap.",
            fix,
        )
    ]


def check_swapping_now(r: Reading) -> list[dict[str, Any]]:
    """Pages moving to or from swap between the two readings: info; at 1 MiB/s or more in and out together,
    warning. Size is not pressure: this is the rate, and who is doing the reclaim (kswapd in the background,
    the allocating tasks themselves, or a cgroup's limit)."""
    rt = rates(r)
    if rt is None:
        return []
    ps = r.page_size
    swap_in, swap_out = rt.get("pswpin", 0.0), rt.get("pswpout", 0.0)
    z_in, z_out = rt.get("zswpin", 0.0), rt.get("zswpout", 0.0)
    if not (swap_in or swap_out or z_in or z_out):
        return []
    moved = (swap_in + swap_out) * ps
    severity = "warning" if moved >= SWAP_RATE_WARN else "info"
    k, d, c = rt.get("pgscan_kswapd", 0.0), rt.get("pgscan_direct", 0.0), rt.get("pgscan_cgroup", 0.0)
    scanned = k + d + c
    if scanned <= 0:
        who = "no reclaim scanned in the interval: pages are being read back in (swap-in) after earlier pressure"
    else:
        parts = [(k, "kswapd"), (d, "direct reclaim by the allocating tasks"), (c, "cgroup limits")]
        who = "reclaim by " + ", ".join(f"{name} {100 * n / scanned:.0f}%" for n, name in parts if n)
    src = f"{paths.VMSTAT}, over {r.seconds:.1f} s"
    evidence = [
        ev("pswpin", swap_in, src, "pages/s"),
        ev("pswpout", swap_out, src, "pages/s"),
        *(ev(n, rt[n], src, "pages/s") for n in ("zswpin", "zswpout", "zswpwb") if rt.get(n)),
        ev("pgscan_kswapd", k, src, "pages/s"),
        ev("pgscan_direct", d, src, "pages/s"),
        *(
            (ev("cgroup reclaim (pgscan_anon + pgscan_file - global)", c, src, "pages/s"),)
            if "pgscan_cgroup" in rt
            else ()
        ),
        ev("allocstall", rt.get("allocstall", 0.0), src, "stalls/s"),
    ]
    return [
        finding(
            "swapping-now",
            severity,
            f"swapping now: {format_bytes(swap_out * ps)}/s out, {format_bytes(swap_in * ps)}/s in; {who}",
            evidence,
            "kswapd wakes when a zone's free pages fall below its low watermark and reclaims until they reach "
            "the high one; anonymous pages it reclaims go to swap (pswpout). Swap-in (pswpin) is the cost "
            "people feel: each page is a major fault a task waits for. Reclaim by cgroup limits happens "
            "whatever the machine has free (memory.max / memory.high). Steady swap-in means the working set "
            "does not fit.",
            [
                "swapctl top --interval 2   (who swaps, and each process's major faults)",
                "swapctl vm set swappiness=10 --persist   (prefer dropping page cache to swapping)",
            ],
        )
    ]


def check_direct_reclaim(r: Reading) -> list[dict[str, Any]]:
    """Allocating tasks reclaiming themselves during the interval (allocstall or pgscan_direct): warning.
    Each stall is latency in a real task: free memory fell through the low watermark faster than kswapd
    could refill it, down to the min watermark."""
    rt = rates(r)
    if rt is None:
        return []
    stalls, direct = rt.get("allocstall", 0.0), rt.get("pgscan_direct", 0.0)
    if not (stalls or direct):
        return []
    src = f"{paths.VMSTAT}, over {r.seconds:.1f} s"
    wsf = r.values.get("watermark_scale_factor")
    proposal = 200 if wsf is None or wsf < 200 else min(wsf * 2, 3000)
    return [
        finding(
            "direct-reclaim",
            "warning",
            f"direct reclaim: {stalls:g} allocation stalls/s, {direct:g} pages/s scanned by the allocating tasks",
            [
                ev("allocstall", stalls, src, "stalls/s"),
                ev("pgscan_direct", direct, src, "pages/s"),
                ev("pgsteal_direct", rt.get("pgsteal_direct", 0.0), src, "pages/s"),
                ev("pgscan_kswapd", rt.get("pgscan_kswapd", 0.0), src, "pages/s"),
                ev("watermark_scale_factor", wsf, paths.vm_sysctl("watermark_scale_factor")),
            ],
            "An allocation that finds a zone below its min watermark cannot wait for kswapd: the task "
            "reclaims memory itself (direct reclaim) and stalls until it has some. kswapd is falling behind. "
            "A larger watermark_scale_factor widens the gap between the low and high watermarks, so kswapd "
            "wakes earlier and reclaims further ahead of the allocations.",
            [
                f"swapctl watermarks --what-if watermark_scale_factor={proposal}",
                f"swapctl vm set watermark_scale_factor={proposal} --persist",
                "swapctl top --interval 2   (who allocates and swaps)",
            ],
        )
    ]


def check_psi(r: Reading) -> list[dict[str, Any]]:
    """Memory pressure stall information: some (at least one task waited on memory) at 10% of the time or more,
    or full (every non-idle task waited at once) at 5%: warning; full at 20%: critical. The larger of the
    10 s and 60 s averages counts, so a burst that has just passed still shows."""
    p = r.pressure
    if p is None or "some" not in p:
        return []
    some, full = p.get("some", {}), p.get("full", {})
    some_now = max(some.get("avg10", 0.0), some.get("avg60", 0.0))
    full_now = max(full.get("avg10", 0.0), full.get("avg60", 0.0))
    if full_now >= PSI_FULL_CRIT:
        severity = "critical"
    elif full_now >= PSI_FULL_WARN or some_now >= PSI_SOME_WARN:
        severity = "warning"
    else:
        return []
    src = paths.PRESSURE_MEMORY
    return [
        finding(
            "psi-memory",
            severity,
            f"memory pressure: tasks stalled on memory {some_now:.1f}% of the time (some), "
            f"all at once {full_now:.1f}% (full)",
            [
                *(ev(f"some {k}", some[k], src, "%") for k in ("avg10", "avg60", "avg300") if k in some),
                *(ev(f"full {k}", full[k], src, "%") for k in ("avg10", "avg60", "avg300") if k in full),
            ],
            "PSI counts the wall-clock time tasks spent waiting for memory: in direct reclaim, on a swap-in "
            "or on refaulting page cache. 'some' is time at least one task waited; 'full' is time every "
            "non-idle task waited at once, time the machine did no useful work. Sustained full pressure is "
            "thrashing.",
            [
                "swapctl top --interval 2   (who swaps and faults)",
                "swapctl numa   (a node, rather than the machine, may be short)",
            ],
        )
    ]


def _zrm_evidence(mode: int | None) -> list[dict[str, Any]]:
    src = paths.vm_sysctl("zone_reclaim_mode")
    out = [ev("zone_reclaim_mode", mode, src)]
    if mode is not None:
        for bit, text in mm.RECLAIM_BITS.items():
            out.append(ev(f"  bit {bit} ({text})", "on" if mode & bit else "off", src))
        if mode & ~7:
            out.append(ev("  unknown bits", f"0x{mode & ~7:x}", src))
    return out


def check_numa(r: Reading) -> list[dict[str, Any]]:
    """A NUMA node with a zone below its low watermark while another node has memory above its high
    watermarks: warning. This is the classic "swapping with free memory": kswapd of each node balances only
    that node's zones, and zone_reclaim_mode (decoded in the evidence) may keep allocations local."""
    if r.numa is None or r.state is None:
        return []
    nodes = r.numa["nodes"]
    short = [n for n in nodes if n["below_low"]]
    roomy = [n for n in nodes if n["has_memory"] and not n["below_low"] and n["free_pages"] > n["high_pages"]]
    if not (short and roomy):
        return []
    ps = r.page_size
    mode = r.values.get("zone_reclaim_mode")
    evidence = []
    for z in r.state.memory.zones:
        if any(z.node == n["node"] and z.name in n["below_low"] for n in short):
            evidence.append(ev(f"node {z.node} {z.name} free", z.free, paths.ZONEINFO, "pages"))
            evidence.append(ev(f"node {z.node} {z.name} low", z.low, paths.ZONEINFO, "pages"))
            evidence.append(ev(f"node {z.node} {z.name} min", z.min, paths.ZONEINFO, "pages"))
    for n in roomy:
        evidence.append(ev(f"node {n['node']} free", n["free_pages"], paths.ZONEINFO, "pages"))
        evidence.append(ev(f"node {n['node']} high", n["high_pages"], paths.ZONEINFO, "pages"))
    evidence += _zrm_evidence(mode)
    s_txt = ", ".join(f"node {n['node']}" for n in short)
    r_txt = ", ".join(f"node {n['node']} ({format_bytes(n['free_pages'] * ps)} free)" for n in roomy)
    fix = ["swapctl numa   (every node's zones against their watermarks)"]
    if mode:
        fix.insert(0, "swapctl vm set zone_reclaim_mode=0 --persist")
    else:
        fix.append("numastat -p PID; check numactl --membind, mbind() and cpuset.mems bindings")
    return [
        finding(
            "numa-node-below-low",
            "warning",
            f"{s_txt} below its low watermark while {r_txt} has memory to spare",
            evidence,
            " ".join(r.numa["why_swap_while_free"]),
            fix,
        )
    ]


def check_zone_reclaim_mode(r: Reading) -> list[dict[str, Any]]:
    """zone_reclaim_mode other than 0: on a machine with two or more memory nodes, warning (the kernel reclaims,
    and with bit 4 swaps, on the local node rather than allocate from a remote one that has memory); on one
    node, info (it has no effect there)."""
    mode = r.values.get("zone_reclaim_mode")
    if not mode or r.state is None:
        return []
    nodes = r.state.memory.nodes
    numa_machine = nodes > 1
    decoded = mm.decode_zone_reclaim_mode(mode)
    return [
        finding(
            "zone-reclaim-mode",
            "warning" if numa_machine else "info",
            f"zone_reclaim_mode={mode} ({', '.join(decoded['flags'])})"
            + (f" on {nodes} memory nodes" if numa_machine else ": no effect on one memory node"),
            [*_zrm_evidence(mode), ev("memory nodes", nodes, f"{paths.NODES}/has_memory")],
            f"zone_reclaim_mode is {decoded['meaning']}. Each bit: 1 turns zone reclaim on, 2 lets it write "
            "dirty pages out, 4 lets it swap and unmap pages. Local reclaim keeps memory access local at the "
            "price of reclaiming (and swapping) while other nodes have free memory; it suits only workloads "
            "partitioned per node. The kernel's default is 0.",
            ["swapctl vm set zone_reclaim_mode=0 --persist"],
        )
    ]


def _unit_of(path: str) -> str | None:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name if name.endswith((".service", ".scope", ".slice")) else None


def check_cgroups(r: Reading) -> list[dict[str, Any]]:
    """A memory cgroup at 95% or more of its memory.max or memory.high (v1 memory.limit_in_bytes) that has
    pages in swap, while the machine has at least 10% of its memory available: warning. Its limit, not the
    machine, makes it swap: reclaim inside a group is driven by its own limit whatever is free outside it."""
    scan = r.cgroups
    total, available = r.meminfo.get("MemTotal", 0), r.meminfo.get("MemAvailable", 0)
    if scan is None or total <= 0 or available < MACHINE_HAS_MEMORY * total:
        return []
    hits = []
    for g in scan.groups:
        limits = [x for x in (g.max, g.high) if x is not None]
        if not limits or g.current is None or not g.swap:
            continue
        limit = min(limits)
        if g.current < CGROUP_AT_LIMIT * limit:
            continue
        hits.append((g, limit))
    hits.sort(key=lambda h: -(h[0].swap or 0))
    out = []
    for g, limit in hits[:MAX_CGROUP_FINDINGS]:
        which = "memory.high" if g.high is not None and limit == g.high and g.max != limit else "memory.max"
        if g.version == 1:
            which = "memory.limit_in_bytes"
        evidence = [
            ev("current", g.current, g.files["current"], "bytes"),
            *((ev("memory.max", g.max, g.files["max"], "bytes"),) if g.max is not None else ()),
            *((ev("memory.high", g.high, g.files["high"], "bytes"),) if g.high is not None else ()),
            ev("swap", g.swap, g.files["swap"], "bytes"),
            *(
                ev(f"events {k}", v, g.files["events"])
                for k, v in g.events.items()
                if k in ("max", "high", "oom", "oom_kill", "failcnt")
            ),
            ev("MemAvailable", available, paths.MEMINFO, "bytes"),
            ev("MemTotal", total, paths.MEMINFO, "bytes"),
        ]
        unit = _unit_of(g.path)
        holds = (g.current or 0) + (g.swap or 0)
        if unit and g.version == 2:
            prop = "MemoryHigh" if which == "memory.high" else "MemoryMax"
            fix = [f"systemctl set-property {unit} {prop}={_mib(holds)}   (what it holds now, swap included)"]
        else:
            fix = [f"echo {holds} > {g.files['high'] if which == 'memory.high' else g.files['max']}"]
        fix.append("swapctl top --by cgroup   (its processes and what each has in swap)")
        out.append(
            finding(
                "cgroup-at-limit-swapping",
                "warning",
                f"cgroup {g.path} is at its {which} ({format_bytes(g.current or 0)} of {format_bytes(limit)}) "
                f"and has {format_bytes(g.swap or 0)} in swap, while the machine has "
                f"{format_bytes(available)} available",
                evidence,
                "A memory cgroup is reclaimed against its own limit: when its usage reaches memory.max (or "
                "memory.high, which throttles), the kernel reclaims and swaps that group's pages whatever the "
                "machine has free. This is the usual answer to 'why does it swap with free memory' on a single "
                "node: the group is short, not the machine. Raise its limit, or let it be if the swapped pages "
                "are cold (memory.events max counts how often it hit the limit).",
                fix,
                subject=g.path,
            )
        )
    return out


def check_min_free(r: Reading) -> list[dict[str, Any]]:
    """min_free_kbytes above swapctl's safe limit (5% of lowmem, as `vm set` draws it): warning, since so large a
    reserve starves the machine and can deadlock it; below half the kernel's own value: warning (atomic
    allocations, by network drivers in interrupts, fail: "page allocation failure"); above four times it:
    info (kswapd keeps that much more free, and reclaims to do so)."""
    if r.state is None or r.state.memory.zones_problem is not None:
        return []
    value = r.values.get("min_free_kbytes")
    if value is None:
        return []
    facts = r.state.min_free
    default = facts.boot_default
    src = paths.vm_sysctl("min_free_kbytes")
    evidence = [
        ev("min_free_kbytes", value, src, "kB"),
        ev("kernel default (estimated)", facts.kernel_default, f"{paths.ZONEINFO} managed pages", "kB"),
        *(
            (ev("khugepaged raises it to", facts.khugepaged, paths.THP_ENABLED, "kB"),)
            if facts.khugepaged is not None
            else ()
        ),
        ev("safe limit", facts.safe_limit, f"{mm.SAFE_SHARE_PERCENT}% of {facts.basis}", "kB"),
    ]
    if value > facts.safe_limit:
        severity, summary = (
            "warning",
            f"min_free_kbytes={value} is above the safe limit of {facts.safe_limit} kB "
            f"({mm.SAFE_SHARE_PERCENT}% of {facts.basis})",
        )
    elif default and value < MIN_FREE_LOW * default:
        severity, summary = "warning", f"min_free_kbytes={value} is under half the kernel's own value (~{default})"
    elif default and value > MIN_FREE_HIGH * default:
        severity, summary = "info", f"min_free_kbytes={value} is over four times the kernel's own value (~{default})"
    else:
        return []
    target = default or facts.safe_limit
    return [
        finding(
            "min-free-kbytes-unusual",
            severity,
            summary,
            evidence,
            "min_free_kbytes sets every zone's min watermark (shared out by size), and low and high follow "
            "from it: below min only atomic and reclaiming allocations succeed; kswapd keeps free memory "
            "between low and high. Too small, and bursts of atomic allocations (network receive) fail; too "
            "large, and that memory is never usable, kswapd reclaims and swaps to keep it free, and near half "
            "of RAM the kernel can deadlock.",
            [
                f"swapctl watermarks --what-if min_free_kbytes={target}",
                f"swapctl vm set min_free_kbytes={target} --persist",
            ],
        )
    ]


def check_swappiness(r: Reading) -> list[dict[str, Any]]:
    """swappiness 0 with swap active: warning (anonymous pages are reclaimed only when page cache is nearly
    gone, so the OOM killer can run with swap free). Above 100 while the first swap area is a disk and zswap
    is off: warning (the kernel then prefers swapping to dropping page cache, which only pays when swap-out is
    cheaper than a file read: zram or zswap)."""
    value = r.values.get("swappiness")
    if value is None or not r.areas:
        return []
    first = max(r.areas, key=lambda a: a["priority"])
    zswap_on = (r.zswap or {}).get("enabled") == "Y"
    src = paths.vm_sysctl("swappiness")
    evidence = [
        ev("swappiness", value, src),
        ev("first swap area", f"{first['path']} ({first['type']}, priority {first['priority']})", paths.SWAPS),
        ev("zswap enabled", (r.zswap or {}).get("enabled"), "/sys/module/zswap/parameters/enabled"),
    ]
    if value == 0:
        summary = "swappiness=0: anonymous memory is swapped only when page cache is nearly gone"
        fix = ["swapctl vm set swappiness=10 --persist   (still a strong preference for keeping it)"]
    elif value > 100 and first["type"] != "zram" and not zswap_on:
        summary = f"swappiness={value} prefers swapping to dropping page cache, with disk swap first"
        fix = ["swapctl vm set swappiness=60 --persist", "swapctl zram create --size auto   (where >100 pays)"]
    else:
        return []
    return [
        finding(
            "swappiness-extreme",
            "warning",
            summary,
            evidence,
            "swappiness weighs the cost of reclaiming anonymous pages (a swap-out, later a swap-in) against "
            "page cache (a re-read from disk): 100 is equal cost, 60 the default, up to 200 favours swap "
            "(for zram and zswap, where a swap-in is a decompression). At 0 the kernel swaps only when file "
            "pages are nearly exhausted, so it may OOM-kill with swap free; above 100 on disk swap it writes "
            "anonymous memory to disk to keep cache it could re-read.",
            fix,
        )
    ]


def check_zram_priority(r: Reading) -> list[dict[str, Any]]:
    """A zram area whose priority is not above every disk area: warning. The kernel fills the highest priority
    first and stripes areas of equal priority, so zram, the cheap one, is used only after (or with) disk."""
    from swapctl.ops.inventory import zram_below_disk

    out = []
    for z, d in zram_below_disk(r.areas):
        new = max(100, d["priority"] + 1)
        out.append(
            finding(
                "zram-priority-below-disk",
                "warning",
                f"{z['path']} (zram) has priority {z['priority']}, not above {d['path']} ({d['priority']})",
                [
                    ev(f"{z['path']} priority", z["priority"], paths.SWAPS),
                    ev(f"{d['path']} priority", d["priority"], paths.SWAPS),
                ],
                "Swap areas are used in order of priority, highest first; areas of equal priority are used "
                "round-robin. zram compresses in RAM and is far faster than disk, so it should be first, with "
                "disk swap as the overflow behind it.",
                [
                    f"swapoff {z['path']} && swapon -p {new} {z['path']}",
                    f"at boot: swapctl zram create --priority {new} --persist (or zram-generator's swap-priority=)",
                ],
                subject=z["path"],
            )
        )
    return out


def check_zswap_over_zram(r: Reading) -> list[dict[str, Any]]:
    """zswap enabled while zram is the first swap area: warning (every page is compressed twice, and zswap's pool
    takes memory that zram would use better)."""
    from swapctl.ops.inventory import zswap_over_zram

    if not zswap_over_zram(r.areas, r.zswap):
        return []
    first = max(r.areas, key=lambda a: a["priority"])
    return [
        finding(
            "zswap-in-front-of-zram",
            "warning",
            f"zswap is enabled in front of {first['path']} (zram): pages are compressed twice",
            [
                ev("zswap enabled", "Y", "/sys/module/zswap/parameters/enabled"),
                ev(f"{first['path']} priority", first["priority"], paths.SWAPS),
            ],
            "zswap compresses pages on their way to a swap device and keeps them in its own pool; when the pool "
            "is full it writes them, decompressed, to the device. In front of zram that device compresses them "
            "again: twice the CPU, and two pools in RAM for one job.",
            ["swapctl zswap set enabled=N --persist"],
        )
    ]


def check_zram_unit(r: Reading) -> list[dict[str, Any]]:
    """A zram unit of swapctl's that is enabled but made no device this boot: warning. The machine booted with
    systemd, so the unit ran before swap.target and failed (a write the kernel refused, zram missing), and the
    swap the next boot was to have is not there."""
    out = []
    for u in r.zram_units:
        if u["device"] is not None:
            continue
        name = u["unit"].rsplit("/", 1)[1]
        out.append(
            finding(
                "zram-unit-not-running",
                "warning",
                f"{name} is enabled but set up no zram device this boot",
                [ev("device it made this boot", None, f"/run/swapctl/zram-{u['key']}")],
                "swapctl persisted a zram device as this unit, which adds and sets up its own device at boot and "
                "records it. Nothing is recorded, so the unit failed or did not run: the zram swap it stands for "
                "is missing.",
                [f"systemctl status {name}", f"journalctl -b -u {name}", f"systemctl restart {name}"],
                subject=u["unit"],
            )
        )
    return out


def check_drift(r: Reading) -> list[dict[str, Any]]:
    """A vm setting whose running value differs from what the next boot applies (a sysctl.d file, or the
    kernel's default when no file sets it): warning, one per key. After a reboot the machine will not be the
    one that was tuned (or tested)."""
    out = []
    for row in r.vm_rows:
        if not row["drift"]:
            continue
        key, name = row["key"], row["key"].removeprefix("vm.")
        source = row["boot_source"] + (f":{row['boot_line']}" if row.get("boot_line") else "")
        approx = "~" if row.get("boot_estimated") else ""
        out.append(
            finding(
                "persisted-drift",
                "warning",
                f"{key} is {row['value']} now, {approx}{row['boot_value']} at the next boot ({source})",
                [
                    ev(key, row["value"], paths.vm_sysctl(name)),
                    ev("at the next boot", row["boot_value"], source),
                    ev("boot-time tool", row["boot_tool"], "the machine's init"),
                ],
                "The running value was set by hand (or by a tool) and not persisted, or a sysctl.d file changed "
                "since boot. At the next boot the kernel gets the boot value back, and the machine behaves as "
                "it did before the change.",
                [
                    f"swapctl vm set {name}={row['value']} --persist   (keep what runs now)",
                    f"swapctl vm set {name}={row['boot_value']}   (or go back to the boot value now)",
                ],
                subject=key,
            )
        )
    return out


def check_journal(r: Reading) -> list[dict[str, Any]]:
    """A transaction a crash left half-done (or whose undo failed): critical, since swapctl refuses every change
    until it is finished. A journal that cannot be parsed: critical too."""
    if r.journal_problem:
        return [
            finding(
                "journal-damaged",
                "critical",
                "swapctl's journal is damaged: history and rollback refuse to act on it",
                [ev("journal", r.journal_path, r.journal_path)],
                r.journal_problem,
                ["swapctl history   (says which line)"],
            )
        ]
    tx = r.pending
    if tx is None:
        return []
    done = sum(1 for s in tx.steps if s.done and not s.undone)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(tx.time))
    return [
        finding(
            "pending-transaction",
            "critical",
            f"transaction {tx.id} ({tx.command}) was left {tx.status}: swapctl refuses changes until it is finished",
            [
                ev("transaction", tx.id, r.journal_path),
                ev("command", tx.command, r.journal_path),
                ev("status", tx.status, r.journal_path),
                ev("started", when, r.journal_path),
                ev("steps applied", f"{done} of {len(tx.steps)}", r.journal_path),
            ],
            "swapctl writes each step's intent and undo record to its journal before acting. A transaction with "
            "no end was cut short (a crash, a power loss, a kill -9), or its undo failed: the machine may be "
            "half-changed. Rolling it back finishes the undo (a run in progress right now looks the same: "
            "check that no swapctl is running).",
            [f"swapctl rollback {tx.id}", "swapctl history"],
            subject=tx.id,
        )
    ]


def check_encryption(r: Reading) -> list[dict[str, Any]]:
    """A swap area on disk whose device stack has no dm-crypt: warning (swapped-out memory, keys and passwords
    included, stays readable on the disk after power-off). One whose stack cannot be read: info. zram keeps its
    pages in memory and is not checked (unless it writes back to a disk)."""
    out = []
    for a in r.areas:
        rest = a.get("encryption") or {}
        encrypted = rest.get("encrypted")
        if encrypted or (encrypted is None and a["type"] == "zram" and not rest.get("device")):
            continue
        evidence = [
            ev("area", f"{a['path']} ({a['type']})", paths.SWAPS),
            ev("device", rest.get("device"), paths.MOUNTINFO if a["type"] == "file" else "/sys/class/block"),
            *(ev("stack", line, "/sys/dev/block/MAJ:MIN/{dm/uuid,slaves/}") for line in rest.get("stack", [])),
        ]
        if encrypted is None:
            out.append(
                finding(
                    "swap-not-encrypted",
                    "info",
                    f"{a['path']}: cannot tell whether its contents are encrypted at rest",
                    evidence,
                    rest.get("reason") or "the device stack could not be read",
                    ["lsblk -o NAME,TYPE,FSTYPE,MOUNTPOINT   (look for a crypt layer under it)"],
                    subject=a["path"],
                )
            )
            continue
        if a["type"] == "file":
            fix = [
                "swapctl zram create --size auto   (compressed swap in RAM: nothing rests on disk)",
                f"swapctl remove {a['path']}",
                "or put swap on its own partition with a random key, as below",
            ]
        else:
            fix = []
        target = a["path"] if a["type"] != "file" else "/dev/disk/by-partuuid/PARTUUID"
        fix += [
            f"/etc/crypttab: cryptswap {target} /dev/urandom swap,cipher=aes-xts-plain64,size=512",
            "/etc/fstab: /dev/mapper/cryptswap none swap defaults 0 0"
            + (f"   (in place of the {a['path']} line)" if a["type"] != "file" else ""),
        ]
        out.append(
            finding(
                "swap-not-encrypted",
                "warning",
                f"{a['path']} is not encrypted at rest: swapped-out memory stays readable on "
                f"{rest.get('device') or 'the disk'}",
                evidence,
                f"{rest.get('reason')}. Whatever was swapped out (keys, passwords, documents) is written in the "
                "clear and stays on the disk after power-off. dm-crypt with a random key made at each boot "
                "costs nothing to manage and leaves nothing readable; name the partition by a stable name "
                "(/dev/disk/by-partuuid/...), never /dev/sdX, since the random-key setup formats whatever it "
                "names. (An encrypting disk or an encrypted cloud volume below the machine is not visible "
                "here; hibernation needs a persistent key instead.)",
                fix,
                subject=a["path"],
            )
        )
    return out


CHECKS: tuple[Callable[[Reading], list[dict[str, Any]]], ...] = (
    check_journal,
    check_no_swap,
    check_swap_full,
    check_swapping_now,
    check_direct_reclaim,
    check_psi,
    check_numa,
    check_zone_reclaim_mode,
    check_cgroups,
    check_min_free,
    check_swappiness,
    check_zram_priority,
    check_zswap_over_zram,
    check_zram_unit,
    check_drift,
    check_encryption,
)


def diagnose(r: Reading) -> dict[str, Any]:
    """The doctor's data: every finding, worst first (in CHECKS order within a severity)."""
    found = [f for check in CHECKS for f in check(r)]
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    found.sort(key=lambda f: -rank[f["severity"]])  # stable: CHECKS order within a severity
    counts = {s: sum(1 for f in found if f["severity"] == s) for s in reversed(SEVERITIES)}
    return {
        "findings": found,
        "counts": counts,
        "worst": found[0]["severity"] if found else None,
        "failed": any(rank[f["severity"]] >= rank["warning"] for f in found),
        "kernel": r.release or None,
        "interval": round(r.seconds, 3) if r.vmstat_after is not None else 0,
        "rates": rates(r),
        "not_checked": r.not_checked,
    }
