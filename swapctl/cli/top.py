"""`swapctl top`: who uses swap, per process, user or cgroup, and with --interval how fast the machine swaps."""

from __future__ import annotations

from typing import Any, Optional

import typer

from swapctl.cli import render
from swapctl.cli.context import emit, invocation, whole_number

app = typer.Typer()


def _table(doc: dict[str, Any]) -> None:
    from swapctl.cli.table import Column
    from swapctl.core.units import format_bytes

    d = doc["data"]
    by = d["by"]
    share = lambda r: "-" if r["share"] is None else f"{r['share']:.1f}%"  # noqa: E731
    if by == "process":
        columns = [
            Column("PID", right=True),
            Column("USER"),
            Column("SWAP", right=True),
            Column("RSS", right=True, drop=2),
            Column("SHARE", right=True, drop=1),
            Column("COMMAND", kind="text"),
        ]
        rows = [
            [r["pid"], r["user"], format_bytes(r["swap"]), format_bytes(r["rss"]), share(r), r["command"]]
            for r in d["rows"]
        ]
    else:
        columns = [
            Column(by.upper(), kind="path" if by == "cgroup" else "text"),
            Column("PROCS", right=True, drop=2),
            Column("SWAP", right=True),
            Column("RSS", right=True, drop=1),
            Column("SHARE", right=True),
        ]
        rows = [[r[by], r["processes"], format_bytes(r["swap"]), format_bytes(r["rss"]), share(r)] for r in d["rows"]]
        if by == "cgroup" and "rates" in d:  # the group's own swap-in and -out, pages per second
            columns += [Column("IN/S", right=True), Column("OUT/S", right=True)]
            rate = lambda r, k: "-" if not r.get("rates") or k not in r["rates"] else f"{r['rates'][k]:g}"  # noqa: E731
            for row, r in zip(rows, d["rows"]):
                row += [rate(r, "pswpin"), rate(r, "pswpout")]
    skipped = d["skipped"]
    notes = [
        f"{d['source']}: {format_bytes(d['total'])} in processes; the machine uses {format_bytes(d['machine_used'])} "
        f"of swap ({d['why_totals_differ']})",
        f"skipped: {skipped['vanished']} exited while read, {skipped['unreadable']} unreadable, "
        f"{skipped['kernel_threads']} kernel threads",
    ]
    if "rates" in d:
        rates = ", ".join(f"{k} {v}/s" for k, v in d["rates"].items())
        notes.insert(0, f"pages per second over {d['interval']} s: {rates}")
    if d.get("note"):
        notes.append(d["note"])
    if by == "cgroup":
        notes.extend(_own_count(r) for r in d["rows"] if r.get("cgroup_swap") is not None)
        if d.get("cgroup_rates_note"):
            notes.append(d["cgroup_rates_note"])
        elif "rates" in d:
            notes.append("IN/S, OUT/S: pages each group swapped in and out per second (its memory.stat)")
    if rows:
        render.table(None, columns, rows, caption="\n".join(notes))
    else:
        render.lines(["no process has pages in swap", *notes])


def _own_count(r: dict[str, Any]) -> str:
    """A cgroup's swap by its own count, its limit, and how often it hit it (memory.swap.events)."""
    from swapctl.core.units import format_bytes

    text = f"{r['cgroup']}: {format_bytes(r['cgroup_swap'])} by the cgroup's own count ({r['cgroup_source']})"
    if r.get("cgroup_swap_max") is not None:
        text += f", swap.max {format_bytes(r['cgroup_swap_max'])}"
    events = {k: v for k, v in (r.get("cgroup_swap_events") or {}).items() if v}
    if events:
        text += ", swap.events " + " ".join(f"{k} {v}" for k, v in events.items())
    if r.get("cgroup_zswap"):
        text += f", zswap {format_bytes(r['cgroup_zswap'])}"
    return text


@app.command("top")
def top(
    ctx: typer.Context,
    by: str = typer.Option("process", "--by", metavar="KIND", help="process, user or cgroup."),
    pss: bool = typer.Option(
        False, "--pss", help="SwapPss from smaps_rollup (shared pages split fairly; takes each mmap lock)."
    ),
    limit: str = typer.Option("20", "--limit", "-n", metavar="N", help="Rows to show (0: all)."),
    interval: Optional[str] = typer.Option(
        None, "--interval", metavar="S", help="Every S seconds, with swap-in/out rates and major faults."
    ),
    count: Optional[str] = typer.Option(None, "--count", metavar="N", help="With --interval: stop after N records."),
) -> None:
    """Show who uses swap: per process, user or cgroup.

    Each row has its share of all the swap in use.
    Sizes are VmSwap from /proc/PID/status (any user; shared memory is not in it), or SwapPss with --pss
    (root for other users' processes). The footer reconciles the total with SwapTotal - SwapFree and says
    why they differ. With --interval, each record adds the machine's swap-in and swap-out rates (pswpin,
    pswpout, zswpin, zswpout, zswpwb per second from /proc/vmstat) and each process's major faults per
    second, or with --by cgroup each group's own rates (memory.stat, cgroup v2 on 6.13+). On a terminal
    each record replaces the last, piped they follow each other, and -o json prints one JSON line per
    record. Processes that exit mid-scan, unreadable files and kernel threads are skipped and counted.

    Exit status: 0 shown; 2 bad input."""
    import time

    from swapctl.ops import top as ops_top

    with invocation(ctx, "top") as inv:
        host = inv.get_host()
        rows = whole_number(limit, "--limit", lo=0) or None
        if interval is None:
            if count is not None:
                from swapctl.core.errors import UsageError

                raise UsageError("--count needs --interval")
            emit(inv, "top", data=ops_top.snapshot(host, by=by, pss=pss, limit=rows), table=_table)
            return
        from swapctl.cli.context import decimal_number

        seconds = decimal_number(interval, "--interval") or 0.0
        if not 0.1 <= seconds <= 3600:
            from swapctl.core.errors import UsageError

            raise UsageError(f"--interval {interval} is out of range", hint="give 0.1 to 3600 seconds")
        records = whole_number(count, "--count", lo=1)
        done = 0
        import sys

        # On a terminal the table refreshes in place; piped, or as JSON/YAML, each record follows the last.
        in_place = inv.output in ("table", "wide") and sys.stdout.isatty()
        faults_too = by == "process"  # per-process rates; one scan per refresh serves the report and them
        scanned = ops_top.scan(host, by=by, pss=pss, faults=faults_too)
        vm, faults, start = ops_top.read_vmstat(host), ops_top.majflts(scanned), time.monotonic()
        groups = ops_top.snapshot(host, by=by, limit=None, scanned=scanned)["rows"] if by == "cgroup" else []
        while records is None or done < records:
            time.sleep(seconds)
            scanned = ops_top.scan(host, by=by, pss=pss, faults=faults_too)
            now_vm, now_faults, now = ops_top.read_vmstat(host), ops_top.majflts(scanned), time.monotonic()
            data = ops_top.snapshot(host, by=by, pss=pss, limit=rows, scanned=scanned)
            data["interval"] = round(now - start, 3)
            data["rates"] = ops_top.vmstat_rates(vm, now_vm, now - start)
            if by == "process":
                per = ops_top.fault_rates(faults, now_faults, now - start)
                for r in data["rows"]:
                    r["majflt_s"] = per.get(r["pid"])
            elif by == "cgroup":
                data["cgroup_rates_note"] = ops_top.cgroup_rates(groups, data["rows"], now - start)
                groups = data["rows"]
            if in_place:
                sys.stdout.write("\x1b[H\x1b[2J")  # cursor home, clear: each record replaces the last, as in top(1)
            render.emit_record(render.envelope("top", changed=False, data=data), inv.output, _table)
            vm, faults, start = now_vm, now_faults, now
            done += 1
