"""Reading NUMA node files under sys/devices/system/node (node list, per-node meminfo, distances)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from swapctl.system import paths, procfs

if TYPE_CHECKING:
    from swapctl.system.host import Host

_NODE_DIR = re.compile(r"^node(\d+)$")
# The most a kernel can have (MAX_NUMNODES = 1 << CONFIG_NODES_SHIFT, at most 10 on x86-64; NR_CPUS at most
# 8192 with MAXSMP): a list in sysfs naming more is damaged, and is never expanded into a list that large.
MAX_NUMNODES = 1 << 10
NR_CPUS = 8192


def parse_cpulist(text: str, limit: int = NR_CPUS) -> list[int]:
    """A kernel list like "0-3,8,10-11" (node/online, has_memory, cpulist) -> [0, 1, 2, 3, 8, 10, 11]; every
    id below `limit`, ranges ascending, else ValueError."""
    out: list[int] = []
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        first = procfs.parse_int(lo, 0, limit - 1)
        last = procfs.parse_int(hi, 0, limit - 1) if sep else first
        if last < first:
            raise ValueError(f"range {part!r} runs backwards")
        out.extend(range(first, last + 1))
    return out


def node_ids(host: Host) -> list[int]:
    """The nodeN directories present (a machine without NUMA support has none: [])."""
    names = host.list_dir(paths.NODES) or []
    ids = [int(m.group(1)) for n in names if (m := _NODE_DIR.match(n)) and len(m.group(1)) < 6]
    return sorted(i for i in ids if i < MAX_NUMNODES)


def _read(host: Host, *parts: str) -> str | None:
    try:
        return host.read_text("/".join((paths.NODES, *parts)))
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        return None


def node_meminfo(host: Host, node: int) -> dict[str, int] | None:
    path = f"{paths.NODES}/node{node}/meminfo"
    if host.stat(path) is None:
        return None
    return host.meminfo(path)


def node_distances(host: Host, node: int) -> list[int] | None:
    """node N's distance to every node, in node order (10 = local; SLIT values)."""
    text = _read(host, f"node{node}", "distance")
    if text is None:
        return None
    try:
        distances = [procfs.parse_int(x, 0, 255) for x in procfs.fields(text.strip())]
    except ValueError:
        return None
    return distances if len(distances) <= MAX_NUMNODES else None


def _read_list(host: Host, *parts: str, limit: int) -> list[int] | None:
    text = _read(host, *parts)
    if text is None:
        return None
    try:
        return parse_cpulist(text, limit)
    except ValueError:
        return None


def node_cpus(host: Host, node: int) -> list[int] | None:
    return _read_list(host, f"node{node}", "cpulist", limit=NR_CPUS)


def node_state(host: Host, name: str) -> list[int] | None:
    """online, possible, has_memory, has_cpu, has_normal_memory: lists of node ids (None: absent or damaged)."""
    return _read_list(host, name, limit=MAX_NUMNODES)


class NodeInfo(NamedTuple):
    node: int
    meminfo: dict[str, int] | None
    distances: list[int] | None
    cpus: list[int] | None


class Nodes(NamedTuple):
    ids: list[int]  # the nodeN directories ([] without NUMA support in sysfs)
    has_memory: list[int] | None
    has_cpu: list[int] | None
    info: dict[int, NodeInfo]


def read_nodes(host: Host) -> Nodes:
    """Every node's files, read once for the `numa` view."""
    ids = node_ids(host)
    info = {n: NodeInfo(n, node_meminfo(host, n), node_distances(host, n), node_cpus(host, n)) for n in ids}
    return Nodes(ids, node_state(host, "has_memory"), node_state(host, "has_cpu"), info)
