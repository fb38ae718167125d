"""Watermark arithmetic: the kernel's min_free_kbytes defaults, __setup_per_zone_wmarks, lowmem_reserve."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from swapctl.system.zoneinfo import HIGHMEM, MOVABLE, Zone

Version = tuple[int, int, int]

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
V5_0: Version = (5, 0, 0)
V5_7: Version = (5, 7, 0)
V5_18: Version = (5, 18, 0)
V6_6: Version = (6, 6, 0)
LATEST: Version = (99, 0, 0)

SWAP_CLUSTER_MAX = 32  # include/linux/swap.h: the floor of a capped (HighMem/Movable) zone's min
# Default lowmem_reserve_ratio per zone type (mm/page_alloc.c); zones absent from the table get 0.
DEFAULT_RESERVE_RATIO = {"DMA": 256, "DMA32": 256, "Normal": 32, HIGHMEM: 0, MOVABLE: 0}

_VERSION_RE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


def parse_kernel_version(release: str | Version | None) -> Version:
    """(major, minor, patch) from an osrelease string like "6.12.117+deb12-amd64"; unknown -> LATEST."""
    if release is None:
        return LATEST
    if isinstance(release, tuple):
        return release
    m = _VERSION_RE.match(release)
    if not m:
        return LATEST
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


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
    lowmem_kb = sum(z.managed for z in user_zones) * page_kb
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


@dataclass(frozen=True)
class Marks:
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
    they take part (an empty Movable zone gets min 32 from 6.6). `managed` overrides the managed counts
    (the kernel uses the counts at the moment of the recompute; see managed_at_last_recompute()).
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
    sum(managed(i+1..j)) // ratio[i]; 0 when ratio[i] is 0 or zone i has no managed pages (the 5.13+
    rule: "if (!sysctl_lowmem_reserve_ratio[i] || !zone_managed_pages(zone))").

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
