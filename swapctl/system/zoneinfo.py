"""Parser for /proc/zoneinfo: one Zone per node and zone, across the formats of kernels 3.x to 6.18."""

from __future__ import annotations

import re

from swapctl.kernel.mm import ZONE_ORDER, Zone

# "Node 0, zone   Normal": zoneinfo_show_print() in mm/vmstat.c prints "Node %d, zone %8s".
_HEADER = re.compile(r"^Node\s+(\d{1,5}),\s+zone\s+(\S+)[ \t]*$", re.MULTILINE)  # node ids < MAX_NUMNODES

# The lines under "pages free" that are the zone's watermarks and sizes (not vm counters).
# `scanned`/`node_scanned` existed up to 4.x; `boost` from 5.16/5.17; `promo` from 6.12; `cma` from 5.12.
_ZONE_FIELDS = frozenset(
    {"min", "low", "high", "promo", "boost", "spanned", "present", "managed", "cma", "scanned", "node_scanned"}
)
_REQUIRED = ("min", "low", "high", "spanned", "present", "managed")


class ZoneinfoError(ValueError):
    """/proc/zoneinfo text that is not zoneinfo, or is cut short."""


def _int(value: str, what: str, zone: str) -> int:
    """A count the kernel prints (unsigned long): anything else, a 5000-digit string included, is damage."""
    if not (value.isascii() and value.isdigit()) or len(value) > 20 or int(value) >= 1 << 64:
        raise ZoneinfoError(f"zoneinfo: {zone}: {what} is {value[:40]!r}, not a count") from None
    return int(value)


def _parse_protection(rest: str, zone: str) -> tuple[int, ...]:
    inner = rest.strip()
    if not (inner.startswith("(") and inner.endswith(")")):
        raise ZoneinfoError(f"zoneinfo: {zone}: malformed protection line {rest.strip()!r}")
    body = inner[1:-1]
    if not body.strip():
        return ()
    return tuple(_int(x.strip(), "protection", zone) for x in body.split(","))


def _parse_zone(node: int, name: str, index: int, chunk: str) -> Zone:
    label = f"node {node} zone {name}"
    # Everything from "pagesets" on is one block per CPU (6 lines each; 256 CPUs x 8 nodes x 5 zones makes
    # tens of thousands of lines): find where it starts with str.find and never split it into lines.
    cut = chunk.find("\n  pagesets")
    head = chunk if cut < 0 else chunk[:cut]
    values: dict[str, int] = {}
    stats: dict[str, int] = {}
    node_stats: dict[str, int] | None = None
    protection: tuple[int, ...] | None = None
    free: int | None = None
    in_node_stats = False
    for line in head.split("\n"):
        parts = line.split()
        if not parts:
            continue
        first = parts[0]
        if first == "per-node":
            node_stats, in_node_stats = {}, True
            continue
        if first == "pages" and len(parts) >= 2 and parts[1] == "free":
            if len(parts) != 3:
                raise ZoneinfoError(f"zoneinfo: {label}: malformed line {line.strip()!r}")
            free = _int(parts[2], "pages free", label)
            in_node_stats = False
            continue
        if first == "protection:":
            protection = _parse_protection(line.split(":", 1)[1], label)
            continue
        if len(parts) == 1 and parts[0].isdigit():
            # A counter with an empty name: some 4.x kernels had vmstat_text one entry short (seen in
            # the PCP archive meminfo-root-006). The value means nothing without its name: skip it.
            continue
        if len(parts) != 2:
            raise ZoneinfoError(f"zoneinfo: {label}: unexpected line {line.strip()!r}")
        value = _int(parts[1], first, label)
        if in_node_stats:
            node_stats[first] = value  # type: ignore[index]
        elif first in _ZONE_FIELDS:
            values[first] = value
        else:
            stats[first] = value
    if free is None:
        raise ZoneinfoError(f"zoneinfo: {label}: no 'pages free' line (truncated or not zoneinfo)")
    missing = [k for k in _REQUIRED if k not in values]
    if missing:
        raise ZoneinfoError(f"zoneinfo: {label}: missing {', '.join(missing)} (truncated?)")
    if protection is None:
        raise ZoneinfoError(f"zoneinfo: {label}: no protection line (truncated?)")
    zone = Zone(
        node=node,
        name=name,
        index=index,
        free=free,
        min=values["min"],
        low=values["low"],
        high=values["high"],
        spanned=values["spanned"],
        present=values["present"],
        managed=values["managed"],
        promo=values.get("promo"),
        boost=values.get("boost"),
        cma=values.get("cma"),
        protection=protection,
        stats=stats,
        node_stats=node_stats,
    )
    for k in ("scanned", "node_scanned"):
        if k in values:
            zone.extra[k] = values[k]
    if cut >= 0:
        _parse_tail(zone, chunk, cut, label)
    elif zone.present > 0:
        # zoneinfo_show_print() stops after protection only for an unpopulated zone (present_pages == 0);
        # a populated one always goes on to its pagesets and start_pfn: without them the file was cut.
        raise ZoneinfoError(f"zoneinfo: {label}: populated zone without pagesets (truncated)")
    return zone


def _parse_tail(zone: Zone, chunk: str, cut: int, label: str) -> None:
    """The pagesets block and the lines after it (start_pfn, node_unreclaimable, inactive_ratio)."""
    zone.nr_cpus = chunk.count("cpu:", cut)
    # The tail is a handful of two-space-indented "key: value" lines after the last CPU block: walk back.
    tail_lines = chunk.rstrip("\n").rsplit("\n", 6)
    for line in reversed(tail_lines):
        if (
            not line.startswith("  ")
            or line.startswith("   ")
            or line.startswith("  vm stats")
            or line.startswith("  pagesets")
        ):
            break
        key, sep, rest = line.strip().partition(":")
        if not sep:
            break
        value = _int(rest.strip(), key, label)
        if key == "start_pfn":
            zone.start_pfn = value
        elif key in ("node_unreclaimable", "all_unreclaimable"):
            zone.unreclaimable = bool(value)
        else:
            zone.extra[key] = value
    if zone.start_pfn is None:
        # Every kernel that prints pagesets ends the zone with start_pfn: without it the file was cut.
        raise ZoneinfoError(f"zoneinfo: {label}: ends inside its pagesets (truncated)")


def parse_zoneinfo(text: str) -> list[Zone]:
    """Every zone of every node, in file order. Raises ZoneinfoError on text that is not whole zoneinfo."""
    if "\x00" in text:
        raise ZoneinfoError("zoneinfo: binary data, not /proc/zoneinfo text")
    headers = list(_HEADER.finditer(text))
    if not headers:
        raise ZoneinfoError("zoneinfo: no 'Node N, zone NAME' line: not /proc/zoneinfo, or empty")
    if text[: headers[0].start()].strip():
        raise ZoneinfoError(
            f"zoneinfo: unexpected text before the first zone: "
            f"{text[: headers[0].start()].strip().splitlines()[0][:60]!r}"
        )
    # A zone's index (its slot in every protection array) is its place among the kernel's zone types.
    # Kernels before about 4.12 leave empty zones out, so file order inside one node is not enough:
    # order every name seen in the file by the kernel's enum zone_type order.
    seen: dict[str, int] = {}
    for m in headers:
        seen.setdefault(m.group(2), len(seen))
    kinds = sorted(seen, key=lambda n: (ZONE_ORDER.get(n, len(ZONE_ORDER)), seen[n]))
    index = {name: i for i, name in enumerate(kinds)}
    zones: list[Zone] = []
    for i, m in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        name = m.group(2)
        zones.append(_parse_zone(int(m.group(1)), name, index[name], text[m.end() : end]))
    _check_complete(zones)
    return zones


def _check_complete(zones: list[Zone]) -> None:
    """From about 4.12 every node lists all MAX_NR_ZONES zones (the protection array's length), empty ones
    too: then a node with fewer zones means the file was cut at a zone boundary. The sign of such a kernel:
    an unpopulated zone listed, or a line added after 4.12 (cma 5.12, boost 5.16, promo 6.12)."""
    width = len(zones[0].protection)
    per_node: dict[int, int] = {}
    for z in zones:
        per_node[z.node] = per_node.get(z.node, 0) + 1
    lists_all = any(n == width for n in per_node.values()) or any(
        z.present == 0 or z.cma is not None or z.boost is not None or z.promo is not None for z in zones
    )
    if width and lists_all:
        short = [n for n, count in per_node.items() if count < width]
        if short:
            raise ZoneinfoError(f"zoneinfo: node {short[-1]} lists {per_node[short[-1]]} of {width} zones (truncated)")
