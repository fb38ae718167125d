"""Lines as the real readers of fstab, sysctl.d and JSON lines split them: at "\\n" only.

str.splitlines() also breaks at \\r, \\v, \\f, \\x1c-\\x1e, U+0085, U+2028 and U+2029; libmount (getline), procps
(fgets) and systemd (read_line) do not, so a file split that way is not the file they read. Every reader and
editor of those files in swapctl splits with these, and joins the pieces back byte for byte."""

from __future__ import annotations

import re
from collections.abc import Iterator

_LINE = re.compile(r"[^\n]+")


def split_lines(text: str) -> list[str]:
    """The lines with their "\\n" kept (the last one may lack it): "".join(split_lines(t)) == t."""
    if not text:
        return []
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def nonblank_lines(text: str) -> Iterator[str]:
    """The lines that hold something, one at a time: a file of a million empty lines costs no list of them."""
    for m in _LINE.finditer(text):
        yield m.group()


def lines(text: str) -> list[str]:
    """The lines without their "\\n" (a final "\\n" ends the last line; it opens no empty one)."""
    if not text:
        return []
    parts = text.split("\n")
    return parts[:-1] if parts[-1] == "" else parts


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")


def shell_quote(text: str) -> str:
    """A path as a person could paste it into a shell: as is when safe, in '...' when it holds blanks or
    shell characters, in $'...' with escapes when it holds control characters or bytes that are not UTF-8."""
    if text and all(c in _SAFE for c in text):
        return text
    if all(c.isprintable() and c != "'" for c in text):
        return f"'{text}'"
    out = []
    for c in text:
        if 0xDC80 <= ord(c) <= 0xDCFF:
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif c in "\\'":
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        else:
            out.append("".join(f"\\x{b:02x}" for b in c.encode("utf-8")))
    return "$'" + "".join(out) + "'"
