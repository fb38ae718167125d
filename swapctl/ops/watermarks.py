"""Watermark arithmetic: the kernel's min_free_kbytes defaults, __setup_per_zone_wmarks, lowmem_reserve."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from swapctl.core.kernel import Version, parse_release
from swapctl.ops.sysctl import SAFE_SHARE_PERCENT, MinFreeFacts, min_free_facts
from swapctl.system import paths
from swapctl.system.zoneinfo import HIGHMEM, MOVABLE, Zone

# Version boundaries, each read in the kernel tree of that version (mm/page_alloc.c unless said):
# - 4.6: watermark_scale_factor (commit 795ae7a0de6b "mm: scale kswapd watermarks in proportion to
#   memory"): the low/high gap becomes max(tmp/4, managed * wsf / 10000). Before it: low = min + tmp/4,
#   high = min + tmp/2 (the classic 5/4 and 3/2 rule).
# - 5.0: watermark_boost_factor (commit 1c30844d2dfe): a recompute sets zone->watermark_boost = 0 and the
#   printed min/low/high include the boost.
# - 5.7: the default min_free_kbytes clamp rises from 65536 to 262144 (commit ee8eb9a5fe86).
# - 5.18: WMARK_PROMO (memory tiering, commit c574bbe91703): promo = high + gap; zoneinfo prints it
#   from 6.12 (mm/vmstat.c zoneinfo_show_print).
# - 6.6: ZONE_MOVABLE leaves lowmem_pages and its min is capped like HighMem (commit "mm/page_alloc: fix
#   min_free_kbytes calculation regarding ZONE_MOVABLE", liuq). Before 6.6 a Movable zone takes a
#   proportional share; measured on the 6.1 and 6.12 recordings and seen in the 6.6-rc lkml capture.
V4_6: Version = (4, 6, 0)
V5_7: Version = (5, 7, 0)
V5_18: Version = (5, 18, 0)
V6_6: Version = (6, 6, 0)
LATEST: Version = (99, 0, 0)

SWAP_CLUSTER_MAX = 32  # include/linux/swap.h: the floor of a capped (HighMem/Movable) zone's min
# Default lowmem_reserve_ratio per zone type (mm/page_alloc.c); zones absent from the table get 0.
DEFAULT_RESERVE_RATIO = {"DMA": 256, "DMA32": 256, "Normal": 32, HIGHMEM: 0, MOVABLE: 0}

def parse_kernel_version(release: str | Version | None) -> Version:
    """The version whose rules apply: parsed from an osrelease string; an unknown one gets the newest rules."""
    if isinstance(release, tuple):
        return release
    return parse_release(release) or LATEST


def mult_frac(x: int, numer: int, denom: int) -> int:
    """include/linux/math.h mult_frac(): (x / d) * n + ((x % d) * n) / d, in integers."""
    return (x // denom) * numer + ((x % denom) * numer) // denom


def is_capped(zone: Zone, version: Version) -> bool:
    """A zone whose min is clamp(managed/1024, 32, 128) instead of a share of pages_min."""
    return zone.name == HIGHMEM or (zone.name == MOVABLE and version >= V6_6)


def lowmem_managed_pages(zones: Iterable[Zone], kernel_version: str | Version | None = None) -> int:
    """lowmem_pages of __setup_per_zone_wmarks: managed pages of every zone but HighMem (and Movable
    from 6.6), over all nodes."""
    version = parse_kernel_version(kernel_version)
    return sum(z.managed for z in zones if not is_capped(z, version))


class MinFreeDefaults(NamedTuple):
    kernel: int  # init_per_zone_wmark_min / calculate_min_free_kbytes
    khugepaged: int | None  # set_recommended_min_free_kbytes, None when THP does not raise it

    @property
    def effective(self) -> int:
        """What a booted kernel holds when nobody wrote the sysctl: the larger of the two."""
        return max(self.kernel, self.khugepaged or 0)


def buffer_pages(zones: Iterable[Zone]) -> int:
    """Managed pages of the zones up to ZONE_NORMAL on every node (gfp_zone(GFP_USER)): the memory
    nr_free_buffer_pages() counts at boot, before any watermark is set."""
    return sum(z.managed for z in zones if z.name not in (HIGHMEM, MOVABLE, "Device"))


def pageblock_pages(page_size: int) -> int:
    """pageblock_nr_pages where pageblock_order = the PMD order: one page table's worth of pages
    (page_size / 8 PTEs): 512 with 4 KiB pages, 2048 with 16 KiB, 8192 with 64 KiB."""
    return page_size // 8


def default_min_free_kbytes(zones: Sequence[Zone], page_size: int, thp_enabled: bool,
                            nr_nodes: int | None = None, *,
                            kernel_version: str | Version | None = None) -> MinFreeDefaults:
    """The min_free_kbytes the kernel picks itself, from the zones it has now.

    kernel: calculate_min_free_kbytes() (init_per_zone_wmark_min() before 6.3):
        clamp(int_sqrt(16 * lowmem_kB), 128, 65536 before 5.7 / 262144 from 5.7), lowmem_kB being
        nr_free_buffer_pages(): managed pages of the zones up to ZONE_NORMAL (gfp_zone(GFP_USER)) on every
        node. At boot the watermarks are still zero, so managed counts whole; we use today's managed,
        which drifts a little after boot (a few kB off at most on the square root).
    khugepaged: set_recommended_min_free_kbytes() (mm/khugepaged.c) when THP is "always" or "madvise"
        and RAM is at least 512 MiB (hugepage_init() turns THP off below that): per populated zone up to
        ZONE_NORMAL, 2 pageblocks + MIGRATE_PCPTYPES^2 (9) pageblocks, capped at 5% of
        nr_free_buffer_pages() (managed - high watermark, summed), in kB. It only ever raises the value.
    nr_nodes is used only to bound the zone count when a capture lists no zones for some node.
    """
    version = parse_kernel_version(kernel_version)
    page_kb = page_size // 1024
    user_zones = [z for z in zones if z.name not in (HIGHMEM, MOVABLE, "Device")]
    lowmem_kb = buffer_pages(zones) * page_kb
    upper = 262144 if version >= V5_7 else 65536
    kernel = min(max(math.isqrt(16 * lowmem_kb), 128), upper)
    total_pages = sum(z.managed for z in zones)
    if not thp_enabled or total_pages * page_size < 512 << 20:
        return MinFreeDefaults(kernel, None)
    nr_zones = sum(1 for z in user_zones if z.populated)
    if nr_nodes is not None and nr_zones == 0:
        nr_zones = nr_nodes
    recommended = pageblock_pages(page_size) * nr_zones * (2 + 3 * 3)
    free_buffer = sum(max(z.managed - z.high, 0) for z in user_zones)
    recommended = min(recommended, free_buffer // 20) * page_kb
    return MinFreeDefaults(kernel, recommended if recommended > kernel else None)


class Marks(NamedTuple):
    min: int
    low: int
    high: int
    promo: int | None  # None where the version has no WMARK_PROMO


def rule_name(kernel_version: str | Version | None) -> str:
    """The rule __setup_per_zone_wmarks applies in that version, in words."""
    v = parse_kernel_version(kernel_version)
    if v < V4_6:
        return "classic: low = min x 5/4, high = min x 3/2 (before 4.6)"
    text = "gap: low = min + g, high = low + g, g = max(min/4, managed x watermark_scale_factor/10000) (4.6+)"
    if v >= V5_18:
        text += "; promo = high + g"
    return text


def predict(zones: Sequence[Zone], min_free_kbytes: int, watermark_scale_factor: int,
            kernel_version: str | Version | None, page_size: int,
            managed: Sequence[int] | None = None) -> list[Marks]:
    """The watermarks __setup_per_zone_wmarks will give every zone, in the order of `zones`.

    `zones` must be every zone of every online node (the kernel's for_each_zone), empty ones included:
    they take part (an empty Movable zone gets min 32 from 6.6). `managed` overrides the managed counts.

    Which managed counts make the prediction exact: the kernel divides with zone_managed_pages() at the
    moment of the recompute, not with the counts the printed marks came from. Those printed marks may be
    older (computed at boot while init memory was still being freed, or before a balloon/hotplug moved
    managed), so they cannot be inverted into anything useful. The latest zoneinfo's `managed` is the
    best reading of the counts at the next recompute, and it is exact whenever managed holds still between
    the read and the write: every step of the 6.1 and 6.12 recordings is predicted to the page from the
    previous step's zoneinfo, while step 0 (boot-time marks) is not its own prediction.
    """
    version = parse_kernel_version(kernel_version)
    counts = [z.managed for z in zones] if managed is None else list(managed)
    pages_min = min_free_kbytes >> (page_size.bit_length() - 1 - 10)  # min_free_kbytes >> (PAGE_SHIFT - 10)
    lowmem = sum(c for z, c in zip(zones, counts, strict=True) if not is_capped(z, version))
    out: list[Marks] = []
    for z, m in zip(zones, counts, strict=True):
        # tmp = (u64)pages_min * managed / lowmem_pages (do_div: truncating). A machine whose every zone
        # is capped has lowmem 0; the kernel would divide by zero there, we keep 0.
        tmp = pages_min * m // lowmem if lowmem else 0
        if is_capped(z, version):
            # "__GFP_HIGH and PF_MEMALLOC allocations usually don't need highmem pages, so cap pages_min
            # to a small value": clamp(managed / 1024, SWAP_CLUSTER_MAX, 128). tmp still feeds the gap.
            wmin = min(max(m // 1024, SWAP_CLUSTER_MAX), 128)
        else:
            wmin = tmp
        if version < V4_6:
            out.append(Marks(wmin, wmin + (tmp >> 2), wmin + (tmp >> 1), None))
            continue
        gap = max(tmp >> 2, mult_frac(m, watermark_scale_factor, 10000))
        low = wmin + gap
        high = low + gap
        out.append(Marks(wmin, low, high, high + gap if version >= V5_18 else None))
    return out


def lowmem_reserve(zones: Sequence[Zone], ratios: Sequence[int] | None = None,
                   managed: Sequence[int] | None = None) -> list[tuple[int, ...]]:
    """setup_per_zone_lowmem_reserve(): for zone i of a node and each higher zone j of that node,
    sum(managed(i+1..j)) // ratio[i]; 0 when ratio[i] is 0 or zone i has no managed pages (KERNEL-FACTS;
    every step of the 6.1 and 6.12 recordings after the first write matches it; older kernels raised a ratio
    below 1 to 1 instead, and boot-time arrays reflect the managed counts of that moment).

    Returns, for each zone in `zones`, its protection array (length = the node's protection length).
    `ratios` is /proc/sys/vm/lowmem_reserve_ratio indexed by zone index; default: the kernel's defaults.
    """
    counts = [z.managed for z in zones] if managed is None else list(managed)
    by_node: dict[int, dict[int, int]] = {}
    for z, m in zip(zones, counts, strict=True):
        by_node.setdefault(z.node, {})[z.index] = m
    out: list[tuple[int, ...]] = []
    for z, m in zip(zones, counts, strict=True):
        width = len(z.protection) or (max(by_node[z.node]) + 1)
        ratio = (ratios[z.index] if ratios is not None and z.index < len(ratios)
                 else DEFAULT_RESERVE_RATIO.get(z.name, 0))
        node = by_node[z.node]
        row = []
        running = 0
        for j in range(width):
            if j <= z.index:
                row.append(0)
                continue
            running += node.get(j, 0)
            row.append(running // ratio if ratio > 0 and m > 0 else 0)
        out.append(tuple(row))
    return out


# --- reading a machine (live or a --root snapshot) -------------------------------------------------------
PAGE_SIZES = (4096, 8192, 16384, 65536)
WHAT_IF_KEYS = ("min_free_kbytes", "watermark_scale_factor")


class Snapshot(NamedTuple):
    zones: list[Zone]
    release: str  # /proc/sys/kernel/osrelease; "" when the snapshot lacks it
    version: Version
    page_size: int
    page_size_source: str  # "host" | "meminfo" | "assumed"
    settings: dict[str, int | None]  # min_free_kbytes, watermark_scale_factor, watermark_boost_factor, ...
    lowmem_reserve_ratio: list[int] | None
    thp: str | None  # the bracketed mode of transparent_hugepage/enabled
    warnings: list[str]


def _read_int(host, key: str) -> int | None:
    try:
        return host.vm_value(key)
    except OSError:
        return None


def derive_page_size(zones: Sequence[Zone], meminfo: dict[str, int] | None) -> int | None:
    """The snapshot's page size: MemTotal is totalram_pages() x page size, and totalram_pages() is the sum
    of the zones' managed pages, so MemTotal / sum(managed) gives it when both were read together. A
    ratio that is not within 1% of a real page size (a balloon or lazy init moved managed) gives None."""
    total = sum(z.managed for z in zones)
    if not meminfo or "MemTotal" not in meminfo or total <= 0:
        return None
    ratio = meminfo["MemTotal"] / total
    for size in PAGE_SIZES:
        if abs(ratio - size) <= size * 0.01:
            return size
    return None


def machine_page_size(host, zones: Sequence[Zone]) -> tuple[int, str]:
    """(page size, "host" | "meminfo" | "assumed") of the machine the files describe: this one's, or under
    --root the snapshot's (a 64 KiB-page capture read on a 4 KiB machine), 4096 when it cannot be told."""
    if host.live:
        return host.page_size, "host"
    try:
        meminfo = host.meminfo()
    except OSError:
        meminfo = None
    derived = derive_page_size(zones, meminfo)
    return (derived, "meminfo") if derived is not None else (4096, "assumed")


def load_snapshot(host) -> Snapshot:
    """Everything the watermark and NUMA views need, read through the Host (live /proc or --root)."""
    from swapctl.core.errors import Refused, UsageError
    from swapctl.system.zoneinfo import ZoneinfoError, parse_zoneinfo

    path = host.shown(paths.ZONEINFO)
    try:
        text = host.read_text(paths.ZONEINFO)
    except FileNotFoundError:
        raise Refused(f"{path} does not exist: no zone watermarks to read",
                      hint="a --root snapshot needs proc/zoneinfo (copy /proc/zoneinfo of that machine)") from None
    except OSError as exc:
        raise Refused(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        zones = parse_zoneinfo(text)
    except ZoneinfoError as exc:
        raise UsageError(f"{path}: {str(exc).removeprefix('zoneinfo: ')}",
                         hint="the file is not a whole /proc/zoneinfo; capture it again with "
                              "'cat /proc/zoneinfo > zoneinfo'") from None
    from swapctl.system import numa

    with_memory = numa.node_state(host, "has_memory")
    missing = sorted(set(with_memory or []) - {z.node for z in zones})
    if missing:
        # A file cut at a node boundary parses cleanly; the node list in sysfs shows what is gone.
        raise UsageError(f"{path} lists no zones for node {missing[0]}, which has memory (truncated?)",
                         hint="capture /proc/zoneinfo again, whole")
    warnings: list[str] = []
    release = host.kernel_release()
    if not release:
        warnings.append("the snapshot has no proc/sys/kernel/osrelease: assuming the newest kernel's rules")
    page_size, source = machine_page_size(host, zones)
    if source == "assumed":
        warnings.append("page size not derivable from the snapshot (proc/meminfo MemTotal / managed pages):"
                        " assuming 4096 bytes")
    settings = {k: _read_int(host, k) for k in ("min_free_kbytes", "watermark_scale_factor",
                                                  "watermark_boost_factor", "zone_reclaim_mode")}
    ratios = host.vm_values("lowmem_reserve_ratio")
    from swapctl.ops.sysctl import thp_mode

    return Snapshot(zones, release, parse_kernel_version(release or None), page_size, source, settings,
                    ratios, thp_mode(host), warnings)


# --- the watermarks view ------------------------------------------------------------------------------
def zone_state(z: Zone) -> str:
    """Where free pages stand against the printed (boost included) watermarks."""
    if z.managed == 0:
        return "empty"
    if z.free < z.min:
        return "below_min"  # allocations enter direct reclaim
    if z.free < z.low:
        return "below_low"  # kswapd is woken and reclaims
    if z.free < z.high:
        return "between_low_high"  # kswapd, once awake, keeps reclaiming up to high
    return "above_high"


def parse_what_if(items: Sequence[str], version: Version, release: str = "") -> dict[str, int]:
    """--what-if KEY=VALUE items -> {key: value}: vm set's own parser and range table (by the whole version),
    restricted to the knobs that move watermarks; anything else is a UsageError (exit 2)."""
    from swapctl.core.errors import UsageError
    from swapctl.ops.sysctl import SET, check_range, parse_assignment

    out: dict[str, int] = {}
    for item in items:
        try:
            a = parse_assignment(item)
            if a.knob.name not in WHAT_IF_KEYS:
                raise UsageError(f"{a.knob.key} does not set watermarks", hint=f"keys: {', '.join(WHAT_IF_KEYS)}")
            if a.mode != SET:
                raise UsageError(f"{a.text} only raises or lowers; a prediction needs a value",
                                 hint=f"write {a.knob.key}={a.value}")
            if a.knob.name in out:
                raise UsageError(f"{a.knob.key} given twice")
            if a.knob.since is not None and version < a.knob.since:
                raise UsageError(f"this kernel has no {a.knob.key} (added in {'.'.join(map(str, a.knob.since))})")
            check_range(a.knob, a.value, version, release)
        except UsageError as exc:
            raise UsageError(f"--what-if: {exc.message}", hint=exc.hint) from None
        out[a.knob.name] = a.value
    return out


# The share of RAM the high watermarks may keep free before we note it: past it kswapd keeps reclaiming (and
# swapping) to hold that much free. This is about cost, not safety: whether a min_free_kbytes is safe is
# `vm set`'s safe limit (ops/sysctl.py min_free_facts), the one line both commands draw.
HIGH_SHARE_WARN = 0.10


def _totals(zones: Sequence[Zone], page_size: int) -> dict[str, int]:
    out = {k: sum(getattr(z, k) for z in zones) for k in ("free", "min", "low", "high", "managed", "present",
                                                            "spanned")}
    out.update({f"{k}_bytes": v * page_size for k, v in list(out.items())})
    return out


def build_view(host, snap: Snapshot, node: int | None = None,
               what_if: dict[str, int] | None = None) -> tuple[dict, list[str]]:
    """The data of `swapctl watermarks` (zones, totals per node and machine, settings, rule, what-if)
    and its warnings. `host` is read only when the what-if sets min_free_kbytes (for vm set's limit)."""
    from swapctl.core.errors import Refused, UsageError

    zones = snap.zones
    nodes = sorted({z.node for z in zones})
    if node is not None and node not in nodes:
        raise UsageError(f"node {node} does not exist", hint=f"nodes: {', '.join(map(str, nodes))}")
    warnings = list(snap.warnings)
    ps = snap.page_size
    mfk, wsf = snap.settings.get("min_free_kbytes"), snap.settings.get("watermark_scale_factor")
    # What a recompute with today's settings would give: the printed marks came from the managed counts at
    # the last recompute (boot, or the last sysctl write / hotplug), and managed drifts after boot.
    current_pred = None
    if mfk is not None and (wsf is not None or snap.version < V4_6):
        current_pred = predict(zones, mfk, wsf or 10, snap.version, ps)
    predicted = None
    after: dict[str, int] = {}
    if what_if:
        after = {"min_free_kbytes": what_if.get("min_free_kbytes", mfk),
                 "watermark_scale_factor": what_if.get("watermark_scale_factor", wsf)}
        missing = [k for k, v in after.items() if v is None and not (k == "watermark_scale_factor"
                                                                     and snap.version < V4_6)]
        if missing:
            raise Refused(f"cannot predict: the snapshot has no proc/sys/vm/{missing[0]}",
                          hint=f"give it too: --what-if {missing[0]}=VALUE")
        predicted = predict(zones, after["min_free_kbytes"], after["watermark_scale_factor"] or 10,
                            snap.version, ps)
    ratios = snap.lowmem_reserve_ratio
    rows = []
    for i, z in enumerate(zones):
        if node is not None and z.node != node:
            continue
        row = {"node": z.node, "zone": z.name, "free": z.free, "min": z.min, "low": z.low, "high": z.high,
               "promo": z.promo, "boost": z.boost, "managed": z.managed, "present": z.present,
               "spanned": z.spanned, "protection": list(z.protection), "state": zone_state(z)}
        if predicted is not None:
            p = predicted[i]
            # The kernel computes WMARK_PROMO from 5.18 but prints it only from 6.12: a promo nobody can
            # read back (or compare with) is left out, as the current column leaves it out.
            row["predicted"] = {"min": p.min, "low": p.low, "high": p.high,
                                "promo": p.promo if z.promo is not None else None}
        rows.append(row)
    shown_nodes = nodes if node is None else [node]
    node_totals = [{"node": n, **_totals([z for z in zones if z.node == n], ps)} for n in shown_nodes]
    data: dict = {
        "kernel": snap.release or None,
        "page_size": ps,
        "page_size_source": snap.page_size_source,
        "rule": rule_name(snap.version),
        "settings": {**snap.settings, "lowmem_reserve_ratio": ratios,
                     "transparent_hugepage": snap.thp},
        "zones": rows,
        "nodes": node_totals,
        "totals": _totals(zones, ps),
    }
    # The value the kernel would pick itself; with THP on (or unknown, as in most snapshots) also the one
    # khugepaged raises it to, which is what a default machine with THP shows.
    d = default_min_free_kbytes(zones, ps, snap.thp != "never", len(nodes), kernel_version=snap.version)
    data["settings"]["min_free_kbytes_default"] = {
        "kernel": d.kernel, "khugepaged": d.khugepaged,
        "effective": d.kernel if snap.thp == "never" else d.effective}
    if current_pred is not None:
        drift = [z.key for z, p in zip(zones, current_pred, strict=True)
                 if (z.min - (z.boost or 0), z.low - (z.boost or 0), z.high - (z.boost or 0))
                 != (p.min, p.low, p.high)]
        data["recompute_differs"] = drift
    boosted = [z.key for z in zones if z.boost]
    if boosted:
        warnings.append(f"watermarks boosted (watermark_boost_factor) in {', '.join(boosted)}: "
                        "kswapd reclaims past the normal high mark until the boost decays")
    pressed = [f"{r['node']}/{r['zone']}" for r in rows if r["state"] in ("below_low", "below_min")]
    if pressed:
        warnings.append(f"below the low watermark now: {', '.join(pressed)}")
    if predicted is not None:
        limit = (min_free_facts(host, zones, snap.version)
                 if what_if and "min_free_kbytes" in what_if else None)
        data["what_if"] = _what_if_summary(snap, zones, predicted, after, limit, warnings)
    return data, warnings


def _what_if_summary(snap: Snapshot, zones: Sequence[Zone], predicted: Sequence[Marks],
                     after: dict[str, int | None], limit: MinFreeFacts | None, warnings: list[str]) -> dict:
    """before/after totals; `limit` is vm set's MinFreeFacts when the what-if sets min_free_kbytes."""
    ps = snap.page_size
    before_min = sum(z.min for z in zones)
    before_high = sum(z.high for z in zones)
    after_min = sum(p.min for p in predicted)
    after_high = sum(p.high for p in predicted)
    managed = sum(z.managed for z in zones) or 1
    summary = {
        "before": {"min_free_kbytes": snap.settings.get("min_free_kbytes"),
                   "watermark_scale_factor": snap.settings.get("watermark_scale_factor")},
        "after": after,
        "min_pages": {"before": before_min, "after": after_min, "change": after_min - before_min},
        "high_pages": {"before": before_high, "after": after_high, "change": after_high - before_high},
        "min_bytes_change": (after_min - before_min) * ps,
        "high_bytes_change": (after_high - before_high) * ps,
        "high_share_of_ram": round(after_high / managed, 4),
        "min_share_of_ram": round(after_min / managed, 4),
        "min_free_kbytes_safe_limit": limit.safe_limit if limit is not None else None,
    }
    from swapctl.core.units import format_bytes

    value = after["min_free_kbytes"]
    # Same comparison as ops/sysctl_set.check_policy, so the what-if and `vm set` never disagree.
    if limit is not None and value is not None and value > limit.safe_limit:
        warnings.append(f"min_free_kbytes={value} is above the safe limit of {limit.safe_limit} kB "
                        f"({SAFE_SHARE_PERCENT}% of the {limit.basis_kb} kB of {limit.basis}): `swapctl vm set` "
                        "would refuse it without --force; so large a reserve can deadlock the kernel "
                        "(measured: 262144 on a 512 MiB machine panicked)")
    if after_high / managed >= HIGH_SHARE_WARN:
        warnings.append(f"the new high watermarks keep {after_high / managed:.0%} of RAM free "
                        f"({format_bytes(after_high * ps)}): kswapd will reclaim (and swap) to hold that much")
    for z, p in zip(zones, predicted, strict=True):
        if z.managed and p.high >= z.managed:
            warnings.append(f"node {z.node} zone {z.name}: the new high watermark ({p.high} pages) is at or "
                            f"above the zone's managed pages ({z.managed}): kswapd can never satisfy it")
    return summary


# --- NUMA ---------------------------------------------------------------------------------------------
# mm/vmscan.c node_reclaim() / Documentation/admin-guide/sysctl/vm.rst: zone_reclaim_mode bits.
RECLAIM_BITS = {1: "zone reclaim on", 2: "write out dirty pages", 4: "swap / unmap pages"}


def decode_zone_reclaim_mode(mode: int | None) -> dict:
    if mode is None:
        return {"value": None, "flags": [], "meaning": "unknown (no proc/sys/vm/zone_reclaim_mode)"}
    flags = [text for bit, text in RECLAIM_BITS.items() if mode & bit]
    unknown = mode & ~7
    if unknown:
        flags.append(f"unknown bits 0x{unknown:x}")
    if mode == 0:
        meaning = ("off: when a node runs short, allocations fall back to other nodes before any local "
                   "reclaim")
    else:
        meaning = ("on: when a node runs short the kernel reclaims that node's memory before using another "
                   "node" + (", writing dirty pages" if mode & 2 else "")
                   + (", swapping and unmapping pages" if mode & 4 else ""))
    return {"value": mode, "flags": flags, "meaning": meaning}


def build_numa(host, snap: Snapshot) -> tuple[dict, list[str]]:
    """The data of `swapctl numa`: nodes with memory, distances, zone states, zone_reclaim_mode and the
    answer to "why does this machine swap while memory is free?"."""
    from swapctl.core.units import format_bytes
    from swapctl.system import numa

    warnings = list(snap.warnings)
    ps = snap.page_size
    zone_nodes = sorted({z.node for z in snap.zones})
    ids = numa.node_ids(host) or zone_nodes
    has_memory = numa.node_state(host, "has_memory")
    has_cpu = numa.node_state(host, "has_cpu")
    nodes = []
    for n in ids:
        zs = [z for z in snap.zones if z.node == n]
        mi = numa.node_meminfo(host, n)
        populated = [z for z in zs if z.managed]
        states = {z.name: zone_state(z) for z in populated}
        pressed = [z.name for z in populated if zone_state(z) in ("below_low", "below_min")]
        nodes.append({
            "node": n,
            "mem_total": mi.get("MemTotal") if mi else sum(z.managed for z in zs) * ps,
            "mem_free": mi.get("MemFree") if mi else sum(z.free for z in zs) * ps,
            "mem_used": mi.get("MemUsed") if mi else None,
            "free_pages": sum(z.free for z in populated),
            "low_pages": sum(z.low for z in populated),
            "high_pages": sum(z.high for z in populated),
            "distances": numa.node_distances(host, n),
            "cpus": numa.node_cpus(host, n),
            "has_memory": (n in has_memory) if has_memory is not None else bool(populated),
            "has_cpu": (n in has_cpu) if has_cpu is not None else None,
            "zones": states,
            "below_low": pressed,
        })
    mode = snap.settings.get("zone_reclaim_mode")
    zrm = decode_zone_reclaim_mode(mode)
    short = [n for n in nodes if n["below_low"]]
    roomy = [n for n in nodes if n["has_memory"] and not n["below_low"] and n["free_pages"] > n["high_pages"]]
    answer: list[str] = []
    if short and roomy:
        s_txt = ", ".join(f"node {n['node']} ({'/'.join(n['below_low'])})" for n in short)
        r_txt = ", ".join(f"node {n['node']} ({format_bytes(n['free_pages'] * ps)} free)" for n in roomy)
        answer.append(f"{s_txt} is below its low watermark while {r_txt} has memory to spare: kswapd of each "
                      "node balances that node's own zones, so it reclaims (and may swap) on the short node "
                      "whatever the others hold.")
        if mode:
            answer.append(f"zone_reclaim_mode={mode} makes the kernel reclaim{' and swap' if mode & 4 else ''} "
                          "on the local node before allocating from a remote one: this is the usual cause. "
                          "Setting it to 0 lets allocations spill to the free node instead.")
        else:
            answer.append("zone_reclaim_mode=0, so ordinary allocations already spill over to the free node; "
                          "local pressure then comes from a memory policy or cpuset binding tasks to the "
                          "short node (numactl --membind, mbind, cpuset.mems) or from its kswapd catching up.")
    elif short:
        answer.append("every node with memory is below its low watermark: the whole machine is short, "
                      "swapping is expected.")
    else:
        answer.append("no node is below its low watermark now. Swapping while memory is free then comes from "
                      "a cgroup limit (memory.max / memory.high reclaim within the group, whatever the "
                      "machine has free), from boosted watermarks after fragmentation "
                      "(watermark_boost_factor), or from pressure that has since passed.")
    if any(z.boost for z in snap.zones):
        answer.append("some zones have a watermark boost now: kswapd reclaims past the usual high mark "
                      "until it decays; watermark_boost_factor=0 disables boosting.")
    data = {"nodes": nodes, "zone_reclaim_mode": zrm, "page_size": ps, "numa": len(ids) > 1,
            "why_swap_while_free": answer}
    if len(ids) <= 1:
        answer.insert(0, "one memory node: NUMA imbalance cannot explain swapping here.")
    return data, warnings
