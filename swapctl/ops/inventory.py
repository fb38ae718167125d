"""What `swapctl list` reports: every active swap area, who manages it, whether it is persisted, and
warnings for areas others could read or tamper with."""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING, Any

from swapctl.ops import fstab
from swapctl.ops.swapfile import managed_paths

if TYPE_CHECKING:
    from swapctl.core.journal import Journal
    from swapctl.system.host import Host


def inventory(host: Host, journal: Journal) -> tuple[dict[str, Any], list[str]]:
    fstab_text = host.read_text_or_none(fstab.FSTAB)
    areas: list[dict[str, Any]] = []
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
    for a in host.swaps():
        areas.append(
            {
                "path": a.path,
                "type": a.type,
                "size": a.size,
                "used": a.used,
                "priority": a.priority,
                "managed": None if managed is None else a.path in managed,
                "persisted": fstab.persisted(fstab.lines_for(host, fstab_text, a.path, a.type)),
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
    mem = host.meminfo()
    data = {
        "areas": areas,
        "total": sum(a["size"] for a in areas),
        "used": sum(a["used"] for a in areas),
        "mem_total": mem.get("MemTotal", 0),
        "mem_available": mem.get("MemAvailable", 0),
    }
    return data, warnings
