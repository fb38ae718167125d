"""Block devices as sysfs shows them: a device's number (MAJ:MIN), its name, whether it is a device-mapper
target and which (dm/uuid: "CRYPT-..." for dm-crypt), the devices beneath it (slaves/) and a loop device's
backing file. Read-only, through the Host; a stack is read to a bounded depth, so a hostile tree with a cycle
of links ends."""

from __future__ import annotations

import os
import re
import stat
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from swapctl.system.host import Host

DEV_BLOCK = "/sys/dev/block"
CLASS_BLOCK = "/sys/class/block"
MAX_DEPTH = 8  # dm over dm over md over partitions is four; more is a damaged tree
_NUMBER = re.compile(r"[0-9]{1,10}:[0-9]{1,10}")


class BlockDevice(NamedTuple):
    number: str  # "254:0"
    name: str | None  # vda, dm-1, sda2 (uevent DEVNAME, else the sysfs directory's name)
    dm_uuid: str | None  # dm/uuid: "CRYPT-LUKS2-...", "CRYPT-PLAIN-...", "LVM-..."; None for no dm target
    dm_name: str | None  # dm/name: the /dev/mapper name
    loop_backing: str | None  # loop/backing_file: the file a loop device reads and writes
    slaves: tuple[BlockDevice, ...]  # the devices it is built on
    source: str  # where it was read: /sys/dev/block/MAJ:MIN


def _text(host: Host, path: str) -> str | None:
    try:
        return host.read_text(path, limit=4096).strip()
    except (OSError, ValueError):
        return None


def read_device(host: Host, number: str, depth: int = 0) -> BlockDevice | None:
    """The device MAJ:MIN and the stack beneath it; None when sysfs has no such device."""
    if not _NUMBER.fullmatch(number):
        return None
    return _read_at(host, f"{DEV_BLOCK}/{number}", number, depth)


def _read_at(host: Host, base: str, number: str, depth: int) -> BlockDevice | None:
    if not host.is_dir(base):
        return None
    name = None
    for line in (_text(host, f"{base}/uevent") or "").split("\n"):
        if line.startswith("DEVNAME="):
            name = line.partition("=")[2].strip() or None
    if name is None:
        resolved = os.path.basename(host.resolve(base))
        name = resolved if resolved != number else None
    slaves: list[BlockDevice] = []
    if depth < MAX_DEPTH:
        for entry in sorted(host.list_dir(f"{base}/slaves") or []):
            sub = f"{base}/slaves/{entry}"
            sub_number = _text(host, f"{sub}/dev")
            if sub_number is None or not _NUMBER.fullmatch(sub_number):
                continue
            below = _read_at(host, sub, sub_number, depth + 1)
            if below is not None:
                slaves.append(below._replace(source=f"{DEV_BLOCK}/{sub_number}"))
    return BlockDevice(
        number=number,
        name=name,
        dm_uuid=_text(host, f"{base}/dm/uuid") or None,
        dm_name=_text(host, f"{base}/dm/name") or None,
        loop_backing=_text(host, f"{base}/loop/backing_file") or None,
        slaves=tuple(slaves),
        source=base,
    )


def number_of(host: Host, device: str) -> str | None:
    """MAJ:MIN of a device path (/dev/sda2, /dev/mapper/cryptswap, /dev/disk/by-uuid/...): the node's own
    number on the machine itself, else the sysfs entry of the name its links end at, else a dm device of that
    /dev/mapper name; None when it cannot be told."""
    if not device.startswith("/"):
        return None
    if host.at_root:
        st = host.stat(device)
        if st is not None and stat.S_ISBLK(st.st_mode):
            return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    name = os.path.basename(host.resolve(device))
    if name and not name.startswith("."):
        number = _text(host, f"{CLASS_BLOCK}/{name}/dev")
        if number is not None and _NUMBER.fullmatch(number):
            return number
    if device.startswith("/dev/mapper/"):
        wanted = device[len("/dev/mapper/") :]
        for entry in host.list_dir(CLASS_BLOCK) or []:
            if entry.startswith("dm-") and _text(host, f"{CLASS_BLOCK}/{entry}/dm/name") == wanted:
                number = _text(host, f"{CLASS_BLOCK}/{entry}/dev")
                if number is not None and _NUMBER.fullmatch(number):
                    return number
    return None
