"""The machine's memory as the kernel shows it, read once through the Host: the vm sysctls, the zones of
/proc/zoneinfo, transparent hugepages, the NUMA nodes with memory, the page size and MemTotal. Every vm command
decides from one MemoryReading (ops/vm.py, ops/watermarks.py), never from a second look at the machine."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from swapctl.core.errors import Refused, SwapctlError, UsageError
from swapctl.kernel import mm
from swapctl.kernel.version import Version, parse_release, rules_version
from swapctl.system import numa, paths

if TYPE_CHECKING:
    from swapctl.system.host import Host


class MemoryReading(NamedTuple):
    release: str  # /proc/sys/kernel/osrelease; "" when a snapshot lacks it
    version: Version | None  # None: a release that cannot be read
    values: dict[str, int | None]  # /proc/sys/vm/<name> for the names asked for; None where absent
    lowmem_reserve_ratio: list[int] | None
    zones: list[mm.Zone]  # [] when zoneinfo could not be read whole
    zones_problem: SwapctlError | None  # why not: the watermark views refuse with it, vm get does without
    nodes_with_memory: list[int] | None  # sysfs has_memory; None where absent
    page_size: int
    page_size_source: str  # "host" | "meminfo" | "assumed"
    thp: str | None  # the bracketed mode of transparent_hugepage/enabled
    mem_total_kb: int

    @property
    def rules(self) -> Version:
        """The version whose rules apply (the newest for an unknown release)."""
        return rules_version(self.version)

    @property
    def nodes(self) -> int:
        """Nodes with memory; zoneinfo's nodes where sysfs does not say."""
        if self.nodes_with_memory:
            return len(self.nodes_with_memory)
        return len({z.node for z in self.zones}) or 1

    @property
    def min_free(self) -> mm.MinFreeFacts:
        return mm.min_free_facts(self.zones, self.page_size, self.thp, self.mem_total_kb, self.version)

    def whole_zones(self) -> list[mm.Zone]:
        """The zones, or the reason they cannot be trusted (exit 2 or 3)."""
        if self.zones_problem is not None:
            raise self.zones_problem
        return self.zones


# Every vm value a view or a plan may look at; reading them all is cheaper than a second pass for one.
WATERMARK_VALUES = ("min_free_kbytes", "watermark_scale_factor", "watermark_boost_factor", "zone_reclaim_mode")


def read_memory(host: Host, names: Iterable[str] = WATERMARK_VALUES) -> MemoryReading:
    release = host.kernel_release()
    zones, problem = _read_zones(host)
    page_size, source = machine_page_size(host, zones)
    return MemoryReading(
        release=release,
        version=parse_release(release),
        values={name: host.vm_value(name) for name in dict.fromkeys(names)},
        lowmem_reserve_ratio=host.vm_values("lowmem_reserve_ratio"),
        zones=zones,
        zones_problem=problem,
        nodes_with_memory=numa.node_state(host, "has_memory"),
        page_size=page_size,
        page_size_source=source,
        thp=thp_mode(host),
        mem_total_kb=_mem_total_kb(host),
    )


def _read_zones(host: Host) -> tuple[list[mm.Zone], SwapctlError | None]:
    from swapctl.system.zoneinfo import ZoneinfoError, parse_zoneinfo

    path = host.shown(paths.ZONEINFO)
    try:
        text = host.read_text(paths.ZONEINFO)
    except FileNotFoundError:
        return [], Refused(
            f"{path} does not exist: no zone watermarks to read",
            hint="a --root snapshot needs proc/zoneinfo (copy /proc/zoneinfo of that machine)",
        )
    except OSError as exc:
        return [], Refused(f"cannot read {path}: {exc.strerror or exc}")
    try:
        zones = parse_zoneinfo(text)
    except ZoneinfoError as exc:
        return [], UsageError(
            f"{path}: {str(exc).removeprefix('zoneinfo: ')}",
            hint="the file is not a whole /proc/zoneinfo; capture it again with 'cat /proc/zoneinfo > zoneinfo'",
        )
    with_memory = numa.node_state(host, "has_memory")
    missing = sorted(set(with_memory or []) - {z.node for z in zones})
    if missing:
        # A file cut at a node boundary parses cleanly; the node list in sysfs shows what is gone.
        return zones, UsageError(
            f"{path} lists no zones for node {missing[0]}, which has memory (truncated?)",
            hint="capture /proc/zoneinfo again, whole",
        )
    return zones, None


def _mem_total_kb(host: Host) -> int:
    try:
        return host.meminfo().get("MemTotal", 0) // 1024
    except FileNotFoundError:
        return 0


def thp_mode(host: Host) -> str | None:
    """always / madvise / never, or None when unknown (a snapshot without the file, or no THP in the kernel).
    Unknown counts as on where it matters (khugepaged's min_free_kbytes): distribution kernels build THP in,
    and a snapshot is far more likely to have missed the file than the kernel to lack THP."""
    try:
        text = host.read_text(paths.THP_ENABLED).strip()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    m = re.search(r"\[(\w+)\]", text)
    return m.group(1) if m else None


def machine_page_size(host: Host, zones: Sequence[mm.Zone]) -> tuple[int, str]:
    """(page size, "host" | "meminfo" | "assumed") of the machine the files describe: this one's, or under
    --root the snapshot's (a 64 KiB-page capture read on a 4 KiB machine), 4096 when it cannot be told."""
    if host.at_root:
        return host.page_size, "host"
    try:
        meminfo = host.meminfo()
    except OSError:
        meminfo = None
    derived = mm.derive_page_size(zones, meminfo)
    return (derived, "meminfo") if derived is not None else (4096, "assumed")
