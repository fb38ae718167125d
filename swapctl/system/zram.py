"""The zram devices of a machine, read from /sys/block/zramN. Read-only, and it never opens
/sys/class/zram-control/hot_add: reading that file creates a device."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from swapctl.kernel import zram

if TYPE_CHECKING:
    from swapctl.system.host import Host

BLOCK = "/sys/block"


@dataclass
class ZramDevice:
    name: str  # zram0
    disksize: int  # bytes of uncompressed capacity; 0 while the device is not set up
    initialized: bool
    algorithm: str | None
    algorithms: list[str]
    mm: dict[str, int] = field(default_factory=dict)
    io: dict[str, int] = field(default_factory=dict)
    backing_dev: str | None = None
    bd: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # files that could not be read or parsed

    @property
    def path(self) -> str:
        return f"/dev/{self.name}"


def device_names(host: Host) -> list[str]:
    names = [n for n in host.list_dir(BLOCK) or [] if zram.DEVICE_NAME.match(n)]
    return sorted(names, key=lambda n: int(n[4:]))


def _text(host: Host, path: str) -> str | None:
    try:
        return host.read_text(path, limit=4096)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:  # write-only attributes (mem_limit, algorithm_params) and permission
        return None


def read_device(host: Host, name: str) -> ZramDevice:
    base = f"{BLOCK}/{name}"
    problems = []

    def number(attr: str) -> int:
        text = _text(host, f"{base}/{attr}")
        value = (text or "").strip()
        if value.isdigit() and value.isascii() and len(value) <= 20:
            return int(value)
        problems.append(f"{attr} unreadable")
        return 0

    selected, names = zram.parse_algorithms(_text(host, f"{base}/comp_algorithm") or "")
    dev = ZramDevice(
        name=name,
        disksize=number("disksize"),
        initialized=number("initstate") == 1,
        algorithm=selected,
        algorithms=names,
        problems=problems,
    )
    for attr, names_, target in (("mm_stat", zram.MM_STAT, dev.mm), ("io_stat", zram.IO_STAT, dev.io)):
        text = _text(host, f"{base}/{attr}")
        if text is None:
            continue
        try:
            target.update(zram.parse_stat(text, names_))
        except ValueError as exc:
            problems.append(f"{attr}: {exc}")
    backing = _text(host, f"{base}/backing_dev")
    if backing is not None and backing.strip() not in ("", "none"):
        dev.backing_dev = backing.strip()
        bd = _text(host, f"{base}/bd_stat")
        if bd is not None:
            try:
                dev.bd.update(zram.parse_stat(bd, zram.BD_STAT))
            except ValueError as exc:
                problems.append(f"bd_stat: {exc}")
    return dev


def read_devices(host: Host) -> list[ZramDevice]:
    return [read_device(host, n) for n in device_names(host)]
