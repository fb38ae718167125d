"""Reading NUMA node files under sys/devices/system/node (node list, per-node meminfo, distances)."""

from __future__ import annotations

import re

from swapctl.system import procfs
from swapctl.system.host import Host

_NODE_DIR = re.compile(r"^node(\d+)$")


def parse_cpulist(text: str) -> list[int]:
    """A kernel list like "0-3,8,10-11" (node/online, has_memory, cpulist) -> [0, 1, 2, 3, 8, 10, 11]."""
    out: list[int] = []
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if sep:
            out.extend(range(int(lo), int(hi) + 1))
        else:
            out.append(int(lo))
    return out


def node_ids(host: Host) -> list[int]:
    """The nodeN directories present (a machine without NUMA support has none: [])."""
    base = host.paths.nodes
    try:
        names = [p.name for p in base.iterdir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    ids = [int(m.group(1)) for n in names if (m := _NODE_DIR.match(n))]
    return sorted(ids)


def _read(host: Host, *parts: str) -> str | None:
    try:
        return host.read_text(host.paths.nodes.joinpath(*parts))
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def node_meminfo(host: Host, node: int) -> dict[str, int] | None:
    text = _read(host, f"node{node}", "meminfo")
    return None if text is None else procfs.parse_meminfo(text)


def node_distances(host: Host, node: int) -> list[int] | None:
    """node N's distance to every node, in node order (10 = local; SLIT values)."""
    text = _read(host, f"node{node}", "distance")
    if text is None:
        return None
    try:
        return [int(x) for x in text.split()]
    except ValueError:
        return None


def _read_list(host: Host, *parts: str) -> list[int] | None:
    text = _read(host, *parts)
    if text is None:
        return None
    try:
        return parse_cpulist(text)
    except ValueError:
        return None


def node_cpus(host: Host, node: int) -> list[int] | None:
    return _read_list(host, f"node{node}", "cpulist")


def node_state(host: Host, name: str) -> list[int] | None:
    """online, possible, has_memory, has_cpu, has_normal_memory: lists of node ids."""
    return _read_list(host, name)
