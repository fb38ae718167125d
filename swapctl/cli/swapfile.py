"""`swapctl create | list | remove | resize`: the swap file lifecycle."""

from __future__ import annotations

from typing import Any

import typer

from swapctl.cli import render
from swapctl.cli.context import DIFF, DRY_RUN, Invocation, change, emit, invocation, whole_number
from swapctl.core.units import format_bytes

app = typer.Typer()


@app.command()
def create(
    ctx: typer.Context,
    path: str = typer.Argument(..., metavar="PATH", help="Absolute path of the swap file, e.g. /swapfile."),
    size: str = typer.Option(
        ...,
        "--size",
        "-s",
        metavar="SIZE",
        help="Size: 512M, 8G, 1.5GiB, 1048576K or bytes (rounded up to whole pages; at least 10 pages), "
        "or auto (by --size-policy, from RAM and the free space).",
    ),
    size_policy: str = typer.Option(
        "cloud-init",
        "--size-policy",
        metavar="POLICY",
        help="The rule of --size auto: cloud-init (RAM below 4 GiB: RAM; below 16 GiB: 4 GiB; else sqrt(RAM) "
        "GiB), redhat or ubuntu; never more than half the free space.",
    ),
    priority: str = typer.Option(
        None,
        "--priority",
        "-p",
        metavar="N",
        help="Swap priority, 0 to 32767, or -1 for automatic [default: as its fstab "
        "line says, else as it runs now, else automatic].",
    ),
    discard: bool = typer.Option(
        None,
        "--discard/--no-discard",
        help="Enable discard (TRIM) for the area [default: as its fstab line says, else off].",
    ),
    persist: bool = typer.Option(True, "--persist/--no-persist", help="Add the area to /etc/fstab."),
    method: str = typer.Option(
        "auto",
        "--method",
        metavar="METHOD",
        help="How to allocate: auto (fallocate, zeros where the filesystem refuses it), fallocate or zero.",
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace an existing file that is not a swap area of this size, or try an unknown filesystem.",
    ),
    dry_run: bool = DRY_RUN,
    diff: bool = DIFF,
) -> None:
    """Create a swap file, enable it and persist it in /etc/fstab.

    The file is made with mode 0600 from the start, allocated without holes (NOCOW on btrfs), formatted
    with mkswap and swapped on. Running it again on an active swap file of that size changes nothing.
    Any failure undoes every step already done."""
    from swapctl.ops.swapfile import plan_create

    def build(inv: Invocation) -> Any:
        plan = plan_create(
            inv.get_host(),
            inv.get_journal(),
            path,
            size,
            priority=whole_number(priority, "--priority"),
            discard=discard,
            persist=persist,
            method=method,
            force=force,
            size_policy=size_policy,
        )
        if "size_auto" in plan.data:
            from swapctl.ops.sizing import explain

            render.message(explain(plan.data["size_auto"]))
        return plan

    change(ctx, "create", build, dry_run=dry_run, diff=diff)


def _list_table(doc: dict[str, Any]) -> None:
    from swapctl.cli.table import Column

    d = doc["data"]
    rows = [
        (
            a["path"],
            a["type"],
            format_bytes(a["size"]),
            format_bytes(a["used"]),
            a["priority"],
            {True: "yes", False: "no"}.get(a["managed"], "?"),
            "yes" if a["persisted"] else "no",
        )
        for a in d["areas"]
    ]
    summary = (
        f"total {format_bytes(d['total'])}, used {format_bytes(d['used'])}; memory: "
        f"{format_bytes(d['mem_total'])} total, {format_bytes(d['mem_available'])} available"
    )
    boot = _at_boot(d.get("at_boot", []))
    if not rows:
        render.lines(["no swap areas are active", summary, boot])
        return
    render.table(
        None,
        [
            Column("PATH", kind="path"),
            Column("TYPE"),
            Column("SIZE", right=True),
            Column("USED", right=True),
            Column("PRIO", right=True),
            Column("MANAGED", drop=1),
            Column("PERSISTED", drop=2),
        ],
        rows,
        caption=f"{summary}\n{boot}",
    )


def _at_boot(areas: list[dict[str, Any]]) -> str:
    """One line: what the next boot turns on, and which file asks for each."""
    if not areas:
        return "at the next boot: no swap (no swap line in /etc/fstab, no zram device set up at boot)"

    def one(a: dict[str, Any]) -> str:
        pri = "automatic priority" if a["priority"] is None else f"priority {a['priority']}"
        where = f"{a['file']} line {a['line']}" if a["line"] else a["file"]
        return f"{a['source']} ({pri}; {where})"

    return "at the next boot: " + ", ".join(one(a) for a in areas)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the active swap areas: size, use, priority, persistence.

    Every active swap area (files, partitions, zram) with its size, use and priority, whether
    swapctl manages it and whether the next boot turns it on again (an /etc/fstab line, or a
    zram-generator device); then what the next boot turns on, with the file that asks for each
    (at_boot in -o json); warn about insecure permissions."""
    from swapctl.ops.inventory import inventory

    with invocation(ctx, "list") as inv:
        data, warnings = inventory(inv.get_host(), inv.get_journal())
        emit(inv, "list", data=data, warnings=warnings, table=_list_table)


@app.command()
def remove(
    ctx: typer.Context,
    path: str = typer.Argument(..., metavar="PATH", help="Absolute path of the swap file or device."),
    keep_file: bool = typer.Option(False, "--keep-file", help="Swap off and unpersist, but keep the file."),
    force: bool = typer.Option(False, "--force", help="Also delete a swap file swapctl did not make."),
    dry_run: bool = DRY_RUN,
    diff: bool = DIFF,
) -> None:
    """Swap off an area, drop its fstab line, delete the file.

    Refused when the pages in use would not fit back in available memory. Removing what is already gone
    changes nothing. Only files swapctl made are deleted, unless --force."""
    from swapctl.ops.swapfile import plan_remove

    change(
        ctx,
        "remove",
        lambda inv: plan_remove(inv.get_host(), inv.get_journal(), path, keep_file=keep_file, force=force),
        dry_run=dry_run,
        diff=diff,
    )


@app.command()
def resize(
    ctx: typer.Context,
    path: str = typer.Argument(..., metavar="PATH", help="Absolute path of an active swap file."),
    size: str = typer.Option(..., "--size", "-s", metavar="SIZE", help="The new size (as for create)."),
    dry_run: bool = DRY_RUN,
    diff: bool = DIFF,
) -> None:
    """Resize an active swap file without a gap in swap.

    The kernel will not rename or delete an active swap file, so a bridge area beside it is swapped on
    first and takes the pages in use; then the file at PATH is swapped off, remade at the new size and
    swapped on with the same priority and /etc/fstab line, and the bridge is retired."""
    from swapctl.ops.swapfile import plan_resize

    change(
        ctx,
        "resize",
        lambda inv: plan_resize(inv.get_host(), inv.get_journal(), path, size),
        dry_run=dry_run,
        diff=diff,
    )
