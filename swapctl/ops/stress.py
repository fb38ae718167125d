"""The reclaim-stress check: validate a request, apply the safety policy, run and sample the load, judge it."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from swapctl.core.errors import CheckFailed, Interrupted, OperationFailed, Refused, SwapctlError, UsageError
from swapctl.core.plan import Outcome
from swapctl.core.units import format_bytes, parse_size
from swapctl.system import paths, procfs, signals
from swapctl.system.stress_worker import PATTERNS  # what the worker can write

if TYPE_CHECKING:
    from swapctl.system.host import Host

MiB = 1 << 20
MIN_LIMIT = 8 * MiB  # below this the group thrashes on its own page tables and the numbers mean little
MAX_DURATION = 3600.0
DEFAULT_MAX_DIRECT_RECLAIM = 1000  # pages scanned by global direct reclaim (about 4 MiB)
# % of the run the test group's own tasks all stalled on memory (cgroup v2 memory.pressure). The load stalls on
# purpose; only a swap that cannot keep up at all brings it near 100%. cgroup v1 has no per-group PSI: the
# machine-wide figure is dominated by the worker itself, so it is reported and never judged.
DEFAULT_MAX_PSI_FULL = 90.0
SAFE_SHARE_OF_AVAILABLE = 0.25  # the limit may take at most this share of MemAvailable
SAFE_SHARE_OF_SWAP_FREE = 0.5  # the group may fill at most this share of free swap (memsw / swap.max)
SAFE_SHARE_OF_DISK_FREE = 0.5  # --file-size may take at most this share of the temp directory's free space
FILE_DIR = "/var/tmp"
READY_TIMEOUT = 60.0  # a Python child on a loaded machine (CI, the VM lane beside it) takes seconds to start

# /proc/vmstat counters the run records (names as prefixes: pgsteal_kswapd, allocstall_normal, ...).
VMSTAT_PREFIXES = (
    "pgscan_",
    "pgsteal_",
    "pswpin",
    "pswpout",
    "allocstall_",
    "oom_kill",
    "workingset_refault_",
    "workingset_activate_",
    "workingset_restore_",
    "compact_stall",
    "compact_fail",
    "compact_success",
    "pgmajfault",
    "pgrefill",
    "kswapd_",
    "pageoutrun",
    "zswpin",
    "zswpout",
    "zswpwb",
    "thp_swpout",
    "swap_ra",
    "swpout_zero",
    "swpin_zero",
)
# Global reclaim's scan counters; pgscan_anon/pgscan_file also count reclaim forced by a cgroup's limit,
# which these leave out (mm/vmscan.c: cgroup_reclaim() skips the PGSCAN_KSWAPD + offset item).
GLOBAL_SCAN = ("pgscan_kswapd", "pgscan_direct", "pgscan_khugepaged", "pgscan_proactive")


# --- the request ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StressRequest:
    limit: int
    size: int
    duration: float
    file_size: int = 0
    pattern: str = "random"
    max_direct_reclaim: int = DEFAULT_MAX_DIRECT_RECLAIM
    max_psi_full: float = DEFAULT_MAX_PSI_FULL
    allow_oom: bool = False
    interval: float = 0.5


def default_limit(mem_total: int) -> int:
    """A small share of MemTotal: 1/64, between 64 MiB and 1 GiB, in whole MiB."""
    return max(64 * MiB, min(1 << 30, mem_total // 64)) // MiB * MiB


def build_request(
    host: Host,
    *,
    memory_limit: str | None,
    size: str | None,
    duration: float,
    file_size: str | None,
    pattern: str,
    max_direct_reclaim: int,
    max_psi_full: float,
    allow_oom: bool,
    interval: float = 0.5,
) -> StressRequest:
    """Parse and check the flags; anything malformed is a UsageError (exit 2)."""
    if pattern not in PATTERNS:
        raise UsageError(
            f"pattern {pattern!r} is not one of {', '.join(PATTERNS)}",
            hint="random (incompressible, the default), zero (same-filled pages) or mixed",
        )
    if not duration > 0:  # also catches NaN
        raise UsageError(f"duration {duration:g} must be greater than zero", hint="e.g. --duration 20")
    if duration > MAX_DURATION:
        raise UsageError(
            f"duration {duration:g} s is longer than {MAX_DURATION:.0f} s",
            hint="a reclaim check needs seconds to minutes, not hours",
        )
    if max_direct_reclaim < 0:
        raise UsageError(
            f"--max-direct-reclaim {max_direct_reclaim} must be 0 or more",
            hint="a number of pages scanned by direct reclaim",
        )
    if not 0 <= max_psi_full <= 100:
        raise UsageError(f"--max-psi-full {max_psi_full:g} must be a percentage from 0 to 100")
    if memory_limit is None:
        limit = default_limit(host.meminfo().get("MemTotal", 0))
    else:
        limit = parse_size(memory_limit, what="memory limit")
    if limit < MIN_LIMIT:
        raise UsageError(
            f"memory limit {format_bytes(limit)} is below {format_bytes(MIN_LIMIT)}",
            hint=f"use --memory-limit {MIN_LIMIT // MiB}M or more (48M or more gives clearer numbers)",
        )
    nbytes = parse_size(size, what="size") if size is not None else 2 * limit
    fbytes = parse_size(file_size, what="file size") if file_size is not None else 0
    page = host.page_size
    nbytes = -(-nbytes // page) * page
    return StressRequest(
        limit=limit,
        size=nbytes,
        duration=float(duration),
        file_size=fbytes,
        pattern=pattern,
        max_direct_reclaim=max_direct_reclaim,
        max_psi_full=float(max_psi_full),
        allow_oom=allow_oom,
        interval=interval,
    )


# --- the safety policy ---------------------------------------------------------------------------------
@dataclass
class Preflight:
    controller: Any
    mem_available: int
    swap_total: int
    swap_free: int
    swap_allowance: int | None
    warnings: list[str] = field(default_factory=list)

    @property
    def swap_active(self) -> bool:
        return self.swap_total > 0


def preflight(host: Host, req: StressRequest) -> Preflight:
    """Read-only checks before anything is created: Refused (exit 3) when the run would not be safe."""
    host.require_live("swapctl stress")
    controller = host.memory_controller()
    if controller is None:
        raise Refused(
            "no memory cgroup controller is mounted, so the load cannot be bounded",
            hint="mount the v1 memory controller or enable memory in cgroup v2's subtree_control",
        )
    if not controller.delegated:
        raise Refused(
            f"the cgroup v2 memory controller is not enabled for child groups in {controller.mount}, "
            "so the load cannot be bounded",
            hint=f"enable it (systemd does at boot): echo +memory > {controller.mount}/cgroup.subtree_control",
        )
    mem = host.meminfo()
    available = mem.get("MemAvailable", mem.get("MemFree", 0))
    safe = int(available * SAFE_SHARE_OF_AVAILABLE)
    if req.limit > safe:
        raise Refused(
            f"memory limit {format_bytes(req.limit)} is above {SAFE_SHARE_OF_AVAILABLE:.0%} of "
            f"MemAvailable ({format_bytes(available)})",
            hint=f"use --memory-limit {safe // MiB}M or less",
        )
    if req.file_size:
        free = host.free_bytes(FILE_DIR)
        if req.file_size > free * SAFE_SHARE_OF_DISK_FREE:
            raise Refused(
                f"--file-size {format_bytes(req.file_size)} is more than half the free space in "
                f"{FILE_DIR} ({format_bytes(free)})",
                hint="use a smaller --file-size",
            )
    swap_total, swap_free = mem.get("SwapTotal", 0), mem.get("SwapFree", 0)
    warnings: list[str] = []
    allowance: int | None = None
    beyond = max(0, req.size - req.limit)
    if swap_total == 0:
        warnings.append(
            "no swap is active: anonymous memory cannot be reclaimed, so the cgroup's limit "
            "can only be met by dropping page cache or an OOM kill"
        )
    else:
        # Never let the run fill the machine's swap: other tasks may need it meanwhile.
        allowance = min(req.size, int(swap_free * SAFE_SHARE_OF_SWAP_FREE)) // host.page_size * host.page_size
        if allowance < beyond:
            warnings.append(
                f"the working set exceeds the limit by {format_bytes(beyond)} but the run may use "
                f"only {format_bytes(allowance)} of swap: expect the worker to be OOM-killed"
            )
    if req.size + req.file_size <= req.limit:
        warnings.append("the load fits within the memory limit: expect little or no reclaim")
    return Preflight(controller, available, swap_total, swap_free, allowance, warnings)


def describe(req: StressRequest, pre: Preflight) -> list[dict[str, str]]:
    """What a run does, step by step (the --dry-run output and the actions of a real run)."""
    version = pre.controller.version
    where = str(pre.controller.mount)
    if version == 1:
        limit = f"memory.limit_in_bytes={req.limit}"
        if pre.swap_allowance is not None and pre.controller.has_memsw:
            limit += f", memory.memsw.limit_in_bytes={req.limit + pre.swap_allowance}"
    else:
        limit = f"memory.max={req.limit}" + (
            f", memory.swap.max={pre.swap_allowance}" if pre.swap_allowance is not None else ""
        )
    load = f"{format_bytes(req.size)} of {req.pattern} anonymous memory"
    if req.file_size:
        load += f" and a {format_bytes(req.file_size)} unnamed file in {FILE_DIR}"
    return [
        {
            "step": "cgroup",
            "description": f"create memory cgroup v{version} {where}/swapctl-stress-<pid>-<id> ({limit})",
        },
        {"step": "worker", "description": f"start a worker (oom_score_adj 1000) in it that touches {load}"},
        {
            "step": "sample",
            "description": f"sample /proc/vmstat, PSI, the cgroup and zone watermarks every "
            f"{req.interval:g} s for {req.duration:g} s",
        },
        {"step": "cleanup", "description": "stop the worker and remove the cgroup"},
    ]


def planned(req: StressRequest, pre: Preflight) -> dict[str, Any]:
    """The --dry-run data: what a run would use and judge by."""
    return {
        "limit": req.limit,
        "size": req.size,
        "file_size": req.file_size,
        "pattern": req.pattern,
        "duration_s": req.duration,
        "swap_allowance": pre.swap_allowance,
        "cgroup": {"version": pre.controller.version, "mount": str(pre.controller.mount)},
        "thresholds": {
            "max_direct_reclaim": req.max_direct_reclaim,
            "max_psi_full": req.max_psi_full,
            "allow_oom": req.allow_oom,
        },
    }


def dry_run(req: StressRequest, pre: Preflight) -> Outcome:
    """`stress --dry-run`: the steps a run would take, the limits and thresholds it would use; nothing runs."""
    actions = [dict(a, status="planned") for a in describe(req, pre)]
    return Outcome("stress", False, True, None, actions, planned(req, pre), list(pre.warnings))


def check(host: Host, req: StressRequest, pre: Preflight, progress: ProgressFn | None = None) -> Outcome:
    """Run the load and judge it: the report as an Outcome, or CheckFailed (exit 4) with the report as its data."""
    try:
        data = run(host, req, pre, progress=progress)
    except SwapctlError as exc:
        exc.data.setdefault("warnings", list(pre.warnings))  # what preflight said still holds
        raise
    warnings = data.pop("warnings")
    actions = [dict(a, status="done") for a in describe(req, pre)]
    if data["verdict"] == "fail":
        raise CheckFailed(
            "stress check failed: " + "; ".join(data["reasons"]),
            hint="see data.reasons; thresholds: --max-direct-reclaim, --max-psi-full, --allow-oom",
            data={"actions": actions, **data, "warnings": warnings},
        )
    return Outcome("stress", False, False, None, actions, data, warnings)


# --- sampling ------------------------------------------------------------------------------------------
def _select_vmstat(vm: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in vm.items() if k.startswith(VMSTAT_PREFIXES)}


def _zones(host: Host) -> list[dict[str, Any]] | None:
    """Free pages against the watermarks (None where zoneinfo cannot be read)."""
    try:
        zones = host.zoneinfo()
    except (OSError, ValueError):
        return None
    return [{"zone": z.key, "free": z.free, "min": z.min, "low": z.low, "high": z.high} for z in zones if z.managed > 0]


def take_sample(host: Host, cg: Any, t: float, touch: dict | None) -> dict[str, Any]:
    try:
        psi = procfs.parse_pressure(host.read_text(paths.PRESSURE_MEMORY))
    except OSError:
        psi = {}
    return {
        "t": round(t, 3),
        "vmstat": _select_vmstat(procfs.parse_vmstat(host.read_text(paths.VMSTAT))),
        "psi": psi,
        "cgroup_stat": cg.stat(),
        "cgroup_events": cg.events(),
        "cgroup_psi": cg.pressure(),
        "zones": _zones(host),
        "touch": touch,
        "swaps": [[a.path, a.type, a.used] for a in host.swaps()],
    }


ProgressFn = Callable[[dict[str, Any]], None]


def run(host: Host, req: StressRequest, pre: Preflight, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Create the cgroup, start the worker in it, sample until the duration is up (or the worker dies),
    and always stop the worker and remove the cgroup. Returns the report data with its verdict."""
    warnings = list(pre.warnings)
    for stale in host.stale_stress_cgroups(pre.controller):
        try:
            stale.remove()
            warnings.append(f"removed {stale.path}, left behind by an earlier swapctl stress that was killed")
        except OSError as exc:
            warnings.append(f"could not remove the stale cgroup {stale.path}: {exc}")
    cg = host.create_stress_cgroup(pre.controller, req.limit, pre.swap_allowance)
    worker = None
    samples: list[dict[str, Any]] = []
    touch: dict[str, Any] = {}
    filled = False
    exit_status: int | None = None
    limits: dict[str, Any] = {}
    try:
        try:
            worker = host.spawn_stress_worker(
                size=req.size,
                pattern=req.pattern,
                file_size=req.file_size,
                file_dir=FILE_DIR,
                max_seconds=req.duration + 10.0,
            )
            worker.wait_ready(READY_TIMEOUT)
        except TimeoutError as exc:
            raise OperationFailed(str(exc), hint="check that python can run swapctl.system.stress_worker") from exc
        cg.add_pid(worker.pid)
        if worker.pid not in cg.pids():
            raise OperationFailed(f"the worker (pid {worker.pid}) did not land in {cg.path}")
        limits = cg.limits()
        start = time.monotonic()
        samples.append(take_sample(host, cg, 0.0, None))
        worker.go()
        k = 1
        while True:
            due = start + k * req.interval
            while (now := time.monotonic()) < due and exit_status is None:
                for rep in worker.reports(due - now):
                    if rep.get("event") == "touch":
                        touch = rep
                    elif rep.get("event") == "filled":
                        filled = True
                exit_status = worker.returncode()
            elapsed = time.monotonic() - start
            samples.append(take_sample(host, cg, elapsed, dict(touch) if touch else None))
            if progress is not None:
                progress(live_view(samples, req))
            if exit_status is not None or elapsed >= req.duration:
                break
            k += 1
        for rep in worker.reports(0.0):
            if rep.get("event") == "filled":
                filled = True
        if exit_status is not None:
            oom = samples[-1]["cgroup_events"].get("oom_kill", 0) - samples[0]["cgroup_events"].get("oom_kill", 0)
            if oom <= 0 and exit_status != -signal.SIGKILL:
                raise OperationFailed(
                    f"the stress worker died early (exit status {exit_status}): {worker.stderr_tail() or 'no message'}",
                    hint="rerun with a longer --duration or a smaller --size",
                )
    except KeyboardInterrupt:
        _cleanup(worker, cg, kill=True)
        raise Interrupted(f"interrupted; the worker was stopped and {cg.path} removed") from None
    except BaseException:
        _cleanup(worker, cg, kill=True)
        raise
    _cleanup(worker, cg, kill=False)
    summary = summarize(samples, req, swap_active=pre.swap_active, filled=filled, page=host.page_size)
    summary["cgroup"].update({"version": pre.controller.version, "path": str(cg.path), "limits": limits})
    summary["page_size"] = host.page_size
    summary["worker"] = {"exit_status": exit_status, "died_early": exit_status is not None}
    summary["verdict"], summary["reasons"] = judge(summary, req)
    summary["warnings"] = warnings
    return summary


def _cleanup(worker: Any, cg: Any, *, kill: bool) -> None:
    with signals.held():
        errors = []
        if worker is not None:
            try:
                worker.kill() if kill else worker.stop()
            except OSError as exc:
                errors.append(f"stopping the worker: {exc}")
        try:
            cg.remove()
        except OSError as exc:
            errors.append(f"removing {cg.path}: {exc}")
    if errors:
        raise OperationFailed(
            "cleanup failed: " + "; ".join(errors), hint=f"kill the tasks in {cg.path}, then rmdir it"
        )


# --- pure functions over recorded samples --------------------------------------------------------------
def _delta(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: b[k] - a.get(k, 0) for k in b if isinstance(b[k], int)}


def _psi_share(first: dict, last: dict, kind: str, seconds: float) -> tuple[int, float]:
    a = first.get(kind, {}).get("total", 0)
    b = last.get(kind, {}).get("total", 0)
    stall = max(0, int(b - a))
    return stall, (100.0 * stall / (seconds * 1e6) if seconds > 0 else 0.0)


def live_view(samples: list[dict[str, Any]], req: StressRequest) -> dict[str, Any]:
    """The current rates between the last two samples, for a progress display."""
    last, prev = samples[-1], samples[-2] if len(samples) > 1 else samples[-1]
    dt = max(last["t"] - prev["t"], 1e-9)
    d = _delta(prev["vmstat"], last["vmstat"])
    return {
        "t": last["t"],
        "duration": req.duration,
        "touch_rate": (last.get("touch") or {}).get("rate", 0.0),
        "pswpout_s": d.get("pswpout", 0) / dt,
        "pswpin_s": d.get("pswpin", 0) / dt,
        "pgscan_s": (d.get("pgscan_anon", 0) + d.get("pgscan_file", 0)) / dt,
        "psi_some": last["psi"].get("some", {}).get("avg10", 0.0),
        "psi_full": last["psi"].get("full", {}).get("avg10", 0.0),
        "usage": last["cgroup_events"].get("usage", last["cgroup_events"].get("current", 0)),
    }


def summarize(
    samples: list[dict[str, Any]], req: StressRequest, *, swap_active: bool, filled: bool = True, page: int = 4096
) -> dict[str, Any]:
    """Deltas, rates, reclaim efficiency and stall figures from the first to the last sample."""
    first, last = samples[0], samples[-1]
    seconds = max(last["t"] - first["t"], 1e-9)
    vd = _delta(first["vmstat"], last["vmstat"])
    scanned = vd.get("pgscan_anon", 0) + vd.get("pgscan_file", 0)
    stolen = vd.get("pgsteal_anon", 0) + vd.get("pgsteal_file", 0)
    global_scanned = sum(vd.get(k, 0) for k in GLOBAL_SCAN)
    cgroup_scanned = max(0, scanned - global_scanned)
    driven = {(True, True): "both", (True, False): "cgroup", (False, True): "global", (False, False): "none"}[
        (cgroup_scanned > 0, global_scanned > 0)
    ]
    # Shares of the run from the `total` counters only: avg10 carries the ten seconds before the run (an earlier
    # run's pressure), so it is never quoted.
    psi: dict[str, Any] = {}
    group_psi: dict[str, Any] | None = None
    for kind in ("some", "full"):
        stall, share = _psi_share(first["psi"], last["psi"], kind, seconds)
        psi[kind] = {"stall_us": stall, "share_pct": round(share, 2)}
    if first.get("cgroup_psi") and last.get("cgroup_psi"):
        group_psi = {}
        for kind in ("some", "full"):
            stall, share = _psi_share(first["cgroup_psi"], last["cgroup_psi"], kind, seconds)
            group_psi[kind] = {"stall_us": stall, "share_pct": round(share, 2)}
    cg_first, cg_last = first["cgroup_events"], last["cgroup_events"]
    cg_oom = max(0, cg_last.get("oom_kill", 0) - cg_first.get("oom_kill", 0))
    sys_oom = max(0, vd.get("oom_kill", 0))
    touches = [s["touch"] for s in samples if s.get("touch")]
    rates = [t.get("rate", 0.0) for t in touches]
    final = touches[-1] if touches else {}
    zones = _zone_summary(samples)
    usage_key = "max_usage" if "max_usage" in cg_last else "peak"
    return {
        "limit": req.limit,
        "size": req.size,
        "file_size": req.file_size,
        "pattern": req.pattern,
        "duration_s": round(seconds, 3),
        "requested_duration_s": req.duration,
        "interval_s": req.interval,
        "vmstat_delta": vd,
        "rates": {k: round(v / seconds, 1) for k, v in vd.items() if v},
        "reclaim": {
            "driven_by": driven,
            "scanned": scanned,
            "stolen": stolen,
            "efficiency": round(stolen / scanned, 3) if scanned else None,
            "cgroup_scanned": cgroup_scanned,
            "global_scanned": global_scanned,
            "kswapd_scanned": vd.get("pgscan_kswapd", 0),
            "direct_scanned": vd.get("pgscan_direct", 0),
            "allocstalls": sum(v for k, v in vd.items() if k.startswith("allocstall_")),
        },
        "swap_areas": _swap_areas(samples),
        "swap": {
            "active": swap_active,
            "pswpout": vd.get("pswpout", 0),
            "pswpin": vd.get("pswpin", 0),
            "out_bytes_s": round(vd.get("pswpout", 0) * page / seconds),
            "in_bytes_s": round(vd.get("pswpin", 0) * page / seconds),
            # zswap: pages compressed into its pool, loaded back, written back to the swap device
            "zswpout": vd.get("zswpout", 0),
            "zswpin": vd.get("zswpin", 0),
            "zswpwb": vd.get("zswpwb", 0),
            # From 6.12 a zero-filled page is only marked in the swap map: no I/O, no pswpout.
            "swpout_zero": vd.get("swpout_zero", 0),
            "swpin_zero": vd.get("swpin_zero", 0),
        },
        "psi": psi,  # machine-wide (includes the worker's own stall)
        "psi_cgroup": group_psi,  # the test group's own (cgroup v2), or None
        "psi_source": "cgroup" if group_psi is not None else "machine",
        "oom": {"cgroup": cg_oom, "system": sys_oom, "outside_cgroup": max(0, sys_oom - cg_oom)},
        "cgroup": {
            "stat_delta": _delta(first["cgroup_stat"], last["cgroup_stat"]),
            "events": cg_last,
            "peak_usage": cg_last.get(usage_key),
            "pressure": last.get("cgroup_psi"),
        },
        "touch": {
            "rate_pages_s": round(final.get("pages", 0) / final["t"], 1) if final.get("t") else 0.0,
            "peak_rate_pages_s": max(rates, default=0.0),
            "last_rate_pages_s": rates[-1] if rates else 0.0,
            "pages": final.get("pages", 0),
            "passes": final.get("passes", 0),
            "filled": filled,
        },
        "zones": zones,
        "samples": [_timeline_point(first, s) for s in samples],
    }


def _timeline_point(first: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    d = _delta(first["vmstat"], s["vmstat"])
    ev = s["cgroup_events"]
    return {
        "t": s["t"],
        "pswpout": d.get("pswpout", 0),
        "pswpin": d.get("pswpin", 0),
        "pgscan_anon": d.get("pgscan_anon", 0),
        "pgscan_file": d.get("pgscan_file", 0),
        "psi_some_avg10": s["psi"].get("some", {}).get("avg10", 0.0),
        "psi_full_avg10": s["psi"].get("full", {}).get("avg10", 0.0),
        "usage": ev.get("usage", ev.get("current")),
        "touch_rate": (s.get("touch") or {}).get("rate"),
    }


def _swap_areas(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Which swap areas took the pages: each area's use at the start, its peak and its use at the end."""
    seen: dict[str, dict[str, Any]] = {}
    for s in samples:
        for path, kind, used in s.get("swaps") or []:
            a = seen.setdefault(
                path,
                {
                    "path": path,
                    "type": "zram" if path.startswith("/dev/zram") else kind,
                    "used_start": used,
                    "used_peak": used,
                    "used_end": used,
                },
            )
            a["used_peak"] = max(a["used_peak"], used)
            a["used_end"] = used
    for a in seen.values():
        a["took"] = a["used_peak"] - a["used_start"]
    return sorted(seen.values(), key=lambda a: -a["took"])


def _zone_summary(samples: list[dict[str, Any]]) -> dict[str, Any] | None:
    seen = [s["zones"] for s in samples if s.get("zones")]
    if not seen:
        return None
    below_low: set[str] = set()
    below_min: set[str] = set()
    margin: int | None = None
    for zones in seen:
        for z in zones:
            if z["free"] < z["low"]:
                below_low.add(z["zone"])
            if z["free"] < z["min"]:
                below_min.add(z["zone"])
            m = z["free"] - z["low"]
            margin = m if margin is None else min(margin, m)
    return {"below_low": sorted(below_low), "below_min": sorted(below_min), "min_margin_over_low_pages": margin}


def judge(summary: dict[str, Any], req: StressRequest) -> tuple[str, list[str]]:
    """pass, warn or fail, with the reasons: the rules a CI gate relies on (see `swapctl stress --help`). The
    check judges what it measures and does not cause on purpose: the machine's own shortage (OOM outside the
    group, global direct reclaim), and whether swap keeps up with the load (the worker gets through its working
    set; on cgroup v2 also the group's stall), never the pressure the load makes by design."""
    fails: list[str] = []
    warns: list[str] = []
    oks: list[str] = []
    oom = summary["oom"]
    if oom["outside_cgroup"]:
        fails.append(f"{oom['outside_cgroup']} OOM kill(s) outside the test cgroup: the machine itself ran short")
    if oom["cgroup"]:
        text = f"the worker was OOM-killed in its cgroup ({oom['cgroup']} kill(s))"
        if not summary["swap"]["active"]:
            text += ": no swap is active, so its memory beyond the limit could go nowhere"
        (warns if req.allow_oom else fails).append(text + (" (allowed by --allow-oom)" if req.allow_oom else ""))
    else:
        oks.append("no OOM kill")
    direct = summary["reclaim"]["direct_scanned"]
    if direct > req.max_direct_reclaim:
        fails.append(
            f"global direct reclaim scanned {direct} pages, above --max-direct-reclaim "
            f"{req.max_direct_reclaim}: kswapd did not keep up"
        )
    elif direct:
        warns.append(f"global direct reclaim scanned {direct} pages (at most {req.max_direct_reclaim} allowed)")
    else:
        oks.append("no global direct reclaim")
    _judge_progress(summary, req, fails, warns, oks)
    zones = summary.get("zones") or {}
    if zones.get("below_min"):
        warns.append(f"free memory fell below the min watermark in {', '.join(zones['below_min'])}")
    eff = summary["reclaim"]["efficiency"]
    if eff is not None and summary["reclaim"]["scanned"] >= 1024 and eff < 0.1:
        warns.append(f"reclaim efficiency {eff:.1%}: most scanned pages could not be reclaimed")
    if summary["reclaim"]["driven_by"] == "none" and summary["size"] + summary["file_size"] > summary["limit"]:
        warns.append("no reclaim was measured although the load exceeded the limit")
    if fails:
        return "fail", fails + warns
    if warns:
        return "warn", warns
    return "pass", oks


def _judge_progress(
    summary: dict[str, Any], req: StressRequest, fails: list[str], warns: list[str], oks: list[str]
) -> None:
    """Whether swap kept up: the worker wrote its working set and went through it again at least once (a pass
    beyond the limit needs the excess swapped out and back in); the group's stall where cgroup v2 measures it."""
    swap, touch = summary["swap"], summary["touch"]
    died = summary.get("worker", {}).get("died_early")
    beyond = summary["size"] > summary["limit"]
    swapped = swap["pswpout"] + swap["zswpout"] + swap.get("swpout_zero", 0)
    rate = f"{format_bytes(swap.get('out_bytes_s', 0))}/s out, {format_bytes(swap.get('in_bytes_s', 0))}/s in"
    if not swap["active"]:
        warns.append("no swap was active: anonymous memory could not be reclaimed")
    elif beyond and not died:
        if not touch["filled"]:
            fails.append(
                f"the worker could not even write its {format_bytes(summary['size'])} working set in "
                f"{summary['duration_s']:g} s: swap took only {rate}, too slow to relieve the limit"
            )
        elif touch["passes"] < 1:
            fails.append(
                f"the worker wrote its working set but could not go through it once more in "
                f"{summary['duration_s']:g} s: swap moved {rate}, too slow to keep up"
            )
        elif swapped == 0:
            warns.append("the working set exceeded the limit but nothing was swapped out")
        else:
            areas = [a for a in summary.get("swap_areas") or [] if a["took"] > 0]
            where = ", ".join(f"{a['path']} ({a['type']}) {format_bytes(a['took'])}" for a in areas[:3])
            zero = swap.get("swpout_zero", 0)
            oks.append(
                f"swap kept up: {touch['passes']} passes over the working set; {rate}"
                + (f"; the pages went to {where}" if where else "")
                + (f" ({zero} zero-filled pages kept in the swap map only)" if zero else "")
            )
    elif not touch["filled"] and not died:
        warns.append("the worker had not written its whole working set when the run ended: lengthen --duration")
    group = summary.get("psi_cgroup")
    machine = summary["psi"]["full"]["share_pct"]
    if group is not None:
        full = group["full"]["share_pct"]
        if full > req.max_psi_full:
            fails.append(
                f"the test group's tasks all stalled on memory for {full:.1f}% of the run (cgroup PSI full), "
                f"above --max-psi-full {req.max_psi_full:g}%: reclaim and swap did not keep up"
            )
        else:
            oks.append(
                f"the test group stalled on memory {full:.1f}% of the run (cgroup PSI full), within "
                f"{req.max_psi_full:g}%"
            )
    else:
        oks.append(
            f"machine-wide PSI full {machine:.1f}% of the run (cgroup v1 has no per-group PSI: this counts "
            "the worker's own stall, so it is reported, not judged)"
        )
