"""What `swapctl zram status` reports: each zram device's capacity, algorithm, stored and compressed data,
its cost in memory and its failures, beside the swap area the kernel shows for it in /proc/swaps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swapctl.core.errors import UsageError
from swapctl.kernel import zram as rules
from swapctl.system import zram

if TYPE_CHECKING:
    from swapctl.system.host import Host

# Why /proc/swaps' Used and zram's orig_data_size differ, said once beside them.
WHY_THEY_DIFFER = (
    "swap Used counts the swap slots in use; zram counts the pages stored. Slots whose pages are still in "
    "the swap cache, or were freed without a discard reaching zram (notify_free), make them differ"
)


def boot_owners(host: Host) -> dict[str, str]:
    """Which file sets each device up at boot: the last zram-generator file with its section, swapctl's udev
    rules, or the unit of swapctl's that made it this boot."""
    from swapctl.ops import zram_boot
    from swapctl.ops.bootswap import generator_config

    owners = {name: owner for name, (_keys, owner) in generator_config(host).items()}
    owners.update({name: zram_boot.UDEV_RULES for name in zram_boot.rules(host)})
    owners.update({u.device: u.path for u in zram_boot.units(host) if u.device and u.enabled})
    return owners


def device_view(dev: zram.ZramDevice, swap: Any | None, boot: str | None = None) -> dict[str, Any]:
    mm = dev.mm
    pages = {k: mm[k] for k in rules.MM_STAT_PAGES if k in mm}
    view: dict[str, Any] = {
        "device": dev.path,
        "initialized": dev.initialized,
        "disksize": dev.disksize,
        "algorithm": dev.algorithm,
        "algorithms": dev.algorithms,
        "orig_data_size": mm.get("orig_data_size"),
        "compr_data_size": mm.get("compr_data_size"),
        "mem_used_total": mm.get("mem_used_total"),
        "mem_limit": mm.get("mem_limit") or None,
        "mem_used_max": mm.get("mem_used_max"),
        "ratio": rules.ratio(mm.get("orig_data_size", 0), mm.get("compr_data_size", 0)),
        "pages": pages,  # counts of pages (same-filled, compacted, stored uncompressed)
        "io": dev.io,
        "backing_dev": dev.backing_dev,
        "writeback": dev.bd or None,
        "swap": None if swap is None else {"size": swap.size, "used": swap.used, "priority": swap.priority},
        "problems": dev.problems,
        "boot_file": boot,  # the file that sets it up at boot (boot_owners), or None
    }
    return view


def status(host: Host, device: str | None = None) -> dict[str, Any]:
    names = zram.device_names(host)
    if device is not None:
        name = device.removeprefix("/dev/")
        if name not in names:
            shown = ", ".join(names) or "none"
            raise UsageError(f"no zram device {device!r} (this machine has: {shown})")
        names = [name]
    swaps = {a.path: a for a in host.swaps()}
    owners = boot_owners(host)
    devices = [device_view(zram.read_device(host, n), swaps.get(f"/dev/{n}"), owners.get(n)) for n in names]
    return {"devices": devices, "why_swap_used_differs": WHY_THEY_DIFFER}
