"""Tables laid out for the width they get: a cell never breaks inside a number, an id, a key, a path or a header
word. What does not fit a terminal goes in this order: detail rows (the binary-unit lines under page counts),
then the columns marked droppable (-o wide shows them all), then a path is shortened in its middle with "…";
text wraps only between words. In a pipe the width is unbounded: a line per row, for grep and awk."""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Sequence
from typing import Any, NamedTuple

ELLIPSIS = "…"
MIN_PATH = 12  # a shortened path keeps at least this much: its start and its file name
LAST_PATH = 6  # ...and to this when nothing else can give way
PATH_BEFORE_DROP = 32  # a path is shortened to this before a droppable column is left out


class Column(NamedTuple):
    header: str
    right: bool = False  # numbers are right-aligned
    kind: str = "token"  # token: never cut | path: cut in the middle | text: wraps between words
    drop: int = 0  # 0: always shown; n > 0: dropped on a narrow terminal, highest n first
    wide: bool = False  # only with -o wide


class Row(NamedTuple):
    cells: Sequence[Any]
    detail: bool = False  # a second line of a row (units): the first thing left out when space is short


def width(text: str) -> int:
    """Terminal cells a string takes (wide East Asian characters take two, combining marks none)."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def shorten_middle(text: str, room: int) -> str:
    """/var/lib/very/long/dir/swapfile -> /var/lib/…/dir/swapfile: both ends kept, the cut visible, and for a
    path the cut falls between directories where it can, so the file name stays whole."""
    if width(text) <= room:
        return text
    keep = max(room - 1, 2)
    start = text.find("/", len(text) - (keep - 4))  # the longest tail from a "/" that leaves 4 for the head
    tail = text[start:] if start > 0 else text[len(text) - keep * 2 // 3 :]
    room_head = keep - len(tail)
    end = text.rfind("/", 0, room_head)
    head = text[: end + 1] if end > 0 else text[:room_head]
    return head + ELLIPSIS + tail


def _wrap(text: str, room: int) -> list[str]:
    return textwrap.wrap(text, room, break_long_words=False, break_on_hyphens=False) or [""]


def _total(widths: Sequence[int]) -> int:
    # Rich's SIMPLE_HEAD look: one space of edge, a space each side of a cell, one between cells.
    return 1 + sum(w + 2 for w in widths) + max(len(widths) - 1, 0)


class Layout(NamedTuple):
    columns: list[Column]
    rows: list[list[str]]
    widths: list[int]
    hidden_columns: list[str]
    hidden_details: bool


def layout(columns: Sequence[Column], rows: Sequence[Row], limit: int | None, *, wide: bool = False) -> Layout:
    cols = [c for c in columns if wide or not c.wide]
    keep = [i for i, c in enumerate(columns) if wide or not c.wide]
    data = [Row([("" if r.cells[i] is None else str(r.cells[i])) for i in keep], r.detail) for r in rows]
    hidden: list[str] = []
    details = any(r.detail for r in data)
    shown_details = True

    def natural(ci: int, with_details: bool) -> int:
        cells = [r.cells[ci] for r in data if with_details or not r.detail]
        header = width(cols[ci].header)
        if cols[ci].kind == "text":  # a text column wraps: its longest word is the least it needs
            words = [width(w) for c in cells for w in c.split()] or [0]
            return max(header, max(words))
        return max([header, *(width(c) for c in cells)])

    def full(ci: int, with_details: bool) -> int:
        return max([width(cols[ci].header), *(width(r.cells[ci]) for r in data if with_details or not r.detail)])

    def fits(with_details: bool) -> bool:
        # A long path may give up its middle before a column goes: down to PATH_BEFORE_DROP.
        need = [
            min(natural(i, with_details), PATH_BEFORE_DROP) if cols[i].kind == "path" else natural(i, with_details)
            for i in range(len(cols))
        ]
        return limit is None or _total(need) <= limit

    if not fits(True) and details:
        shown_details = False
    while not fits(shown_details) and any(c.drop for c in cols):
        worst = max(range(len(cols)), key=lambda i: cols[i].drop)
        hidden.append(cols[worst].header)
        del cols[worst]
        for r in data:
            del r.cells[worst]  # type: ignore[attr-defined]
    rows_shown = [list(r.cells) for r in data if shown_details or not r.detail]
    widths = [full(i, shown_details) for i in range(len(cols))]
    if limit is not None and _total(widths) > limit:
        # Give text and path columns what is left, fairly, down to what each needs at least.
        flexible = [i for i, c in enumerate(cols) if c.kind in ("text", "path")]
        for i in flexible:
            widths[i] = natural(i, shown_details) if cols[i].kind == "text" else min(widths[i], MIN_PATH)
        spare = limit - _total(widths)
        for i in (i for i in flexible if cols[i].kind == "path"):  # the last resort: a path down to a stub
            take = min(-spare, widths[i] - LAST_PATH) if spare < 0 else 0
            widths[i] -= max(take, 0)
            spare += max(take, 0)
        for i in flexible:
            if spare <= 0:
                break
            grow = min(spare, full(i, shown_details) - widths[i])
            widths[i] += grow
            spare -= grow
    out_rows: list[list[str]] = []
    for cells in rows_shown:
        lines_of = []
        for i, c in enumerate(cells):
            if cols[i].kind == "path":
                lines_of.append([shorten_middle(c, widths[i])])
            elif cols[i].kind == "text" and width(c) > widths[i]:
                lines_of.append(_wrap(c, widths[i]))
            else:
                lines_of.append([c])
        for k in range(max(len(x) for x in lines_of) if lines_of else 1):
            out_rows.append([x[k] if k < len(x) else "" for x in lines_of])
    return Layout(cols, out_rows, widths, hidden, details and not shown_details)


def render(lay: Layout) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        parts = []
        for c, w, col in zip(cells, lay.widths, lay.columns):
            pad = " " * (w - width(c))
            parts.append(" " + (pad + c if col.right else c + pad) + " ")
        return (" " + " ".join(parts)).rstrip()

    out = [line([c.header for c in lay.columns]), " " + "─" * (_total(lay.widths) - 1)]
    out.extend(line(r) for r in lay.rows)
    return out


def notes(lay: Layout) -> list[str]:
    """What the layout left out, for stderr: the table stays data, the explanation stays beside it."""
    out = []
    if lay.hidden_columns:
        out.append(f"{', '.join(lay.hidden_columns)} left out at this width: -o wide shows every column")
    if lay.hidden_details:
        out.append("the binary-unit lines are left out at this width: -o wide shows them")
    return out
