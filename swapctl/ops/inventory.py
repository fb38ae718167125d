"""What `swapctl list` reports: every active swap area, who manages it, whether it is persisted, whether its
contents are encrypted at rest, and warnings for areas others could read or tamper with or that work against
each other."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

from swapctl.ops import bootswap, fstab
from swapctl.ops.swapfile import managed_paths
from swapctl.system import blockdev, paths, procfs

if TYPE_CHECKING:
    from swapctl.core.journal import Journal
    from swapctl.system.host import Host


def inventory(host: Host, journal: Journal) -> tuple[dict[str, Any], list[str]]:
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
    return report(host, managed, warnings)


def report(host: Host, managed: set[str] | None, warnings: list[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The `list` data for the swap areas as they are now; managed: the files swapctl made (None: unknown)."""
    warnings = list(warnings or [])
    fstab_text = host.read_text_or_none(fstab.FSTAB)
    areas: list[dict[str, Any]] = []
    zram_devices = _zram_devices(host)
    mounts = _mounts(host)
    boot = bootswap.at_boot(host, fstab_text)
    # A zram device zram-generator makes by its number, or the one a unit of swapctl's made this boot.
    zram_at_boot = {b["source"] for b in boot if b["via"] == "zram-generator"}
    zram_at_boot |= {b["device_now"] for b in boot if b.get("device_now")}
    for a in host.swaps():
        kind = "zram" if _zram_name(a.path) else a.type
        rest = at_rest(host, a.path, kind, mounts, zram_devices)
        areas.append(
            {
                "path": a.path,
                "type": kind,
                "size": a.size,
                "used": a.used,
                "priority": a.priority,
                "managed": None if managed is None else a.path in managed,
                "persisted": a.path in zram_at_boot
                or fstab.persisted(fstab.lines_for(host, fstab_text, a.path, a.type)),
                "encrypted": rest["encrypted"],
                "encryption": rest,
                **({"memory": zram_devices[a.path].mm.get("mem_used_total")} if a.path in zram_devices else {}),
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
        "at_boot": boot,  # what the next boot turns on (ops/bootswap.py), active now or not
    }
    return data, warnings


# --- encryption at rest ------------------------------------------------------------------------------------
def _mounts(host: Host) -> list[procfs.Mount]:
    try:
        return procfs.parse_mountinfo(host.read_text(paths.MOUNTINFO))
    except OSError:
        return []


def is_dm_crypt(dev: blockdev.BlockDevice) -> bool:
    """A dm-crypt target: device-mapper names its uuid CRYPT-<type>-... (cryptsetup: LUKS1, LUKS2, PLAIN...)."""
    return (dev.dm_uuid or "").startswith("CRYPT-")


def stack_encrypted(dev: blockdev.BlockDevice) -> bool:
    """Whatever is written to this device is encrypted before it reaches a disk: it is dm-crypt, or it is
    built only on devices that are (LVM on LUKS: the logical volume's one slave is the crypt device)."""
    if is_dm_crypt(dev):
        return True
    return bool(dev.slaves) and all(stack_encrypted(s) for s in dev.slaves)


def describe_stack(dev: blockdev.BlockDevice, depth: int = 0) -> list[str]:
    """One line per device, top first: "dm-1 (253:1) dm-crypt CRYPT-PLAIN-cryptswap", "vda (254:0) disk"."""
    what = (
        f"dm-crypt {dev.dm_uuid}"
        if is_dm_crypt(dev)
        else f"device-mapper {dev.dm_uuid}"
        if dev.dm_uuid
        else f"loop on {dev.loop_backing}"
        if dev.loop_backing
        else "not dm-crypt"
    )
    out = [f"{'  ' * depth}{dev.name or '?'} ({dev.number}) {what}"]
    for s in dev.slaves:
        out.extend(describe_stack(s, depth + 1))
    return out


def at_rest(
    host: Host,
    path: str,
    kind: str,
    mounts: list[procfs.Mount],
    zram_devices: dict[str, Any] | None = None,
    depth: int = 0,
) -> dict[str, Any]:
    """Whether a swap area's pages are encrypted where they rest: {"encrypted": True | False | None (cannot
    tell), "device": the block device they land on, "stack": the device stack read from sysfs, "reason"}.
    A partition's own stack; a file's filesystem's device (from the mount table); zram keeps its pages in
    memory (with a backing device, pages written back land on that device)."""
    out: dict[str, Any] = {"encrypted": None, "device": None, "stack": [], "reason": ""}
    if kind == "zram":
        dev = (zram_devices or {}).get(path)
        backing = getattr(dev, "backing_dev", None)
        if not backing:
            out["reason"] = "zram keeps its pages in memory: nothing rests on a disk"
            return out
        inner = at_rest(host, backing, "partition", mounts, None, depth + 1)
        inner["reason"] = f"pages written back go to {backing}: " + inner["reason"]
        return inner
    if kind == "file":
        mount = procfs.mount_for(path, mounts)
        if mount is None:
            out["reason"] = "no mount holds the file (no mount table)"
            return out
        number = mount.device if blockdev.read_device(host, mount.device) is not None else None
        if number is None:
            number = blockdev.number_of(host, mount.source)
        where = f"the file is on {mount.fstype} {mount.source} (mounted at {mount.mount_point})"
    else:
        number = blockdev.number_of(host, path)
        where = f"{path} is a partition or device"
    dev = blockdev.read_device(host, number) if number else None
    if dev is None:
        out["reason"] = f"{where}, whose device sysfs does not show: cannot tell"
        return out
    out["device"] = f"/dev/{dev.name}" if dev.name else number
    out["stack"] = describe_stack(dev)
    if dev.loop_backing and depth < 3:
        inner = at_rest(host, dev.loop_backing, "file", mounts, None, depth + 1)
        inner["reason"] = f"{where}: a loop device on {dev.loop_backing}; " + inner["reason"]
        inner["stack"] = out["stack"] + inner["stack"]
        return inner
    out["encrypted"] = stack_encrypted(dev)
    out["reason"] = (
        f"{where}: on dm-crypt" if out["encrypted"] else f"{where}: no dm-crypt in its device stack (sysfs dm/uuid)"
    )
    return out


def _zram_name(path: str) -> str | None:
    from swapctl.kernel.zram import DEVICE_NAME

    name = path[5:] if path.startswith("/dev/") else ""
    return name if DEVICE_NAME.match(name) else None


def _zram_devices(host: Host) -> dict[str, Any]:
    """Each zram device as read (mm_stat's mem_used_total: what it costs in RAM), by device path."""
    from swapctl.system import zram

    return {d.path: d for d in zram.read_devices(host)}


def zram_below_disk(areas: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(zram area, the highest disk area at or above its priority) for each zram area the kernel does not fill
    first: it takes the area of highest priority first, and stripes areas of equal priority."""
    disk = [a for a in areas if a["type"] != "zram"]
    out = []
    for z in (a for a in areas if a["type"] == "zram"):
        below = [d for d in disk if d["priority"] >= z["priority"]]
        if below:
            out.append((z, max(below, key=lambda x: x["priority"])))
    return out


def zswap_over_zram(areas: list[dict[str, Any]], params: dict[str, str] | None) -> bool:
    """zswap enabled while zram is the first swap area: each page is compressed twice."""
    zram = [a for a in areas if a["type"] == "zram"]
    first = max(areas, key=lambda a: a["priority"]) if areas else None
    return bool(zram) and first is not None and first["type"] == "zram" and (params or {}).get("enabled") == "Y"


def planning_warnings(host: Host, areas: list[dict[str, Any]]) -> list[str]:
    """Swap areas that work against each other: zram not above disk swap, zswap in front of zram, and
    disk areas on one device sharing a priority."""
    out = []
    disk = [a for a in areas if a["type"] != "zram"]
    for z, d in zram_below_disk(areas):
        out.append(
            f"{z['path']} (zram) has priority {z['priority']}, not above {d['path']} ({d['priority']}): the "
            f"kernel fills disk swap first, or alongside (fix: swapon -p 100 {z['path']}, or lower the disk's)"
        )
    if any(a["type"] == "zram" for a in areas):
        from swapctl.system import zswap

        if zswap_over_zram(areas, zswap.read_parameters(host)):
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
