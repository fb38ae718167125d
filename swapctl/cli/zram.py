"""The `zram` command group: `zram status` (the devices, their compression and their cost in memory) and
`zram create | resize | remove` (plans with undo, like swap files)."""

from __future__ import annotations

from typing import Any, Optional

import typer

from swapctl.cli import render
from swapctl.cli.context import DIFF, DRY_RUN, change, emit, invocation, whole_number

app = typer.Typer(
    help="Compressed swap in RAM: the zram devices.\n\nzram status shows each device (any user); create, "
    "resize and remove change them (root), with undo like every swapctl change.",
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
        if d.get("boot_file"):
            notes.append(f"{d['device']}: set up at boot by {d['boot_file']}")
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
    """Show the zram devices: capacity, algorithm, compression, memory.

    DISKSIZE is the uncompressed capacity; STORED the pages it holds (orig_data_size), COMPRESSED their
    compressed size, MEMORY what the device costs in RAM (mem_used_total, allocator included). SWAP USED and
    PRIO come from /proc/swaps. A device a zram-generator file sets up at boot is named with that file.
    JSON holds every mm_stat and io_stat field the kernel prints, by name.
    Reads /sys/block/zram*; never /sys/class/zram-control/hot_add, which creates a device when read.

    Exit status: 0 shown; 2 no such device."""
    with invocation(ctx, "zram status") as inv:
        from swapctl.ops import zram

        emit(inv, "zram status", data=zram.status(inv.get_host(), device), table=_status_table)


def _said_size_rule(plan: Any) -> Any:
    """The plan, once the size an expression came to is said (on stderr)."""
    rule = plan.data.get("size_rule")
    if rule:
        render.message(
            f"--size: {_size(rule['size'])} = {rule['expression']} MiB, with ram = {rule['ram_mib']} MiB (MemTotal)"
        )
    return plan


SIZE_HELP = (
    "Uncompressed capacity: a size (512M, 4G), auto (zram-generator's default, min(ram / 2, 4096) MiB) or a "
    "zram-generator zram-size expression in MiB with ram = MemTotal in MiB, e.g. 'ram / 4' or 'min(ram, 8192)'."
)


@app.command("create")
def create(
    ctx: typer.Context,
    device: str = typer.Option(
        "auto",
        "--device",
        "-d",
        metavar="DEVICE",
        help="zramN, or auto: the first device not set up, else a new one from zram-control/hot_add.",
    ),
    size: str = typer.Option("auto", "--size", "-s", metavar="SIZE|auto|EXPR", help=SIZE_HELP),
    algorithm: Optional[str] = typer.Option(
        None,
        "--algorithm",
        "-a",
        metavar="ALGORITHM",
        help="Compression algorithm, one the device lists in comp_algorithm [default: the device's current one].",
    ),
    algorithm_params: Optional[str] = typer.Option(
        None,
        "--algorithm-params",
        metavar="PARAMS",
        help="The algorithm's parameters, as zramctl's: 'level=N' and 'dict=PATH' (a pre-trained dictionary), "
        "written to algorithm_params (Linux 6.13+) [default: none].",
    ),
    mem_limit: Optional[str] = typer.Option(
        None, "--mem-limit", metavar="SIZE", help="Most RAM the device may use for compressed data [default: none]."
    ),
    priority: str = typer.Option("100", "--priority", "-p", metavar="N", help="Swap priority, -1 to 32767."),
    persist: bool = typer.Option(
        False,
        "--persist",
        help="Also set it up at boot: a section in swapctl's zram-generator drop-in where zram-generator is "
        "installed, else a systemd unit of swapctl's (it adds its own device at boot), else an udev rule and an "
        "/etc/fstab line (refused where none of them would run).",
    ),
    persist_via: Optional[str] = typer.Option(
        None,
        "--persist-via",
        metavar="WAY",
        help="With --persist, the way to use: zram-generator, systemd or udev [default: the first of them that "
        "works here].",
    ),
    dry_run: bool = DRY_RUN,
    diff: bool = DIFF,
) -> None:
    """Set up a zram device as swap.

    Algorithm, its parameters, mem_limit, disksize, mkswap, swapon: written in the kernel's order, each read
    back but the parameters (the kernel shows none; resize and undo set again the ones swapctl set). A device
    swapctl adds through hot_add is removed again on undo. Running it again when a zram area of that size,
    algorithm and priority is active changes nothing. Any failure undoes every step already done.

    Exit status: 0 done (or nothing to do); 1 the kernel refused a write, every change
    undone; 2 bad input; 3 refused (not root, device in use)."""
    from swapctl.ops.zram_set import plan_create

    change(
        ctx,
        "zram create",
        lambda inv: _said_size_rule(
            plan_create(
                inv.get_host(),
                inv.get_journal(),
                device,
                size,
                algorithm=algorithm,
                algorithm_params=algorithm_params,
                mem_limit=mem_limit,
                priority=whole_number(priority, "--priority"),
                persist=persist or persist_via is not None,
                persist_via=persist_via or "auto",
            )
        ),
        dry_run=dry_run,
        diff=diff,
    )


@app.command("resize")
def resize(
    ctx: typer.Context,
    device: str = typer.Argument(..., metavar="DEVICE", help="An active zram swap device, zram0 or /dev/zram0."),
    size: str = typer.Option(..., "--size", "-s", metavar="SIZE|auto|EXPR", help=SIZE_HELP),
    dry_run: bool = DRY_RUN,
    diff: bool = DIFF,
) -> None:
    """Give an active zram swap device a new size.

    swapoff, reset, set up, mkswap, swapon.
    The kernel will not change the disksize of a device in use (EBUSY), so its pages are paged back into
    RAM first: refused when what it stores (orig_data_size, not the compressed size) would not fit in
    available memory. Algorithm, mem_limit and priority stay as they are.

    What swapctl persisted for the device (a zram-generator section, its unit or udev rule) gets the new size.

    Exit status: 0 done (or the size is already that); 1 failed, every change undone; 2 bad input; 3 refused."""
    from swapctl.ops.zram_set import plan_resize

    change(
        ctx,
        "zram resize",
        lambda inv: _said_size_rule(plan_resize(inv.get_host(), inv.get_journal(), device, size)),
        dry_run=dry_run,
        diff=diff,
    )


@app.command("remove")
def remove(
    ctx: typer.Context,
    device: str = typer.Argument(..., metavar="DEVICE", help="zram0 or /dev/zram0."),
    force: bool = typer.Option(False, "--force", help="Also reset a device that is set up but is not swap."),
    dry_run: bool = DRY_RUN,
    diff: bool = DIFF,
) -> None:
    """Swap off a zram device, reset it; remove it if swapctl added it.

    Refused when its stored pages would not fit back in available memory, or when the device is set up
    but is not a swap area (a filesystem on zram) unless --force. Removing what is gone changes nothing.
    What swapctl persisted for it (its zram-generator section, unit or udev rule and fstab line) is dropped.

    Exit status: 0 done (or nothing to do); 1 failed, every change undone; 2 bad input; 3 refused."""
    from swapctl.ops.zram_set import plan_remove

    change(
        ctx,
        "zram remove",
        lambda inv: plan_remove(inv.get_host(), inv.get_journal(), device, force=force),
        dry_run=dry_run,
        diff=diff,
    )
