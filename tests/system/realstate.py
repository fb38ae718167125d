"""The real machine state the reliability tests compare before and after (files, swap areas, /etc/fstab,
/etc/sysctl.d/90-swapctl.conf, vm sysctls), and a guard that puts the sysctl side back whatever happens."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.system.conftest import FSTAB, Workspace

SYSCTL_D = Path("/etc/sysctl.d/90-swapctl.conf")
# Only knobs that are harmless to move on a live machine (never min_free_kbytes: see the common brief).
VM_KEYS = ("swappiness", "watermark_scale_factor")


def read_vm(key: str) -> int:
    return int(Path(f"/proc/sys/vm/{key}").read_text().split()[0])


def write_vm(key: str, value: int) -> None:
    assert key in VM_KEYS, f"tests never write vm.{key}"
    with open(f"/proc/sys/vm/{key}", "w", encoding="ascii") as fh:
        fh.write(str(value))


def _bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _restore_bytes(path: Path, data: bytes | None, mode: int = 0o644) -> None:
    if _bytes(path) == data:
        return
    if data is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{path.name}.systest-restore")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def machine_state(work: Workspace) -> dict[str, Any]:
    """Everything a swapctl command may change, in a form that compares equal when the machine is as it was.
    Swap areas are compared by size and priority (a re-created area gets a new inode, which is fine)."""
    files = {}
    for name in sorted(os.listdir(work.swapdir)):
        st = os.lstat(work.swapdir / name)
        header = None
        if stat.S_ISREG(st.st_mode) and st.st_size >= 4096:
            with open(work.swapdir / name, "rb") as fh:
                header = fh.read(4096)[-10:] == b"SWAPSPACE2"
        files[name] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_size, header)
    return {
        "files": files,
        "swaps": {p: (a["type"], a["size_kib"], a["priority"]) for p, a in work.swaps().items()},
        "fstab": _bytes(FSTAB),
        "sysctl_d": _bytes(SYSCTL_D),
        "vm": {k: read_vm(k) for k in VM_KEYS},
    }


def state_diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    parts = []
    for key in before:
        if before[key] != after[key]:
            b, a = before[key], after[key]
            if isinstance(b, (bytes, type(None))) and isinstance(a, (bytes, type(None))):
                parts.append(f"{key}: {len(b or b'')} bytes -> {len(a or b'')} bytes")
            else:
                parts.append(f"{key}: {b!r} -> {a!r}")
    return "; ".join(parts)


@contextmanager
def sysctl_guard() -> Iterator[dict[str, Any]]:
    """Keep /etc/sysctl.d/90-swapctl.conf's bytes and the vm values the tests touch; put them back after."""
    saved = {"sysctl_d": _bytes(SYSCTL_D), "vm": {k: read_vm(k) for k in VM_KEYS}}
    try:
        yield saved
    finally:
        _restore_bytes(SYSCTL_D, saved["sysctl_d"])
        for key, value in saved["vm"].items():
            if read_vm(key) != value:
                write_vm(key, value)


def restore_files(fstab: bytes | None, sysctl_d: bytes | None, vm: dict[str, int]) -> None:
    _restore_bytes(FSTAB, fstab)
    _restore_bytes(SYSCTL_D, sysctl_d)
    for key, value in vm.items():
        if read_vm(key) != value:
            write_vm(key, value)


def other_value(key: str, *avoid: int) -> int:
    """A valid value for a vm key that is none of `avoid` (swappiness 0..100, watermark_scale_factor 1..1000
    are valid on every kernel swapctl supports)."""
    lo, hi = (0, 100) if key == "swappiness" else (1, 1000)
    for v in (37, 23, 41, 17, 53, 29):
        if v not in avoid and lo <= v <= hi:
            return v
    raise AssertionError("no free value")
