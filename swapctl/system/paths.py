"""Every file path swapctl reads or writes, joined under --root so tests and support bundles work offline."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

DEFAULT_STATE = "/var/lib/swapctl"


class SysPaths(NamedTuple):
    root: Path = Path("/")
    state_override: Path | None = None

    def join(self, path: str | os.PathLike[str]) -> Path:
        """The real location of an absolute in-machine path ("/etc/fstab" -> ROOT/etc/fstab)."""
        text = os.fspath(path)
        if self.root == Path("/"):
            return Path(text)
        return self.root / text.lstrip("/")

    def unjoin(self, real: str | os.PathLike[str]) -> str:
        """The in-machine path of a real path under the root (inverse of join)."""
        text = os.fspath(real)
        if self.root == Path("/"):
            return text
        rel = os.path.relpath(text, self.root)
        return "/" + ("" if rel == "." else rel)

    # /proc and /sys
    def proc(self, *parts: str) -> Path:
        return self.join("/proc").joinpath(*parts)

    def sys(self, *parts: str) -> Path:
        return self.join("/sys").joinpath(*parts)

    def vm_sysctl(self, key: str) -> Path:
        return self.proc("sys", "vm", key)

    @property
    def swaps(self) -> Path:
        return self.proc("swaps")

    @property
    def meminfo(self) -> Path:
        return self.proc("meminfo")

    @property
    def mountinfo(self) -> Path:
        return self.proc("self", "mountinfo")

    @property
    def nodes(self) -> Path:
        return self.sys("devices", "system", "node")

    # /etc
    @property
    def fstab(self) -> Path:
        return self.join("/etc/fstab")

    @property
    def sysctl_d(self) -> Path:
        return self.join("/etc/sysctl.d")

    # swapctl's own state: journal, lock
    @property
    def state_dir(self) -> Path:
        if self.state_override is not None:
            return self.state_override
        return self.join(DEFAULT_STATE)
