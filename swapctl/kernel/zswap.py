"""zswap's module parameters by kernel version (mm/zswap.c, Documentation/admin-guide/mm/zswap.rst): which
exist on a kernel, so that a missing one is explained rather than guessed. Pure, no I/O."""

from __future__ import annotations

from typing import NamedTuple

from swapctl.kernel.version import Version


class Param(NamedTuple):
    name: str
    since: Version  # the first release that has it
    until: Version | None  # the first release without it again
    meaning: str


PARAMS = (
    Param("enabled", (3, 11, 0), None, "compress pages on their way to swap (Y/N)"),
    Param("compressor", (3, 11, 0), None, "the crypto API compressor of new pool pages"),
    Param("max_pool_percent", (3, 11, 0), None, "the pool's ceiling, in percent of RAM"),
    Param("zpool", (4, 2, 0), (6, 18, 0), "the allocator of the pool (zsmalloc only from 6.18: gone)"),
    Param("same_filled_pages_enabled", (4, 16, 0), (6, 11, 0), "store same-filled pages as one word"),
    Param("accept_threshold_percent", (5, 6, 0), None, "after the pool was full, accept again below this"),
    Param("shrinker_enabled", (6, 8, 0), None, "write cold pool pages back to swap under pressure"),
)
BY_NAME = {p.name: p for p in PARAMS}


def expected(version: Version) -> list[Param]:
    """The parameters a kernel of this version has."""
    return [p for p in PARAMS if p.since <= version and (p.until is None or version < p.until)]


def absence(name: str, version: Version) -> str | None:
    """Why a known parameter is not on this kernel, or None when it should be there."""
    p = BY_NAME.get(name)
    if p is None:
        return None
    if version < p.since:
        return f"not on this kernel (from {'.'.join(map(str, p.since[:2]))})"
    if p.until is not None and version >= p.until:
        return f"not on this kernel (gone in {'.'.join(map(str, p.until[:2]))})"
    return None
