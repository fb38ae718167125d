"""The only module that prints: the JSON/YAML envelope, rich tables on a TTY, messages on stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

ENVELOPE_VERSION = 1
FORMATS = ("table", "wide", "json", "yaml")


def envelope(
    command: str,
    *,
    ok: bool = True,
    changed: bool = False,
    dry_run: bool = False,
    transaction: str | None = None,
    actions: list | None = None,
    data: dict | None = None,
    warnings: list[str] | None = None,
    error: dict | None = None,
) -> dict[str, Any]:
    return {
        "swapctl": ENVELOPE_VERSION,
        "command": command,
        "ok": ok,
        "changed": changed,
        "dry_run": dry_run,
        "transaction": transaction,
        "actions": actions or [],
        "data": data or {},
        "warnings": warnings or [],
        "error": error,
    }


def lossless(value: Any) -> Any:
    """A file name that is not UTF-8 keeps its bytes as surrogates, which JSON can only spell "\\udcff" (jq turns
    that into U+FFFD, a different name): beside every such string `key`, `key_b64` holds its exact bytes."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out[k] = lossless(v)
            if isinstance(v, str) and _has_surrogates(v):
                import base64

                out[f"{k}_b64"] = base64.b64encode(v.encode("utf-8", "surrogateescape")).decode()
        return out
    if isinstance(value, list):
        return [lossless(v) for v in value]
    return value


def _has_surrogates(text: str) -> bool:
    return not text.isascii() and any(0xDC80 <= ord(c) <= 0xDCFF for c in text)


def _dump(doc: dict[str, Any], fmt: str) -> str:
    doc = lossless(doc)
    if fmt == "yaml":
        import yaml  # only YAML output pays for the import

        return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    return json.dumps(doc, indent=2) + "\n"


def emit(doc: dict[str, Any], fmt: str, table: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Write the envelope (json/yaml) or a human rendering (table) to stdout; warnings go to stderr."""
    global WIDE
    if fmt in ("json", "yaml"):
        sys.stdout.write(_dump(doc, fmt))
        sys.stdout.flush()
        return
    WIDE = fmt == "wide"
    for w in doc.get("warnings", []):
        message(f"warning: {printable(w)}")  # a name in a warning may hold an escape sequence or a newline
    if table is not None:
        table(doc)
    else:
        actions_table(doc)
    if doc.get("diff") is not None:
        diff_text(doc["diff"])


def diff_text(diff: dict[str, Any]) -> None:
    """--diff on a terminal: each edited file as a unified diff (a/ and b/ paths, as git and ansible show them),
    then each value as before -> after."""
    import difflib

    out = sys.stdout
    for f in diff["files"]:
        before, after = f["before"], f["after"]
        old = "/dev/null" if before is None else "a" + f["path"]
        new = "/dev/null" if after is None else "b" + f["path"]
        lines = difflib.unified_diff(
            (before or "").splitlines(keepends=True), (after or "").splitlines(keepends=True), old, new
        )
        for line in lines:
            text = printable(line.rstrip("\n"))
            color = {"+": "32", "-": "31", "@": "36"}.get(text[:1]) if use_color() else None
            out.write((f"\x1b[{color}m{text}\x1b[0m" if color else text) + "\n")
    for v in diff["values"]:
        out.write(f"~ {printable(str(v['what']))}: {printable(str(v['before']))} -> {printable(str(v['after']))}\n")
    out.flush()


def emit_record(doc: dict[str, Any], fmt: str, table: Callable[[dict[str, Any]], None]) -> None:
    """One record of a stream (top --interval): a JSON line, a YAML document, or the table again."""
    if fmt == "json":
        sys.stdout.write(json.dumps(lossless(doc), separators=(",", ":")) + "\n")
        sys.stdout.flush()
    elif fmt == "yaml":
        sys.stdout.write("---\n" + _dump(doc, fmt))
        sys.stdout.flush()
    else:
        emit(doc, fmt, table)


def message(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def error(command: str, fmt: str, text: str, hint: str | None, code: int, data: dict[str, Any] | None = None) -> None:
    data = dict(data or {})
    warnings = data.pop("warnings", [])  # what the command warned about before it failed still holds
    for w in warnings:
        message(f"warning: {printable(w)}")
    # One line each, whatever the input echoed in them holds (a newline, a carriage return, an escape).
    message(f"swapctl: error: {printable(text)}")
    if hint:
        message(f"hint: {printable(hint)}")
    if fmt in ("json", "yaml"):
        actions = data.pop("actions", [])
        transaction = data.pop("transaction", None)
        doc = envelope(
            command,
            ok=False,
            transaction=transaction,
            actions=actions,
            data=data,
            warnings=warnings,
            error={"message": text, "hint": hint, "code": int(code)},
        )
        sys.stdout.write(_dump(doc, fmt))


def printable(text: str) -> str:
    # Python's escapes (\t, \n, \x1b, \u2028) rather than /proc/swaps' octal (\011): they are what people
    # type in $'...' and printf, and each is visible, one line, and inert (no escape reaches the terminal).
    # A byte that is not UTF-8 (kept as a surrogate) shows as \xff, as swapon and ls -b show it. A backslash
    # already in a name is left as it is: the table is for reading; -o json has the exact bytes.
    return "".join(
        c if c.isprintable() else f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else repr(c)[1:-1]
        for c in text
    )


# --- human output ----------------------------------------------------------------------------------
def use_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def console():
    from rich.console import Console  # rich only for progress and live views

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich exits 1 on a closed pipe (`swapctl list | head -1`); invocation() makes that a quiet 0.
            raise BrokenPipeError

    # markup=False: paths and descriptions are data, and "[" in a file name must not be read as a style.
    return _Console(highlight=False, markup=False, no_color=not use_color())


def terminal_width() -> int | None:
    """The terminal's columns, or None in a pipe or a file (nothing is ever wrapped or cut there)."""
    if not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns


WIDE = False  # -o wide: every column, every detail line, whatever the width (set by emit)


def table(
    title: str | None,
    columns: Sequence[Any],
    rows: Sequence[Any],
    *,
    right: Sequence[str] = (),
    caption: str | None = None,
) -> None:
    """A table on stdout, laid out by cli/table.py for the terminal's width (unbounded in a pipe). Columns are
    header strings or table.Column; rows are sequences of cells or table.Row."""
    from swapctl.cli import table as tab

    cols = [c if isinstance(c, tab.Column) else tab.Column(c, right=c in right) for c in columns]
    body = [r if isinstance(r, tab.Row) else tab.Row(r) for r in rows]
    body = [tab.Row([printable("" if v is None else str(v)) for v in r.cells], r.detail) for r in body]
    limit = None if WIDE else terminal_width()
    lay = tab.layout(cols, body, limit, wide=WIDE)
    out = tab.render(lay)
    if use_color():
        out[0] = "\x1b[1m" + out[0] + "\x1b[0m"
    head = [] if title is None else ["", *prose([printable(title)])]  # a blank line sets a titled table apart
    tail = [] if caption is None else prose([printable(x) for x in caption.split("\n")])
    sys.stdout.write("".join(t + "\n" for t in [*head, *out, *tail]))
    for note in tab.notes(lay):
        message(f"note: {note}")


def prose(texts: Sequence[str]) -> list[str]:
    """Lines of text, wrapped between words to a terminal's width (a word is never split); as they are in a
    pipe."""
    limit = terminal_width()
    if limit is None:
        return list(texts)
    import textwrap

    out = []
    for t in texts:
        indent = t[: len(t) - len(t.lstrip(" "))]
        out.extend(
            textwrap.wrap(t, limit, subsequent_indent=indent + "  ", break_long_words=False, break_on_hyphens=False)
            or [""]
        )
    return out


def lines(texts: Sequence[str]) -> None:
    sys.stdout.write("".join(t + "\n" for t in prose(texts)))


def actions_table(doc: dict[str, Any]) -> None:
    """Default rendering of a mutating command: one line per action, then what it came to."""
    marks = {"done": "+", "planned": "~", "undone": "-", "failed": "!", "skipped": " "}
    out = [
        f"{marks.get(a['status'], '?')} {a['description']}" + ("" if a["status"] == "done" else f"  [{a['status']}]")
        for a in doc.get("actions", [])
    ]
    if doc.get("dry_run"):
        out.append("dry run: nothing was changed" if out else "dry run: nothing to change")
    elif not doc.get("changed"):
        out.append("no change: already in the wanted state")
    if doc.get("transaction"):
        out.append(f"transaction {doc['transaction']}")
    lines(out)


class ProgressBar:
    """A progress bar on stderr (rich), in binary units like every size swapctl prints; update(done) moves it,
    close() erases it (a transient bar: nothing is left on screen, nor printed again after an error)."""

    def __init__(self, label: str, total: int, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
        from rich.text import Text

        from swapctl.core.units import format_bytes

        class Done(ProgressColumn):
            def render(self, task: Any) -> Text:
                return Text(f"{format_bytes(task.completed)} / {format_bytes(task.total or 0)}")

        class Speed(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text("" if speed is None else f"{format_bytes(speed)}/s")

        # markup=False on the text column too: a path in the label is data ("[" in a name is no style).
        self.bar = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            Done(),
            Speed(),
            TimeRemainingColumn(),
            transient=True,
            console=console or Console(stderr=True, markup=False, highlight=False),
        )
        self.task = self.bar.add_task(label, total=total)
        self.bar.start()
        self.closed = False

    def update(self, done: int) -> None:
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.bar.stop()


def progress_bar(label: str, total: int) -> ProgressBar:
    return ProgressBar(label, total)
