"""The machine's own paths swapctl reads and writes, and where they really are under --root (resolved inside the
tree, see rootfs.py), so tests and support bundles work offline and no link in a tree leads out of it.

Everything above system/ names files by their in-machine path ("/etc/fstab"); only the Host turns one into a
real location, through SysPaths.real."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from swapctl.system import rootfs

DEFAULT_STATE = "/var/lib/swapctl"

# In-machine paths.
SWAPS = "/proc/swaps"
MEMINFO = "/proc/meminfo"
ZONEINFO = "/proc/zoneinfo"
VMSTAT = "/proc/vmstat"
CMDLINE = "/proc/cmdline"
PRESSURE_MEMORY = "/proc/pressure/memory"
MOUNTINFO = "/proc/self/mountinfo"
OSRELEASE = "/proc/sys/kernel/osrelease"
BOOT_ID = "/proc/sys/kernel/random/boot_id"
NODES = "/sys/devices/system/node"
THP_ENABLED = "/sys/kernel/mm/transparent_hugepage/enabled"
FSTAB = "/etc/fstab"


def vm_sysctl(name: str) -> str:
    return f"/proc/sys/vm/{name}"


class SysPaths(NamedTuple):
    root: Path = Path("/")
    state_override: Path | None = None

    def real(self, path: str, *, follow: bool = True) -> Path:
        """Where an absolute in-machine path really is: "/etc/fstab" -> ROOT/etc/fstab, links resolved inside
        ROOT (follow=False: all but the last component, as lstat and O_NOFOLLOW see it)."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise TypeError(f"an in-machine path is an absolute str, not {path!r}")
        return Path(rootfs.resolve(os.fspath(self.root), path, follow_last=follow))

    def inside(self, real: str | os.PathLike[str]) -> str:
        """The in-machine path of a real path under the root (the inverse of real)."""
        return rootfs.inside(os.fspath(self.root), os.fspath(real))

    @property
    def state_dir(self) -> Path:
        """swapctl's own state (journal, lock): --state-dir as given (a path on this machine), else the
        machine's /var/lib/swapctl."""
        if self.state_override is not None:
            return self.state_override
        return self.real(DEFAULT_STATE)
