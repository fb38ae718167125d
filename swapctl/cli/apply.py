"""`swapctl apply FILE`: bring the machine to the state a YAML file describes, as one transaction."""

from __future__ import annotations

import sys
from typing import Any

import typer

from swapctl.cli import render
from swapctl.cli.context import DIFF, emit, invocation, run_plan

app = typer.Typer()

# A statement of swap files and sysctls is a few hundred bytes; the cap keeps `apply /dev/zero` (or a huge
# file named by mistake) from reading until memory runs out.
MAX_SPEC_BYTES = 1 << 20


def _read_spec(file: str, source: str) -> str:
    """The text of FILE (or stdin for -): a regular file of at most MAX_SPEC_BYTES, opened with O_NONBLOCK so
    a FIFO cannot hang the open; anything else is a usage error."""
    import os
    import stat

    from swapctl.core.errors import UsageError

    try:
        if file == "-":
            data = sys.stdin.buffer.read(MAX_SPEC_BYTES + 1)
        else:
            fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as fh:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise UsageError(f"{source} is not a regular file", hint="give a YAML file, or - for stdin")
                data = fh.read(MAX_SPEC_BYTES + 1)
        if len(data) > MAX_SPEC_BYTES:
            raise UsageError(f"{source} is larger than {MAX_SPEC_BYTES // 1024} KiB: not a swapctl apply file")
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from None


def _apply_table(doc: dict[str, Any]) -> None:
    rows = []
    for item in doc["data"].get("items", []):
        name = item.get("path") or item.get("key")
        before, after = item["before"], item["after"]
        if item["kind"] in ("swapfile", "zram"):
            before = _swap_text(before)
            after = _swap_text(after)
        rows.append((name, before, after, "yes" if item["changed"] else "no"))
    if rows:
        from swapctl.cli.table import Column

        render.table(
            None,
            [
                Column("ITEM", kind="path"),
                Column("BEFORE", kind="text"),
                Column("AFTER", kind="text"),
                Column("CHANGE"),
            ],
            rows,
        )
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
    file: str = typer.Argument(
        ..., metavar="FILE", help="YAML file with swapfiles, zram, vm, zswap and persist; - for stdin."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change, before -> after; change nothing."),
    diff: bool = DIFF,
) -> None:
    """Make the machine match a YAML file, in one transaction.

    The file lists swap files, zram devices, vm settings and zswap parameters, e.g.

    \b
      swapfiles: [{path: /swapfile, size: 2G, priority: 10}]
      zram: [{size: "min(ram / 2, 4096)", algorithm: lz4, priority: 100}]
      vm: {swappiness: 30, min_free_kbytes: ">=65536"}
      zswap: {enabled: false}

    A zram item takes device (auto), size, algorithm, algorithm_params, mem_limit, priority (100), state
    (present or absent) and persist (false: it needs zram-generator); `persist` at the top (true) persists
    the swap files, the vm settings and the zswap parameters.

    The whole file is validated first (unknown keys, wrong types, out-of-range values: exit 2 with the
    line number); then the difference from the live machine is carried out as one transaction, all or
    nothing, undone as a whole by 'swapctl rollback'. Applying the same file again changes nothing."""
    from swapctl.ops import apply as ops_apply

    with invocation(ctx, "apply") as inv:
        source = "<stdin>" if file == "-" else file
        text = _read_spec(file, source)
        desired = ops_apply.load(text, source)
        plan = ops_apply.plan_apply(inv.get_host(), inv.get_journal(), desired, source)
        emit(inv, "apply", run_plan(inv, plan, dry_run=dry_run, diff=diff), table=_apply_table)
