"""The only module that prints: the JSON/YAML envelope, rich tables on a TTY, messages on stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

ENVELOPE_VERSION = 1
FORMATS = ("table", "json", "yaml")


def envelope(command: str, *, ok: bool = True, changed: bool = False, dry_run: bool = False,
             transaction: str | None = None, actions: list | None = None, data: dict | None = None,
             warnings: list[str] | None = None, error: dict | None = None) -> dict[str, Any]:
    return {"swapctl": ENVELOPE_VERSION, "command": command, "ok": ok, "changed": changed,
            "dry_run": dry_run, "transaction": transaction, "actions": actions or [],
            "data": data or {}, "warnings": warnings or [], "error": error}


def _dump(doc: dict[str, Any], fmt: str) -> str:
    if fmt == "yaml":
        import yaml  # only YAML output pays for the import

        return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    return json.dumps(doc, indent=2) + "\n"


def emit(doc: dict[str, Any], fmt: str, table: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Write the envelope (json/yaml) or a human rendering (table) to stdout; warnings go to stderr."""
    if fmt in ("json", "yaml"):
        sys.stdout.write(_dump(doc, fmt))
        sys.stdout.flush()
        return
    for w in doc.get("warnings", []):
        message(f"warning: {w}")
    if table is not None:
        table(doc)
    else:
        actions_table(doc)


def message(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def error(command: str, fmt: str, text: str, hint: str | None, code: int,
          data: dict[str, Any] | None = None) -> None:
    data = dict(data or {})
    warnings = data.pop("warnings", [])  # what the command warned about before it failed still holds
    for w in warnings:
        message(f"warning: {_printable(w)}")
    # One line each, whatever the input echoed in them holds (a newline, a carriage return, an escape).
    message(f"swapctl: error: {_printable(text)}")
    if hint:
        message(f"hint: {_printable(hint)}")
    if fmt in ("json", "yaml"):
        actions = data.pop("actions", [])
        transaction = data.pop("transaction", None)
        doc = envelope(command, ok=False, transaction=transaction, actions=actions, data=data,
                       warnings=warnings, error={"message": text, "hint": hint, "code": code})
        sys.stdout.write(_dump(doc, fmt))


def _printable(text: str) -> str:
    # Python's escapes (\t, \n, \x1b, \u2028) rather than /proc/swaps' octal (\011): they are what people
    # type in $'...' and printf, and each is visible, one line, and inert (no escape reaches the terminal).
    # A backslash already in a name is left as it is: the table is for reading; -o json has the exact bytes.
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# --- human output ----------------------------------------------------------------------------------
def use_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def console():
    from rich.console import Console  # rich only when something is drawn

    tty = sys.stdout.isatty()
    # In a pipe or a file, never wrap: a line per row is what grep and awk expect (table() sees to the rest).
    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich exits 1 on a closed pipe (`swapctl list | head -1`); the CLI edge makes that a quiet 0.
            raise BrokenPipeError

    # markup=False: paths and descriptions are data, and "[" in a file name must not be read as a style.
    return _Console(highlight=False, markup=False, no_color=not use_color(), width=None if tty else 1000)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]],
          *, right: Sequence[str] = (), caption: str | None = None) -> None:
    """A table on stdout. On a TTY rich fits it to the terminal; in a pipe or a file it never wraps: a line per
    row, and a line per line of the caption, is what grep and awk expect."""
    from rich import box
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    con = console()
    tty = sys.stdout.isatty()

    def annotation(text: str | None) -> Text | None:
        # A caption's "\n" separates its notes; anything else that moves the cursor is shown escaped.
        if text is None:
            return None
        return Text("\n".join(_printable(line) for line in text.split("\n")), no_wrap=not tty,
                    overflow="fold" if tty else "ignore")

    t = Table(title=annotation(title), box=box.SIMPLE_HEAD, caption=annotation(caption), caption_justify="left",
              title_justify="left")
    for col in columns:
        # "crop" and not "ignore" in a pipe: rich skips justification for "ignore"; the console grows below,
        # so nothing is ever cropped.
        t.add_column(col, justify="right" if col in right else "left", no_wrap=not tty,
                     overflow="fold" if tty else "crop")
    for row in rows:
        # A tab or newline in a path (/proc/swaps' \011, \012, decoded upstream) would split its row in two.
        t.add_row(*[_printable("" if v is None else str(v)) for v in row])
    if not tty:
        # Wider than the console's 1000 columns (a long path) still fits: grow the console, never fold a cell.
        con.width = max(con.width, Measurement.get(con, con.options.update_width(sys.maxsize), t).maximum)
    con.print(t, crop=tty)


def lines(texts: Sequence[str]) -> None:
    sys.stdout.write("".join(t + "\n" for t in texts))


def actions_table(doc: dict[str, Any]) -> None:
    """Default rendering of a mutating command: one line per action, then what it came to."""
    marks = {"done": "+", "planned": "~", "undone": "-", "failed": "!", "skipped": " "}
    out = [f"{marks.get(a['status'], '?')} {a['description']}" + ("" if a["status"] == "done" else
                                                                  f"  [{a['status']}]")
           for a in doc.get("actions", [])]
    if doc.get("dry_run"):
        out.append("dry run: nothing was changed" if out else "dry run: nothing to change")
    elif not doc.get("changed"):
        out.append("no change: already in the wanted state")
    if doc.get("transaction"):
        out.append(f"transaction {doc['transaction']}")
    lines(out)


def progress_bar(label: str, total: int):
    """A rich progress bar on stderr; returns update(done_bytes). Closed when done reaches total."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), console=Console(stderr=True, markup=False), transient=True)
    task = bar.add_task(label, total=total)
    bar.start()

    def update(done: int) -> None:
        bar.update(task, completed=done)
        if done >= total:
            bar.stop()

    return update
