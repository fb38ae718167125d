"""Parsers for /proc and /sys text: swaps, meminfo, mountinfo, vmstat, pressure. Pure functions of text."""

from __future__ import annotations

import re
from typing import NamedTuple

_OCTAL = re.compile(r"\\([0-7]{3})")


def unescape_octal(text: str) -> str:
    r"""Undo the kernel's seq_file escaping of names (space \040, tab \011, newline \012, backslash \134)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), text)


class SwapArea(NamedTuple):
    path: str
    type: str
    size: int  # bytes, as the kernel counts (header page excluded)
    used: int  # bytes
    priority: int

    @property
    def deleted(self) -> bool:
        return self.path.endswith(" (deleted)")


def parse_swaps(text: str) -> list[SwapArea]:
    """/proc/swaps: a header, then one area a line; Size and Used in KiB."""
    areas = []
    for line in text.splitlines()[1:]:
        if not line.strip():
            continue
        # The name is escaped, so it holds no blanks: whitespace splitting is exact.
        fields = line.split()
        if len(fields) < 5:
            raise ValueError(f"malformed /proc/swaps line: {line!r}")
        name, kind, size, used, prio = fields[0], fields[1], fields[2], fields[3], fields[4]
        areas.append(SwapArea(unescape_octal(name), kind, int(size) * 1024, int(used) * 1024, int(prio)))
    return areas


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo or a node's meminfo: key -> bytes ("kB" values) or a plain count (HugePages_*)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, _, rest = line.partition(":")
        parts = rest.split()
        if not parts:
            continue
        # Per-node files read "Node 0 MemTotal:       123 kB".
        key = key.split()[-1]
        try:
            value = int(parts[0])
        except ValueError:
            continue
        out[key] = value * 1024 if len(parts) > 1 and parts[1] == "kB" else value
    return out


class Mount(NamedTuple):
    mount_point: str
    fstype: str
    source: str
    options: str


def parse_mountinfo(text: str) -> list[Mount]:
    """/proc/self/mountinfo (see proc(5)): fields up to " - ", then fstype, source, super options."""
    mounts = []
    for line in text.splitlines():
        if " - " not in line:
            continue
        left, _, right = line.partition(" - ")
        lf, rf = left.split(), right.split()
        if len(lf) < 6 or len(rf) < 2:
            continue
        mounts.append(Mount(unescape_octal(lf[4]), rf[0], unescape_octal(rf[1]),
                            lf[5] + ("," + rf[2] if len(rf) > 2 else "")))
    return mounts


def mount_for(path: str, mounts: list[Mount]) -> Mount | None:
    """The mount holding an absolute path: the last-mounted entry with the longest matching mount point."""
    best: Mount | None = None
    for m in mounts:
        mp = m.mount_point.rstrip("/") or "/"
        if path == mp or path.startswith(mp.rstrip("/") + "/") or mp == "/":
            if best is None or len(mp) >= len(best.mount_point.rstrip("/") or "/"):
                best = m
    return best


def parse_vmstat(text: str) -> dict[str, int]:
    """/proc/vmstat: "name value" lines."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def parse_pressure(text: str) -> dict[str, dict[str, float]]:
    """/proc/pressure/memory: {"some": {"avg10": .., "avg60": .., "avg300": .., "total": us}, "full": ..}."""
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        values: dict[str, float] = {}
        for item in parts[1:]:
            k, _, v = item.partition("=")
            values[k] = int(v) if k == "total" else float(v)
        out[parts[0]] = values
    return out
