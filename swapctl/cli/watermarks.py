"""`swapctl watermarks` and `swapctl numa`: per-node, per-zone watermarks, what-if predictions, NUMA."""

from __future__ import annotations

from typing import Any

import typer

from swapctl.cli import render
from swapctl.cli.context import edge, emit

app = typer.Typer()

_STATE_SHORT = {"empty": "empty", "below_min": "BELOW MIN", "below_low": "below low",
                "between_low_high": "low..high", "above_high": "ok"}


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
        text += f", {d['khugepaged']} " + ("as THP raises it" if thp in ("always", "madvise")
                                           else "if THP is enabled")
    return text


def _watermarks_table(doc: dict[str, Any]) -> None:
    d = doc["data"]
    ps = d["page_size"]
    s = d["settings"]
    head = [f"kernel {d['kernel'] or 'unknown'}, page size {ps} ({d['page_size_source']})",
            f"min_free_kbytes {_opt(s.get('min_free_kbytes'))} ({_default_text(s)})"
            + f", watermark_scale_factor {_opt(s.get('watermark_scale_factor'))}"
            + f", watermark_boost_factor {_opt(s.get('watermark_boost_factor'))}",
            f"rule: {d['rule']}"]
    if d.get("recompute_differs"):
        head.append("note: the kernel computed these marks from the managed counts of its last recompute; "
                    f"a recompute now would move {', '.join(d['recompute_differs'])} a little")
    render.lines(head)
    wi = d.get("what_if")
    cols = ["NODE", "ZONE", "STATE", "FREE", "MIN", "LOW", "HIGH", "PROMO", "BOOST", "MANAGED", "PRESENT",
            "SPANNED", "PROTECTION"]
    if wi:
        cols = ["NODE", "ZONE", "MANAGED", "MIN", "LOW", "HIGH", "PROMO"]
    rows: list[list[Any]] = []
    for z in d["zones"]:
        if wi:
            p = z["predicted"]
            rows.append([z["node"], z["zone"], z["managed"]]
                        + [f"{_opt(z[k])} -> {_opt(p[k])}" for k in ("min", "low", "high", "promo")])
            if z["managed"] or z["spanned"]:
                rows.append(["", "", _b(z["managed"], ps)]
                            + [f"{_b(z[k], ps) or '-'} -> {_b(p[k], ps) or '-'}"
                               for k in ("min", "low", "high", "promo")])
            continue
        rows.append([z["node"], z["zone"], _STATE_SHORT[z["state"]], z["free"], z["min"], z["low"], z["high"],
                     _opt(z["promo"]), _opt(z["boost"]), z["managed"], z["present"], z["spanned"],
                     "(" + ", ".join(map(str, z["protection"])) + ")"])
        if z["managed"] or z["spanned"]:
            rows.append(["", "", ""] + [_b(z[k], ps) for k in ("free", "min", "low", "high")]
                        + [_b(z["promo"], ps), _b(z["boost"], ps)]
                        + [_b(z[k], ps) for k in ("managed", "present", "spanned")]
                        + ["max " + _b(max(z["protection"] or [0]), ps)])
    render.table("zones (pages; binary units below)", cols, rows, right=cols[2:] if wi else cols[3:12])
    if wi:
        mp, hp = wi["min_pages"], wi["high_pages"]
        change = " ".join(f"{k} {_opt(wi['before'][k])} -> {_opt(wi['after'][k])}" for k in wi["after"])
        render.lines([
            f"what if: {change}",
            f"machine-wide min watermarks (reserve for atomic/emergency allocations): {_b(mp['before'], ps)} -> "
            f"{_b(mp['after'], ps)} ({'+' if mp['change'] >= 0 else '-'}{_b(abs(mp['change']), ps)}, "
            f"{wi['min_share_of_ram']:.1%} of RAM)",
            f"high watermarks (what kswapd keeps free): {_b(hp['before'], ps)} -> {_b(hp['after'], ps)} "
            f"({'+' if hp['change'] >= 0 else '-'}{_b(abs(hp['change']), ps)}, "
            f"{wi['high_share_of_ram']:.1%} of RAM)"])
        return
    trows = [[f"node {n['node']}", n["free"], n["min"], n["low"], n["high"], n["managed"],
              _b(n["free"], ps), _b(n["high"], ps), _b(n["managed"], ps)] for n in d["nodes"]]
    t = d["totals"]
    trows.append(["machine", t["free"], t["min"], t["low"], t["high"], t["managed"], _b(t["free"], ps),
                  _b(t["high"], ps), _b(t["managed"], ps)])
    tcols = ["", "FREE", "MIN", "LOW", "HIGH", "MANAGED", "FREE", "HIGH", "MANAGED"]
    render.table("totals (pages, then binary units)", tcols, trows, right=tcols[1:])


@app.command()
def watermarks(
    ctx: typer.Context,
    node: int = typer.Option(None, "--node", "-n", min=0, metavar="N", help="Show only NUMA node N."),
    what_if: list[str] = typer.Option(None, "--what-if", metavar="KEY=VALUE",
                                      help="Predict the watermarks for min_free_kbytes=N and/or "
                                           "watermark_scale_factor=N (repeat the option for both)."),
) -> None:
    """Show the memory watermarks of every NUMA node and zone, and predict new ones. For each zone: free
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

    with edge(ctx, "watermarks") as st:
        host = st.get_host()
        snap = wm.load_snapshot(host)
        changes = wm.parse_what_if(what_if or [], snap.version, snap.release)
        data, warnings = wm.build_view(host, snap, node=node, what_if=changes or None)
        emit(st, "watermarks", data=data, warnings=warnings, table=_watermarks_table)


def _numa_table(doc: dict[str, Any]) -> None:
    d = doc["data"]
    ps = d["page_size"]
    from swapctl.core.units import format_bytes

    rows = []
    for n in d["nodes"]:
        zones = ", ".join(f"{name} {_STATE_SHORT[state]}" for name, state in n["zones"].items()) or "-"
        rows.append([n["node"], format_bytes(n["mem_total"]), format_bytes(n["mem_free"]),
                     _b(n["low_pages"], ps), _b(n["high_pages"], ps),
                     " ".join(map(str, n["distances"] or [])) or "-",
                     "-" if n["cpus"] is None else ",".join(map(str, n["cpus"])) or "none", zones])
    render.table("nodes", ["NODE", "TOTAL", "FREE", "LOW", "HIGH", "DISTANCES", "CPUS", "ZONES"], rows,
                 right=["TOTAL", "FREE", "LOW", "HIGH"])
    z = d["zone_reclaim_mode"]
    render.lines([f"zone_reclaim_mode {_opt(z['value'])}"
                  + (f" ({', '.join(z['flags'])})" if z["flags"] else "") + f": {z['meaning']}",
                  "", "why does this machine swap while memory is free?"]
                 + [f"  {line}" for line in d["why_swap_while_free"]])


@app.command()
def numa(ctx: typer.Context) -> None:
    """Show NUMA nodes: memory (sys/devices/system/node/nodeN/meminfo), distances, CPUs, the state of each
    node's zones against its watermarks, and zone_reclaim_mode decoded. Then answer "why does this machine
    swap while memory is free?": when one node is below its low watermark while another has memory to spare,
    say so, and what zone_reclaim_mode does about it (non-zero: the kernel reclaims, with bit 4 swaps, on the
    local node before it uses a remote one).

    Works on a --root snapshot like `swapctl watermarks`.

    Exit status: 0 shown; 2 malformed zoneinfo; 3 zoneinfo missing or unreadable.
    """
    from swapctl.ops import watermarks as wm

    with edge(ctx, "numa") as st:
        host = st.get_host()
        snap = wm.load_snapshot(host)
        data, warnings = wm.build_numa(host, snap)
        emit(st, "numa", data=data, warnings=warnings, table=_numa_table)
