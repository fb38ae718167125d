"""`swapctl metrics`: doctor's reading as Prometheus text exposition, on stdout or as a textfile."""

from __future__ import annotations

import typer

from swapctl.cli.context import decimal_number, invocation

app = typer.Typer()

MAX_INTERVAL = 60.0


@app.command("metrics")
def metrics(
    ctx: typer.Context,
    textfile_dir: str = typer.Option(
        None,
        "--textfile-dir",
        metavar="DIR",
        help="Write DIR/swapctl.prom atomically (node_exporter's --collector.textfile.directory) instead of "
        "printing; DIR must exist (a path on this machine, even with --root).",
    ),
    interval: str = typer.Option(
        "0",
        "--interval",
        metavar="S",
        help="Seconds between two /proc/vmstat readings, for doctor's rate findings (swapping-now, "
        "direct-reclaim); 0: one reading. Rates themselves are Prometheus's job, from the counters.",
    ),
) -> None:
    """Print the swap and reclaim state as Prometheus metrics.

    The same reading as doctor (each /proc and /sys file read once), in Prometheus text format 0.0.4: per swap
    area (labels path, type) swapctl_swap_size_bytes, _used_bytes, _priority, _encrypted; per zram device
    (label device) its mm_stat and io_stat fields (swapctl_zram_orig_data_bytes, ...), disksize and
    compression ratio; zswap enabled, its compression ratio and the zswpin/zswpout/zswpwb counters; per node
    and zone (labels node, zone) free memory and the min/low/high watermarks in bytes; swapctl_vm_setting and
    swapctl_vm_setting_drift per vm sysctl (label key); doctor's findings as
    swapctl_finding{id,severity,subject} 1; swapctl_pending_transaction; swapctl_scrape_success and
    swapctl_last_run_timestamp_seconds.
    What node_exporter exports by default is left out: /proc/meminfo (node_memory_*: SwapTotal, SwapFree,
    Zswap, Zswapped) and its default vmstat fields (pswpin, pswpout, pgpgin, pgpgout, pgfault, pgmajfault,
    oom_kill). With --textfile-dir, prints nothing unless -o json; if the reading fails, the file is replaced
    by one that says swapctl_scrape_success 0. Changes nothing on the machine; any user (the journal needs
    root for swapctl_pending_transaction).

    Exit status: 0 the metrics were printed or written; 2 bad input, a --textfile-dir that does not exist or
    a damaged zoneinfo; 3 a file it must read is missing, unreadable or damaged, or DIR cannot be written."""
    import sys
    import time

    from swapctl.core.errors import SwapctlError, UsageError
    from swapctl.ops import doctor
    from swapctl.ops import metrics as ops

    with invocation(ctx, "metrics") as inv:
        from swapctl.system.host import ReadOnce

        seconds = decimal_number(interval, "--interval") or 0.0
        if seconds > MAX_INTERVAL:
            raise UsageError(f"--interval {interval} is out of range", hint=f"give 0 to {MAX_INTERVAL:g} seconds")
        directory = ops.textfile_dir(textfile_dir) if textfile_dir is not None else None
        inv.host = ReadOnce(inv.get_host())  # the journal's kernel release and boot id too: read once
        try:
            reading = ops.read(
                inv.get_host(), inv.get_journal(), interval=seconds, sleep=time.sleep, clock=time.monotonic
            )
            data = doctor.diagnose(reading.reading)
        except (SwapctlError, OSError):
            if directory is not None:  # stale metrics would look healthy: say the reading failed
                ops.write_textfile(directory, ops.exposition(ops.failed(time.time())))
            raise
        fams = ops.families(reading, data, time.time())
        text = ops.exposition(fams)
        written = ops.write_textfile(directory, text) if directory is not None else None
        state = reading.reading.state
        warnings = []
        if state is not None:
            from swapctl.ops.watermarks import snapshot_warnings

            warnings = snapshot_warnings(state.memory) + list(state.warnings)
        if inv.output in ("json", "yaml"):
            from swapctl.cli.context import emit

            out = {
                "textfile": str(written) if written is not None else None,
                "families": [f.as_dict() for f in fams],
                "not_checked": data["not_checked"],
            }
            emit(inv, "metrics", data=out, warnings=warnings)
            return
        from swapctl.cli import render

        for w in warnings:
            render.message(f"warning: {render.printable(w)}")
        if written is None:
            sys.stdout.write(text)
