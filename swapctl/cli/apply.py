"""`swapctl apply FILE`: bring the machine to the state a YAML file describes, as one transaction."""

from __future__ import annotations

import sys
from typing import Any

import typer

from swapctl.cli import render
from swapctl.cli.context import edge, emit

app = typer.Typer()


def _apply_table(doc: dict[str, Any]) -> None:
    rows = []
    for item in doc["data"].get("items", []):
        name = item.get("path") or item.get("key")
        before, after = item["before"], item["after"]
        if item["kind"] == "swapfile":
            before = _swap_text(before)
            after = _swap_text(after)
        rows.append((name, before, after, "yes" if item["changed"] else "no"))
    if rows:
        render.table(None, ["ITEM", "BEFORE", "AFTER", "CHANGE"], rows)
    render.actions_table(doc)


def _swap_text(state: dict[str, Any]) -> str:
    if state.get("state") != "present":
        return "absent"
    from swapctl.core.units import format_bytes

    prio = state.get("priority")
    return format_bytes(state["size"]) + (f", priority {prio}" if prio is not None else "")


@app.command("apply")
def apply_(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", help="YAML file with swapfiles, vm and persist; - for stdin."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change, before -> after; change nothing."),
) -> None:
    """Make the machine match a YAML file of swap files and vm settings.

    The whole file is validated first (unknown keys, wrong types, out-of-range values: exit 2 with the
    line number); then the difference from the live machine is carried out as one transaction, all or
    nothing, undone as a whole by 'swapctl rollback'. Applying the same file again changes nothing."""
    from swapctl.core.errors import UsageError
    from swapctl.core.plan import execute
    from swapctl.ops import apply as ops_apply
    from swapctl.ops.sysctl import finish

    with edge(ctx, "apply") as st:
        source = "<stdin>" if file == "-" else file
        try:
            text = sys.stdin.read() if file == "-" else open(file, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from None
        desired = ops_apply.load(text, source)
        host, journal = st.get_host(), st.get_journal()
        plan, vm_plan = ops_apply.plan_apply(host, journal, desired, source)
        outcome = execute(plan, host, journal, dry_run=dry_run, meta={"file": source})
        if vm_plan is not None and not dry_run:
            finish(vm_plan)
            plan.warnings.extend(w for w in vm_plan.warnings if w not in plan.warnings)
        emit(st, "apply", outcome, table=_apply_table)
