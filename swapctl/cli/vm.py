"""The `vm` command group: read (`vm get`) and set (`vm set`) the vm reclaim sysctls."""

from __future__ import annotations

from typing import Any, Optional

import typer

from swapctl.cli import render
from swapctl.cli.context import DIFF, emit, invocation, require_root, run_plan

app = typer.Typer(
    help="Read and set the vm reclaim sysctls.\n\nswappiness, min_free_kbytes, zone_reclaim_mode, "
    "watermark_scale_factor, watermark_boost_factor, vfs_cache_pressure and page-cluster.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _range(r: list[int]) -> str:
    lo, hi = r
    return f"{lo}-{hi}" if hi < 2**31 - 1 else f">= {lo}"


def _get_table(doc: dict[str, Any]) -> None:
    settings = doc["data"].get("settings", [])
    rows, notes = [], []
    for s in settings:
        value = "-" if s["value"] is None else s["value"]
        boot = "-" if s["boot_value"] is None else s["boot_value"]
        if s.get("boot_estimated"):
            boot = f"~{boot}"
        source = "default" if s["boot_source"] == "kernel default" else s["boot_source"]
        rows.append([s["key"], value, _range(s["range"]), boot, source, "yes" if s["drift"] else ""])
        if s["key"] == "vm.zone_reclaim_mode" and s["value"] is not None:
            bits = ", ".join(s.get("bits") or []) or "off"
            notes.append(f"vm.zone_reclaim_mode {s['value']}: {bits}")
        if s["key"] == "vm.min_free_kbytes" and s.get("kernel_default") is not None:
            khuge = (
                f"; khugepaged raises it to {s['khugepaged_value']}"
                if s.get("khugepaged_raises")
                else f"; khugepaged does not raise it (transparent hugepages: {s.get('thp') or 'absent'})"
            )
            notes.append(
                f"vm.min_free_kbytes: kernel default ~{s['kernel_default']}{khuge}; "
                f"swapctl's safe limit {s['safe_limit']}"
            )
        notes.extend(f"{s['key']}: {n}" for n in s.get("notes", []) if "khugepaged" not in n)
    applier = doc["data"].get("boot_applier") or {}
    name = {"procps": "sysctl --system", "systemd": "systemd-sysctl"}.get(str(applier.get("tool")), "?")
    caption = "\n".join(
        [
            f"at boot: as {name} applies the sysctl.d files ({applier.get('reason')}); the kernel "
            "keeps the last value it accepts",
            *notes,
        ]
    )
    from swapctl.cli.table import Column

    render.table(
        None,
        [
            Column("KEY"),
            Column("VALUE", right=True),
            Column("RANGE", drop=2),
            Column("AT BOOT", right=True),
            Column("SOURCE", kind="path"),
            Column("DRIFT", drop=1),
        ],
        rows,
        caption=caption,
    )


def _applier(value: str | None) -> str | None:
    from swapctl.core.errors import UsageError
    from swapctl.ops.nextboot import APPLIERS

    if value is not None and value not in APPLIERS:
        raise UsageError(f"--boot-applier {value!r} is not one of {', '.join(APPLIERS)}")
    return value


BOOT_APPLIER_HELP = (
    "Which boot-time tool to predict: procps (sysctl --system) or systemd (systemd-sysctl) "
    "[default: what the machine, or the --root image, boots with]."
)


@app.command("get")
def get(
    ctx: typer.Context,
    keys: Optional[list[str]] = typer.Argument(
        None, metavar="[KEY]...", help="Keys to show, as swappiness or vm.swappiness [default: all]."
    ),
    boot_applier: Optional[str] = typer.Option(
        None, "--boot-applier", metavar="procps|systemd", help=BOOT_APPLIER_HELP
    ),
) -> None:
    """Show the vm sysctls, now and at the next boot.

    The runtime value, the range this kernel accepts, what the next boot applies and
    from which file, and whether they differ (drift).

    The boot value is what the boot-time tool writes, by its own rules, and what the kernel then keeps:
    systemd-sysctl on a machine booted with systemd, `sysctl --system` (procps) otherwise; under --root, the
    image's own init decides (/sbin/init), or give --boot-applier. Both read /etc/sysctl.d, /run/sysctl.d,
    /usr/local/lib/sysctl.d, /usr/lib/sysctl.d and /lib/sysctl.d (the first file of each name wins, a
    /dev/null link or any other entry of that name masks it) in name order; procps then /etc/sysctl.conf.
    procps writes every assignment in turn; systemd keeps one per key (the last). An explicit key beats a
    glob. Lines end at a newline (for systemd also at a carriage return); `-key = v` ignores errors and `-key`
    excludes a key from globs. The kernel reads each value as it does at boot (010 is 8, 0x10 is 16, `10 #x`
    is 10) and refuses what is out of its range, keeping the value before. JSON holds both tools' writes,
    in order with file and line, under `persisted`.

    zone_reclaim_mode is decoded into its bits (1 zone reclaim, 2 write dirty pages, 4 swap pages);
    min_free_kbytes shows the kernel's default for this machine and whether khugepaged raises it.
    """
    with invocation(ctx, "vm get") as inv:
        from swapctl.kernel.knobs import KNOBS, knob_named
        from swapctl.ops import vm

        knobs = [knob_named(k) for k in keys] if keys else list(KNOBS.values())
        knobs = list(dict.fromkeys(knobs))
        state = vm.read_state(inv.get_host(), knobs, _applier(boot_applier))
        data = {
            "kernel": state.release,
            "numa_nodes": state.nodes,
            "boot_tool": state.boot_tool,
            "boot_applier": {"tool": state.boot_tool, "reason": state.boot_tool_reason},
            "settings": vm.describe(state, knobs),
        }
        emit(inv, "vm get", data=data, warnings=state.warnings, table=_get_table)


@app.command("set")
def set_(
    ctx: typer.Context,
    assignments: Optional[list[str]] = typer.Argument(
        None,
        metavar="KEY=VALUE...",
        help="KEY=N sets; KEY=>N only raises to N; KEY=<N only lowers to N (quote < and > in a shell).",
    ),
    persist: bool = typer.Option(
        False,
        "--persist",
        help="Also write the values to /etc/sysctl.d/90-swapctl.conf for the next boot "
        "(KEY=>N/KEY=<N: N, only where the boot value would not meet it).",
    ),
    force: bool = typer.Option(False, "--force", help="Write a min_free_kbytes above swapctl's safe limit."),
    boot_applier: Optional[str] = typer.Option(
        None, "--boot-applier", metavar="procps|systemd", help=BOOT_APPLIER_HELP
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; change nothing."),
    diff: bool = DIFF,
) -> None:
    """Set vm sysctls now (and with --persist at boot), all or none.

    Every assignment is parsed and checked against the range the running kernel accepts before anything is
    written; one bad assignment rejects the command (exit 2). swapctl is stricter than the kernel where the
    kernel lets a value hurt the machine: min_free_kbytes above 5% of lowmem is refused (exit 3) unless
    --force, zone_reclaim_mode takes 0-7 only, page-cluster 0-31.

    Each write is read back. If a write fails, the keys already written are restored (exit 1). A value
    already in force is left alone (changed: false, nothing journaled). Undo with `swapctl rollback`,
    which restores a value only while it is still the one swapctl wrote.

    With --persist, KEY=N writes N; KEY=>N and KEY=<N write N only where the value the next boot gives
    (the sysctl.d line that wins, else the kernel's default) would not meet it, so the kernel keeps
    choosing its own value where that is already enough.

    Examples: swapctl vm set vm.swappiness=10 --persist;  swapctl vm set 'min_free_kbytes=>65536'
    """
    with invocation(ctx, "vm set") as inv:
        host = inv.get_host()
        # Even a dry run: it predicts the real run, refusal included (as create, remove and apply do).
        require_root(inv, "setting vm sysctls")
        from swapctl.ops import vm_set

        plan = vm_set.build_set_plan(
            host, list(assignments or []), persist=persist, force=force, applier=_applier(boot_applier)
        )
        outcome = run_plan(inv, plan, dry_run=dry_run, diff=diff)
        emit(inv, "vm set", outcome)
