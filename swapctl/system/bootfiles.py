"""The files the boot-time sysctl appliers read (sysctl.d directories, /etc/sysctl.conf, /proc/sys entries), read
through the Host once: a second prediction of the next boot (vm set's "does a later file still win?") decides
from the same bytes and directory listings as the first, not from a second look at a machine that may move."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from swapctl.system.files import NotRegularFile

if TYPE_CHECKING:
    from swapctl.system.host import Host

READ_LIMIT = 16 << 20  # swapctl reads at most this of one file (procps reads any size)


class BootFiles:
    def __init__(self, host: Host) -> None:
        self.host = host
        self._memo: dict[tuple[str, str], Any] = {}

    def _once(self, op: str, path: str, read: Any) -> Any:
        key = (op, path)
        if key not in self._memo:
            try:
                self._memo[key] = (True, read())
            except (OSError, NotRegularFile) as exc:
                self._memo[key] = (False, exc)
        ok, value = self._memo[key]
        if not ok:
            raise value
        return value

    @property
    def at_root(self) -> bool:
        return self.host.at_root

    def lstat(self, path: str) -> os.stat_result | None:
        return self._once("lstat", path, lambda: self.host.lstat(path))

    def stat(self, path: str) -> os.stat_result | None:
        return self._once("stat", path, lambda: self.host.stat(path))

    def is_dir(self, path: str) -> bool:
        return self._once("is_dir", path, lambda: self.host.is_dir(path))

    def list_dir(self, path: str) -> list[str] | None:
        return self._once("list_dir", path, lambda: self.host.list_dir(path))

    def resolve(self, path: str) -> str:
        return self._once("resolve", path, lambda: self.host.resolve(path))

    def read_bytes(self, path: str) -> bytes:
        """The file's bytes (at most READ_LIMIT); the Host's errors (NotRegularFile, PermissionError, ...) as
        they were the first time."""
        return self._once("read", path, lambda: self.host.read_bytes(path, limit=READ_LIMIT))
