"""What `swapctl zswap get` reports: the parameters this kernel has (and why a known one is missing), the
pool's size and what it holds, and the counters of pages in, out and written back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swapctl.kernel import zswap as rules
from swapctl.kernel.version import rules_version
from swapctl.system import paths, zswap

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
        "at_boot": at_boot(host, params),
        "notes": notes,
    }


# systemd-tmpfiles: every *.conf of these directories, a name in an earlier one hiding the same name in a later
# one, read in the order of their names whatever the directory; for one path the first line wins.
TMPFILES_DIRS = ("/etc/tmpfiles.d", "/run/tmpfiles.d", "/usr/local/lib/tmpfiles.d", "/usr/lib/tmpfiles.d")
TMPFILES_TOOLS = ("/usr/bin/systemd-tmpfiles", "/bin/systemd-tmpfiles")
BUILT_IN = "the kernel's built-in default (CONFIG_ZSWAP_*): nothing sets it at boot"


def tmpfiles_writes(host: Host) -> dict[str, dict[str, Any]]:
    """parameter -> {value, source} of the first tmpfiles.d `w` line (w, w+, with ! - = ~ ^) writing it."""
    files: dict[str, str] = {}
    for d in TMPFILES_DIRS:
        for name in host.list_dir(d) or []:
            if name.endswith(".conf"):
                files.setdefault(name, f"{d}/{name}")
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(files):
        for n, raw in enumerate((host.read_text_or_none(files[name]) or "").split("\n"), 1):
            words = raw.split(None, 6)
            if len(words) < 7 or words[0][0] != "w" or not set(words[0][1:]) <= set("+!-=~^"):
                continue
            where, _, param = words[1].rpartition("/")
            if where == zswap.PARAMETERS and param not in out:
                out[param] = {"value": words[6].strip(), "source": f"{files[name]} line {n}"}
    return out


def at_boot(host: Host, params: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What each parameter will be after the next boot: the kernel takes zswap.NAME= from its command line as
    the module starts; systemd-tmpfiles writes its lines later, over it. None: the built-in default."""
    out: dict[str, dict[str, Any]] = {name: {"value": None, "source": BUILT_IN} for name in params}
    for word in (host.read_text_or_none(paths.CMDLINE) or "").split():
        key, sep, value = word.partition("=")
        if sep and key.startswith("zswap.") and key[6:] in out:
            out[key[6:]] = {"value": _as_read_back(key[6:], value), "source": "the kernel command line (/proc/cmdline)"}
    if any(host.lstat(t) is not None for t in TMPFILES_TOOLS):
        for name, line in tmpfiles_writes(host).items():
            if name in out:
                out[name] = {"value": _as_read_back(name, line["value"]), "source": line["source"]}
    return out


def _as_read_back(name: str, value: str) -> str:
    try:
        return rules.normalise(name, value)
    except ValueError:
        return value  # the kernel refuses it at boot; shown as written


def _why(name: str, version: tuple[int, int, int]) -> str:
    return rules.absence(name, version) or "expected on this kernel, but not there (zswap built differently?)"
