"""zram's sysfs files, as Documentation/admin-guide/blockdev/zram.rst and drivers/block/zram/zram_drv.c
define them: pure parsing, no I/O.

mm_stat grew over the years (7 fields in 4.x, `huge_pages` from 5.0, `huge_pages_since` from 5.15), so its
fields are named by position and a shorter line simply has fewer; io_stat and bd_stat likewise."""

from __future__ import annotations

import re

# mm_stat (zram_drv.c mm_stat_show): byte counts, then page counts. mem_used_total is what the device costs in
# RAM (the compressed data and the allocator's overhead); orig_data_size is what swapoff would decompress back.
MM_STAT = (
    "orig_data_size",
    "compr_data_size",
    "mem_used_total",
    "mem_limit",
    "mem_used_max",
    "same_pages",
    "pages_compacted",
    "huge_pages",
    "huge_pages_since",
)
MM_STAT_PAGES = ("same_pages", "pages_compacted", "huge_pages", "huge_pages_since")
IO_STAT = ("failed_reads", "failed_writes", "invalid_io", "notify_free")
BD_STAT = ("bd_count", "bd_reads", "bd_writes")  # pages of 4 KiB on the backing device (zram's own unit)
DEVICE_NAME = re.compile(r"^zram(0|[1-9][0-9]{0,5})$")


def parse_stat(text: str, names: tuple[str, ...]) -> dict[str, int]:
    """A zram *_stat line: whitespace-separated unsigned numbers, named by position; extra fields a newer
    kernel adds are ignored. ValueError on anything else."""
    fields = text.split()
    if not fields or len(fields) > 32:
        raise ValueError(f"not a stat line: {text[:60]!r}")
    out = {}
    for name, field in zip(names, fields):
        if not field.isdigit() or not field.isascii() or len(field) > 20:
            raise ValueError(f"{name} is {field[:30]!r}, not a count")
        out[name] = int(field)
    return out


def parse_algorithms(text: str) -> tuple[str | None, list[str]]:
    """comp_algorithm: the available backends, the selected one in brackets ("[lzo-rle] lzo lz4")."""
    selected, names = None, []
    for word in text.split():
        if word.startswith("[") and word.endswith("]") and len(word) > 2:
            word = word[1:-1]
            selected = word
        names.append(word)
    return selected, names


def ratio(orig: int, compressed: int) -> float | None:
    """How many bytes of pages each byte of compressed data holds (None while nothing is compressed)."""
    return round(orig / compressed, 2) if compressed > 0 else None


# algorithm_params (zram_drv.c algorithm_params_store, from 6.13): `key=value` words for the primary algorithm,
# written after comp_algorithm (which resets them) and before disksize; the kernel keeps no readable copy.
# swapctl passes the compression level and a pre-trained dictionary; `algo=` and `priority=` pick which
# algorithm the words are for, which is swapctl's own choice (the primary one), so they are not taken.
ALGORITHM_PARAMS = ("level", "dict")
ALGORITHM_PARAMS_SINCE = (6, 13)
_LEVEL = re.compile(r"^[+-]?[0-9]{1,10}$")
_DICT = re.compile(r"^/[A-Za-z0-9_./+-]{1,254}$")  # a path zram-generator's `alg(k=v,...)` syntax can carry


def parse_algorithm_params(text: str) -> list[str]:
    """`level=3 dict=/etc/zstd.dict` (words split at spaces or commas, as zramctl and zram-generator write them)
    as the words the kernel is given, each key once. ValueError with the reason otherwise."""
    words = [w for w in re.split(r"[\s,]+", text.strip()) if w]
    if not words:
        raise ValueError("is empty")
    seen: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not value:
            raise ValueError(f"{word[:40]!r} is not key=value")
        if key not in ALGORITHM_PARAMS:
            raise ValueError(f"has no parameter {key[:30]!r} swapctl passes (level, dict)")
        if key in seen:
            raise ValueError(f"gives {key} twice")
        if key == "level" and not (_LEVEL.match(value) and -(2**31) <= int(value) < 2**31):
            raise ValueError(f"level {value[:30]!r} is not a whole number")
        if key == "dict" and (not _DICT.match(value) or "/../" in value + "/"):
            raise ValueError(f"dict {value[:60]!r} is not an absolute path of letters, digits and _ . / + -")
        seen[key] = value
    return [f"{k}={v}" for k, v in seen.items()]
