"""zswap as the machine shows it: /sys/module/zswap/parameters, the pool in /proc/meminfo and its counters
in /proc/vmstat. Read-only; debugfs is never mounted here (its counters are shown only when it already is)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from swapctl.system import paths, procfs

if TYPE_CHECKING:
    from swapctl.system.host import Host

PARAMETERS = "/sys/module/zswap/parameters"
DEBUGFS = "/sys/kernel/debug/zswap"
COUNTERS = ("zswpin", "zswpout", "zswpwb")


def read_parameters(host: Host) -> dict[str, str] | None:
    """Every parameter file's value, None when this kernel has no zswap."""
    names = host.list_dir(PARAMETERS)
    if names is None:
        return None
    out = {}
    for name in sorted(names):
        try:
            out[name] = host.read_text(f"{PARAMETERS}/{name}", limit=4096).strip()
        except OSError:
            continue  # write-only or unreadable: shown as absent
    return out


def read_counters(host: Host) -> dict[str, int]:
    try:
        vmstat = procfs.parse_vmstat(host.read_text(paths.VMSTAT))
    except (OSError, ValueError):
        return {}
    return {k: vmstat[k] for k in COUNTERS if k in vmstat}


def read_debugfs(host: Host) -> dict[str, int]:
    """The debugfs counters, only where debugfs is mounted already (root only)."""
    out = {}
    for name in host.list_dir(DEBUGFS) or []:
        try:
            text = host.read_text(f"{DEBUGFS}/{name}", limit=4096).strip()
        except OSError:
            continue
        if text.isdigit() and len(text) <= 20:
            out[name] = int(text)
    return out


def crypto_compressors(host: Host) -> set[str] | None:
    """The compressors the crypto API has now (/proc/crypto), and those a module of this kernel gives it on
    the write (modules.alias); None when /proc/crypto cannot be read."""
    from swapctl.kernel.zswap import parse_crypto_compressors, parse_module_compressors

    try:
        known = parse_crypto_compressors(host.read_text("/proc/crypto", limit=4 << 20))
    except OSError:
        return None
    release = host.kernel_release()
    for base in ("/lib/modules", "/usr/lib/modules"):
        try:
            return known | parse_module_compressors(host.read_text(f"{base}/{release}/modules.alias", limit=64 << 20))
        except (OSError, ValueError):
            continue
    return known
