"""The `zram` command group: `zram status` (the devices, their compression and their cost in memory)."""

from __future__ import annotations

from typing import Any, Optional

import typer

from swapctl.cli import render
from swapctl.cli.context import emit, invocation

app = typer.Typer(
    help="Compressed swap in RAM: the zram devices.\n\nzram status shows each device; any user may run it.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _size(n: int | None) -> str:
    from swapctl.core.units import format_bytes

    return "-" if n is None else format_bytes(n)


def _status_table(doc: dict[str, Any]) -> None:
    from swapctl.cli.table import Column

    rows, notes = [], []
    for d in doc["data"]["devices"]:
        swap = d["swap"]
        rows.append(
            [
                d["device"],
                _size(d["disksize"]) if d["initialized"] else "unset",
                d["algorithm"] or "-",
                _size(d["orig_data_size"]),
                _size(d["compr_data_size"]),
                "-" if d["ratio"] is None else f"{d['ratio']:.2f}",
                _size(d["mem_used_total"]),
                "-" if swap is None else _size(swap["used"]),
                "-" if swap is None else swap["priority"],
            ]
        )
        failed = {k: v for k, v in d["io"].items() if k in ("failed_reads", "failed_writes") and v}
        if failed:
            notes.append(f"{d['device']}: " + ", ".join(f"{k} {v}" for k, v in failed.items()))
        if d["backing_dev"]:
            notes.append(f"{d['device']}: writes back to {d['backing_dev']}")
        notes.extend(f"{d['device']}: {p}" for p in d["problems"])
    if any(d["swap"] for d in doc["data"]["devices"]):
        notes.append(doc["data"]["why_swap_used_differs"])
    render.table(
        None,
        [
            Column("DEVICE"),
            Column("DISKSIZE", right=True),
            Column("ALGORITHM"),
            Column("STORED", right=True),
            Column("COMPRESSED", right=True, drop=2),
            Column("RATIO", right=True),
            Column("MEMORY", right=True),
            Column("SWAP USED", right=True, drop=1),
            Column("PRIO", right=True, drop=3),
        ],
        rows,
        caption="\n".join(notes) or None,
    )


@app.command("status")
def status(
    ctx: typer.Context,
    device: Optional[str] = typer.Argument(None, metavar="[DEVICE]", help="zram0 or /dev/zram0 [default: all]."),
) -> None:
    """Show the zram devices: capacity, algorithm, data, compression, memory used.

    DISKSIZE is the uncompressed capacity; STORED the pages it holds (orig_data_size), COMPRESSED their
    compressed size, MEMORY what the device costs in RAM (mem_used_total, allocator included). SWAP USED and
    PRIO come from /proc/swaps. JSON holds every mm_stat and io_stat field the kernel prints, by name.
    Reads /sys/block/zram*; never /sys/class/zram-control/hot_add, which creates a device when read.

    Exit status: 0 shown; 2 no such device."""
    with invocation(ctx, "zram status") as inv:
        from swapctl.ops import zram

        emit(inv, "zram status", data=zram.status(inv.get_host(), device), table=_status_table)
