"""Parsers for /proc and /sys text: swaps, meminfo, mountinfo, vmstat, pressure. Pure functions of text.

The kernel ends every line with "\n" and separates fields with blanks: lines split at "\n" only, fields at
spaces and tabs only (a name may hold any other byte, a no-break space or a \v). Numbers are bounded by what
the kernel can print, so a damaged file is a clear error, never an exception deep inside."""

from __future__ import annotations

import re
from typing import NamedTuple

from swapctl.core.text import nonblank_lines

_BLANKS = re.compile(r"[ \t]+")
_DECIMAL = re.compile(r"[+-]?[0-9]+")
ULONG_MAX = (1 << 64) - 1


_OCTAL_BYTES = re.compile(rb"\\([0-7])([0-7])([0-7])")


def unescape_octal(text: str) -> str:
    r"""Undo the kernel's seq_file escaping of names (space \040, tab \011, newline \012, backslash \134), as
    libmount's unmangle does: any three octal digits make one byte ("caf\303\251" is "café", "\377" a byte that
    is no UTF-8 and stays one, and "\777" wraps to 0xff as the C char does)."""
    if "\\" not in text:
        return text
    raw = text.encode("utf-8", "surrogateescape")
    out = _OCTAL_BYTES.sub(
        lambda m: bytes([(64 * int(m.group(1)) + 8 * int(m.group(2)) + int(m.group(3))) & 0xFF]), raw
    )
    return out.decode("utf-8", "surrogateescape")


def fields(line: str) -> list[str]:
    """A line's blank-separated fields (spaces and tabs only, as the kernel prints them)."""
    return [f for f in _BLANKS.split(line) if f]


def parse_int(text: str, lo: int = 0, hi: int = ULONG_MAX) -> int:
    """A decimal integer within [lo, hi]; ValueError otherwise. The length is checked before int(), which
    refuses strings past 4300 digits with an error of its own."""
    if not _DECIMAL.fullmatch(text) or len(text) > 40:
        raise ValueError(f"{text[:40]!r} is not a number")
    value = int(text)
    if not lo <= value <= hi:
        raise ValueError(f"{text[:40]} is out of range")
    return value


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
    if "\0" in text:
        raise ValueError("holds a NUL byte, which the kernel never prints there")
    rows = nonblank_lines(text)
    next(rows, None)  # the header
    for line in rows:
        if not line.strip(" \t"):
            continue
        # The name is escaped (space, tab, newline, backslash), so it holds no blank: splitting is exact.
        parts = fields(line)
        if len(parts) != 5 or parts[1] not in ("file", "partition"):
            raise ValueError(f"malformed line {line[:80]!r}")
        try:
            size, used = parse_int(parts[2], 0, ULONG_MAX >> 10), parse_int(parts[3], 0, ULONG_MAX >> 10)
            prio = parse_int(parts[4], -(1 << 31), (1 << 31) - 1)
        except ValueError as exc:
            raise ValueError(f"malformed line {line[:80]!r}: {exc}") from None
        areas.append(SwapArea(unescape_octal(parts[0]), parts[1], size * 1024, used * 1024, prio))
    return areas


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo or a node's meminfo: key -> bytes ("kB" values) or a plain count (HugePages_*). A line
    without a value is left out; a value the kernel cannot print (negative, past 2^64) is a ValueError."""
    out: dict[str, int] = {}
    for line in nonblank_lines(text):
        if ":" not in line:
            continue
        key, _, rest = line.partition(":")
        parts = fields(rest)
        names = fields(key)
        if not parts or not names:
            continue
        # Per-node files read "Node 0 MemTotal:       123 kB".
        key = names[-1]
        if not _DECIMAL.fullmatch(parts[0]):
            continue
        try:
            value = parse_int(parts[0], 0, ULONG_MAX)
        except ValueError:
            raise ValueError(f"{key} is {parts[0][:40]}, which no kernel prints") from None
        out[key] = value * 1024 if len(parts) > 1 and parts[1] == "kB" else value
    return out


class Mount(NamedTuple):
    mount_point: str
    fstype: str
    source: str
    options: str
    device: str = ""  # MAJ:MIN of the filesystem's device as mountinfo gives it ("254:0"; btrfs: an anonymous 0:N)


def parse_mountinfo(text: str) -> list[Mount]:
    """/proc/self/mountinfo (see proc(5)): fields up to " - ", then fstype, source, super options."""
    mounts = []
    for line in nonblank_lines(text):
        if " - " not in line:
            continue
        left, _, right = line.partition(" - ")
        lf, rf = fields(left), fields(right)
        if len(lf) < 6 or len(rf) < 2:
            continue
        mounts.append(
            Mount(
                unescape_octal(lf[4]),
                rf[0],
                unescape_octal(rf[1]),
                lf[5] + ("," + rf[2] if len(rf) > 2 else ""),
                lf[2],
            )
        )
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
    for line in nonblank_lines(text):
        parts = fields(line)
        if len(parts) == 2:
            try:
                out[parts[0]] = parse_int(parts[1], -ULONG_MAX, ULONG_MAX)
            except ValueError:
                continue
    return out


def parse_pressure(text: str) -> dict[str, dict[str, float]]:
    """/proc/pressure/memory: {"some": {"avg10": .., "avg60": .., "avg300": .., "total": us}, "full": ..}."""
    out: dict[str, dict[str, float]] = {}
    for line in nonblank_lines(text):
        parts = fields(line)
        if not parts:
            continue
        values: dict[str, float] = {}
        for item in parts[1:]:
            k, _, v = item.partition("=")
            try:
                values[k] = parse_int(v) if k == "total" else float(v)
            except ValueError:
                continue
        out[parts[0]] = values
    return out
