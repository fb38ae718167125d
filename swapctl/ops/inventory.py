"""What `swapctl list` reports: every active swap area, who manages it, whether it is persisted, and
warnings for areas others could read or tamper with."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

from swapctl.ops import fstab
from swapctl.ops.swapfile import managed_paths

if TYPE_CHECKING:
    from swapctl.core.journal import Journal
    from swapctl.system.host import Host


def inventory(host: Host, journal: Journal) -> tuple[dict[str, Any], list[str]]:
    fstab_text = host.read_text_or_none(fstab.FSTAB)
    areas: list[dict[str, Any]] = []
    warnings: list[str] = []
    managed: set[str] | None
    try:
        managed = managed_paths(journal)
    except PermissionError:
        # The journal is root's (0600 in a 0700 directory); listing is for everyone.
        managed = None
        warnings.append(
            f"cannot read the journal in {journal.path.parent}: run as root to see which areas swapctl manages"
        )
    zram_memory = _zram_memory(host)
    for a in host.swaps():
        kind = "zram" if _zram_name(a.path) else a.type
        areas.append(
            {
                "path": a.path,
                "type": kind,
                "size": a.size,
                "used": a.used,
                "priority": a.priority,
                "managed": None if managed is None else a.path in managed,
                "persisted": fstab.persisted(fstab.lines_for(host, fstab_text, a.path, a.type)),
                **({"memory": zram_memory.get(a.path)} if kind == "zram" else {}),
            }
        )
        if a.type == "file" and not a.deleted:
            st = host.lstat(a.path)
            if st is not None and stat.S_ISREG(st.st_mode):
                if st.st_mode & 0o077:
                    warnings.append(
                        f"{a.path} has mode {stat.S_IMODE(st.st_mode):04o}: anyone who can read it "
                        "can read swapped-out memory (fix: chmod 600)"
                    )
                if st.st_uid != 0:
                    warnings.append(f"{a.path} is owned by uid {st.st_uid}, not root (fix: chown root:root)")
        if a.deleted:
            warnings.append(f"{a.path} is active but its file was deleted")
    warnings.extend(planning_warnings(host, areas))
    mem = host.meminfo()
    data = {
        "areas": areas,
        "total": sum(a["size"] for a in areas),
        "used": sum(a["used"] for a in areas),
        "mem_total": mem.get("MemTotal", 0),
        "mem_available": mem.get("MemAvailable", 0),
    }
    return data, warnings


def _zram_name(path: str) -> str | None:
    from swapctl.kernel.zram import DEVICE_NAME

    name = path[5:] if path.startswith("/dev/") else ""
    return name if DEVICE_NAME.match(name) else None


def _zram_memory(host: Host) -> dict[str, int]:
    """What each zram device costs in RAM (mm_stat's mem_used_total), by device path."""
    from swapctl.system import zram

    return {d.path: d.mm["mem_used_total"] for d in zram.read_devices(host) if "mem_used_total" in d.mm}


def planning_warnings(host: Host, areas: list[dict[str, Any]]) -> list[str]:
    """Swap areas that work against each other: zram not above disk swap, zswap in front of zram, and
    disk areas on one device sharing a priority."""
    out = []
    zram = [a for a in areas if a["type"] == "zram"]
    disk = [a for a in areas if a["type"] != "zram"]
    for z in zram:
        below = [d for d in disk if d["priority"] >= z["priority"]]
        if below:
            d = max(below, key=lambda x: x["priority"])
            out.append(
                f"{z['path']} (zram) has priority {z['priority']}, not above {d['path']} ({d['priority']}): the "
                f"kernel fills disk swap first, or alongside (fix: swapon -p 100 {z['path']}, or lower the disk's)"
            )
    if zram and max(areas, key=lambda a: a["priority"])["type"] == "zram":
        from swapctl.system import zswap

        params = zswap.read_parameters(host) or {}
        if params.get("enabled") == "Y":
            out.append(
                "zswap is enabled while zram is the first swap area: pages are compressed twice, in zswap and "
                "then in zram (fix: swapctl zswap set enabled=N)"
            )
    seen: dict[tuple[str, int], str] = {}
    for d in disk:
        if d["priority"] < 0:
            continue  # the kernel's own priorities are all different
        device = _device_of(host, d)
        if device is None:
            continue
        other = seen.get((device, d["priority"]))
        if other is not None:
            out.append(
                f"{other} and {d['path']} are on one device with priority {d['priority']}: the kernel stripes "
                "pages across them, which on one disk only adds seeks (fix: give them different priorities)"
            )
        seen[(device, d["priority"])] = d["path"]
    return out


def _device_of(host: Host, area: dict[str, Any]) -> str | None:
    """What an area's I/O lands on: a file's filesystem, or a partition's whole disk (from sysfs)."""
    if area["type"] == "file":
        st = host.stat(area["path"])
        return None if st is None else f"filesystem {st.st_dev}"
    name = os.path.basename(host.resolve(area["path"]))
    if host.lstat(f"/sys/class/block/{name}/partition") is None:
        return f"disk {name}"
    return f"disk {os.path.basename(os.path.dirname(host.resolve(f'/sys/class/block/{name}')))}"
