"""`swapctl doctor`: read the whole machine once and explain what is wrong with its swap and reclaim."""

from __future__ import annotations

from typing import Any

import typer

from swapctl.cli import render
from swapctl.cli.context import decimal_number, invocation

app = typer.Typer()

MAX_INTERVAL = 60.0


def _value(e: dict[str, Any], page_size: int) -> str:
    from swapctl.core.units import format_bytes

    v, unit = e["value"], e["unit"]
    if v is None:
        return "-"
    if unit == "bytes":
        return format_bytes(v)
    if unit == "pages":
        return f"{v} pages ({format_bytes(v * page_size)})"
    if unit == "pages/s":
        return f"{v:g} pages/s ({format_bytes(v * page_size)}/s)"
    if unit == "%":
        return f"{v:g}%"
    if unit:
        return f"{v:g} {unit}" if isinstance(v, float) else f"{v} {unit}"
    return str(v)


def block(f: dict[str, Any], page_size: int) -> list[str]:
    """One finding as lines: severity and id, the summary, the evidence (value and file), meaning and fix."""
    head = f"{f['severity'].upper():<8}  {f['id']}"
    out = [head, f"  {f['summary']}", "  evidence:"]
    out += [f"    {e['name'].strip()}: {_value(e, page_size)}   ({e['source']})" for e in f["evidence"]]
    out.append(f"  means: {f['meaning']}")
    for i, fix in enumerate(f["fix"]):
        out.append(f"  {'fix:' if i == 0 else 'or: '} {fix}")
    return out


def _fit(texts: list[str]) -> list[str]:
    """Lines wrapped to the terminal (render.prose); a word longer than a line (a deep path) is shortened in
    its middle first, as tables shorten a path: -o json has it whole."""
    from swapctl.cli.table import shorten_middle, width

    texts = [render.printable(t) for t in texts]
    limit = None if render.WIDE else render.terminal_width()
    if limit is not None:
        out = []
        for t in texts:
            room = limit - (len(t) - len(t.lstrip(" "))) - 2  # prose's hanging indent
            out.append(" ".join(shorten_middle(w, room) if width(w) > room else w for w in t.split(" ")))
        texts = out
    return render.prose(texts)


def _table(doc: dict[str, Any]) -> None:
    d = doc["data"]
    page_size = d.get("page_size") or 4096
    color = render.use_color()
    marks = {"critical": "\x1b[1;31m", "warning": "\x1b[1;33m", "info": "\x1b[1m"}
    text: list[str] = []
    for f in d["findings"]:
        lines = _fit(block(f, page_size))
        if color:
            lines[0] = marks[f["severity"]] + lines[0] + "\x1b[0m"
        text += [*lines, ""]
    counts = d["counts"]
    n = len(d["findings"])
    if n:
        said = ", ".join(f"{v} {k}{'s' if v != 1 and k == 'warning' else ''}" for k, v in counts.items() if v)
        summary = f"{n} finding{'s' if n != 1 else ''}: {said}"
    else:
        summary = "no findings: swap and reclaim look healthy"
    tail = [summary]
    rates = d.get("rates")
    if rates is not None:
        tail.append(
            f"over {d['interval']:g} s: swap-in {rates.get('pswpin', 0):g}, swap-out {rates.get('pswpout', 0):g} "
            f"pages/s; scanned by kswapd {rates.get('pgscan_kswapd', 0):g}, direct {rates.get('pgscan_direct', 0):g}"
        )
    tail += [f"not checked: {c['check']}: {c['why']}" for c in d["not_checked"]]
    text += _fit(tail)
    import sys

    sys.stdout.write("".join(t + "\n" for t in text))


@app.command("doctor")
def doctor(
    ctx: typer.Context,
    interval: str = typer.Option(
        "1",
        "--interval",
        metavar="S",
        help="Seconds between the two /proc/vmstat readings that give the rates (0: one reading, no rates).",
    ),
) -> None:
    """Diagnose swap and reclaim: each finding, its evidence and fix.

    Reads the whole machine once (each /proc and /sys file at most once; /proc/vmstat twice, --interval
    seconds apart, for rates) and reports findings, each with a stable id, a severity (info, warning,
    critical), the numbers read and the file each came from, what it means in terms of watermarks, kswapd,
    direct reclaim, NUMA, zone_reclaim_mode, swappiness and cgroup limits, and the command that would change
    it. It checks: no swap, swap nearly full, swapping now and who reclaims (kswapd, direct reclaim, cgroup
    limits), PSI memory pressure, a NUMA node below its low watermark while another has memory, a non-zero
    zone_reclaim_mode (decoded bit by bit), a cgroup at its memory.max or memory.high that swaps while the
    machine has memory, an unusual min_free_kbytes, an extreme swappiness, zram below disk swap, zswap in front
    of zram, vm settings that differ from what the next boot applies, a pending transaction, and swap areas
    not encrypted at rest (no dm-crypt in the device stack). -o json lists the findings with their ids.
    Changes nothing; any user (the journal needs root).

    Exit status: 0 no finding at warning or above; 4 a finding at warning or critical; 2 bad input or a
    damaged zoneinfo; 3 a file it must read is missing, unreadable or damaged."""
    import time

    from swapctl.core.errors import CheckFailed, UsageError
    from swapctl.ops import doctor as ops
    from swapctl.ops.watermarks import snapshot_warnings

    with invocation(ctx, "doctor") as inv:
        from swapctl.system.host import ReadOnce

        inv.host = ReadOnce(inv.get_host())  # the journal's kernel release and boot id too: read once
        seconds = decimal_number(interval, "--interval") or 0.0
        if seconds > MAX_INTERVAL:
            raise UsageError(f"--interval {interval} is out of range", hint=f"give 0 to {MAX_INTERVAL:g} seconds")
        reading = ops.read(inv.get_host(), inv.get_journal(), interval=seconds, sleep=time.sleep, clock=time.monotonic)
        data = ops.diagnose(reading)
        data["page_size"] = reading.page_size
        warnings = []
        if reading.state is not None:
            warnings = snapshot_warnings(reading.state.memory) + list(reading.state.warnings)
        if not data["failed"]:
            from swapctl.cli.context import emit

            emit(inv, "doctor", data=data, warnings=warnings, table=_table)
            return
        if inv.output in ("table", "wide"):
            for w in warnings:
                render.message(f"warning: {render.printable(w)}")
            _table({"data": data})
            warnings = []  # said above the report
        bad = [f["id"] for f in data["findings"] if f["severity"] != "info"]
        raise CheckFailed(
            f"{len(bad)} finding{'s' if len(bad) != 1 else ''} at warning or above: {', '.join(dict.fromkeys(bad))}",
            data={**data, "warnings": warnings},
        )
