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


# The parameters `zswap set` writes, and what each takes (mm/zswap.c: bools through param_set_bool,
# accept_threshold_percent through param_set_uint_minmax 0..100, max_pool_percent a plain uint).
BOOLS = ("enabled", "shrinker_enabled", "same_filled_pages_enabled")
PERCENTS = ("max_pool_percent", "accept_threshold_percent")
SETTABLE = ("compressor", "zpool", *BOOLS, *PERCENTS)
COMPRESSION_TYPES = ("compression", "scomp", "acomp")  # /proc/crypto types a compressor has (older: compression)


def parse_crypto_compressors(text: str) -> set[str]:
    """The compression algorithms /proc/crypto lists (name and driver of each entry of a compression type)."""
    out: set[str] = set()
    for block in text.split("\n\n"):
        entry = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                entry[key.strip()] = value.strip()
        if entry.get("type") in COMPRESSION_TYPES:
            out.update(v for v in (entry.get("name"), entry.get("driver")) if v)
    return out


def normalise(name: str, value: str) -> str:
    """The value as the kernel will read it back (Y/N for bools, a decimal for percents); ValueError with the
    reason for anything the parameter does not take."""
    v = value.strip()
    if name in BOOLS:
        word = v.lower()
        if word in ("y", "1", "yes", "on", "true"):
            return "Y"
        if word in ("n", "0", "no", "off", "false"):
            return "N"
        raise ValueError("takes Y or N")
    if name in PERCENTS:
        if not (v.isascii() and v.isdigit()) or int(v) > 100:
            raise ValueError("takes a percentage, 0 to 100")
        return str(int(v))
    if not v or len(v) > 63 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in v):
        raise ValueError("takes an algorithm name")
    return v


# The kernel's compression algorithms (crypto/: 842, deflate, lz4, lz4hc, lzo, lzo-rle, zstd). One built as a
# module is not in /proc/crypto until loaded, but a write of its name to zswap's compressor loads it: the
# crypto API's lookup runs request_module("crypto-NAME") for a name it does not have.
MODULAR_COMPRESSORS = ("842", "deflate", "lz4", "lz4hc", "lzo", "lzo-rle", "zstd")


def parse_module_compressors(alias_text: str) -> set[str]:
    """The compressors modules.alias can load (its `alias crypto-NAME MODULE` lines)."""
    wanted = {f"crypto-{n}": n for n in MODULAR_COMPRESSORS}
    out = set()
    for line in alias_text.split("\n"):
        words = line.split()
        if len(words) == 3 and words[0] == "alias" and words[1] in wanted:
            out.add(wanted[words[1]])
    return out
