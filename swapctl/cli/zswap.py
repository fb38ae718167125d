"""The `zswap` command group: `zswap get` (the parameters this kernel has, the pool and its counters) and
`zswap set` (parameters written and read back, undone like vm set, persisted in tmpfiles.d)."""

from __future__ import annotations

from typing import Any

import typer

from swapctl.cli import render
from swapctl.cli.context import DIFF, DRY_RUN, change, emit, invocation

app = typer.Typer(
    help="The compressed cache in front of swap: zswap.\n\nzswap get shows its parameters and pool (any user); "
    "zswap set changes them (root).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _get_table(doc: dict[str, Any]) -> None:
    from swapctl.cli.table import Column
    from swapctl.core.units import format_bytes

    data = doc["data"]
    if not data["available"]:
        render.message("zswap: not in this kernel (no /sys/module/zswap)")
        return
    boot = data.get("at_boot", {})

    def at_boot(k: str) -> str:
        b = boot.get(k)
        return "-" if b is None else "(built-in)" if b["value"] is None else b["value"]

    def source(k: str) -> str:
        b = boot.get(k)
        return "" if b is None or b["value"] is None else f"at boot from {b['source']}"

    rows = [[k, v, at_boot(k), source(k)] for k, v in data["parameters"].items()]
    rows += [[k, "-", "-", why] for k, why in data["missing"].items()]
    notes = list(data.get("notes", []))
    pool = data["pool"]
    if pool is not None:
        ratio = "-" if pool["ratio"] is None else f"{pool['ratio']:.2f}"
        notes.append(f"pool: {format_bytes(pool['size'])} holding {format_bytes(pool['stored'])} (ratio {ratio})")
    if data["counters"]:
        notes.append("pages since boot: " + ", ".join(f"{k} {v}" for k, v in data["counters"].items()))
    render.table(
        None,
        [Column("PARAMETER"), Column("VALUE"), Column("AT BOOT"), Column("NOTE", kind="text")],
        rows,
        caption="\n".join(notes),
    )


@app.command("get")
def get(ctx: typer.Context) -> None:
    """Show zswap's parameters, what the next boot sets them to, its pool and its counters.

    AT BOOT is what each parameter will be after the next boot: zswap.NAME= on the kernel command line,
    then the first systemd-tmpfiles line writing it (tmpfiles.d), or the built-in default.
    The parameters this kernel has (/sys/module/zswap/parameters), and for the ones it lacks the release
    that added or removed them; the pool's size and the data it holds (Zswap and Zswapped in /proc/meminfo);
    the pages stored, loaded and written back since boot (zswpout, zswpin, zswpwb in /proc/vmstat). debugfs
    counters are shown only where debugfs is mounted already.

    Exit status: 0 shown."""
    with invocation(ctx, "zswap get") as inv:
        from swapctl.ops import zswap

        emit(inv, "zswap get", data=zswap.get(inv.get_host()), table=_get_table)


@app.command("set")
def set_(
    ctx: typer.Context,
    assignments: list[str] = typer.Argument(..., metavar="NAME=VALUE...", help="e.g. enabled=Y compressor=lzo-rle"),
    persist: bool = typer.Option(
        False, "--persist", help="Also keep them for boot: w lines in /etc/tmpfiles.d/90-swapctl-zswap.conf."
    ),
    force: bool = typer.Option(False, "--force", help="Enable zswap even with no active swap area."),
    dry_run: bool = DRY_RUN,
    diff: bool = DIFF,
) -> None:
    """Set zswap parameters, read back and undone like vm set.

    enabled, compressor, max_pool_percent, accept_threshold_percent, shrinker_enabled (and zpool,
    same_filled_pages_enabled where the kernel has them).
    Each value is written to /sys/module/zswap/parameters and read back; a failure undoes the writes
    already done, and `swapctl rollback` restores the old values unless someone changed them since. The
    compressor must be one /proc/crypto lists. enabled=Y is refused while no swap area is active (zswap
    would store nothing). Disabling does not empty the pool. --persist writes systemd-tmpfiles lines,
    applied at boot once the module is loaded.

    Exit status: 0 done (or nothing to do); 1 the kernel refused a value, every change undone; 2 bad
    input; 3 refused."""
    from swapctl.ops.zswap_set import build_set_plan

    change(
        ctx,
        "zswap set",
        lambda inv: build_set_plan(inv.get_host(), assignments, persist=persist, force=force),
        dry_run=dry_run,
        diff=diff,
    )
