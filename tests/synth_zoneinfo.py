"""A synthetic /proc/zoneinfo in the 6.13+ format for any node and CPU count (tests and bench/)."""

from __future__ import annotations

from dataclasses import dataclass

ZONE_NAMES = ("DMA", "DMA32", "Normal", "Movable", "Device")
NODE_STATS = (
    "nr_inactive_anon",
    "nr_active_anon",
    "nr_inactive_file",
    "nr_active_file",
    "nr_unevictable",
    "nr_slab_reclaimable",
    "nr_slab_unreclaimable",
    "nr_anon_pages",
    "nr_mapped",
    "nr_file_pages",
    "nr_dirty",
    "nr_writeback",
    "nr_shmem",
    "nr_kernel_stack",
    "nr_page_table_pages",
)
ZONE_STATS = (
    "nr_free_pages",
    "nr_zone_inactive_anon",
    "nr_zone_active_anon",
    "nr_zone_inactive_file",
    "nr_zone_active_file",
    "nr_zone_unevictable",
    "nr_zone_write_pending",
    "nr_mlock",
    "nr_bounce",
    "nr_zspages",
    "nr_free_cma",
    "numa_hit",
    "numa_miss",
    "numa_foreign",
    "numa_interleave",
    "numa_local",
    "numa_other",
)


@dataclass
class SynthZone:
    node: int
    name: str
    free: int
    min: int
    low: int
    high: int
    promo: int
    boost: int
    spanned: int
    present: int
    managed: int
    protection: tuple[int, ...]


def synth_zones(nodes: int, node_pages: int = 4 << 18) -> list[SynthZone]:
    """Node 0 holds DMA, DMA32 and Normal; other nodes only Normal; Movable/Device empty everywhere.
    Values differ per node and zone so a parser that mixes them up is caught."""
    out = []
    for n in range(nodes):
        sizes = (
            {"DMA": 3840, "DMA32": 700000, "Normal": node_pages - 703840}
            if n == 0
            else {"Normal": node_pages + 1000 * n}
        )
        for i, name in enumerate(ZONE_NAMES):
            managed = sizes.get(name, 0)
            present = managed + (37 * (i + 1) if managed else 0)
            mn = managed // 300 + n
            out.append(
                SynthZone(
                    n,
                    name,
                    free=managed - 1000 - n if managed else 0,
                    min=mn,
                    low=mn + 7 * (i + 1),
                    high=mn + 14 * (i + 1),
                    promo=mn + 21 * (i + 1),
                    boost=i if managed else 0,
                    spanned=present + 5 if present else 0,
                    present=present,
                    managed=managed,
                    protection=tuple(0 if j <= i else (j - i) * 100 + n for j in range(5)),
                )
            )
    return out


def render_zoneinfo(zones: list[SynthZone], cpus: int) -> str:
    lines: list[str] = []
    first_populated: set[int] = set()
    for z in zones:
        lines.append(f"Node {z.node}, zone {z.name:>8}")
        populated = z.present > 0
        if populated and z.node not in first_populated:
            first_populated.add(z.node)
            lines.append("  per-node stats")
            lines.extend(f"      {k} {idx * 3 + z.node}" for idx, k in enumerate(NODE_STATS))
        lines.append(f"  pages free     {z.free}")
        for k in ("boost", "min", "low", "high", "promo", "spanned", "present", "managed"):
            lines.append(f"        {k:<8} {getattr(z, k)}")
        lines.append("        cma      0")
        lines.append("        protection: (" + ", ".join(map(str, z.protection)) + ")")
        if not populated:
            continue
        lines.extend(f"      {k} {idx}" for idx, k in enumerate(ZONE_STATS))
        lines.append("  pagesets")
        for c in range(cpus):
            lines.append(f"    cpu: {c}")
            lines.append(f"              count:    {c % 63}")
            lines.append("              high:     5011")
            lines.append("              batch:    63")
            lines.append("              high_min: 5011")
            lines.append("              high_max: 48307")
            lines.append("  vm stats threshold: 24")
        lines.append("  node_unreclaimable:  0")
        lines.append(f"  start_pfn:           {4096 * (z.node + 1)}")
    return "\n".join(lines) + "\n"
