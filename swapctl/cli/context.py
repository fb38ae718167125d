"""What every command shares: the global options (Invocation in ctx.obj), the Host and Journal they make,
and invocation(), the error edge that turns any failure into one line, an exit code and (with -o json) the envelope."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from swapctl.cli import render
from swapctl.core.errors import ExitCode, SwapctlError


class Invocation:
    """One run of swapctl: the global options as given, and the Host and Journal it makes when first asked."""

    def __init__(
        self,
        root: Path = Path("/"),
        state_dir: Path | None = None,
        output: str = "table",
        debug: bool = False,
        host: Any = None,
        journal: Any = None,
    ) -> None:
        self.root, self.state_dir, self.output, self.debug = root, state_dir, output, debug
        self.host = host  # tests hand in a Host with a fake root and runner
        self.journal = journal
        self.output_error: str | None = None  # a bad SWAPCTL_OUTPUT that no -o overrode
        self.argv: list[str] = []  # the command line as given, for the journal

    def get_host(self):
        if self.host is None:
            from swapctl.system.host import Host
            from swapctl.system.paths import SysPaths

            self.host = Host(paths=SysPaths(self.root, self.state_dir))
        return self.host

    def get_journal(self):
        if self.journal is None:
            from swapctl.core.journal import Journal

            host = self.get_host()
            self.journal = Journal(host.paths.state_dir, boot_id=host.boot_id(), kernel=host.kernel_release())
        return self.journal


def current(ctx: typer.Context) -> Invocation:
    obj = ctx.find_root().obj
    if not isinstance(obj, Invocation):
        obj = Invocation()
        ctx.find_root().obj = obj
    return obj


def crash_log(exc: BaseException, inv: Invocation) -> str:
    """Keep the traceback for the bug report, off the screen."""
    directory = Path(os.environ.get("TMPDIR", "/tmp"))
    path = directory / f"swapctl-crash-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"swapctl {' '.join(sys.argv[1:])}\n")
            fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return str(path)
    except OSError:
        return "(no crash log could be written)"


@contextmanager
def invocation(ctx: typer.Context, command: str) -> Iterator[Invocation]:
    """Run one command: SwapctlError -> its exit code; a bug -> exit 70 with a crash log; Ctrl-C -> 130."""
    inv = current(ctx)
    try:
        if inv.output_error:
            from swapctl.core.errors import UsageError

            raise UsageError(inv.output_error, hint="set it to table, wide, json or yaml, or give -o")
        yield inv
    except typer.Exit:
        raise
    except SwapctlError as exc:
        data = dict(exc.data)
        data["warnings"] = _journal_warnings(inv) + list(data.get("warnings", []))
        render.error(command, inv.output, exc.message, exc.hint, int(exc.code), data)
        raise typer.Exit(int(exc.code)) from None
    except KeyboardInterrupt:
        render.error(command, inv.output, "interrupted", None, ExitCode.INTERRUPTED)
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except BrokenPipeError:
        # The reader went away (`| head`): not an error. Point stdout at /dev/null so the interpreter's final
        # flush does not complain about the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(ExitCode.OK) from None
    except OSError as exc:
        # The machine (or a --root snapshot) lacks or refuses a file swapctl must read: say which, exit 3.
        where = f" {exc.filename}" if exc.filename else ""
        is_root = inv.host.is_root if inv.host is not None else os.geteuid() == 0
        hint = "run it with sudo, or as root" if isinstance(exc, PermissionError) and not is_root else None
        render.error(command, inv.output, f"cannot access{where}: {exc.strerror or exc}", hint, ExitCode.REFUSED)
        raise typer.Exit(ExitCode.REFUSED) from None
    except Exception as exc:
        if inv.debug:
            traceback.print_exc()
        log = crash_log(exc, inv)
        render.error(
            command,
            inv.output,
            f"internal error ({type(exc).__name__}: {exc}); crash log: {log}",
            "please report this with the crash log",
            ExitCode.INTERNAL,
        )
        raise typer.Exit(ExitCode.INTERNAL) from None


def _journal_warnings(inv: Invocation) -> list[str]:
    """What reading the journal let pass (a torn last line it ignored or dropped): said once, first."""
    return list(inv.journal.warnings) if inv.journal is not None else []


def emit(
    inv: Invocation,
    command: str,
    outcome: Any = None,
    *,
    data: dict | None = None,
    warnings: list[str] | None = None,
    table: Callable[[dict], None] | None = None,
    changed: bool = False,
) -> None:
    """Render an Outcome of a plan, or read-only data, as the envelope."""
    early = _journal_warnings(inv)
    if outcome is not None:
        doc = render.envelope(
            command,
            changed=outcome.changed,
            dry_run=outcome.dry_run,
            transaction=outcome.transaction,
            actions=outcome.actions,
            data=outcome.data,
            warnings=early + [w for w in outcome.warnings if w not in early],
        )
        if getattr(outcome, "diff", None) is not None:
            doc["diff"] = outcome.diff
    else:
        doc = render.envelope(
            command, changed=changed, data=data, warnings=early + [w for w in warnings or [] if w not in early]
        )
    render.emit(doc, inv.output, table)


def attach_progress(inv: Invocation, host: Any) -> None:
    """Progress bars (zero-fill, swapoff) on a terminal with table output only: never in JSON or a pipe."""
    if inv.output in ("table", "wide") and sys.stderr.isatty() and host.progress is None:
        host.progress = render.progress_bar


def run_plan(inv: Invocation, plan: Any, *, dry_run: bool, diff: bool = False) -> Any:
    """The one way a command carries out its plan: progress bars on a terminal, the fault hook the crash tests
    use, the command line in the journal, and the plan's own after-run report (core/plan.py execute). With diff,
    the outcome also carries what the plan changes, before and after, read before it runs."""
    from swapctl.core.plan import execute, preview
    from swapctl.system.faults import fault_hook

    host = inv.get_host()
    before = preview(plan, host) if diff else None
    attach_progress(inv, host)
    argv = [a[:256] for a in inv.argv[:64]]  # what the journal keeps of the command line, bounded
    outcome = execute(plan, host, inv.get_journal(), dry_run=dry_run, meta={"argv": argv}, fault=fault_hook())
    outcome.diff = before
    return outcome


DRY_RUN = typer.Option(False, "--dry-run", help="Show the plan; change nothing.")
DIFF = typer.Option(
    False,
    "--diff",
    help="Also show what changes, before -> after: each edited file as a unified diff, each value (JSON: diff).",
)


def change(
    ctx: typer.Context,
    command: str,
    build: Callable[[Invocation], Any],
    *,
    dry_run: bool,
    diff: bool = False,
    table: Callable[[dict], None] | None = None,
) -> None:
    """The whole of a command that changes the machine: build(inv) makes its plan (and may say what it chose),
    run_plan carries it out, and the outcome is printed; any failure goes through invocation()'s edge."""
    with invocation(ctx, command) as inv:
        plan = build(inv)
        emit(inv, command, run_plan(inv, plan, dry_run=dry_run, diff=diff), table=table)


def require_root(inv: Invocation, what: str) -> None:
    from swapctl.core.errors import Refused

    if not inv.get_host().is_root:
        raise Refused(f"{what} needs root", hint="run it with sudo, or as root")


def whole_number(text: str | None, option: str, *, lo: int | None = None, most: int | None = None) -> int | None:
    """An integer option as a sysadmin writes it: ASCII digits only (Python's int() would also take "1_0" and
    Arabic-Indic digits), at most 19 of them; None when not given. With `most`, a count that only says "as many
    as there are" (history --limit), any larger number is `most`."""
    import re

    from swapctl.core.errors import UsageError

    if text is None:
        return None
    t = text.strip(" \t")
    huge = len(t.lstrip("+-").lstrip("0")) > 19
    if not re.fullmatch(r"[+-]?[0-9]+", t) or (huge and most is None):
        raise UsageError(f"{option} {text[:40]!r} is not a whole number", hint=f"e.g. {option} 10")
    if most is None:
        value = int(t)
    else:  # a count: any number past `most` is `most` (and past 19 digits int() is never asked)
        value = min(int(t), most) if not huge else (-most if t.startswith("-") else most)
    if lo is not None and value < lo:
        raise UsageError(f"{option} {t if len(t) <= 24 else t[:24] + '...'} must be {lo} or more")
    return value


def decimal_number(text: str | None, option: str) -> float | None:
    """A decimal option (seconds, a percentage): ASCII digits with an optional fraction."""
    import re

    from swapctl.core.errors import UsageError

    if text is None:
        return None
    t = text.strip(" \t")
    if not re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,9})?", t):
        raise UsageError(f"{option} {text[:40]!r} is not a decimal number", hint=f"e.g. {option} 20")
    return float(t)
