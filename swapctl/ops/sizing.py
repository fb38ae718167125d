"""`--size auto`: how big a swap file should be, by a documented rule of thumb, from the machine's RAM and the
free space where the file goes. swapctl's policy, not the kernel's: each rule names where it comes from.

RAM is read as MemTotal, which is a little below the installed memory (firmware, the kernel's own image, a
crashkernel reservation): a MemTotal within 8% below a whole GiB counts as that GiB, so a 4 GiB machine
(MemTotal ~3.8 GiB) is a 4 GiB machine to every rule."""

from __future__ import annotations

import math
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
