"""`swapctl history` and `swapctl rollback`: the journal's transactions, and undoing them."""

from __future__ import annotations

from typing import Any

import typer

from swapctl.cli import render
from swapctl.cli.context import emit, invocation, require_root, whole_number

app = typer.Typer()


def _history_table(doc: dict[str, Any]) -> None:
    rows = [
        (t["id"], t["time"], t["command"], t["status"], _rollback_summary(t) or _steps_summary(t["steps"]))
        for t in doc["data"]["transactions"]
    ]
    if not rows:
        render.lines(["no transactions in the journal"])
        return
    from swapctl.cli.table import Column

    render.table(
        None,
        [
            Column("ID"),
            Column("TIME", drop=2),
            Column("COMMAND"),
            Column("STATUS"),
            Column("STEPS", kind="text", drop=1),
        ],
        rows,
    )


def _rollback_summary(tx: dict[str, Any]) -> str:
    if not tx.get("rollback_of"):
        return ""
    command = tx.get("rollback_of_command")
    return f"undo of {tx['rollback_of']}" + (f" ({command})" if command else "")


def _steps_summary(steps: list[str]) -> str:
    if not steps:
        return ""
    return steps[0] + (f" (+{len(steps) - 1} more)" if len(steps) > 1 else "")


@app.command()
def history(
    ctx: typer.Context,
    limit: str = typer.Option(None, "--limit", "-n", metavar="N", help="Show only the newest N transactions (0: all)."),
) -> None:
    """List the journal's transactions, newest first.

    For each: what it changed and whether it was committed,
    rolled back, aborted (undone after a failure) or left pending by a crash."""
    from swapctl.ops.rollback import history as read_history

    with invocation(ctx, "history") as inv:
        txs, warnings = read_history(inv.get_journal(), whole_number(limit, "--limit", lo=0, most=1 << 62) or None)
        pending = [t["id"] for t in txs if t["status"] in ("pending", "undo-failed")]
        warnings += [f"transaction {p} is unfinished: run 'swapctl rollback {p}'" for p in pending]
        emit(inv, "history", data={"transactions": txs}, warnings=warnings, table=_history_table)


@app.command()
def rollback(
    ctx: typer.Context,
    tx_id: str = typer.Argument(None, metavar="[ID]", help="Transaction to undo [default: the newest one]."),
    force: bool = typer.Option(False, "--force", help="Restore values even if someone changed them since."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be undone; change nothing."),
) -> None:
    """Undo a transaction (a half-done one first).

    A pending (crashed) transaction first, else the one named, else the newest one not yet
    rolled back. Running it again goes one transaction further back. A sysctl is restored only if it still
    holds the value swapctl wrote (unless --force); runtime values of an earlier boot are skipped."""
    from swapctl.ops.rollback import rollback as run

    with invocation(ctx, "rollback") as inv:
        require_root(inv, "rollback")
        emit(inv, "rollback", run(inv.get_host(), inv.get_journal(), tx_id, force=force, dry_run=dry_run))
