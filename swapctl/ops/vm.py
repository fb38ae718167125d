"""vm tuning, the read side: the vm state read once (runtime values, zones, what the next boot applies) and the
rows `vm get` shows; the knob table and its parser are kernel/knobs.py, the writing side vm_set.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from swapctl.kernel import mm
from swapctl.kernel.knobs import KNOBS, Knob
from swapctl.kernel.version import Version
from swapctl.ops import nextboot
from swapctl.system.bootfiles import BootFiles
from swapctl.system.memory import MemoryReading, read_memory

if TYPE_CHECKING:
    from swapctl.system.host import Host


# --- reading all of it -----------------------------------------------------------------------------------
class VmState(NamedTuple):
    memory: MemoryReading
    files: BootFiles  # the boot files as read, for a second prediction with an edit simulated
    boot_tool: str
    boot_tool_reason: str
    boot: dict[str, dict[str, nextboot.BootValue]]  # tool -> knob name -> what the next boot leaves
    warnings: list[str]

    @property
    def release(self) -> str:
        return self.memory.release

    @property
    def version(self) -> Version | None:
        return self.memory.version

    @property
    def values(self) -> dict[str, int | None]:
        return self.memory.values

    @property
    def nodes(self) -> int:
        return self.memory.nodes

    @property
    def min_free(self) -> mm.MinFreeFacts:
        return self.memory.min_free

    def next_boot(self, knobs: list[Knob], overrides: nextboot.Overrides) -> dict[str, dict[str, nextboot.BootValue]]:
        """What the next boot would leave in these knobs were the files edited as `overrides` says: decided
        from the files as read, not read again."""
        return nextboot.next_boot(self.files, boot_ranges(knobs, self.version), overrides=overrides)


def boot_ranges(knobs: list[Knob], version: Version | None) -> dict[str, tuple[int, int]]:
    """The range the kernel itself accepts for each knob (at boot, swapctl's own policy is not asked)."""
    return {k.name: k.possible_range(version) for k in knobs}


def read_state(host: Host, knobs: list[Knob] | None = None, applier: str | None = None) -> VmState:
    """The vm state read once: runtime values, zones, the min_free facts, and what each boot-time applier
    would write (applier: the one to show, procps or systemd; None: the one this machine boots with)."""
    knobs = knobs or list(KNOBS.values())
    memory = read_memory(host, [k.name for k in knobs])
    files = BootFiles(host)
    warnings: list[str] = []
    boot = nextboot.next_boot(files, boot_ranges(knobs, memory.version), warnings=warnings)
    tool, why = (applier, "--boot-applier") if applier else nextboot.detect_applier(files)
    return VmState(memory, files, tool, why, boot, warnings)


def boot_value(knob: Knob, state: VmState) -> tuple[int | None, str, bool]:
    """(value, source, estimated) the next boot leaves in a knob: the last write the kernel accepts, else the
    kernel's default (min_free_kbytes: estimated, unless khugepaged's value decides)."""
    chosen = state.boot[state.boot_tool][knob.name]
    if chosen.source is not None:
        return chosen.value, chosen.source.file, False
    if knob.name == "min_free_kbytes":
        return state.min_free.boot_default, "kernel default", state.min_free.khugepaged is None
    return knob.default, "kernel default", False


def _drift(knob: Knob, runtime: int | None, boot: int | str | None, estimated: bool) -> bool:
    if runtime is None or not isinstance(boot, int):
        return False
    if estimated:
        return abs(runtime - boot) > mm.estimate_slack(boot)
    return runtime != boot


def describe(state: VmState, knobs: list[Knob]) -> list[dict[str, Any]]:
    """The `vm get` rows: runtime value, range, boot value and source, drift, and per-key notes."""
    rows = []
    for knob in knobs:
        value = state.values.get(knob.name)
        chosen = state.boot[state.boot_tool][knob.name]
        boot, source, estimated = boot_value(knob, state)
        lo, hi = knob.accepted_range(state.version)
        klo, khi = knob.possible_range(state.version)
        available = value is not None and (knob.since is None or state.version is None or state.version >= knob.since)
        row: dict[str, Any] = {
            "key": knob.key,
            "value": value,
            "available": available,
            "range": [lo, hi],
            "kernel_range": [klo, khi],
            "boot_value": boot,
            "boot_source": source,
            "boot_line": chosen.source.line if chosen.source else None,
            "boot_tool": state.boot_tool,
            "boot_estimated": estimated,
            "drift": _drift(knob, value, boot, estimated),
            "persisted": {tool: state.boot[tool][knob.name].as_dict() for tool in nextboot.TOOLS},
            "summary": knob.summary,
            "notes": [],
        }
        if knob.doubt(state.version):
            row["notes"].append(f"range: {knob.doubt(state.version)}")
        if not available:
            row["notes"].append(f"not present on this kernel{' (needs ' + knob.needs + ')' if knob.needs else ''}")
        # A rejected write after the one that counts is what a sysadmin would take for the boot value.
        last = chosen.writes.index(chosen.source) if chosen.source else -1
        keeps = f"{boot} from {source}:{chosen.source.line}" if chosen.source else f"its default {boot}"
        for w, why in chosen.rejected:
            if chosen.writes.index(w) > last:
                row["notes"].append(
                    f"{w.file}:{w.line} sets {w.text[:40]!r}, which the kernel rejects at boot "
                    f"({why}): it keeps {keeps}"
                )
        if knob.name == "zone_reclaim_mode" and value is not None:
            decoded = mm.decode_zone_reclaim_mode(value)
            row.update(bits=decoded["flags"], meaning=decoded["meaning"])
            if state.nodes <= 1:
                row["notes"].append("this machine has one NUMA node: zone_reclaim_mode has no effect")
        if knob.name == "min_free_kbytes":
            mf = state.min_free
            row.update(
                {
                    "kernel_default": mf.kernel_default,
                    "thp": mf.thp,
                    "khugepaged_raises": mf.khugepaged is not None,
                    "khugepaged_value": mf.khugepaged,
                    "safe_limit": mf.safe_limit,
                }
            )
            if mf.khugepaged is not None:
                row["notes"].append(
                    f"khugepaged (transparent hugepages: {mf.thp}) raises it to {mf.khugepaged} "
                    f"kB, above the kernel default {mf.kernel_default} kB"
                )
        rows.append(row)
    return rows
