"""`swapctl stress`: bounded memory pressure in a transient cgroup, measured by the kernel's counters, judged."""

from __future__ import annotations

import sys
from typing import Any, Optional

import typer

from swapctl.cli import render
from swapctl.cli.context import decimal_number, emit, invocation, require_root, whole_number

app = typer.Typer()


@app.command("stress")
def stress(
    ctx: typer.Context,
    memory_limit: Optional[str] = typer.Option(
        None,
        "--memory-limit",
        metavar="SIZE",
        help="Memory limit of the test cgroup [default: MemTotal/64, 64 MiB to 1 GiB].",
    ),
    size: Optional[str] = typer.Option(
        None,
        "--size",
        metavar="SIZE",
        help="Anonymous working set the worker keeps touching [default: twice the limit].",
    ),
    duration: str = typer.Option("20", "--duration", metavar="SECONDS", help="How long the load runs."),
    file_size: Optional[str] = typer.Option(
        None,
        "--file-size",
        metavar="SIZE",
        help="Add page-cache pressure: an unnamed file of SIZE in /var/tmp, read over and over.",
    ),
    pattern: str = typer.Option(
        "random",
        "--pattern",
        metavar="random|zero|mixed",
        help="Page contents: random (incompressible), zero (same-filled) or mixed.",
    ),
    max_direct_reclaim: str = typer.Option(
        "1000", "--max-direct-reclaim", metavar="N", help="Fail when global direct reclaim scans more than N pages."
    ),
    max_psi_full: str = typer.Option(
        "90",
        "--max-psi-full",
        metavar="PCT",
        help="Fail when the test group's tasks all stalled on memory for more "
        "than PCT % of the run (cgroup v2 PSI full of the group; cgroup v1 "
        "has none).",
    ),
    allow_oom: bool = typer.Option(False, "--allow-oom", help="An OOM kill of the worker warns instead of failing."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what the run would do; create nothing."),
) -> None:
    """Check how the machine reclaims under bounded pressure.

    A verdict (pass, warn, fail) with the figures behind it.

    A worker process runs in a transient memory cgroup that swapctl creates (cgroup v1
    memory.limit_in_bytes, or v2 memory.max) and always removes. It allocates --size bytes of
    anonymous memory, more than the limit, and keeps touching every page, so the kernel must reclaim
    and swap; --file-size adds page-cache pressure. Meanwhile /proc/vmstat, /proc/pressure/memory,
    the cgroup's memory.stat and events, and the zones' free pages against their watermarks are
    sampled at a steady interval.

    The report gives deltas and rates, reclaim efficiency (pages stolen / scanned), swap-in and
    swap-out, memory stall from PSI, OOM kills, the worker's touch rate, and which reclaim the run
    drove: the cgroup's own (limit reclaim counts in pgscan_anon/pgscan_file, not in
    pgscan_kswapd/pgscan_direct) or global.

    Verdict: it judges what the load does not cause on purpose. Fail on an OOM kill outside the
    cgroup (the machine ran short), on an OOM kill of the worker (unless --allow-oom; without swap its
    memory beyond the limit can go nowhere), on more global direct reclaim than --max-direct-reclaim
    pages, when swap does not keep up (the worker cannot write its working set, or cannot go through it
    once more, within the run: the report gives the swap rate), and on cgroup v2 when the group stalled
    on memory more than --max-psi-full % of the run. Machine-wide PSI is reported, never judged: on
    cgroup v1 it mostly measures the worker's own stall. Warn when no swap is active, nothing was swapped
    out, reclaim efficiency is below 10%, or a zone fell below its min watermark; pass otherwise. The
    report says which swap areas took the pages (zram included) and how fast.

    Safety: needs root; refuses (exit 3) a limit above 25% of MemAvailable, a --file-size above half
    the free space of /var/tmp, or a machine without a memory controller. The run may use at most
    half of the free swap. The worker has oom_score_adj 1000 and dies with swapctl; Ctrl-C, SIGTERM,
    a worker crash or the end of the run all stop it and remove the cgroup.

    Exit status: 0 pass or warn, 4 fail, 2 bad input, 3 refused, 130 interrupted.
    """
    with invocation(ctx, "stress") as inv:
        from swapctl.core.errors import CheckFailed
        from swapctl.ops import stress as ops

        host = inv.get_host()
        req = ops.build_request(
            host,
            memory_limit=memory_limit,
            size=size,
            duration=decimal_number(duration, "--duration") or 0.0,
            file_size=file_size,
            pattern=pattern,
            max_direct_reclaim=whole_number(max_direct_reclaim, "--max-direct-reclaim") or 0,
            max_psi_full=decimal_number(max_psi_full, "--max-psi-full") or 0.0,
            allow_oom=allow_oom,
        )
        require_root(inv, "swapctl stress")
        pre = ops.preflight(host, req)
        if dry_run:
            emit(inv, "stress", ops.dry_run(req, pre))
            return
        live = _LiveView() if inv.output in ("table", "wide") and sys.stderr.isatty() else None
        try:
            outcome = ops.check(host, req, pre, progress=live.update if live else None)
        except CheckFailed as exc:
            if inv.output in ("table", "wide"):
                if live:
                    live.close()
                    live = None
                _report(exc.data)  # the figures behind the failure, above its one error line
            raise
        finally:
            if live:
                live.close()
        emit(inv, "stress", outcome, table=_report)


def _report(doc_or_data: dict) -> None:
    """The plain report: the verdict and its reasons, then the figures."""
    from swapctl.core.units import format_bytes

    d = doc_or_data.get("data", doc_or_data)
    rc, sw, psi, touch = d["reclaim"], d["swap"], d["psi"], d["touch"]
    page = d.get("page_size", 4096)
    eff = "-" if rc["efficiency"] is None else f"{rc['efficiency']:.1%}"
    rows = [
        (
            "limit / working set",
            f"{format_bytes(d['limit'])} / {format_bytes(d['size'])} {d['pattern']}"
            + (f" + {format_bytes(d['file_size'])} file" if d["file_size"] else ""),
        ),
        ("duration", f"{d['duration_s']:.1f} s"),
        ("reclaim driven by", rc["driven_by"]),
        ("pages scanned (anon+file)", f"{rc['scanned']}  ({rc['cgroup_scanned']} by the cgroup's limit)"),
        ("  by kswapd / direct", f"{rc['kswapd_scanned']} / {rc['direct_scanned']}"),
        ("pages stolen, efficiency", f"{rc['stolen']}, {eff}"),
        ("swap out / in (pages)", f"{sw['pswpout']} / {sw['pswpin']}" + ("" if sw["active"] else "  (no swap active)")),
        ("  zero-filled out / in", f"{sw.get('swpout_zero', 0)} / {sw.get('swpin_zero', 0)}"),
        *(
            (
                (
                    "  zswap stored / loaded / written back",
                    f"{sw['zswpout']} / {sw.get('zswpin', 0)} / {sw.get('zswpwb', 0)}",
                ),
            )
            if sw.get("zswpout") or sw.get("zswpin")
            else ()
        ),
        (
            "swap rate out / in",
            f"{format_bytes(sw.get('out_bytes_s', 0))}/s / {format_bytes(sw.get('in_bytes_s', 0))}/s",
        ),
        *(
            ("  " + a["path"], f"{a['type']}, took {format_bytes(a['took'])} (peak {format_bytes(a['used_peak'])})")
            for a in d.get("swap_areas") or []
            if a["took"] > 0
        ),
        ("PSI some / full, machine", f"{psi['some']['share_pct']:.1f}% / {psi['full']['share_pct']:.1f}% of the run"),
        *(
            (
                (
                    "PSI some / full, test group",
                    f"{g['some']['share_pct']:.1f}% / {g['full']['share_pct']:.1f}% of the run",
                ),
            )
            if (g := d.get("psi_cgroup"))
            else ()
        ),
        ("OOM kills (cgroup / system)", f"{d['oom']['cgroup']} / {d['oom']['system']}"),
        (
            "touch rate",
            f"{touch['rate_pages_s']:.0f} pages/s ({format_bytes(touch['rate_pages_s'] * page)}/s), "
            f"{touch['passes']} passes",
        ),
        ("cgroup peak usage", format_bytes(d["cgroup"]["peak_usage"] or 0)),
    ]
    if d.get("zones"):
        z = d["zones"]
        low, low_min = ", ".join(z["below_low"]) or "-", ", ".join(z["below_min"]) or "-"
        rows.append(("zones below low / min", f"{low} / {low_min}"))
    from swapctl.cli.table import Column

    render.table(
        f"stress: {d['verdict'].upper()}", [Column("MEASURE", kind="text"), Column("VALUE", kind="text")], rows
    )
    render.lines([f"  {'-' if d['verdict'] == 'pass' else '!'} {r}" for r in d["reasons"]])


class _LiveView:
    """Progress and current rates on stderr while the load runs (a TTY only)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True, highlight=False, markup=False)
        self.live = Live("", console=self.console, refresh_per_second=4, transient=True)
        self.live.start()

    def update(self, v: dict[str, Any]) -> None:
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        grid = Table.grid(padding=(0, 2))
        grid.add_row(
            ProgressBar(total=v["duration"], completed=min(v["t"], v["duration"]), width=40),
            f"{v['t']:.1f}/{v['duration']:g} s",
        )
        grid.add_row(
            f"touch {v['touch_rate']:.0f} pages/s", f"swap out {v['pswpout_s']:.0f}/s in {v['pswpin_s']:.0f}/s"
        )
        grid.add_row(f"scan {v['pgscan_s']:.0f} pages/s", f"PSI some {v['psi_some']:.1f} full {v['psi_full']:.1f}")
        self.live.update(grid)

    def close(self) -> None:
        self.live.stop()
