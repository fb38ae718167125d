"""vm tuning, the read side: the vm sysctls swapctl manages, the range each accepts by kernel version, the
assignment parser, min_free_kbytes facts, and the state `vm get` shows (the writing side: sysctl_set.py)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple

from swapctl.core.errors import UsageError
from swapctl.core.kernel import Version, parse_release
from swapctl.ops import nextboot
from swapctl.system import paths

if TYPE_CHECKING:
    from swapctl.system.host import Host

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
PERSIST_FILE = "/etc/sysctl.d/90-swapctl.conf"
PERSIST_HEADER = ("# vm sysctls set by `swapctl vm set --persist`. swapctl keeps other lines as they are.\n")


# --- the knob table --------------------------------------------------------------------------------------
class Knob(NamedTuple):
    name: str  # the file under /proc/sys/vm
    summary: str
    # (first kernel version, lowest, highest) the sysctl handler accepts, oldest first; from the sysctl
    # tables of kernel/sysctl.c, mm/page_alloc.c, mm/swap.c, fs/dcache.c.
    kernel_ranges: tuple[tuple[Version, int, int], ...]
    since: Version | None = None  # the first kernel that has it
    policy: tuple[int, int] = (INT_MIN, INT_MAX)  # swapctl's own limits where the kernel's let an admin hurt
    policy_reason: str = ""
    default: int | None = None  # the kernel's boot value where it is a constant
    needs: str = ""  # the kernel option without which the file is absent

    @property
    def key(self) -> str:
        return f"vm.{self.name}"

    def kernel_range(self, version: Version | None) -> tuple[int, int]:
        if version is None:  # unknown kernel: the newest table
            return self.kernel_ranges[-1][1:]
        chosen = self.kernel_ranges[0]
        for entry in self.kernel_ranges:
            if version >= entry[0]:
                chosen = entry
        return chosen[1], chosen[2]

    def accepted_range(self, version: Version | None) -> tuple[int, int]:
        lo, hi = self.kernel_range(version)
        return max(lo, self.policy[0]), min(hi, self.policy[1])


KNOBS: dict[str, Knob] = {k.name: k for k in (
    # min_free_kbytes_sysctl_handler: proc_dointvec_minmax, extra1 = 0, no upper bound. Too large a value
    # panics the kernel; the safety policy (safe_min_free_limit) refuses that, not the range.
    Knob("min_free_kbytes", "memory the kernel keeps free for atomic allocations and reclaim (kB)",
         (((0, 0, 0), 0, INT_MAX),)),
    # 0..100 until 5.7; 5.8 raised the ceiling to 200 (SYSCTL_TWO_HUNDRED) for fast swap devices.
    Knob("swappiness", "how readily anonymous memory is swapped rather than page cache dropped",
         (((0, 0, 0), 0, 100), ((5, 8, 0), 0, 200)), default=60),
    # proc_dointvec took any int (negative too) until the 5.11 "fix underflow value setting risk in
    # vm_table"; it is a bit mask of three bits, so swapctl takes 0-7 only.
    Knob("zone_reclaim_mode", "reclaim on the local NUMA node before allocating from another (bit mask)",
         (((0, 0, 0), INT_MIN, INT_MAX), ((5, 11, 0), 0, INT_MAX)), policy=(0, 7),
         policy_reason="only bits 1, 2 and 4 mean anything", default=0, needs="CONFIG_NUMA"),
    # New in 4.6 with 1..1000; 5.15 raised the ceiling to 3000.
    Knob("watermark_scale_factor", "gap between the min, low and high watermarks, in 1/10000 of memory",
         (((4, 6, 0), 1, 1000), ((5, 15, 0), 1, 3000)), since=(4, 6, 0), default=10),
    # New in 5.0; proc_dointvec_minmax with extra1 = 0.
    Knob("watermark_boost_factor", "temporary watermark boost after fragmentation events, in 1/10000",
         (((5, 0, 0), 0, INT_MAX),), since=(5, 0, 0), default=15000),
    # Same 5.11 fix as zone_reclaim_mode: negative values were accepted before and could crash reclaim.
    Knob("vfs_cache_pressure", "how hard the dentry and inode caches are reclaimed (100 = fair)",
         (((0, 0, 0), INT_MIN, INT_MAX), ((5, 11, 0), 0, INT_MAX)), policy=(0, INT_MAX),
         policy_reason="a negative pressure is meaningless", default=100),
    # A shift count: 6.2 capped it at 31 (page_cluster_max) because larger values overflow; swapctl keeps
    # that cap on older kernels too.
    Knob("page-cluster", "swap readahead: 2^N pages read in one attempt (0 disables readahead)",
         (((0, 0, 0), 0, INT_MAX), ((6, 2, 0), 0, 31)), policy=(0, 31),
         policy_reason="it is a shift count; 2^31 pages is already beyond any swap device", default=3),
)}


def normalise_key(text: str) -> Knob:
    """`swappiness` or `vm.swappiness` -> its Knob; anything else is a usage error (exit 2)."""
    name = text[3:] if text.startswith("vm.") else text
    knob = KNOBS.get(name)
    if knob is None:
        import difflib  # only for a misspelt key: kept off start-up (issue 8)

        close = difflib.get_close_matches(name, list(KNOBS), n=1)
        hint = (f"did you mean {close[0]}? " if close else "") + "keys: " + ", ".join(KNOBS)
        raise UsageError(f"{text!r} is not a vm sysctl swapctl manages", hint=hint)
    return knob


# --- assignments ---------------------------------------------------------------------------------------
SET, RAISE, LOWER = "set", "raise", "lower"
_OPS = {">": RAISE, "<": LOWER}
_INT = re.compile(r"[+-]?[0-9]+")


class Assignment(NamedTuple):
    knob: Knob
    value: int
    mode: str = SET  # set | raise (KEY=>N: only if it raises the value) | lower (KEY=<N)

    @property
    def text(self) -> str:
        op = {SET: "=", RAISE: "=>", LOWER: "=<"}[self.mode]
        return f"{self.knob.key}{op}{self.value}"


def parse_assignment(text: str) -> Assignment:
    """`KEY=VALUE`, `KEY=>N` (only raise) or `KEY=<N` (only lower); VALUE a decimal integer."""
    key, sep, rest = text.partition("=")
    if not sep:
        raise UsageError(f"{text!r} is not an assignment", hint="write KEY=VALUE, e.g. vm.swappiness=10")
    knob = normalise_key(key.strip())
    mode = SET
    if rest[:1] in _OPS:
        mode, rest = _OPS[rest[0]], rest[1:]
    raw = rest.strip(" \t")  # blanks as a shell leaves them; a no-break space is no blank
    if not raw:
        raise UsageError(f"{knob.key} has an empty value", hint=f"write {knob.key}=N")
    if not _INT.fullmatch(raw) or not raw.isascii():
        # The kernel would read "0x10" or "010" with base 0; swapctl takes decimal only, and writes decimal.
        raise UsageError(f"{knob.key}={raw[:40]!r} is not a decimal integer", hint=f"write {knob.key}=N")
    if len(raw.lstrip("+-").lstrip("0")) > 19:
        # Past any int the kernel takes (and past what int() reads: 4300 digits), whatever the knob.
        raise UsageError(f"{knob.key}={raw[:20]}... is out of range: it has {len(raw.lstrip('+-'))} digits",
                         hint=f"give a value in {_range_text(*knob.kernel_range(None))}")
    return Assignment(knob, int(raw), mode)


def parse_assignments(texts: list[str], version: Version | None, release: str = "") -> list[Assignment]:
    """Every assignment parsed and range-checked before anything else; one bad one fails them all."""
    if not texts:
        raise UsageError("nothing to set", hint="swapctl vm set KEY=VALUE..., e.g. vm.swappiness=10")
    out: list[Assignment] = []
    seen: set[str] = set()
    for text in texts:
        a = parse_assignment(text)
        if a.knob.name in seen:
            raise UsageError(f"{a.knob.key} is assigned more than once", hint="give each key once")
        seen.add(a.knob.name)
        check_range(a.knob, a.value, version, release)
        out.append(a)
    return out


def check_range(knob: Knob, value: int, version: Version | None, release: str = "") -> None:
    lo, hi = knob.accepted_range(version)
    if lo <= value <= hi:
        return
    klo, khi = knob.kernel_range(version)
    where = f"Linux {release}" if release else "this kernel"
    if klo <= value <= khi:
        # The kernel would take it; swapctl does not.
        raise UsageError(f"{knob.key}={value} is out of range: swapctl accepts {lo}-{hi} "
                         f"({knob.policy_reason})", hint=f"give a value in {lo}-{hi}")
    raise UsageError(f"{knob.key}={value} is out of range: {where} accepts {_range_text(lo, hi)}",
                     hint=f"give a value in {_range_text(lo, hi)}")


def _range_text(lo: int, hi: int) -> str:
    return f"{lo}-{hi}"


# --- facts about the machine -----------------------------------------------------------------------------
def read_vm(host: Host, name: str) -> int | None:
    """The runtime value of /proc/sys/vm/<name>; None when this kernel has no such file."""
    return host.vm_value(name)


def _zones(host: Host) -> list:
    from swapctl.system.zoneinfo import ZoneinfoError

    try:
        return host.zoneinfo()
    except (FileNotFoundError, ZoneinfoError):
        return []


def _read_optional(host: Host, path: str) -> str | None:
    try:
        return host.read_text(path).strip()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None


def thp_mode(host: Host) -> str | None:
    """always / madvise / never, or None when unknown (a snapshot without the file, or no THP in the kernel).
    Unknown counts as on where it matters (khugepaged's min_free_kbytes): distribution kernels build THP in,
    and a snapshot is far more likely to have missed the file than the kernel to lack THP."""
    text = _read_optional(host, paths.THP_ENABLED)
    if text is None:
        return None
    m = re.search(r"\[(\w+)\]", text)
    return m.group(1) if m else None


def numa_nodes(host: Host, zones: list) -> int:
    """Nodes with memory (sysfs has_memory, e.g. "0-1"); zoneinfo's nodes when sysfs is not there."""
    from swapctl.system import numa

    with_memory = numa.node_state(host, "has_memory")
    if with_memory:
        return len(with_memory)
    return len({z.node for z in zones}) or 1


class MinFreeFacts(NamedTuple):
    kernel_default: int | None  # what init_per_zone_wmark_min picks for this memory (estimated)
    thp: str | None
    khugepaged: int | None  # what khugepaged raises it to, when it does
    safe_limit: int  # swapctl refuses more than this without --force
    basis_kb: int  # the memory the limit is a share of
    basis: str

    @property
    def boot_default(self) -> int | None:
        if self.khugepaged is not None and self.kernel_default is not None:
            return max(self.kernel_default, self.khugepaged)
        return self.kernel_default


# The kernel itself never reserves more than 5% of lowmem for min_free_kbytes (khugepaged's cap), and a
# reserve near half of memory was measured to panic a 512 MiB machine: swapctl draws its line at 5%.
SAFE_SHARE_PERCENT = 5


def min_free_facts(host: Host, zones: list, version: Version | None) -> MinFreeFacts:
    from swapctl.ops import watermarks

    page_size = watermarks.machine_page_size(host, zones)[0]
    page_kb = page_size // 1024
    thp = thp_mode(host)
    defaults = watermarks.default_min_free_kbytes(zones, page_size, thp != "never",
                                                  kernel_version=version) if zones else None
    default = defaults.kernel if defaults else None
    khuge = defaults.khugepaged if defaults else None
    mem_total_kb = 0
    try:
        mem_total_kb = host.meminfo().get("MemTotal", 0) // 1024
    except FileNotFoundError:
        pass
    # The watermarks are shares of lowmem managed pages; MemTotal can be larger (hotplugged or highmem
    # memory): the smaller one is the honest basis.
    lowmem_kb = watermarks.buffer_pages(zones) * page_kb
    if lowmem_kb and (not mem_total_kb or lowmem_kb <= mem_total_kb):
        basis_kb, basis = lowmem_kb, "lowmem managed by the kernel"
    else:
        basis_kb, basis = mem_total_kb, "MemTotal"
    limit = basis_kb * SAFE_SHARE_PERCENT // 100
    limit = max(limit, default or 0, khuge or 0)
    return MinFreeFacts(default, thp, khuge, limit, basis_kb, basis)


# --- reading all of it -----------------------------------------------------------------------------------
class VmState(NamedTuple):
    release: str
    version: Version | None
    values: dict[str, int | None]
    zones: list
    nodes: int
    min_free: MinFreeFacts
    boot_tool: str
    boot_tool_reason: str
    boot: dict[str, dict[str, nextboot.BootValue]]  # tool -> knob name -> what the next boot leaves
    warnings: list[str]


def boot_ranges(knobs: list[Knob], version: Version | None) -> dict[str, tuple[int, int]]:
    """The range the kernel itself accepts for each knob (at boot, swapctl's own policy is not asked)."""
    return {k.name: k.kernel_range(version) for k in knobs}


def read_state(host: Host, knobs: list[Knob] | None = None, applier: str | None = None) -> VmState:
    """The vm state read once: runtime values, zones, the min_free facts, and what each boot-time applier
    would write (applier: the one to show, procps or systemd; None: the one this machine boots with)."""
    knobs = knobs or list(KNOBS.values())
    release = host.kernel_release()
    version = parse_release(release)
    values = {k.name: read_vm(host, k.name) for k in knobs}
    zones = _zones(host)
    warnings: list[str] = []
    boot = nextboot.next_boot(host, boot_ranges(knobs, version), warnings=warnings)
    tool, why = (applier, "--boot-applier") if applier else nextboot.detect_applier(host)
    return VmState(release, version, values, zones, numa_nodes(host, zones),
                   min_free_facts(host, zones, version), tool, why, boot, warnings)


def boot_value(knob: Knob, state: VmState) -> tuple[int | None, str, bool]:
    """(value, source, estimated) the next boot leaves in a knob: the last write the kernel accepts, else the
    kernel's default (min_free_kbytes: estimated, unless khugepaged's value decides)."""
    chosen = state.boot[state.boot_tool][knob.name]
    if chosen.source is not None:
        return chosen.value, chosen.source.file, False
    if knob.name == "min_free_kbytes":
        return state.min_free.boot_default, "kernel default", state.min_free.khugepaged is None
    return knob.default, "kernel default", False


def _drift(knob: Knob, runtime: int | None, boot: int | str | None, estimated: bool) -> bool:
    if runtime is None or not isinstance(boot, int):
        return False
    if estimated:
        return abs(runtime - boot) > estimate_slack(boot)
    return runtime != boot


def estimate_slack(estimate_kb: int) -> int:
    """How far the kernel's own min_free_kbytes may be from our estimate of it: the kernel computed it from
    the managed pages at boot, we from today's (2711 kB booted vs 2737 kB estimated on a 512 MiB 6.1 guest)."""
    return max(64, estimate_kb // 50)


def describe(state: VmState, knobs: list[Knob]) -> list[dict[str, Any]]:
    """The `vm get` rows: runtime value, range, boot value and source, drift, and per-key notes."""
    rows = []
    for knob in knobs:
        value = state.values.get(knob.name)
        chosen = state.boot[state.boot_tool][knob.name]
        boot, source, estimated = boot_value(knob, state)
        lo, hi = knob.accepted_range(state.version)
        klo, khi = knob.kernel_range(state.version)
        available = value is not None and (knob.since is None or state.version is None
                                           or state.version >= knob.since)
        row: dict[str, Any] = {
            "key": knob.key, "value": value, "available": available,
            "range": [lo, hi], "kernel_range": [klo, khi],
            "boot_value": boot, "boot_source": source,
            "boot_line": chosen.source.line if chosen.source else None, "boot_tool": state.boot_tool,
            "boot_estimated": estimated,
            "drift": _drift(knob, value, boot, estimated),
            "persisted": {tool: state.boot[tool][knob.name].as_dict() for tool in nextboot.TOOLS},
            "summary": knob.summary, "notes": [],
        }
        if not available:
            row["notes"].append(f"not present on this kernel{' (needs ' + knob.needs + ')' if knob.needs else ''}")
        # A rejected write after the one that counts is what a sysadmin would take for the boot value.
        last = chosen.writes.index(chosen.source) if chosen.source else -1
        keeps = f"{boot} from {source}:{chosen.source.line}" if chosen.source else f"its default {boot}"
        for w, why in chosen.rejected:
            if chosen.writes.index(w) > last:
                row["notes"].append(f"{w.file}:{w.line} sets {w.text[:40]!r}, which the kernel rejects at boot "
                                    f"({why}): it keeps {keeps}")
        if knob.name == "zone_reclaim_mode" and value is not None:
            from swapctl.ops.watermarks import decode_zone_reclaim_mode

            decoded = decode_zone_reclaim_mode(value)
            row.update(bits=decoded["flags"], meaning=decoded["meaning"])
            if state.nodes <= 1:
                row["notes"].append("this machine has one NUMA node: zone_reclaim_mode has no effect")
        if knob.name == "min_free_kbytes":
            mf = state.min_free
            row.update({"kernel_default": mf.kernel_default, "thp": mf.thp,
                        "khugepaged_raises": mf.khugepaged is not None, "khugepaged_value": mf.khugepaged,
                        "safe_limit": mf.safe_limit})
            if mf.khugepaged is not None:
                row["notes"].append(f"khugepaged (transparent hugepages: {mf.thp}) raises it to {mf.khugepaged} "
                                    f"kB, above the kernel default {mf.kernel_default} kB")
        rows.append(row)
    return rows
