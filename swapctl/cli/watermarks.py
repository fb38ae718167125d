"""`swapctl watermarks` and `swapctl numa`: per-node, per-zone watermarks, what-if predictions, NUMA."""

from __future__ import annotations

from typing import Any

import typer

from swapctl.cli import render
from swapctl.cli.context import emit, invocation, whole_number

app = typer.Typer()

_STATE_SHORT = {
    "empty": "empty",
    "below_min": "BELOW MIN",
    "below_low": "below low",
    "between_low_high": "low..high",
    "above_high": "ok",
}


def _b(pages: int | None, page_size: int) -> str:
    from swapctl.core.units import format_bytes

    return "" if pages is None else format_bytes(pages * page_size)


def _opt(v: Any) -> str:
    return "-" if v is None else str(v)


def _default_text(settings: dict[str, Any]) -> str:
    d = settings["min_free_kbytes_default"]
    # An estimate from today's managed pages; the kernel's own came from those at boot (see vm get's drift).
    text = f"kernel default here ~{d['kernel']}"
    if d["khugepaged"]:
        thp = settings.get("transparent_hugepage")
        text += f", {d['khugepaged']} " + ("as THP raises it" if thp in ("always", "madvise") else "if THP is enabled")
    return text


def _watermarks_table(doc: dict[str, Any]) -> None:
    from swapctl.cli.table import Column, Row

    d = doc["data"]
    ps = d["page_size"]
    s = d["settings"]
    head = [
        f"kernel {d['kernel'] or 'unknown'}, page size {ps} ({d['page_size_source']})",
        f"min_free_kbytes {_opt(s.get('min_free_kbytes'))} ({_default_text(s)}); "
        f"watermark_scale_factor {_opt(s.get('watermark_scale_factor'))}; "
        f"watermark_boost_factor {_opt(s.get('watermark_boost_factor'))}",
        f"rule: {d['rule']}",
    ]
    moved = d.get("recompute_differs") or []
    if moved:
        which = ", ".join(moved) if len(moved) <= 6 else f"{len(moved)} zones ({', '.join(moved[:3])}, ...)"
        head.append(
            "note: the kernel computed these marks from the managed counts of its last recompute; "
            f"a recompute now would move {which} a little"
        )
    render.lines(head)
    wide = render.WIDE
    zones = [z for z in d["zones"] if wide or z["managed"] or z["spanned"]]
    hidden = len(d["zones"]) - len(zones)
    wi = d.get("what_if")
    marks = ("min", "low", "high", "promo")
    if wi:
        cols = [
            Column("NODE"),
            Column("ZONE"),
            Column("MARKS"),
            *(Column(k.upper(), right=True, drop=1 if k == "promo" else 0) for k in marks),
        ]
        rows: list[Row] = []
        for z in zones:
            p = z["predicted"]
            rows += [
                Row([z["node"], z["zone"], "now", *(_opt(z[k]) for k in marks)]),
                Row(["", "", "", *(_b(z[k], ps) for k in marks)], detail=True),
                Row(["", "", "what if", *(_opt(p[k]) for k in marks)]),
                Row(["", "", "", *(_b(p[k], ps) for k in marks)], detail=True),
            ]
        render.table("zones (pages; binary units below)", cols, rows)
        mp, hp = wi["min_pages"], wi["high_pages"]
        change = "; ".join(f"{k} {_opt(wi['before'][k])} -> {_opt(wi['after'][k])}" for k in wi["after"])
        render.lines(
            [
                f"what if: {change}",
                f"machine-wide min watermarks (reserve for atomic/emergency allocations): {_b(mp['before'], ps)} -> "
                f"{_b(mp['after'], ps)} ({'+' if mp['change'] >= 0 else '-'}{_b(abs(mp['change']), ps)}, "
                f"{wi['min_share_of_ram']:.1%} of RAM)",
                f"high watermarks (what kswapd keeps free): {_b(hp['before'], ps)} -> {_b(hp['after'], ps)} "
                f"({'+' if hp['change'] >= 0 else '-'}{_b(abs(hp['change']), ps)}, "
                f"{wi['high_share_of_ram']:.1%} of RAM)",
            ]
        )
        return
    cols = [
        Column("NODE"),
        Column("ZONE"),
        Column("STATE", drop=1),
        Column("FREE", right=True),
        Column("MIN", right=True),
        Column("LOW", right=True),
        Column("HIGH", right=True),
        *(Column(name, right=True, wide=True) for name in ("PROMO", "BOOST", "MANAGED", "PRESENT", "SPANNED")),
        Column("PROTECTION", wide=True),
    ]
    rows = []
    for z in zones:
        rows.append(
            Row(
                [
                    z["node"],
                    z["zone"],
                    _STATE_SHORT[z["state"]],
                    z["free"],
                    z["min"],
                    z["low"],
                    z["high"],
                    _opt(z["promo"]),
                    _opt(z["boost"]),
                    z["managed"],
                    z["present"],
                    z["spanned"],
                    "(" + ",".join(map(str, z["protection"])) + ")",
                ]
            )
        )
        if z["managed"] or z["spanned"]:
            rows.append(
                Row(
                    ["", "", ""]
                    + [_b(z[k], ps) for k in ("free", "min", "low", "high")]
                    + [_b(z["promo"], ps), _b(z["boost"], ps)]
                    + [_b(z[k], ps) for k in ("managed", "present", "spanned")]
                    + ["max " + _b(max(z["protection"] or [0]), ps)],
                    detail=True,
                )
            )
    caption = f"{hidden} empty zone{'s' if hidden != 1 else ''} not shown (-o wide shows them)" if hidden else None
    render.table("zones (pages; binary units below)", cols, rows, caption=caption)
    trows = []
    for n in [*d["nodes"], {"node": None, **d["totals"]}]:
        name = "machine" if n["node"] is None else f"node {n['node']}"
        trows.append(Row([name, *(n[k] for k in ("free", "min", "low", "high", "managed"))]))
        trows.append(Row(["", *(_b(n[k], ps) for k in ("free", "min", "low", "high", "managed"))], detail=True))
    tcols = [
        Column(""),
        *(Column(h, right=True) for h in ("FREE", "MIN", "LOW", "HIGH")),
        Column("MANAGED", right=True, drop=1),
    ]
    render.table("totals (pages; binary units below)", tcols, trows)


@app.command()
def watermarks(
    ctx: typer.Context,
    node: str = typer.Option(None, "--node", "-n", metavar="N", help="Show only NUMA node N."),
    what_if: list[str] = typer.Option(
        None,
        "--what-if",
        metavar="KEY=VALUE",
        help="Predict the watermarks for min_free_kbytes=N and/or "
        "watermark_scale_factor=N (repeat the option for both).",
    ),
) -> None:
    """Show the watermarks of every node and zone; predict new ones.

    For each zone: free
    pages, the min/low/high watermarks (promo where the kernel prints it), the boost, managed/present/spanned
    pages and the protection (lowmem_reserve) array, in pages and binary units, and the zone's state: above
    high; between low and high; below low (kswapd reclaiming); below min (direct reclaim). Then totals per
    node and for the machine, the settings in force (min_free_kbytes, watermark_scale_factor,
    watermark_boost_factor) and the rule of the kernel version: the classic low = min x 5/4, high = min x 3/2
    before 4.6, the watermark_scale_factor gap from 4.6.

    --what-if KEY=VALUE: the marks __setup_per_zone_wmarks would set, to the page, for the kernel in osrelease.

    It shows before -> after and the change in reserved memory. It warns when min_free_kbytes is above the safe
    limit of `swapctl vm set` (which refuses it without --force), and when the new high watermarks keep a tenth
    of RAM or more free (kswapd reclaims to hold that). It writes nothing.

    --root DIR reads a snapshot: proc/zoneinfo, proc/sys/vm/*, proc/sys/kernel/osrelease, proc/meminfo.

    A snapshot's page size is MemTotal / managed pages from its proc/meminfo (else 4096, with a warning).

    Exit status: 0 shown; 2 bad --what-if, unknown --node or malformed zoneinfo; 3 zoneinfo missing or unreadable.
    """
    from swapctl.ops import watermarks as wm
    from swapctl.system.memory import read_memory

    with invocation(ctx, "watermarks") as inv:
        snap = read_memory(inv.get_host())
        snap.whole_zones()  # no zones, no view: refused before the arguments are judged against them
        changes = wm.parse_what_if(what_if or [], snap.version, snap.release)
        data, warnings = wm.build_view(snap, node=whole_number(node, "--node", lo=0), what_if=changes or None)
        emit(inv, "watermarks", data=data, warnings=warnings, table=_watermarks_table)


def _numa_table(doc: dict[str, Any]) -> None:
    from swapctl.cli.table import Column
    from swapctl.core.units import format_bytes

    d = doc["data"]
    ps = d["page_size"]
    rows = []
    for n in d["nodes"]:
        zones = ", ".join(f"{name} {_STATE_SHORT[state]}" for name, state in n["zones"].items()) or "-"
        rows.append(
            [
                n["node"],
                format_bytes(n["mem_total"]),
                format_bytes(n["mem_free"]),
                _b(n["low_pages"], ps),
                _b(n["high_pages"], ps),
                ",".join(map(str, n["distances"] or [])) or "-",
                "-" if n["cpus"] is None else _ranges(n["cpus"]) or "none",
                zones,
            ]
        )
    render.table(
        "nodes",
        [
            Column("NODE"),
            Column("TOTAL", right=True),
            Column("FREE", right=True),
            Column("LOW", right=True, drop=1),
            Column("HIGH", right=True, drop=2),
            Column("DISTANCES", drop=3),
            Column("CPUS", drop=4),
            Column("ZONES", kind="text"),
        ],
        rows,
    )
    z = d["zone_reclaim_mode"]
    render.lines(
        [
            f"zone_reclaim_mode {_opt(z['value'])}"
            + (f" ({', '.join(z['flags'])})" if z["flags"] else "")
            + f": {z['meaning']}",
            "",
            "why does this machine swap while memory is free?",
        ]
        + [f"  {line}" for line in d["why_swap_while_free"]]
    )


def _ranges(ids: list[int]) -> str:
    """[0, 1, 2, 3, 8] -> "0-3,8", as the kernel writes cpulist."""
    out: list[str] = []
    for i in ids:
        if out and "-" in out[-1] and int(out[-1].split("-")[1]) == i - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{i}"
        elif out and "-" not in out[-1] and int(out[-1]) == i - 1:
            out[-1] = f"{out[-1]}-{i}"
        else:
            out.append(str(i))
    return ",".join(out)


@app.command()
def numa(ctx: typer.Context) -> None:
    """Show NUMA nodes and why a machine swaps with memory free.

    Memory (sys/devices/system/node/nodeN/meminfo), distances, CPUs, the state of each
    node's zones against its watermarks, and zone_reclaim_mode decoded. Then answer "why does this machine
    swap while memory is free?": when one node is below its low watermark while another has memory to spare,
    say so, and what zone_reclaim_mode does about it (non-zero: the kernel reclaims, with bit 4 swaps, on the
    local node before it uses a remote one).

    Works on a --root snapshot like `swapctl watermarks`.

    Exit status: 0 shown; 2 malformed zoneinfo; 3 zoneinfo missing or unreadable.
    """
    from swapctl.ops import watermarks as wm
    from swapctl.system.memory import read_memory
    from swapctl.system.numa import read_nodes

    with invocation(ctx, "numa") as inv:
        host = inv.get_host()
        data, warnings = wm.build_numa(read_memory(host), read_nodes(host))
        emit(inv, "numa", data=data, warnings=warnings, table=_numa_table)
