"""Sizes as people write them ("8G", "1.5GiB", "1048576K") and as the kernel counts them (pages)."""

from __future__ import annotations

import re

from swapctl.core.errors import UsageError

# swapon/mkswap and fallocate read K, M, G as powers of 1024; so do we, with or without "iB".
# "KB"/"MB" with an explicit B are taken as decimal, as util-linux's size parser does.
_BINARY = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DECIMAL = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")
# Larger than any swap area the kernel can address; keeps arithmetic and error messages sane.
MAX_SIZE = 1 << 60


def parse_size(text: str, *, what: str = "size") -> int:
    """Bytes from a size string; raises UsageError (exit 2) for anything else."""
    m = _SIZE_RE.match(str(text))
    if not m:
        raise UsageError(f"{what} {text!r} is not a size", hint="write it like 512M, 8G, 1.5GiB or 1048576K")
    number, unit = m.group(1), m.group(2).lower()
    if unit.endswith("ib") and len(unit) == 3:
        unit = unit[0]
    if unit in _BINARY:
        factor = _BINARY[unit]
    elif unit in _DECIMAL:
        factor = _DECIMAL[unit]
    else:
        raise UsageError(
            f"{what} {text!r} has an unknown unit {m.group(2)!r}",
            hint="units: K, M, G, T (powers of 1024), KiB..TiB, KB..TB (powers of 1000)",
        )
    whole, _, fraction = number.partition(".")
    whole, fraction = whole.lstrip("0"), fraction.rstrip("0")
    if len(whole) > 19:  # past MAX_SIZE whatever the unit
        raise UsageError(f"{what} {text!r} is too large")
    if len(fraction) > 60:  # finer than a byte of any unit: what is left only rounds the byte up, as ceil does
        fraction = fraction[:60] + "1"
    # Exact integer arithmetic (no Decimal: its import costs every command start-up): bytes = ceil(n * factor).
    scale = 10 ** len(fraction)
    result: int = -(-int(whole + fraction or "0") * factor // scale)
    if result > MAX_SIZE:
        raise UsageError(f"{what} {text!r} is too large")
    if result <= 0:
        raise UsageError(f"{what} {text!r} must be greater than zero")
    return result


def round_up_pages(nbytes: int, page_size: int) -> int:
    return -(-nbytes // page_size) * page_size


def format_bytes(n: int | float) -> str:
    """Binary units for tables: 1.5 GiB, 512 MiB, 4 KiB, 0 B."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        # Round first, then pick the unit: /proc/swaps shows a 1 GiB file as 1048572 KiB (less its header
        # page), which is 1023.996 MiB and must read "1 GiB", not "1024 MiB".
        text = f"{int(n)}" if unit == "B" else f"{n:.1f}".rstrip("0").rstrip(".")
        if abs(float(text)) < 1024 or unit == "TiB":
            return f"{text} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
