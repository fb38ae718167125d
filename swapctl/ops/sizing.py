"""`--size auto`: how big a swap file should be, by a documented rule of thumb, from the machine's RAM and the
free space where the file goes. swapctl's policy, not the kernel's: each rule names where it comes from.

RAM is read as MemTotal, which is a little below the installed memory (firmware, the kernel's own image, a
crashkernel reservation): a MemTotal within 8% below a whole GiB counts as that GiB, so a 4 GiB machine
(MemTotal ~3.8 GiB) is a 4 GiB machine to every rule."""

from __future__ import annotations

import math
import re
from typing import Any

from swapctl.core.units import format_bytes

MIB, GIB = 1 << 20, 1 << 30
TOLERANCE = 0.08
FREE_SHARE = 2  # never more than half the free space (what would be free without this file)
MINIMUM = 64 * MIB
CAP_STEP = 256 * MIB


def installed_ram(mem_total: int) -> int:
    """MemTotal rounded up to the whole GiB it falls short of (within 8%), else as it is."""
    whole = -(-mem_total // GIB) * GIB
    return whole if whole - mem_total <= whole * TOLERANCE else mem_total


def _cloud_init(ram: int) -> int:
    # cloud-init's suggested_swapsize (cc_mounts): RAM below 4 GiB -> RAM; below 16 GiB -> 4 GiB;
    # else round(sqrt(RAM in GiB)) GiB.
    if ram < 4 * GIB:
        return ram
    if ram < 16 * GIB:
        return 4 * GIB
    return round(math.sqrt(ram / GIB)) * GIB


def _redhat(ram: int) -> int:
    # RHEL 9's table without hibernation: up to 2 GiB -> twice RAM; up to 8 GiB -> RAM; beyond -> 4 GiB.
    if ram <= 2 * GIB:
        return 2 * ram
    if ram <= 8 * GIB:
        return ram
    return 4 * GIB


def _ubuntu(ram: int) -> int:
    # Ubuntu's SwapFaq without hibernation: below 1 GiB at least RAM; else round(sqrt(RAM in GiB)) GiB.
    if ram < GIB:
        return ram
    return max(1, round(math.sqrt(ram / GIB))) * GIB


POLICIES = {
    "cloud-init": (_cloud_init, "cloud-init: RAM below 4 GiB -> RAM, below 16 GiB -> 4 GiB, else sqrt(RAM) GiB"),
    "redhat": (_redhat, "Red Hat: up to 2 GiB -> 2 x RAM, up to 8 GiB -> RAM, beyond -> 4 GiB"),
    "ubuntu": (_ubuntu, "Ubuntu: below 1 GiB -> RAM, else sqrt(RAM in GiB) GiB"),
}
DEFAULT = "cloud-init"


def auto_size(mem_total: int, free: int, page_size: int, policy: str = DEFAULT) -> tuple[int, dict[str, Any]]:
    """(size in bytes, how it was chosen). `free` is the space the file may use: free now, plus what an
    existing file at the path already holds (so running the same create again chooses the same size)."""
    rule, text = POLICIES[policy]
    ram = installed_ram(mem_total)
    wanted = rule(ram)
    # A cap moves with the free space; whole 256 MiB steps keep a later run of the same create on the same size
    # while the disk fills a little.
    cap = free // FREE_SHARE // CAP_STEP * CAP_STEP
    size = max(MINIMUM, min(wanted, cap)) // page_size * page_size
    why = {
        "policy": policy,
        "rule": text,
        "mem_total": mem_total,
        "ram": ram,
        "rule_size": wanted,
        "free": free,
        "cap": cap,
        "size": size,
        "capped": wanted > cap,
    }
    return size, why


def explain(why: dict[str, Any]) -> str:
    capped = f", capped at half the free space ({format_bytes(why['free'])})" if why["capped"] else ""
    return (
        f"--size auto: {format_bytes(why['size'])} by the {why['policy']} rule for {format_bytes(why['ram'])} of "
        f"RAM (MemTotal {format_bytes(why['mem_total'])}){capped}"
    )


# --- zram: zram-generator's size expression --------------------------------------------------------------
ZRAM_DEFAULT = "min(ram / 2, 4096)"  # zram-generator's zram-size default, in MiB
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|(ram)\b|(min|max)\b|([-+*/(),]))")
_MAX_EXPR = 200


class ExpressionError(ValueError):
    pass


def zram_expression(text: str, ram_mib: float) -> float:
    """The value in MiB of a zram-generator `zram-size` expression: numbers, `ram` (MemTotal in MiB), + - * /,
    parentheses, min() and max(), with the usual precedence. ExpressionError on anything else (zram-generator
    accepts more of fasteval's language; these are what its documentation and distributions use)."""
    if len(text) > _MAX_EXPR:
        raise ExpressionError(f"longer than {_MAX_EXPR} characters")
    tokens: list[str] = []
    pos, stripped = 0, text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if m is None:
            raise ExpressionError(f"unexpected {stripped[pos:].lstrip()[:12]!r}")
        tokens.append(m.group(m.lastindex or 0))
        pos = m.end()
    if not tokens:
        raise ExpressionError("empty")
    at = 0

    def peek() -> str | None:
        return tokens[at] if at < len(tokens) else None

    def take(expected: str | None = None) -> str:
        nonlocal at
        tok = peek()
        if tok is None or (expected is not None and tok != expected):
            raise ExpressionError(f"expected {expected or 'more'}, found {tok or 'the end'}")
        at += 1
        return tok

    def atom() -> float:
        tok = take()
        if tok == "-":
            return -atom()
        if tok == "(":
            value = expr()
            take(")")
            return value
        if tok == "ram":
            return ram_mib
        if tok in ("min", "max"):
            take("(")
            args = [expr()]
            while peek() == ",":
                take(",")
                args.append(expr())
            take(")")
            return min(args) if tok == "min" else max(args)
        if tok[0].isdigit():
            return float(tok)
        raise ExpressionError(f"unexpected {tok!r}")

    def term() -> float:
        value = atom()
        while peek() in ("*", "/"):
            if take() == "*":
                value *= atom()
            else:
                divisor = atom()
                if divisor == 0:
                    raise ExpressionError("division by zero")
                value /= divisor
        return value

    def expr() -> float:
        value = term()
        while peek() in ("+", "-"):
            value = value + term() if take() == "+" else value - term()
        return value

    value = expr()
    if at != len(tokens):
        raise ExpressionError(f"unexpected {tokens[at]!r}")
    return value
