"""Memory-management arithmetic, as the kernel does it: the zones of /proc/zoneinfo, the min_free_kbytes the kernel
picks, the watermarks __setup_per_zone_wmarks sets, lowmem_reserve, zone states and zone_reclaim_mode's bits.
Pure: every input is a value read elsewhere (system/), so a --root snapshot of another machine computes alike."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from swapctl.kernel.version import Version, rules_version

# Zones the kernel caps instead of sharing pages_min with (is_capped).
HIGHMEM = "HighMem"
MOVABLE = "Movable"
DEVICE = "Device"
# enum zone_type (include/linux/mmzone.h): the order zones take in a node and in protection arrays.
ZONE_ORDER = {"DMA": 0, "DMA32": 1, "Normal": 2, HIGHMEM: 3, MOVABLE: 4, DEVICE: 5}


@dataclass
class Zone:
    node: int
    name: str
    index: int  # position inside its node (0 = DMA on x86): the order of the protection array
    free: int
    min: int
    low: int
    high: int
    spanned: int
    present: int
    managed: int
    promo: int | None = None  # printed from 6.12
    boost: int | None = None  # printed from 5.16/5.17
    cma: int | None = None  # printed from 5.12
    protection: tuple[int, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)  # the zone's vm counters (nr_free_pages, numa_*)
    node_stats: dict[str, int] | None = None  # "per-node stats" (4.8+), held by a node's first populated zone
    nr_cpus: int = 0  # pagesets printed: one per online CPU
    start_pfn: int | None = None
    unreclaimable: bool | None = None  # node_unreclaimable (4.8+) or all_unreclaimable (older)
    extra: dict[str, int] = field(default_factory=dict)  # scanned, inactive_ratio and other tail lines

    @property
    def populated(self) -> bool:
        return self.managed > 0

    @property
    def key(self) -> str:
        return f"{self.node}/{self.name}"


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

SWAP_CLUSTER_MAX = 32  # include/linux/swap.h: the floor of a capped (HighMem/Movable) zone's min
# Default lowmem_reserve_ratio per zone type (mm/page_alloc.c); zones absent from the table get 0.
DEFAULT_RESERVE_RATIO = {"DMA": 256, "DMA32": 256, "Normal": 32, HIGHMEM: 0, MOVABLE: 0}


def mult_frac(x: int, numer: int, denom: int) -> int:
    """include/linux/math.h mult_frac(): (x / d) * n + ((x % d) * n) / d, in integers."""
    return (x // denom) * numer + ((x % denom) * numer) // denom


def is_capped(zone: Zone, version: Version) -> bool:
    """A zone whose min is clamp(managed/1024, 32, 128) instead of a share of pages_min."""
    return zone.name == HIGHMEM or (zone.name == MOVABLE and version >= V6_6)


def lowmem_managed_pages(zones: Iterable[Zone], kernel_version: str | Version | None = None) -> int:
    """lowmem_pages of __setup_per_zone_wmarks: managed pages of every zone but HighMem (and Movable
    from 6.6), over all nodes."""
    version = rules_version(kernel_version)
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


def default_min_free_kbytes(
    zones: Sequence[Zone],
    page_size: int,
    thp_enabled: bool | None,
    nr_nodes: int | None = None,
    *,
    kernel_version: str | Version | None = None,
) -> MinFreeDefaults:
    """The min_free_kbytes the kernel picks itself, from the zones it has now.

    kernel: calculate_min_free_kbytes() (split out of init_per_zone_wmark_min() in 6.1; the same formula):
        clamp(int_sqrt(16 * lowmem_kB), 128, 65536 before 5.7 / 262144 from 5.7), lowmem_kB being
        nr_free_buffer_pages(): managed pages of the zones up to ZONE_NORMAL (gfp_zone(GFP_USER)) on every
        node. At boot the watermarks are still zero, so managed counts whole; we use today's managed,
        which drifts a little after boot (a few kB off at most on the square root).
    khugepaged: set_recommended_min_free_kbytes() (mm/khugepaged.c) whenever khugepaged starts: at boot when
        THP is "always" or "madvise" and RAM is at least 512 MiB (below that hugepage_init() turns THP off),
        and on any machine once someone enables THP in sysfs (start_stop_khugepaged). thp_enabled: the mode
        read now (True: always or madvise), None when unknown (then the boot rule decides). Per populated
        zone up to ZONE_NORMAL, 2 pageblocks + MIGRATE_PCPTYPES^2 (9) pageblocks, capped at 5% of
        nr_free_buffer_pages() (managed - high watermark, summed), in kB. It only ever raises the value.
    nr_nodes is used only to bound the zone count when a capture lists no zones for some node.
    """
    version = rules_version(kernel_version)
    page_kb = page_size // 1024
    user_zones = [z for z in zones if z.name not in (HIGHMEM, MOVABLE, "Device")]
    lowmem_kb = buffer_pages(zones) * page_kb
    upper = 262144 if version >= V5_7 else 65536
    kernel = min(max(math.isqrt(16 * lowmem_kb), 128), upper)
    total_pages = sum(z.managed for z in zones)
    if thp_enabled is False or (thp_enabled is None and total_pages * page_size < 512 << 20):
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
    v = rules_version(kernel_version)
    if v < V4_6:
        return "classic: low = min x 5/4, high = min x 3/2 (before 4.6)"
    text = "gap: low = min + g, high = low + g, g = max(min/4, managed x watermark_scale_factor/10000) (4.6+)"
    if v >= V5_18:
        text += "; promo = high + g"
    return text


def predict(
    zones: Sequence[Zone],
    min_free_kbytes: int,
    watermark_scale_factor: int,
    kernel_version: str | Version | None,
    page_size: int,
    managed: Sequence[int] | None = None,
) -> list[Marks]:
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
    version = rules_version(kernel_version)
    counts = [z.managed for z in zones] if managed is None else list(managed)
    pages_min = min_free_kbytes >> (page_size.bit_length() - 1 - 10)  # min_free_kbytes >> (PAGE_SHIFT - 10)
    lowmem = sum(c for z, c in zip(zones, counts) if not is_capped(z, version))
    out: list[Marks] = []
    for z, m in zip(zones, counts):
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


def lowmem_reserve(
    zones: Sequence[Zone], ratios: Sequence[int] | None = None, managed: Sequence[int] | None = None
) -> list[tuple[int, ...]]:
    """setup_per_zone_lowmem_reserve(): for zone i of a node and each higher zone j of that node,
    sum(managed(i+1..j)) // ratio[i]; 0 when ratio[i] is 0 or zone i has no managed pages (docs/KERNEL.md;
    every step of the 6.1 and 6.12 recordings after the first write matches it; older kernels raised a ratio
    below 1 to 1 instead, and boot-time arrays reflect the managed counts of that moment).

    Returns, for each zone in `zones`, its protection array (length = the node's protection length).
    `ratios` is /proc/sys/vm/lowmem_reserve_ratio indexed by zone index; default: the kernel's defaults.
    """
    counts = [z.managed for z in zones] if managed is None else list(managed)
    by_node: dict[int, dict[int, int]] = {}
    for z, m in zip(zones, counts):
        by_node.setdefault(z.node, {})[z.index] = m
    out: list[tuple[int, ...]] = []
    for z, m in zip(zones, counts):
        width = len(z.protection) or (max(by_node[z.node]) + 1)
        ratio = (
            ratios[z.index] if ratios is not None and z.index < len(ratios) else DEFAULT_RESERVE_RATIO.get(z.name, 0)
        )
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


PAGE_SIZES = (4096, 8192, 16384, 65536)


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


# mm/vmscan.c node_reclaim() / Documentation/admin-guide/sysctl/vm.rst: zone_reclaim_mode bits.
RECLAIM_BITS = {1: "zone reclaim on", 2: "write out dirty pages", 4: "swap / unmap pages"}


def decode_zone_reclaim_mode(mode: int | None) -> dict[str, Any]:
    if mode is None:
        return {"value": None, "flags": [], "meaning": "unknown (no proc/sys/vm/zone_reclaim_mode)"}
    flags = [text for bit, text in RECLAIM_BITS.items() if mode & bit]
    unknown = mode & ~7
    if unknown:
        flags.append(f"unknown bits 0x{unknown:x}")
    if mode == 0:
        meaning = "off: when a node runs short, allocations fall back to other nodes before any local reclaim"
    else:
        meaning = (
            "on: when a node runs short the kernel reclaims that node's memory before using another "
            "node"
            + (", writing dirty pages" if mode & 2 else "")
            + (", swapping and unmapping pages" if mode & 4 else "")
        )
    return {"value": mode, "flags": flags, "meaning": meaning}


# --- min_free_kbytes: what the kernel picks, and how far swapctl lets it go ----------------------------
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


def min_free_facts(
    zones: Sequence[Zone], page_size: int, thp: str | None, mem_total_kb: int, version: Version | None
) -> MinFreeFacts:
    """The kernel's own min_free_kbytes for this memory, khugepaged's raise of it, and swapctl's safe limit."""
    page_kb = page_size // 1024
    on = None if thp is None else thp != "never"
    defaults = default_min_free_kbytes(zones, page_size, on, kernel_version=version) if zones else None
    default = defaults.kernel if defaults else None
    khuge = defaults.khugepaged if defaults else None
    # The watermarks are shares of lowmem managed pages; MemTotal can be larger (hotplugged or highmem
    # memory): the smaller one is the honest basis.
    lowmem_kb = buffer_pages(zones) * page_kb
    if lowmem_kb and (not mem_total_kb or lowmem_kb <= mem_total_kb):
        basis_kb, basis = lowmem_kb, "lowmem managed by the kernel"
    else:
        basis_kb, basis = mem_total_kb, "MemTotal"
    limit = max(basis_kb * SAFE_SHARE_PERCENT // 100, default or 0, khuge or 0)
    return MinFreeFacts(default, thp, khuge, limit, basis_kb, basis)


def estimate_slack(estimate_kb: int) -> int:
    """How far the kernel's own min_free_kbytes may be from our estimate of it: the kernel computed it from
    the managed pages at boot, we from today's (2711 kB booted vs 2737 kB estimated on a 512 MiB 6.1 guest)."""
    return max(64, estimate_kb // 50)
