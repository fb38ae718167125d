"""What `swapctl zswap get` reports: the parameters this kernel has (and why a known one is missing), the
pool's size and what it holds, and the counters of pages in, out and written back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swapctl.kernel import zswap as rules
from swapctl.kernel.version import rules_version
from swapctl.system import zswap

if TYPE_CHECKING:
    from swapctl.system.host import Host


def get(host: Host) -> dict[str, Any]:
    version = rules_version(host.kernel_release())
    params = zswap.read_parameters(host)
    if params is None:
        return {"available": False, "parameters": {}, "missing": {}, "pool": None, "counters": {}}
    missing = {p.name: _why(p.name, version) for p in rules.PARAMS if p.name not in params}
    meminfo = host.meminfo()
    pool = None
    if "Zswap" in meminfo:
        stored, size = meminfo.get("Zswapped", 0), meminfo["Zswap"]  # bytes (parse_meminfo scales kB)
        pool = {"size": size, "stored": stored, "ratio": round(stored / size, 2) if size else None}
    enabled = params.get("enabled")
    swapping = bool(host.swaps())
    notes = []
    if enabled == "Y" and not swapping:
        notes.append("zswap is enabled but no swap area is active: it stores nothing until one is")
    return {
        "available": True,
        "enabled": enabled == "Y" if enabled in ("Y", "N") else None,
        "parameters": params,
        "missing": missing,
        "pool": pool,
        "counters": zswap.read_counters(host),
        "debugfs": zswap.read_debugfs(host) or None,
        "notes": notes,
    }


def _why(name: str, version: tuple[int, int, int]) -> str:
    return rules.absence(name, version) or "expected on this kernel, but not there (zswap built differently?)"
