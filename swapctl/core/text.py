"""Lines as the real readers of fstab, sysctl.d and JSON lines split them: at "\\n" only.

str.splitlines() also breaks at \\r, \\v, \\f, \\x1c-\\x1e, U+0085, U+2028 and U+2029; libmount (getline), procps
(fgets) and systemd (read_line) do not, so a file split that way is not the file they read. Every reader and
editor of those files in swapctl splits with these, and joins the pieces back byte for byte."""

from __future__ import annotations


def split_lines(text: str) -> list[str]:
    """The lines with their "\\n" kept (the last one may lack it): "".join(split_lines(t)) == t."""
    if not text:
        return []
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def lines(text: str) -> list[str]:
    """The lines without their "\\n" (a final "\\n" ends the last line; it opens no empty one)."""
    if not text:
        return []
    parts = text.split("\n")
    return parts[:-1] if parts[-1] == "" else parts
