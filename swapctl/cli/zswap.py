"""The `zswap` command group: `zswap get` (the parameters this kernel has, the pool and its counters)."""

from __future__ import annotations

from typing import Any

import typer

from swapctl.cli import render
from swapctl.cli.context import emit, invocation

app = typer.Typer(
    help="The compressed cache in front of swap: zswap.\n\nzswap get shows its parameters and pool (any user).",
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
    rows = [[k, v, ""] for k, v in data["parameters"].items()]
    rows += [[k, "-", why] for k, why in data["missing"].items()]
    notes = list(data.get("notes", []))
    pool = data["pool"]
    if pool is not None:
        ratio = "-" if pool["ratio"] is None else f"{pool['ratio']:.2f}"
        notes.append(f"pool: {format_bytes(pool['size'])} holding {format_bytes(pool['stored'])} (ratio {ratio})")
    if data["counters"]:
        notes.append("pages since boot: " + ", ".join(f"{k} {v}" for k, v in data["counters"].items()))
    render.table(
        None, [Column("PARAMETER"), Column("VALUE"), Column("NOTE", kind="text")], rows, caption="\n".join(notes)
    )


@app.command("get")
def get(ctx: typer.Context) -> None:
    """Show zswap's parameters, its pool and its counters.

    The parameters this kernel has (/sys/module/zswap/parameters), and for the ones it lacks the release
    that added or removed them; the pool's size and the data it holds (Zswap and Zswapped in /proc/meminfo);
    the pages stored, loaded and written back since boot (zswpout, zswpin, zswpwb in /proc/vmstat). debugfs
    counters are shown only where debugfs is mounted already.

    Exit status: 0 shown."""
    with invocation(ctx, "zswap get") as inv:
        from swapctl.ops import zswap

        emit(inv, "zswap get", data=zswap.get(inv.get_host()), table=_get_table)
